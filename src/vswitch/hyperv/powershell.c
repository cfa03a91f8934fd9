#include "vswitch/hyperv/powershell.h"
#include "vswitch/hyperv/hv_acl.h"
#include "lib/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct qps {
    qbuf *out;
    size_t n;
    bool extended, has_type, wnv;
    const qhyv_pa_conf *pa;
} qps;

/* A single-quoted PowerShell string ('' inside). */
static void qps_quote(qbuf *b, const char *s)
{
    qbuf_putc(b, '\'');
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '\'')
            qbuf_putc(b, '\'');
        qbuf_putc(b, *p);
    }
    qbuf_putc(b, '\'');
}

static void qps_cmd(qps *p, const char *text)
{
    qbuf_puts(p->out, text);
    qbuf_putc(p->out, '\n');
    p->n++;
}

static void qps_pa(qps *p, const qj *v)
{
    const char *a = qj_get_str(v, "address");
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_printf(&b, "New-NetVirtualizationProviderAddress -InterfaceIndex %lld -ProviderAddress "
                    "%s -PrefixLength %lld",
                (long long)p->pa->ifindex, a ? a : "", (long long)p->pa->prefix_len);
    if (p->pa->vlan)
        qbuf_printf(&b, " -VlanID %lld", (long long)p->pa->vlan);
    qps_cmd(p, b.data);
    if (p->pa->next_hop && *p->pa->next_hop) {
        qbuf_reset(&b);
        qbuf_printf(&b, "New-NetVirtualizationProviderRoute -InterfaceIndex %lld "
                        "-DestinationPrefix %s -NextHop %s -Metric 255",
                    (long long)p->pa->ifindex, a && strchr(a, ':') ? "::/0" : "0.0.0.0/0",
                    p->pa->next_hop);
        qps_cmd(p, b.data);
    }
    qbuf_free(&b);
}

static void qps_route(qps *p, const qj *v)
{
    qj *i = qhyv_wnv_route(v);
    if (!i) {
        qbuf_puts(p->out, "# a customer route without vsid, routing domain, destination or "
                          "next hop: skipped\n");
        return;
    }
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_puts(&b, "New-NetVirtualizationCustomerRoute -RoutingDomainID ");
    qps_quote(&b, qj_get_str(i, "RoutingDomainID"));
    qbuf_printf(&b, " -VirtualSubnetID %lld -DestinationPrefix %s -NextHop %s -Metric 255",
                (long long)qj_get_int(i, "VirtualSubnetID", 0), qj_get_str(i, "DestinationPrefix"),
                qj_get_str(i, "NextHop"));
    qps_cmd(p, b.data);
    qbuf_free(&b);
    qj_free(i);
}

static void qps_record(qps *p, const qj *i)
{
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_printf(&b, "New-NetVirtualizationLookupRecord -CustomerAddress %s -VirtualSubnetID %lld "
                    "-MACAddress %s -ProviderAddress %s -Rule %s",
                qj_get_str(i, "CustomerAddress"), (long long)qj_get_int(i, "VirtualSubnetID", 0),
                qj_get_str(i, "MACAddress"), qj_get_str(i, "ProviderAddress"),
                qj_get_int(i, "Rule", 1) == QHYV_RULE_NAT ? "TranslationMethodNat"
                                                       : "TranslationMethodEncap");
    if (p->has_type)
        qbuf_printf(&b, " -Type %s",
                    qj_get_int(i, "Type", 0) == QHYV_TYPE_L2ONLY ? "L2Only" : "Static");
    qbuf_puts(&b, " -Context qhv");
    if (qj_get_str(i, "VMName")) {
        qbuf_puts(&b, " -VMName ");
        qps_quote(&b, qj_get_str(i, "VMName"));
    }
    qps_cmd(p, b.data);
    qbuf_free(&b);
}

static void qps_nic(qps *p, const char *port)
{
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_puts(&b, "$nic = Get-VMNetworkAdapter -All | Where-Object Name -eq ");
    qps_quote(&b, port);
    qps_cmd(p, b.data);
    qbuf_free(&b);
}

