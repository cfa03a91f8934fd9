#include "vswitch/hyperv/powershell.h"
#include "vswitch/hyperv/hv_acl.h"
#include "lib/addr.h"
#include "lib/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct qps {
    qbuf *out;
    size_t n;
    bool extended, has_type, wnv;
    const qhyv_ps_opts *o;
    qvs_map *sets;          /* address_set id (without the kind) → value */
    qbuf keep_lr, keep_cr;  /* the keys Remove-QhvStale keeps */
} qps;

/* The helpers the script calls (see powershell.h). */
static const char qps_preamble[] =
    "# Safe to run again: every block looks before it changes anything, and qhv's\n"
    "# objects the plan does not name are removed at the end (lookup records with\n"
    "# Context 'qhv', routes with qhv's CustomerID, provider addresses on the\n"
    "# provider interface, ACL entries named 'qhv'); others' objects are left\n"
    "# alone. What it makes is what qhv-agent then takes as its own.\n"
    "$qhvNs = 'root\\virtualization\\v2'\n"
    "$qhvCustomerID = '{71687600-0000-4000-8000-716876000001}'\n"
    "\n"
    "# A port's VM NIC (Nova names it after the port id); $null, with a warning, if absent.\n"
    "function Get-QhvNic([string]$Port) {\n"
    "    $n = @(Get-VMNetworkAdapter -All | Where-Object { $_.Name -eq $Port -and -not $_.IsManagementOs })\n"
    "    if (-not $n) { Write-Warning \"qhv: no VM network adapter named '$Port': port skipped\"; return $null }\n"
    "    return $n[0]\n"
    "}\n"
    "\n"
    "# Waits for the job of a Msvm_* method (ReturnValue 4096); throws on failure.\n"
    "function Wait-QhvJob($Result, [string]$What) {\n"
    "    if ($Result.ReturnValue -eq 4096) {\n"
    "        $job = [wmi]$Result.Job\n"
    "        while ($job.JobState -in 2, 3, 4) { Start-Sleep -Milliseconds 100; $job.Get() }\n"
    "        if ($job.JobState -ne 7 -or $job.ErrorCode) { throw \"qhv: ${What}: $($job.ErrorDescription)\" }\n"
    "    } elseif ($Result.ReturnValue -ne 0) {\n"
    "        throw \"qhv: ${What}: ReturnValue $($Result.ReturnValue)\"\n"
    "    }\n"
    "}\n"
    "\n"
    "# The switch-port connection (Msvm_EthernetPortAllocationSettingData) of a VM NIC.\n"
    "function Get-QhvConnection($Nic) {\n"
    "    $parent = '\"' + $Nic.Id.Replace('\\', '\\\\') + '\"'\n"
    "    Get-WmiObject -Namespace $qhvNs -Class Msvm_EthernetPortAllocationSettingData |\n"
    "        Where-Object { $_.Parent -and $_.Parent.IndexOf($parent, [StringComparison]::OrdinalIgnoreCase) -ge 0 } |\n"
    "        Select-Object -First 1\n"
    "}\n"
    "\n"
    "# Adds an ACL entry through WMI with Name 'qhv', the property qhv-agent knows\n"
    "# its entries by (Add-VMNetworkAdapter[Extended]Acl cannot set it).\n"
    "function Add-QhvAcl($Connection, [string]$Class, [hashtable]$Entry) {\n"
    "    $vsms = Get-WmiObject -Namespace $qhvNs -Class Msvm_VirtualSystemManagementService\n"
    "    $e = ([wmiclass]\"${qhvNs}:$Class\").CreateInstance()\n"
    "    foreach ($k in $Entry.Keys) { $e.$k = $Entry[$k] }\n"
    "    $e.Name = 'qhv'\n"
    "    Wait-QhvJob $vsms.AddFeatureSettings($Connection.__PATH, @($e.GetText(1))) \"add $Class\"\n"
    "}\n"
    "\n"
    "function Test-QhvSame($Have, [hashtable]$Want) {\n"
    "    foreach ($k in $Want.Keys) { if (\"$($Have.$k)\" -ne \"$($Want[$k])\") { return $false } }\n"
    "    return $true\n"
    "}\n"
    "\n"
    "# Makes qhv's ACL entries of a VM NIC exactly $Want: qhv's other entries are\n"
    "# removed, missing ones added; entries not named 'qhv' stay.\n"
    "function Sync-QhvAcl($Nic, [string]$Class, [object[]]$Want) {\n"
    "    $conn = Get-QhvConnection $Nic\n"
    "    if (-not $conn) { Write-Warning \"qhv: '$($Nic.Name)' has no switch port: its ACLs are skipped\"; return }\n"
    "    $vsms = Get-WmiObject -Namespace $qhvNs -Class Msvm_VirtualSystemManagementService\n"
    "    $todo = [Collections.ArrayList]@($Want)\n"
    "    foreach ($have in @($conn.GetRelated($Class) | Where-Object { $_.Name -eq 'qhv' })) {\n"
    "        $same = $todo | Where-Object { Test-QhvSame $have $_ } | Select-Object -First 1\n"
    "        if ($same) { $todo.Remove($same) }\n"
    "        else { Wait-QhvJob $vsms.RemoveFeatureSettings(@($have.__PATH)) \"remove $Class\" }\n"
    "    }\n"
    "    foreach ($w in $todo) { Add-QhvAcl $conn $Class $w }\n"
    "}\n"
    "\n"
    "# NetWNV (root\\StandardCimv2): each object is looked up first and made only\n"
    "# when missing or different; an object with the same key that is not qhv's\n"
    "# is left alone, with a warning.\n"
    "# (Rule/Type read back as numbers count as equal: the names are what is set.)\n"
    "function Test-QhvEnum($Have, [string]$Name) { \"$Have\" -eq $Name -or \"$Have\" -match '^\\d+$' }\n"
    "\n"
    "function Set-QhvProviderAddress([string]$ProviderAddress, [uint32]$PrefixLength, [uint32]$VlanID = 0) {\n"
    "    $have = Get-NetVirtualizationProviderAddress -ProviderAddress $ProviderAddress -ErrorAction SilentlyContinue\n"
    "    if ($have -and $have.InterfaceIndex -ne $paIf) {\n"
    "        Write-Warning \"qhv: provider address $ProviderAddress is on interface $($have.InterfaceIndex), not the provider interface: left alone\"; return\n"
    "    }\n"
    "    if ($have -and $have.PrefixLength -eq $PrefixLength -and $have.VlanID -eq $VlanID) { return }\n"
    "    if ($have) { $have | Remove-CimInstance }\n"
    "    $p = @{InterfaceIndex = $paIf; ProviderAddress = $ProviderAddress; PrefixLength = $PrefixLength}\n"
    "    if ($VlanID) { $p.VlanID = $VlanID }\n"
    "    New-NetVirtualizationProviderAddress @p | Out-Null\n"
    "}\n"
    "\n"
    "# Routes carry qhv's CustomerID (the cmdlets have no such parameter).\n"
    "function Set-QhvProviderRoute([string]$DestinationPrefix, [string]$NextHop, [uint32]$Metric) {\n"
    "    $have = @(Get-NetVirtualizationProviderRoute -InterfaceIndex $paIf -ErrorAction SilentlyContinue |\n"
    "              Where-Object DestinationPrefix -eq $DestinationPrefix)\n"
    "    if ($have | Where-Object { $_.CustomerID -ne $qhvCustomerID }) {\n"
    "        Write-Warning \"qhv: provider route $DestinationPrefix is someone else's: left alone\"; return\n"
    "    }\n"
    "    if ($have | Where-Object { $_.NextHop -eq $NextHop -and $_.Metric -eq $Metric }) { return }\n"
    "    $have | Remove-CimInstance\n"
    "    New-CimInstance -Namespace root/StandardCimv2 -ClassName MSFT_NetVirtualizationProviderRouteSettingData -Property @{\n"
    "        InterfaceIndex = [uint32]$paIf; DestinationPrefix = $DestinationPrefix; NextHop = $NextHop\n"
    "        Metric = $Metric; CustomerID = $qhvCustomerID} | Out-Null\n"
    "}\n"
    "\n"
    "function Set-QhvCustomerRoute([string]$RoutingDomainID, [uint32]$VirtualSubnetID, [string]$DestinationPrefix, [string]$NextHop, [uint32]$Metric) {\n"
    "    $have = Get-NetVirtualizationCustomerRoute -VirtualSubnetID $VirtualSubnetID -DestinationPrefix $DestinationPrefix -ErrorAction SilentlyContinue\n"
    "    if ($have -and $have.CustomerID -ne $qhvCustomerID) {\n"
    "        Write-Warning \"qhv: customer route $VirtualSubnetID $DestinationPrefix is someone else's: left alone\"; return\n"
    "    }\n"
    "    if ($have -and $have.RoutingDomainID -eq $RoutingDomainID -and $have.NextHop -eq $NextHop -and $have.Metric -eq $Metric) { return }\n"
    "    if ($have) { $have | Remove-CimInstance }\n"
    "    New-CimInstance -Namespace root/StandardCimv2 -ClassName MSFT_NetVirtualizationCustomerRouteSettingData -Property @{\n"
    "        RoutingDomainID = $RoutingDomainID; VirtualSubnetID = $VirtualSubnetID; DestinationPrefix = $DestinationPrefix\n"
    "        NextHop = $NextHop; Metric = $Metric; CustomerID = $qhvCustomerID} | Out-Null\n"
    "}\n"
    "\n"
    "function Set-QhvLookupRecord([string]$CustomerAddress, [uint32]$VirtualSubnetID, [string]$MACAddress, [string]$ProviderAddress, [string]$Rule, [string]$Type = '', [string]$VMName = '') {\n"
    "    $have = Get-NetVirtualizationLookupRecord -CustomerAddress $CustomerAddress -VirtualSubnetID $VirtualSubnetID -ErrorAction SilentlyContinue |\n"
    "            Where-Object { ($_.MACAddress -replace '[-:]', '') -eq $MACAddress }\n"
    "    if ($have -and $have.Context -ne 'qhv') {\n"
    "        Write-Warning \"qhv: lookup record $VirtualSubnetID $CustomerAddress $MACAddress is someone else's: left alone\"; return\n"
    "    }\n"
    "    if ($have -and $have.ProviderAddress -eq $ProviderAddress -and \"$($have.VMName)\" -eq $VMName -and\n"
    "        (Test-QhvEnum $have.Rule $Rule) -and (-not $Type -or (Test-QhvEnum $have.Type $Type))) { return }\n"
    "    if ($have) { $have | Remove-CimInstance }\n"
    "    $p = @{CustomerAddress = $CustomerAddress; VirtualSubnetID = $VirtualSubnetID; MACAddress = $MACAddress\n"
    "           ProviderAddress = $ProviderAddress; Rule = $Rule; Context = 'qhv'}\n"
    "    if ($Type) { $p.Type = $Type }\n"
    "    if ($VMName) { $p.VMName = $VMName }\n"
    "    New-NetVirtualizationLookupRecord @p | Out-Null\n"
    "}\n"
    "\n"
    "# Removes the objects in $Have whose key is not in $Keep.\n"
    "function Remove-QhvStale([string]$What, [object[]]$Have, [string[]]$Keep, [scriptblock]$Key) {\n"
    "    foreach ($o in $Have) {\n"
    "        $k = (& $Key $o).ToUpper()\n"
    "        if ($Keep -notcontains $k) { Write-Host \"qhv: removing $What $k (not in the plan)\"; $o | Remove-CimInstance }\n"
    "    }\n"
    "}\n";

/* A single-quoted PowerShell string: every quote character PowerShell
 * knows (' and U+2018..U+201B) doubled. */
static void qps_quote(qbuf *b, const char *s)
{
    qbuf_putc(b, '\'');
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '\'')
            qbuf_putc(b, '\'');
        else if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x80 &&
                 (unsigned char)p[2] >= 0x98 && (unsigned char)p[2] <= 0x9B) {
            qbuf_append(b, p, 3);
            qbuf_append(b, p, 3);
            p += 2;
            continue;
        }
        qbuf_putc(b, *p);
    }
    qbuf_putc(b, '\'');
}

/* Text pasted into a comment: a control character (a newline would end the
 * comment and start a command) becomes '?'. */
static void qps_comment_text(qbuf *b, const char *s)
{
    for (const char *p = s ? s : "?"; *p; p++)
        qbuf_putc(b, (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
}

/* The forms a bare (unquoted) argument may have: each is parsed, and is
 * then made only of characters PowerShell reads as one word. A value that
 * lacks its form is not printed: whatever a plan or an agent said, it
 * cannot become a command. */
typedef enum { QPS_ADDR, QPS_PREFIX, QPS_MAC } qps_form;

static bool qps_form_ok(const char *s, qps_form f)
{
    static const char *const chars[] = {"0123456789abcdefABCDEF.:", "0123456789abcdefABCDEF.:/",
                                        "0123456789abcdefABCDEF"};
    qaddr a;
    qcidr c;
    if (!s || !*s || s[strspn(s, chars[f])])
        return false;
    if (f == QPS_ADDR)
        return qaddr_parse(s, &a) == 0;
    if (f == QPS_PREFIX)
        return qcidr_parse(s, &c) == 0;
    return strlen(s) == 12;
}

/* Appends " -Name value" for a value of form f; false (nothing appended)
 * if it lacks it. */
static bool qps_arg(qbuf *b, const char *name, const char *v, qps_form f)
{
    if (!qps_form_ok(v, f))
        return false;
    qbuf_printf(b, " -%s %s", name, v);
    return true;
}

/* The comment that stands for a command left out because a value lacked
 * its form. */
static void qps_skipped(qps *p, const char *what, const char *field)
{
    qbuf_printf(p->out, "# %s skipped: its %s is not of its form (not printed)\n", what, field);
}

/* Adds key, upper-cased and quoted, to a Remove-QhvStale keep list. */
static void qps_keep(qbuf *keep, char *key)
{
    for (char *c = key; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
    if (keep->len)
        qbuf_puts(keep, ", ");
    qps_quote(keep, key);
}

/* One command line (counted), indented by ind spaces. */
static void qps_line(qps *p, int ind, const char *text)
{
    qbuf_printf(p->out, "%*s%s\n", ind, "", text);
    p->n++;
}

/* "00:15:5d:01:02:03" or "00-15-5D-01-02-03" → Get-NetAdapter's form; false
 * if s is not a MAC. */
static bool qps_mac_dashes(const char *s, char out[18])
{
    if (!s || strlen(s) != 17 || (s[2] != ':' && s[2] != '-'))
        return false;
    for (int i = 0; i < 17; i++) {
        char c = s[i];
        if (i % 3 == 2) {
            if (c != s[2])
                return false;
            out[i] = '-';
        } else if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')) {
            out[i] = c;
        } else if (c >= 'a' && c <= 'f') {
            out[i] = (char)(c - 'a' + 'A');
        } else {
            return false;
        }
    }
    out[17] = '\0';
    return true;
}

/* $paIf: the provider interface, resolved on the host at run time. */
static void qps_pa_interface(qps *p)
{
    const qhyv_pa_conf *pa = &p->o->pa;
    qbuf b;
    qbuf_init(&b, 0);
    char mac[18];
    qbuf_puts(p->out, "\n# The provider interface ([hyperv] provider_interface): the physical NIC "
                      "bound to the\n# external vSwitch that carries provider traffic.\n");
    if (pa->interface && *pa->interface && qps_mac_dashes(pa->interface, mac)) {
        qbuf_printf(&b, "$paIf = @(Get-NetAdapter | Where-Object { $_.MacAddress -eq '%s' -and "
                        "$_.InterfaceDescription -notlike 'Hyper-V Virtual Ethernet Adapter*' "
                        "}).ifIndex", mac);
        qps_line(p, 0, b.data);
        qbuf_reset(&b);
        qbuf_printf(&b, "if (@($paIf).Count -ne 1) { throw \"qhv: no single network adapter with "
                        "MAC %s on this host ([hyperv] provider_interface): nothing changed\" }",
                    mac);
    } else if (pa->interface && *pa->interface) {
        qbuf_puts(&b, "$paIf = (Get-NetAdapter -Name ");
        qps_quote(&b, pa->interface);
        qbuf_puts(&b, " -ErrorAction SilentlyContinue).ifIndex");
        qps_line(p, 0, b.data);
        qbuf_reset(&b);
        /* Never inside a double-quoted string ($(...) would run): the
         * alias is a single-quoted argument of -f. */
        qbuf_puts(&b, "if (-not $paIf) { throw (\"qhv: no network adapter named '{0}' on this "
                      "host ([hyperv] provider_interface): nothing changed\" -f ");
        qps_quote(&b, pa->interface);
        qbuf_puts(&b, ") }");
    } else if (pa->ifindex > 0) {
        qbuf_printf(&b, "$paIf = (Get-NetAdapter -InterfaceIndex %lld -ErrorAction "
                        "SilentlyContinue).ifIndex", (long long)pa->ifindex);
        qps_line(p, 0, b.data);
        qbuf_reset(&b);
        qbuf_printf(&b, "if (-not $paIf) { throw \"qhv: no network adapter with InterfaceIndex "
                        "%lld on this host ([hyperv] provider_interface_index; better: "
                        "provider_interface): nothing changed\" }", (long long)pa->ifindex);
    } else {
        qbuf_puts(p->out, "# not set: the plan has provider addresses but [hyperv] "
                          "provider_interface names no interface\n");
        qbuf_puts(&b, "throw \"qhv: set [hyperv] provider_interface (the provider NIC's alias or "
                      "MAC): nothing changed\"");
    }
    qps_line(p, 0, b.data);
    qbuf_free(&b);
}

static void qps_pa(qps *p, const qj *v, qbuf *keep)
{
    qhyv_pa_conf c = p->o->pa;
    c.address = qj_get_str(v, "address");
    qj *i = c.address ? qhyv_wnv_pa(&c) : NULL;
    if (!i) {
        qbuf_puts(p->out, "# a provider address without an address: skipped\n");
        return;
    }
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_puts(&b, "Set-QhvProviderAddress");
    if (!qps_arg(&b, "ProviderAddress", qj_get_str(i, "ProviderAddress"), QPS_ADDR)) {
        qps_skipped(p, "a provider address", "address");
    } else {
        qbuf_printf(&b, " -PrefixLength %lld", (long long)qj_get_int(i, "PrefixLength", 0));
        if (qj_get_int(i, "VlanID", 0))
            qbuf_printf(&b, " -VlanID %lld", (long long)qj_get_int(i, "VlanID", 0));
        qps_line(p, 0, b.data);
        if (keep->len)
            qbuf_puts(keep, ", ");
        qps_quote(keep, qj_get_str(i, "ProviderAddress"));
    }
    qbuf_free(&b);
    qj_free(i);
}

static void qps_route(qps *p, const qvs_map *objects, const qj *v)
{
    qj *i = qhyv_wnv_route(v);
    if (!i) {
        qbuf_puts(p->out, "# a customer route without vsid, routing domain, destination or "
                          "next hop: skipped\n");
        return;
    }
    int64_t vsid = qj_get_int(i, "VirtualSubnetID", 0);
    const char *nh = qj_get_str(i, "NextHop");
    char prefix[64];
    if (qhyv_wnv_via_first_address(objects, v, prefix, sizeof prefix)) {
        /* As the backend: not written. */
        qbuf_puts(p->out, "# warning: route ");
        qps_comment_text(p->out, qj_get_str(i, "DestinationPrefix"));
        qbuf_puts(p->out, " via ");
        qps_comment_text(p->out, nh);
        qbuf_puts(p->out, " not made: ");
        qps_comment_text(p->out, nh);
        qbuf_printf(p->out, " is the first address of virtual subnet %lld (", (long long)vsid);
        qps_comment_text(p->out, prefix);
        qbuf_puts(p->out, "), which HNV v1's distributed router answers itself "
                          "(networking-hyperv spec hyper-v-nvgre.rst). Give the subnet another "
                          "gateway_ip (a router port not on .1) and keep .1 out of its "
                          "allocation pools.\n");
        qj_free(i);
        return;
    }
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_puts(&b, "Set-QhvCustomerRoute -RoutingDomainID ");
    qps_quote(&b, qj_get_str(i, "RoutingDomainID"));
    qbuf_printf(&b, " -VirtualSubnetID %lld", (long long)vsid);
    if (!qps_arg(&b, "DestinationPrefix", qj_get_str(i, "DestinationPrefix"), QPS_PREFIX) ||
        !qps_arg(&b, "NextHop", nh, QPS_ADDR)) {
        qps_skipped(p, "a customer route", "destination or next hop");
        qbuf_free(&b);
        qj_free(i);
        return;
    }
    qbuf_printf(&b, " -Metric %lld", (long long)qj_get_int(i, "Metric", 255));
    qps_line(p, 0, b.data);
    char *key = xasprintf("%lld/%s", (long long)vsid, qj_get_str(i, "DestinationPrefix"));
    qps_keep(&p->keep_cr, key);
    free(key);
    qbuf_free(&b);
    qj_free(i);
}

static void qps_record(qps *p, const qj *i)
{
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_puts(&b, "Set-QhvLookupRecord");
    bool ok = qps_arg(&b, "CustomerAddress", qj_get_str(i, "CustomerAddress"), QPS_ADDR);
    if (ok)
        qbuf_printf(&b, " -VirtualSubnetID %lld", (long long)qj_get_int(i, "VirtualSubnetID", 0));
    ok = ok && qps_arg(&b, "MACAddress", qj_get_str(i, "MACAddress"), QPS_MAC) &&
         qps_arg(&b, "ProviderAddress", qj_get_str(i, "ProviderAddress"), QPS_ADDR);
    if (!ok) {
        qps_skipped(p, "a lookup record", "customer address, MAC or provider address");
        qbuf_free(&b);
        return;
    }
    qbuf_printf(&b, " -Rule %s", qj_get_int(i, "Rule", 1) == QHYV_RULE_NAT
                                     ? "TranslationMethodNat" : "TranslationMethodEncap");
    if (qj_get(i, "Type"))
        qbuf_printf(&b, " -Type %s",
                    qj_get_int(i, "Type", 0) == QHYV_TYPE_L2ONLY ? "L2Only" : "Static");
    if (qj_get_str(i, "VMName")) {
        qbuf_puts(&b, " -VMName ");
        qps_quote(&b, qj_get_str(i, "VMName"));
    }
    qps_line(p, 0, b.data);
    char *key = xasprintf("%lld/%s/%s", (long long)qj_get_int(i, "VirtualSubnetID", 0),
                          qj_get_str(i, "CustomerAddress"), qj_get_str(i, "MACAddress"));
    qps_keep(&p->keep_lr, key);
    free(key);
    qbuf_free(&b);
}

static bool qps_is_nvgre(const qj *port)
{
    const char *t = qj_get_str(port, "network_type");
    return t && !strcmp(t, "nvgre");
}

/* The L2Only records of the plan's NVGRE ports (DHCP), as the backend
 * writes them with each port (qhyv_wnv_l2only). */
static void qps_l2only(qps *p, const qvs_map *objects)
{
    const char *k;
    qj *v;
    bool first = true;
    for (size_t i = 0; i < qvs_map_end(objects); i++) {
        if (!qvs_map_at(objects, i, &k, &v) || strncmp(k, "port/", 5) || !qps_is_nvgre(v))
            continue;
        if (first)
            qbuf_puts(p->out, "# the L2Only records of this host's NVGRE ports (DHCP)\n");
        first = false;
        if (!p->has_type) {
            /* E6: on 6.2 a CustomerAddress 0.0.0.0 record is a gateway
             * wildcard; the backend writes none there. */
            qbuf_puts(p->out, "# port ");
            qps_comment_text(p->out, k + 5);
            qbuf_puts(p->out, ": none on Windows Server 2012 (a CustomerAddress 0.0.0.0 record "
                              "is a gateway wildcard there)\n");
            continue;
        }
        qj *l2 = qhyv_wnv_l2only(qj_get_int(v, "vsid", 0), qj_get_str(v, "mac_address"),
                                 p->o->pa.address, k + 5, p->has_type);
        if (l2)
            qps_record(p, l2);
        else {
            qbuf_puts(p->out, "# port ");
            qps_comment_text(p->out, k + 5);
            qbuf_puts(p->out, ": no L2Only record: it needs [agent] provider_address and a "
                              "MAC\n");
        }
        qj_free(l2);
    }
}

static void qps_acl(qps *p, const char *id, const qj *v)
{
    char problem[256];
    qj *entries = qhyv_acl_entries(v, p->sets, p->extended, problem, sizeof problem);
    qbuf_puts(p->out, "    # ");
    qps_comment_text(p->out, id);
    qbuf_printf(p->out, ": %zu entries\n", qj_len(entries));
    if (problem[0]) {
        qbuf_puts(p->out, "    # not expressible (left out, the port is stricter): ");
        qps_comment_text(p->out, problem);
        qbuf_putc(p->out, '\n');
    }
    qvs_map *used = qvs_map_new();
    if (p->extended)
        qhyv_acl_weigh(entries, used);
    qvs_map_free(used);
    qbuf b;
    qbuf_init(&b, 0);
    for (size_t i = 0; i < qj_len(entries); i++) {
        const qj *e = qj_at(entries, i);
        qbuf_reset(&b);
        qbuf_puts(&b, "$acl += @{");
        bool first = true;
        for (size_t m = 0; m < qj_len(e); m++) {
            const char *name = e->u.obj.m[m].key;
            const qj *val = e->u.obj.m[m].val;
            if (!strcmp(name, "__CLASS") || !strcmp(name, "Name") || !strcmp(name, "ElementName"))
                continue;
            /* Property names are the generator's own (hv_acl.c), never data. */
            qbuf_printf(&b, "%s%s = ", first ? "" : "; ", name);
            first = false;
            if (qj_is(val, QJ_BOOL))
                qbuf_puts(&b, val->u.b ? "$true" : "$false");
            else if (qj_is(val, QJ_INT))
                qbuf_printf(&b, "%lld", (long long)val->u.i);
            else
                qps_quote(&b, qj_as_str(val));
        }
        qbuf_putc(&b, '}');
        qps_line(p, 4, b.data);
    }
    qbuf_free(&b);
    qj_free(entries);
}

/* port/<id> and its acl/ objects, under one $nic. */
static void qps_port(qps *p, const qvs_map *objects, const char *port, const qj *v)
{
    qbuf b;
    qbuf_init(&b, 0);
    const char *type = qj_get_str(v, "network_type");
    qbuf_puts(p->out, "\n# port ");
    qps_comment_text(p->out, port);
    qbuf_puts(p->out, " (");
    qps_comment_text(p->out, type);
    qbuf_puts(p->out, " network ");
    qps_comment_text(p->out, qj_get_str(v, "network_id"));
    qbuf_puts(p->out, ")\n");
    qbuf_puts(&b, "$nic = Get-QhvNic ");
    qps_quote(&b, port);
    qps_line(p, 0, b.data);
    qbuf_puts(p->out, "if ($nic) {\n");
    bool up = qj_get_bool(v, "admin_state_up", true);
    const char *sw = qj_get_str(v, "vswitch");
    qbuf_reset(&b);
    if (!up) {
        qbuf_puts(p->out, "    # admin_state_up is false: the port's connection stays disabled "
                          "(EnabledState 3), its settings kept\n");
        qps_line(p, 4, "if ($nic.Connected) { Disconnect-VMNetworkAdapter -VMNetworkAdapter "
                       "$nic }");
    } else {
        qbuf_puts(&b, "if ($nic.SwitchName -ne ");
        qps_quote(&b, sw);
        qbuf_puts(&b, " -or -not $nic.Connected) { Connect-VMNetworkAdapter -VMNetworkAdapter "
                      "$nic -SwitchName ");
        qps_quote(&b, sw);
        qbuf_puts(&b, " }");
        qps_line(p, 4, b.data);
    }
    qps_line(p, 4, "$vlan = Get-VMNetworkAdapterVlan -VMNetworkAdapter $nic");
    qbuf_reset(&b);
    if (qj_is(qj_get(v, "vlan"), QJ_INT)) {
        long long id = (long long)qj_get_int(v, "vlan", 0);
        qbuf_printf(&b, "if (\"$($vlan.OperationMode)\" -ne 'Access' -or $vlan.AccessVlanId -ne "
                        "%lld) { Set-VMNetworkAdapterVlan -VMNetworkAdapter $nic -Access -VlanId "
                        "%lld }", id, id);
    } else {
        qbuf_puts(&b, "if (\"$($vlan.OperationMode)\" -ne 'Untagged') { "
                      "Set-VMNetworkAdapterVlan -VMNetworkAdapter $nic -Untagged }");
    }
    qps_line(p, 4, b.data);
    /* E3: the backend writes VirtualSubnetId 0 on a port that is not
     * virtualized. */
    long long vsid = qj_is(qj_get(v, "vsid"), QJ_INT) ? (long long)qj_get_int(v, "vsid", 0) : 0;
    const char *spoof = qj_get_bool(v, "mac_spoofing", false) ? "On" : "Off";
    const char *dhcp = qj_get_bool(v, "dhcp_guard", false) ? "On" : "Off";
    const char *ra = qj_get_bool(v, "router_guard", false) ? "On" : "Off";
    qbuf_reset(&b);
    qbuf_printf(&b, "if ($nic.VirtualSubnetId -ne %lld -or \"$($nic.MacAddressSpoofing)\" -ne "
                    "'%s' -or \"$($nic.DhcpGuard)\" -ne '%s' -or \"$($nic.RouterGuard)\" -ne "
                    "'%s') {", vsid, spoof, dhcp, ra);
    qbuf_printf(p->out, "    %s\n", b.data);
    qbuf_reset(&b);
    qbuf_printf(&b, "Set-VMNetworkAdapter -VMNetworkAdapter $nic -VirtualSubnetId %lld "
                    "-MacAddressSpoofing %s -DhcpGuard %s -RouterGuard %s", vsid, spoof, dhcp, ra);
    qps_line(p, 8, b.data);
    qbuf_puts(p->out, "    }\n");
    if (type && !strcmp(type, "nvgre") && !p->wnv)
        qbuf_puts(p->out, "    # not expressible: NVGRE (HNV v1 is absent from Windows Server "
                          "2019 on)\n");
    /* The port's ACL entries: exactly these are qhv's. */
    qps_line(p, 4, "$acl = @()");
    if (p->extended)
        qbuf_puts(p->out, "    # Direction 1 = Inbound (to the VM), 2 = Outbound; Action 1 = "
                          "Allow, 2 = Deny\n");
    static const char *const dirs[] = {"ingress", "egress"};
    for (size_t d = 0; d < 2; d++) {
        char *id = xasprintf("acl/%s/%s", port, dirs[d]);
        const qj *acl = qvs_map_get(objects, id);
        if (acl)
            qps_acl(p, id, acl);
        free(id);
    }
    qbuf_reset(&b);
    qbuf_printf(&b, "Sync-QhvAcl $nic '%s' $acl", p->extended ? QHYV_XACL_CLASS : QHYV_ACL_CLASS);
    qps_line(p, 4, b.data);
    qbuf_puts(p->out, "}\n");
    qbuf_free(&b);
}

size_t qhyv_ps_emit(const qvs_map *objects, const qhyv_ps_opts *o, qbuf *out)
{
    int major = 10, minor = 0;
    long build = 14393;
    if (o->windows_version && *o->windows_version) {
        build = 0;
        sscanf(o->windows_version, "%d.%d.%ld", &major, &minor, &build);
    }
    qps p = {.out = out, .o = o};
    p.extended = p.has_type = major > 6 || (major == 6 && minor >= 3);
    p.wnv = !(major >= 10 && build >= 17763);
    qbuf_init(&p.keep_lr, 0);
    qbuf_init(&p.keep_cr, 0);
    qbuf_puts(out, "# qhv: the Hyper-V settings of this plan as PowerShell (Windows ");
    qps_comment_text(out, o->windows_version && *o->windows_version ? o->windows_version
                                                                    : "10.0.14393");
    qbuf_printf(out, ": %s, %s)\n", p.extended ? "extended port ACLs" : "address-only port ACLs",
                p.wnv ? "HNV v1 present" : "no HNV v1");
    qbuf_puts(out, qps_preamble);
    p.sets = qvs_map_new();
    const char *k;
    qj *v;
    bool has_pa = false;
    for (size_t i = 0; i < qvs_map_end(objects); i++) {
        if (!qvs_map_at(objects, i, &k, &v))
            continue;
        if (!strncmp(k, "address_set/", 12))
            qvs_map_put(p.sets, k + 12, qj_clone(v));
        has_pa = has_pa || !strncmp(k, "provider_address/", 17);
    }
    qbuf keep_pa;
    qbuf_init(&keep_pa, 0);
    char *route_key = NULL;
    if (p.wnv && has_pa) {
        qps_pa_interface(&p);
        qbuf_puts(out, "\n# provider_address objects (NetWNV)\n");
        for (size_t i = 0; i < qvs_map_end(objects); i++)
            if (qvs_map_at(objects, i, &k, &v) && !strncmp(k, "provider_address/", 17))
                qps_pa(&p, v, &keep_pa);
        /* E2: one provider route per host (the backend's). */
        qj *pr = o->pa.address && *o->pa.address ? qhyv_wnv_provider_route(&o->pa) : NULL;
        if (pr) {
            qbuf b;
            qbuf_init(&b, 0);
            qbuf_puts(&b, "Set-QhvProviderRoute");
            if (qps_arg(&b, "DestinationPrefix", qj_get_str(pr, "DestinationPrefix"), QPS_PREFIX) &&
                qps_arg(&b, "NextHop", qj_get_str(pr, "NextHop"), QPS_ADDR)) {
                qbuf_printf(&b, " -Metric %lld", (long long)qj_get_int(pr, "Metric", 255));
                qps_line(&p, 0, b.data);
                route_key = xasprintf("%s/%s", qj_get_str(pr, "DestinationPrefix"),
                                      qj_get_str(pr, "NextHop"));
            } else {
                qps_skipped(&p, "the provider route", "destination or next hop");
            }
            qbuf_free(&b);
        }
        qj_free(pr);
    } else if (has_pa) {
        qbuf_puts(out, "\n# not expressible: provider addresses (HNV v1 is absent from Windows "
                       "Server 2019 on)\n");
    }
    /* In the order the backend installs them (src/vswitch/vswitch.h). */
    static const char *const wnv_kinds[] = {"customer_route/", "lookup_record/"};
    for (size_t s = 0; s < 2; s++) {
        size_t plen = strlen(wnv_kinds[s]);
        bool first = true;
        for (size_t i = 0; i < qvs_map_end(objects); i++) {
            if (!qvs_map_at(objects, i, &k, &v) || strncmp(k, wnv_kinds[s], plen))
                continue;
            if (first)
                qbuf_printf(out, "\n# %.*s objects (NetWNV)\n", (int)plen - 1, wnv_kinds[s]);
            first = false;
            if (!p.wnv) {
                qbuf_puts(out, "# not expressible: ");
                qps_comment_text(out, k);
                qbuf_puts(out, " (HNV v1 is absent from Windows Server 2019 on)\n");
            } else if (s == 0) {
                qps_route(&p, objects, v);
            } else {
                qj *i2 = qhyv_wnv_lookup(v, p.has_type);
                if (i2)
                    qps_record(&p, i2);
                qj_free(i2);
            }
        }
        if (s == 1 && p.wnv)
            qps_l2only(&p, objects);
    }
    for (size_t i = 0; i < qvs_map_end(objects); i++)
        if (qvs_map_at(objects, i, &k, &v) && !strncmp(k, "port/", 5))
            qps_port(&p, objects, k + 5, v);
    if (qvs_map_size(p.sets))
        qbuf_printf(out, "\n# %zu address sets: their members are expanded into the ACL entries "
                         "above\n", qvs_map_size(p.sets));
    if (p.wnv) {
        qbuf_puts(out, "\n# qhv's NetWNV objects that the plan does not name\n");
        qbuf b;
        qbuf_init(&b, 0);
        qbuf_printf(&b, "Remove-QhvStale 'lookup record' @(Get-NetVirtualizationLookupRecord | "
                        "Where-Object Context -eq 'qhv') @(%s) { param($o) "
                        "\"$($o.VirtualSubnetID)/$($o.CustomerAddress)/$($o.MACAddress -replace "
                        "'[-:]', '')\" }", p.keep_lr.data ? p.keep_lr.data : "");
        qps_line(&p, 0, b.data);
        qbuf_reset(&b);
        qbuf_printf(&b, "Remove-QhvStale 'customer route' @(Get-NetVirtualizationCustomerRoute | "
                        "Where-Object CustomerID -eq $qhvCustomerID) @(%s) { param($o) "
                        "\"$($o.VirtualSubnetID)/$($o.DestinationPrefix)\" }",
                    p.keep_cr.data ? p.keep_cr.data : "");
        qps_line(&p, 0, b.data);
        if (has_pa) {
            qbuf keep_pr;
            qbuf_init(&keep_pr, 0);
            if (route_key)
                qps_keep(&keep_pr, route_key);
            qbuf_reset(&b);
            qbuf_printf(&b, "Remove-QhvStale 'provider route' @(Get-NetVirtualizationProviderRoute "
                            "| Where-Object CustomerID -eq $qhvCustomerID) @(%s) { param($o) "
                            "\"$($o.DestinationPrefix)/$($o.NextHop)\" }",
                        keep_pr.data ? keep_pr.data : "");
            qbuf_free(&keep_pr);
            qps_line(&p, 0, b.data);
            qbuf_reset(&b);
            qbuf_printf(&b, "Remove-QhvStale 'provider address' "
                            "@(Get-NetVirtualizationProviderAddress | Where-Object InterfaceIndex "
                            "-eq $paIf) @(%s) { param($o) \"$($o.ProviderAddress)\" }",
                        keep_pa.data ? keep_pa.data : "");
            qps_line(&p, 0, b.data);
        } else {
            qbuf_puts(out, "# (no provider addresses in the plan: those on the provider "
                           "interface are not looked at)\n");
        }
        qbuf_free(&b);
    }
    free(route_key);
    qbuf_free(&keep_pa);
    qbuf_free(&p.keep_lr);
    qbuf_free(&p.keep_cr);
    qvs_map_free(p.sets);
    return p.n;
}