static void qps_port(qps *p, const char *port, const qj *v)
{
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_printf(p->out, "\n# port %s (%s network %s)\n", port,
                qj_get_str(v, "network_type") ? qj_get_str(v, "network_type") : "?",
                qj_get_str(v, "network_id") ? qj_get_str(v, "network_id") : "?");
    qps_nic(p, port);
    qbuf_puts(&b, "Connect-VMNetworkAdapter -VMNetworkAdapter $nic -SwitchName ");
    qps_quote(&b, qj_get_str(v, "vswitch"));
    qps_cmd(p, b.data);
    qbuf_reset(&b);
    if (qj_is(qj_get(v, "vlan"), QJ_INT))
        qbuf_printf(&b, "Set-VMNetworkAdapterVlan -VMNetworkAdapter $nic -Access -VlanId %lld",
                    (long long)qj_get_int(v, "vlan", 0));
    else
        qbuf_puts(&b, "Set-VMNetworkAdapterVlan -VMNetworkAdapter $nic -Untagged");
    qps_cmd(p, b.data);
    qbuf_reset(&b);
    qbuf_puts(&b, "Set-VMNetworkAdapter -VMNetworkAdapter $nic");
    if (qj_is(qj_get(v, "vsid"), QJ_INT))
        qbuf_printf(&b, " -VirtualSubnetId %lld", (long long)qj_get_int(v, "vsid", 0));
    qbuf_printf(&b, " -MacAddressSpoofing %s -DhcpGuard %s -RouterGuard %s",
                qj_get_bool(v, "mac_spoofing", false) ? "On" : "Off",
                qj_get_bool(v, "dhcp_guard", false) ? "On" : "Off",
                qj_get_bool(v, "router_guard", false) ? "On" : "Off");
    qps_cmd(p, b.data);
    const char *type = qj_get_str(v, "network_type");
    if (type && !strcmp(type, "nvgre") && !p->wnv) {
        qbuf_puts(p->out, "# not expressible: NVGRE (HNV v1 is absent from Windows Server 2019 "
                          "on)\n");
    } else if (type && !strcmp(type, "nvgre")) {
        qj *l2 = qhyv_wnv_l2only(qj_get_int(v, "vsid", 0), qj_get_str(v, "mac_address"),
                                 p->pa->address, port, p->has_type);
        if (l2)
            qps_record(p, l2);
        else
            qbuf_puts(p->out, "# not expressible here: the L2Only record (DHCP) needs [agent] "
                              "provider_address\n");
        qj_free(l2);
    }
    if (!qj_get_bool(v, "admin_state_up", true)) {
        qbuf_puts(p->out, "# admin_state_up is false: qhv disables the switch port "
                          "(EnabledState 3) and keeps its settings; by hand:\n");
        qps_cmd(p, "Disconnect-VMNetworkAdapter -VMNetworkAdapter $nic");
    }
    qbuf_free(&b);
}

static void qps_acl(qps *p, const char *id, const qj *v, const qvs_map *sets)
{
    char problem[256];
    qj *entries = qhyv_acl_entries(v, sets, p->extended, problem, sizeof problem);
    const char *port = qj_get_str(v, "port_id");
    qbuf_printf(p->out, "# %s: %zu entries\n", id, qj_len(entries));
    if (problem[0])
        qbuf_printf(p->out, "# not expressible (left out, the port is stricter): %s\n", problem);
    qps_nic(p, port ? port : "");
    qvs_map *used = qvs_map_new();
    if (p->extended)
        qhyv_acl_weigh(entries, used);
    qvs_map_free(used);
    qbuf b;
    qbuf_init(&b, 0);
    for (size_t i = 0; i < qj_len(entries); i++) {
        const qj *e = qj_at(entries, i);
        qbuf_reset(&b);
        const char *dir = qj_get_int(e, "Direction", 1) == 1 ? "Inbound" : "Outbound";
        const char *act = qj_get_int(e, "Action", 1) == 1 ? "Allow" : "Deny";
        if (!p->extended) {
            const char *addr = qj_get_str(e, "RemoteAddress");
            int64_t len = qj_get_int(e, "RemoteAddressPrefixLength", 0);
            bool v6 = qj_get_int(e, "AclType", 2) == 3;
            if (len)
                qbuf_printf(&b, "Add-VMNetworkAdapterAcl -VMNetworkAdapter $nic -RemoteIPAddress "
                                "%s/%lld -Direction %s -Action %s", addr, (long long)len, dir, act);
            else
                qbuf_printf(&b, "Add-VMNetworkAdapterAcl -VMNetworkAdapter $nic -RemoteIPAddress "
                                "%s -Direction %s -Action %s", v6 ? "::/0" : "0.0.0.0/0", dir, act);
            qps_cmd(p, b.data);
            continue;
        }
        qbuf_printf(&b, "Add-VMNetworkAdapterExtendedAcl -VMNetworkAdapter $nic -Action %s "
                        "-Direction %s -RemoteIPAddress %s",
                    act, dir, qj_get_str(e, "RemoteIPAddress"));
        const char *proto = qj_get_str(e, "Protocol");
        if (proto && strcmp(proto, "ANY"))
            qbuf_printf(&b, " -Protocol %s", proto);
        const char *lp = qj_get_str(e, "LocalPort"), *rp = qj_get_str(e, "RemotePort");
        if (lp && strcmp(lp, "ANY"))
            qbuf_printf(&b, " -LocalPort %s", lp);
        if (rp && strcmp(rp, "ANY"))
            qbuf_printf(&b, " -RemotePort %s", rp);
        qbuf_printf(&b, " -Weight %lld", (long long)qj_get_int(e, "Weight", 0));
        if (qj_get_bool(e, "Stateful", false))
            qbuf_puts(&b, " -Stateful $true -IdleSessionTimeout 0");
        qps_cmd(p, b.data);
    }
    qbuf_free(&b);
    qj_free(entries);
}

size_t qhyv_ps_emit(const qvs_map *objects, const qhyv_ps_opts *o, qbuf *out)
{
    int major = 10, minor = 0;
    long build = 14393;
    if (o->windows_version && *o->windows_version) {
        build = 0;
        sscanf(o->windows_version, "%d.%d.%ld", &major, &minor, &build);
    }
    qps p = {.out = out, .pa = &o->pa};
    p.extended = p.has_type = major > 6 || (major == 6 && minor >= 3);
    p.wnv = !(major >= 10 && build >= 17763);
    qbuf_printf(out, "# qhv: the Hyper-V settings of this plan as PowerShell (Windows %s: %s, "
                     "%s)\n",
                o->windows_version && *o->windows_version ? o->windows_version : "10.0.14393",
                p.extended ? "extended port ACLs" : "address-only port ACLs",
                p.wnv ? "HNV v1 present" : "no HNV v1");
    qvs_map *sets = qvs_map_new();
    const char *k;
    qj *v;
    for (size_t i = 0; i < qvs_map_end(objects); i++)
        if (qvs_map_at(objects, i, &k, &v) && !strncmp(k, "address_set/", 12))
            qvs_map_put(sets, k + 12, qj_clone(v));
    /* In the order the backend installs them (src/vswitch/vswitch.h). */
    static const char *const order[] = {"provider_address/", "customer_route/", "lookup_record/",
                                        "port/", "acl/"};
    for (size_t s = 0; s < sizeof order / sizeof order[0]; s++) {
        size_t plen = strlen(order[s]);
        bool wnv = s < 3;
        bool first = true;
        for (size_t i = 0; i < qvs_map_end(objects); i++) {
            if (!qvs_map_at(objects, i, &k, &v) || strncmp(k, order[s], plen))
                continue;
            if (wnv && first)
                qbuf_printf(out, "\n# %.*s objects (NetWNV)\n", (int)plen - 1, order[s]);
            first = false;
            if (wnv && !p.wnv) {
                qbuf_printf(out, "# not expressible: %s (HNV v1 is absent from Windows Server "
                                 "2019 on)\n", k);
                continue;
            }
            if (s == 0)
                qps_pa(&p, v);
            else if (s == 1)
                qps_route(&p, v);
            else if (s == 2) {
                qj *i2 = qhyv_wnv_lookup(v, p.has_type);
                if (i2)
                    qps_record(&p, i2);
                qj_free(i2);
            } else if (s == 3)
                qps_port(&p, k + plen, v);
            else
                qps_acl(&p, k, v, sets);
        }
    }
    if (qvs_map_size(sets))
        qbuf_printf(out, "\n# %zu address sets: their members are expanded into the ACL entries "
                         "above\n", qvs_map_size(sets));
    qvs_map_free(sets);
    return p.n;
}
