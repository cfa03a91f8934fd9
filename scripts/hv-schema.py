#!/usr/bin/python3
"""hv-schema.py: extract the documented schema of the WMI classes the hyperv
backend touches from Microsoft's class documentation (MicrosoftDocs/win32,
desktop-src/HyperV_v2/ and desktop-src/NetWNVProv/) into
src/vswitch/hyperv/hyperv-schema.json, which the build compiles into the
binary (src/vswitch/hyperv/wmi_schema.c, cmake/embed-json.cmake).

Re-running it (stdlib only):

    # a checkout (or a partial copy keeping the paths) of MicrosoftDocs/win32,
    # OUTSIDE this repository: Microsoft's text is not committed here, only
    # the facts extracted from it.
    git clone --filter=blob:none --sparse https://github.com/MicrosoftDocs/win32 /tmp/win32
    git -C /tmp/win32 sparse-checkout set desktop-src/HyperV_v2 desktop-src/NetWNVProv
    /usr/bin/python3 scripts/hv-schema.py --docs /tmp/win32 \\
        --commit "$(git -C /tmp/win32 rev-parse HEAD)" \\
        --out src/vswitch/hyperv/hyperv-schema.json

If the docs directory holds a file COMMITS (lines "<path>\\t<commit>[\\t<kind>]":
a copy assembled from files stored at different commits), each path's commit
is recorded beside it in "source.paths" (and the kind of copy, e.g.
"normalized" when HTML anchors and table padding were dropped).

What it reads from each page: the MOF block of the "Syntax" section (class,
parent, DisplayName, every property with its type, array-ness, [Key]/[Write]
qualifiers and default) and the "Properties" section (data type, access type
Read-only or Read/write, qualifiers Key / Write / WmiDataId(n) / MaxLen(n),
value lists "**Name** (n)", and the text "always set to "..."" = fixed).
Values not given by Microsoft's pages (classes without a page, value maps
the page does not give usably) come from the OVERRIDES below, each with its
reason and source, and are marked so in the output.

The output is deterministic: classes, properties and paths sorted, JSON
written with sorted keys and a fixed layout.
"""
import argparse
import json
import os
import re
import sys

STDCIMV2 = "root\\StandardCimv2"
VIRT_V2 = "root\\virtualization\\v2"
CIMV2 = "root\\cimv2"

# The classes wanted and the page documenting each (None: no page found in
# MicrosoftDocs/win32; then an override below supplies the class).
CLASSES = {
    "Msvm_VirtualEthernetSwitch": "desktop-src/HyperV_v2/msvm-virtualethernetswitch.md",
    "Msvm_VirtualEthernetSwitchSettingData": "desktop-src/HyperV_v2/msvm-virtualethernetswitchsettingdata.md",
    "Msvm_VirtualEthernetSwitchManagementService": "desktop-src/HyperV_v2/msvm-virtualethernetswitchmanagementservice.md",
    "Msvm_VirtualSystemManagementService": "desktop-src/HyperV_v2/msvm-virtualsystemmanagementservice.md",
    "Msvm_VirtualSystemSettingData": "desktop-src/HyperV_v2/msvm-virtualsystemsettingdata.md",
    "Msvm_ComputerSystem": "desktop-src/HyperV_v2/msvm-computersystem.md",
    "Msvm_SyntheticEthernetPortSettingData": "desktop-src/HyperV_v2/msvm-syntheticethernetportsettingdata.md",
    "Msvm_EmulatedEthernetPortSettingData": "desktop-src/HyperV_v2/msvm-emulatedethernetportsettingdata.md",
    "Msvm_EthernetPortAllocationSettingData": "desktop-src/HyperV_v2/msvm-ethernetportallocationsettingdata.md",
    "Msvm_EthernetSwitchPortVlanSettingData": "desktop-src/HyperV_v2/msvm-ethernetswitchportvlansettingdata.md",
    "Msvm_EthernetSwitchPortSecuritySettingData": "desktop-src/HyperV_v2/msvm-ethernetswitchportsecuritysettingdata.md",
    "Msvm_EthernetSwitchPortAclSettingData": "desktop-src/HyperV_v2/msvm-ethernetswitchportaclsettingdata.md",
    "Msvm_EthernetSwitchPortExtendedAclSettingData": "desktop-src/HyperV_v2/msvm-ethernetswitchportextendedaclsettingdata.md",
    "Msvm_ConcreteJob": "desktop-src/HyperV_v2/msvm-concretejob.md",
    "Msvm_ResourcePool": "desktop-src/HyperV_v2/msvm-resourcepool.md",
    "Msvm_InternalEthernetPort": "desktop-src/HyperV_v2/msvm-internalethernetport.md",
    "MSFT_NetVirtualizationLookupRecordSettingData": "desktop-src/NetWNVProv/msft-netvirtualizationlookuprecordsettingdata.md",
    "MSFT_NetVirtualizationCustomerRouteSettingData": "desktop-src/NetWNVProv/msft-netvirtualizationcustomerroutesettingdata.md",
    "MSFT_NetVirtualizationProviderAddressSettingData": "desktop-src/NetWNVProv/msft-netvirtualizationprovideraddresssettingdata.md",
    "MSFT_NetVirtualizationProviderRouteSettingData": "desktop-src/NetWNVProv/msft-netvirtualizationproviderroutesettingdata.md",
    "MSFT_NetAdapter": "desktop-src/NetAdapterCimProv/msft-netadapter.md",
    "MSFT_NetAdapterBindingSettingData": "desktop-src/NetAdapterCimProv/msft-netadapterbindingsettingdata.md",
    "Win32_OperatingSystem": "desktop-src/CIMWin32Prov/win32-operatingsystem.md",
}

# ---------------------------------------------------------------------------
# OVERRIDES: everything here is NOT read from Microsoft's class pages. Each
# entry says why and where it comes from; the output marks it ("source" of a
# class, "valuemap_source" and "note" of a property).
# ---------------------------------------------------------------------------

# Fallbacks for classes outside HyperV_v2/NetWNVProv, used only when their
# page (CLASSES above) is not in the docs tree given: a minimal entry with
# the properties the hyperv backend uses, marked "hand-written". With the
# pages present (the committed data), the pages are used instead.
HAND_WRITTEN = {
    "MSFT_NetAdapter": {
        "source": "hand-written fallback (the page desktop-src/NetAdapterCimProv/"
                  "msft-netadapter.md was not in the docs tree): only the properties "
                  "the hyperv backend reads; the page has no InterfaceAlias or "
                  "MacAddress property (PowerShell's Get-NetAdapter shows them as "
                  "aliases of Name and PermanentAddress)",
        "namespace": STDCIMV2,
        "parent": "CIM_NetworkPort",
        "properties": {
            "CreationClassName": {"type": "string", "key": True},
            "DeviceID": {"type": "string", "key": True},
            "SystemCreationClassName": {"type": "string", "key": True},
            "SystemName": {"type": "string", "key": True},
            "InterfaceIndex": {"type": "uint32"},
            "Name": {"type": "string"},
            "InterfaceDescription": {"type": "string"},
            "PermanentAddress": {"type": "string"},
        },
    },
    "MSFT_NetAdapterBindingSettingData": {
        "source": "hand-written fallback (the page desktop-src/NetAdapterCimProv/"
                  "msft-netadapterbindingsettingdata.md was not in the docs tree): "
                  "only the properties the hyperv backend uses",
        "namespace": STDCIMV2,
        "parent": "MSFT_NetAdapterSettingData",
        "properties": {
            "InstanceID": {"type": "string", "key": True},
            "Name": {"type": "string"},
            "ComponentID": {"type": "string"},
            "DisplayName": {"type": "string"},
            "Enabled": {"type": "boolean", "writable": True},
        },
    },
    "Win32_OperatingSystem": {
        "source": "hand-written fallback (the page desktop-src/CIMWin32Prov/"
                  "win32-operatingsystem.md was not in the docs tree): only the "
                  "properties the hyperv backend reads",
        "namespace": CIMV2,
        "parent": "CIM_OperatingSystem",
        "properties": {
            "Version": {"type": "string"},
            "BuildNumber": {"type": "string"},
            "Caption": {"type": "string"},
        },
    },
}

# Value maps the class page does not give usably. The NetWNV pages
# (desktop-src/NetWNVProv) print every value list as "**Name** (n)" where n
# is not the ValueMap number but the Values qualifier's string-resource ID
# (NetWNV.mof's Values are localized IDs): the lookup record's Rule lists
# TranslationMethodNat (35), TranslationMethodEncap (36), TranslationMethodNone
# (37); Type lists Static (35), Dynamic (36), GatewayWildcard (37), L2Only
# (41); AddressState and ManagedByCluster of the provider address list
# "**0** (16)" .. "**4** (20)" and "**0** (23)", "**1** (24)". The script
# therefore keeps a NetWNV page's list only as "doc_valuemap"/"doc_values"
# and takes "valuemap"/"values" from the overrides below (none: no value map).
#
# Source of the overrides (not Microsoft's class pages): the microsoft/wmi Go
# repository, generated by wmigen from the classes' qualifiers on Windows
# Server 2019: server2019/root/standardcimv2/
# NetVirtualizationLookupRecordSettingData_Rule.go (commit 8b0df658f97a):
# _35 = 1, _36 = 2, _37 = 3, and ..._Type.go: _35 = 1, _36 = 2, _37 = 3,
# _41 = 4. wmigen writes the ValueMap numbers and names each by its Values
# entry (the same file set gives ConcreteJob_JobState _315 = 2 .. and
# IPAssignmentSettingData_ProtocolIFType 0, 1, 4096, 4097, 4098: real
# ValueMaps, resource-ID names), so joining on the resource ID gives the map
# below. os-win's NvgreUtils (os_win/utils/network/nvgreutils.py, the
# constants the independent review cites) uses other numbers: Rule
# _TRANSLATE_NAT = 0, _TRANSLATE_ENCAP = 1, Type _LOOKUP_RECORD_TYPE_STATIC =
# 0, _LOOKUP_RECORD_TYPE_L2_ONLY = 3. The two disagree; the backend must not
# rely on either (it asks the host for the ValueMap, wmi.h value_map).
WMI_GO = ("microsoft/wmi server2019/root/standardcimv2/"
          "NetVirtualizationLookupRecordSettingData_{prop}.go (commit "
          "8b0df658f97ae9b01313847f6427236c216293cb; generated by wmigen from the "
          "class's ValueMap, entries named by their Values resource IDs), joined "
          "with the class page's name for each resource ID")
OS_WIN = {
    "Rule": "os-win NvgreUtils uses other numbers: _TRANSLATE_NAT = 0, "
            "_TRANSLATE_ENCAP = 1",
    "Type": "os-win NvgreUtils uses other numbers: _LOOKUP_RECORD_TYPE_STATIC = 0, "
            "_LOOKUP_RECORD_TYPE_L2_ONLY = 3",
}
OVERRIDE_VALUEMAPS = {
    ("MSFT_NetVirtualizationLookupRecordSettingData", "Rule"): {
        "valuemap": ["1", "2", "3"],
        "values": ["TranslationMethodNat", "TranslationMethodEncap", "TranslationMethodNone"],
        "valuemap_source": WMI_GO.format(prop="Rule"),
        "conflict": OS_WIN["Rule"],
    },
    ("MSFT_NetVirtualizationLookupRecordSettingData", "Type"): {
        "valuemap": ["1", "2", "3", "4"],
        "values": ["Static", "Dynamic", "GatewayWildcard", "L2Only"],
        "valuemap_source": WMI_GO.format(prop="Type"),
        "conflict": OS_WIN["Type"],
    },
}
_NETWNV_NOTE = (
    "The class page lists {pairs}: the numbers are the Values qualifier's "
    "string-resource IDs, not ValueMap numbers.")
_NETWNV_OVERRIDE_NOTE = (
    " The valuemap here is not from Microsoft's class page: it is from {src}. "
    "{conflict}. The backend does not rely on it: it asks the host for the "
    "class's ValueMap (wmi.h value_map) and maps by name.")
_NETWNV_NONE_NOTE = " No usable value map is documented; none is recorded."

# Keys a page does not mark. The class's WMI paths need them; they are the
# keys its DMTF CIM parent declares (not Microsoft's class page): recorded
# with "key_source".
KEY_OVERRIDES = {
    "MSFT_NetAdapter": {
        "keys": ["CreationClassName", "DeviceID", "SystemCreationClassName", "SystemName"],
        "source": "not on the class page: the Key properties of its DMTF parent "
                  "CIM_LogicalDevice (CIM schema: SystemCreationClassName, SystemName, "
                  "CreationClassName, DeviceID), which MSFT_NetAdapter inherits through "
                  "CIM_NetworkPort",
    },
}

# Class-level notes (facts about the documentation itself).
CLASS_NOTES = {
    "MSFT_NetAdapter":
        "The page marks no property Key; the keys recorded (key_source) are "
        "CIM_LogicalDevice's: CreationClassName, DeviceID, SystemCreationClassName, "
        "SystemName. It "
        "lists no InterfaceAlias or MacAddress property: Get-NetAdapter's "
        "InterfaceAlias and MacAddress are PowerShell aliases of Name and "
        "PermanentAddress. It gives OtherPortType, PortType, RequestedSpeed and "
        "UsageRestriction the access type Write-only (recorded as writable).",
    "Win32_OperatingSystem":
        "Partial: every property's type is from the page's MOF block; the "
        "property entries (access, qualifiers) were copied only for BuildNumber, "
        "Caption, CreationClassName, CSCreationClassName, CSName and Version. "
        "Keys per the page's CIM_Key qualifiers: CreationClassName, "
        "CSCreationClassName, CSName (Name's entry not copied). The class is a "
        "singleton (the page's MOF: [Singleton]).",
    "Msvm_ComputerSystem":
        "The page marks only InstanceID as Key; instances' __PATH name them by "
        "CIM_System's keys CreationClassName and Name. Its EnabledState table "
        "stops at 10 (Starting), though its HealthState text names 32768 (Paused) "
        "and its OperationalStatus text 32769 (Suspended).",
    "Msvm_EmulatedEthernetPortSettingData":
        "The page gives InstanceID no Key qualifier (the other setting-data "
        "pages mark it Key); recorded as given.",
    "Msvm_ResourcePool":
        "The page describes the class through the memory pool: its MOF gives "
        "ResourceType = 4 (Memory) and AllocationUnits = \"Megabyte\" as defaults. "
        "Ethernet connection pools have ResourceType 33 "
        "(Msvm_EthernetPortAllocationSettingData's fixed ResourceType); the MOF "
        "defaults are recorded as given.",
    "Msvm_VirtualEthernetSwitch":
        "The page marks only InstanceID as Key. Instances' __PATH name the "
        "switch by CIM_System's keys, CreationClassName and Name "
        "(Msvm_VirtualEthernetSwitch.CreationClassName=\"Msvm_VirtualEthernetSwitch\","
        "Name=\"<GUID>\"); the page's Key marks are recorded as given.",
    "Msvm_EthernetSwitchPortExtendedAclSettingData":
        "The page's MOF and Properties list only the class's own properties: "
        "the inherited InstanceID (the key of every feature setting), Caption, "
        "Description and ElementName are not documented on it (the other "
        "feature-setting pages list them; ElementName there is read-only and "
        "fixed to the class's DisplayName).",
}

# ---------------------------------------------------------------------------

INTRINSIC = {"string", "boolean", "datetime", "char16", "real32", "real64",
             "uint8", "uint16", "uint32", "uint64", "sint8", "sint16",
             "sint32", "sint64", "object"}


def unmd(s):
    """Markdown escapes out: CIM\\_X -> CIM_X."""
    return re.sub(r"\\([_*\\\[\]()#<>`])", r"\1", s).strip()


def norm_type(t):
    t = unmd(t).strip()
    if t.lower() in INTRINSIC:
        return t.lower()
    m = re.match(r"^(\w+)\s+ref$", t, re.I)
    if m:
        return m.group(1) + " ref"
    return t


def parse_default(text):
    """A MOF default (the text after '=') as a JSON value."""
    s = text.strip()
    if s.startswith("{") and s.endswith("}"):
        inner = s[1:-1].strip()
        if not inner:
            return []
        return [parse_default(x) for x in split_top(inner)]
    if s.startswith('"') and s.endswith('"') and len(s) >= 2:
        return s[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if s.upper() == "TRUE":
        return True
    if s.upper() == "FALSE":
        return False
    if s.upper() == "NULL":
        return None
    if re.match(r"^-?\d+$", s):
        return int(s)
    if re.match(r"^0x[0-9a-fA-F]+$", s):
        return int(s, 16)
    if re.match(r"^-?\d+\.\d*([eE][-+]?\d+)?$", s):
        return float(s)
    raise ValueError("MOF default not understood: %r" % s)


def split_top(s):
    """Splits a comma list, leaving quoted strings whole."""
    out, cur, q = [], "", False
    for ch in s:
        if ch == '"':
            q = not q
        if ch == "," and not q:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def parse_mof(text):
    """The page's MOF block: (class, parent, class qualifiers, {prop: info})."""
    m = re.search(r"```\s*syntax\s*\n(.*?)```", text, re.S)
    if not m:
        return None
    mof = m.group(1)
    cm = re.search(r"class\s+(\w+)\s*(?::\s*(\w+))?\s*\{(.*)\}\s*;?", mof, re.S)
    if not cm:
        return None
    head = mof[:cm.start()]
    cname, parent, body = cm.group(1), cm.group(2), cm.group(3)
    quals = {}
    dm = re.search(r'DisplayName\("([^"]*)"\)', head)
    if dm:
        quals["DisplayName"] = dm.group(1)
    props = {}
    # statements end with ';' outside quotes and braces
    stmts, cur, q, depth = [], "", False, 0
    for ch in body:
        if ch == '"':
            q = not q
        if not q:
            if ch in "{[(":
                depth += 1
            elif ch in "}])":
                depth -= 1
        if ch == ";" and not q and depth == 0:
            stmts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    for st in stmts:
        st = re.sub(r"\s+", " ", st)
        pq = []
        qm = re.match(r"^\[(.*?)\]\s*(.*)$", st)
        if qm:
            pq = [x.strip().lower() for x in split_top(qm.group(1))]
            st = qm.group(2)
        lhs, dflt = st, None
        eq = st.find("=")
        if eq >= 0:
            lhs, dflt = st[:eq].strip(), st[eq + 1:].strip()
        if "(" in lhs:          # a method
            continue
        pm = re.match(r"^(\w+(?:\s+REF)?)\s+(\w+)\s*(\[\s*\])?$", lhs, re.I)
        if not pm:
            continue
        info = {"type": norm_type(pm.group(1)), "array": bool(pm.group(3))}
        if dflt is not None and re.match(r"^\d{14}\.\d{6}[:+-]\d{3}$", dflt):
            info["default"] = dflt              # a datetime (interval) literal
        elif dflt is not None:
            try:
                info["default"] = parse_default(dflt)
            except ValueError as e:
                info["default_note"] = "%s (no default recorded)" % e
        info["key"] = "key" in pq
        info["write"] = "write" in pq
        props[pm.group(2)] = info
    return cname, parent, quals, props


_NUM = r"(?:0x[0-9A-Fa-f]+|\d+)"
# a number with its hex spelled out after it: "1 (0x1)"
_NUMX = _NUM + r"(?:\s*\(0x[0-9A-Fa-f]+\))?"
# "**Name** (n)", "**Name** (0x8000.. )", "**DMTF Reserved** (..)"
VALUE_RE = re.compile(
    r"\*\*([^*\n]+?)\*\*\s*\(\s*((?:" + _NUMX + r")?\s*(?:\.\.\s*" + _NUM + r"?|\s" + _NUM + r")?)\s*\)")
# a value table row: "<dt>**OK**</dt> <dt>5</dt>"
VALUE_TABLE_RE = re.compile(
    r"<dt>\*\*([^*\n]+?)\*\*</dt>\s*<dt>\s*(" + _NUMX + r"(?:\s*(?:\.\.|\s)\s*" + _NUM + r"?)?)\s*</dt>")


# a value table row with the number alone and the name in the second column:
# "| <dl> <dt>2</dt> </dl> | Enabled<br/> |"
VALUE_NUM_ROW_RE = re.compile(
    r"\|\s*<dl>\s*<dt>\s*(" + _NUMX + r"(?:\s*\.\.\s*" + _NUM + r"?)?)\s*</dt>\s*</dl>\s*\|"
    r"\s*([^|]*?)\s*\|")
# a string property's documented values: "| <dl> <dt>"Microsoft:..."</dt> </dl> | ... |"
STRING_ROW_RE = re.compile(r"\|\s*<dl>\s*<dt>\s*\"([^\"]*)\"\s*</dt>\s*</dl>\s*\|")


def norm_valuemap(num):
    """A ValueMap entry as WMI writes it: decimal, ranges "a..b"."""
    num = re.sub(r"\s*\(0x[0-9A-Fa-f]+\)", "", num)             # "1 (0x1)"
    num = re.sub(r"^(\S+)\s+(\S+)$", r"\1..\2", num.strip())   # a table's "12 32767"
    num = re.sub(r"\s+", "", num)
    return re.sub(r"0x[0-9A-Fa-f]+", lambda m: str(int(m.group(0), 16)), num)


def parse_props_section(text):
    """The "Properties" section: {prop: info}."""
    m = re.search(r"\n#+\s*Properties\s*\n(.*?)(\n## |\Z)", text, re.S)
    if not m:
        return {}
    sec = m.group(1)
    heads = list(re.finditer(r"\n\*\*([A-Za-z0-9_\\]+)\*\*\s*\n</dt>\s*<dd>", sec))
    out = {}
    for i, h in enumerate(heads):
        name = unmd(h.group(1))
        end = heads[i + 1].start() if i + 1 < len(heads) else len(sec)
        ent = sec[h.end():end]
        info = {}
        dt = re.search(r"Data type:\s*(.*?)\n", ent)
        if dt:
            raw = dt.group(1)
            tm = re.search(r"\*\*(.+?)\*\*", raw)
            t = unmd(tm.group(1)) if tm else unmd(raw)
            t = re.sub(r"\[|\]\(.*?\)", "", t).strip()
            rest = raw[tm.end():] if tm else ""
            info["array"] = bool(re.search(r"\barray\b|\[\]", raw, re.I))
            if re.search(r"\breference\b|\bref\b", rest + " " + t, re.I) \
                    and not t.lower().endswith(" ref"):
                t = re.sub(r"\s*reference$", "", t, flags=re.I) + " ref"
            info["type"] = norm_type(t.replace("[]", "").strip())
        ac = re.search(r"Access type:\s*(.*?)\n", ent)
        if ac:
            info["access"] = ac.group(1).strip()
        # the leading <dl> (data type, access type, qualifiers) ends at the
        # first "</dt> </dl>"; what follows is the description and values
        cut = ent.find("</dl>")
        head, desc = (ent[:cut], ent[cut:]) if cut >= 0 else (ent, "")
        qm = re.search(r"Qualifiers:\s*(.*?)\n</dt>", head, re.S)
        quals = qm.group(1) if qm else ""
        info["key"] = bool(re.search(r"\*\*(?:CIM\\?_)?Key\*\*", quals))
        info["write"] = bool(re.search(r"\*\*Write\*\*", quals))
        w = re.search(r"\*\*WmiDataId\*\*\]?(?:\([^)]*\))?\s*\(\s*(\d+)\s*\)", quals)
        info["wmidataid"] = int(w.group(1)) if w else 0
        ml = re.search(r"\*\*MaxLen\*\*\]?(?:\([^)]*\))?\s*\(\s*(\d+)\s*\)", quals)
        info["maxlen"] = int(ml.group(1)) if ml else -1
        vals = []
        for vm in sorted(list(VALUE_RE.finditer(desc)) + list(VALUE_TABLE_RE.finditer(desc)),
                         key=lambda m: m.start()):
            if not vm.group(2).strip():
                continue
            vals.append((norm_valuemap(vm.group(2)), unmd(vm.group(1))))
        if not vals:
            for vm in VALUE_NUM_ROW_RE.finditer(desc):
                vname = re.sub(r"<br\s*/?>", "", vm.group(2)).strip().rstrip(".").strip()
                if not vname or len(vname.split()) > 6:
                    vals = []           # a sentence, not a value name: no value map
                    break
                vals.append((norm_valuemap(vm.group(1)), unmd(vname)))
        if vals:
            info["valuemap"] = [v[0] for v in vals]
            info["values"] = [v[1] for v in vals]
        strs = STRING_ROW_RE.findall(desc)
        if strs:
            info["documented_values"] = strs
        fx = re.search(r"always set to\s*[\"“]([^\"”]*)[\"”]", desc)
        fn = re.search(r"always set to\s*(\d+)(?:\s*\(([^)]*)\))?(?=[\s,;]|\.(?!\d)|$)", desc)
        fnull = re.search(r"always set to\s*\*\*Null\*\*", desc)
        if fx and "*" in fx.group(1):
            # a form ("Microsoft:*GUID*\\*DeviceSpecificData*"), not a value
            info["fixed_note"] = "documented form: %s" % unmd(fx.group(1)).replace("*", "")
        elif fx and info.get("array"):
            info["fixed_note"] = 'each element documented as always "%s"' % unmd(fx.group(1))
        elif fx:
            info["fixed"] = unmd(fx.group(1))
        elif fn and info.get("array"):
            info["fixed_note"] = "documented as always {%s}%s" % (
                fn.group(1), " (%s)" % fn.group(2) if fn.group(2) else "")
        elif fn:
            info["fixed"] = fn.group(1)         # a number: as its decimal text
            if fn.group(2):
                info["fixed_note"] = "always %s (%s)" % (fn.group(1), fn.group(2))
        elif fnull:
            info["fixed_note"] = "documented as always Null"
        out[name] = info
    return out


def read_commits(docs):
    path = os.path.join(docs, "COMMITS")
    res = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.strip().split("\t")
                if len(parts) >= 2:
                    res[parts[0]] = parts[1:]
    return res


def namespace_of(cname):
    if cname.startswith("Msvm_"):
        return VIRT_V2
    if cname.startswith("MSFT_"):
        return STDCIMV2
    return CIMV2


def build_class(cname, relpath, text, copy_kind=None):
    mof = parse_mof(text)
    sec = parse_props_section(text)
    if mof is None:
        raise SystemExit("%s: no MOF block" % relpath)
    mname, parent, cquals, mprops = mof
    if mname.lower() != cname.lower():
        raise SystemExit("%s: MOF names class %s" % (relpath, mname))
    props = {}
    notes = []
    # case-insensitive join of the two lists (the MOF's names win)
    sec_ci = {k.lower(): (k, v) for k, v in sec.items()}
    names = []
    for k in mprops:
        same = [n for n in names if n.lower() == k.lower()]
        if same:
            # WMI property names are case-insensitive: one property
            notes.append("%s and %s: listed twice, one property (WMI names are "
                         "case-insensitive); the first spelling kept" % (same[0], k))
            continue
        names.append(k)
    for k in sec:
        if k.lower() not in {n.lower() for n in names}:
            names.append(k)
            notes.append("%s: in the Properties section, not in the MOF" % k)
    for n in names:
        mp = mprops.get(n)
        sk = sec_ci.get(n.lower())
        sp = sk[1] if sk else {}
        if mp is None and sk is None:
            continue
        if sk is None and copy_kind == "partial":
            sp = {"note": "entry not copied from the page (partial copy): type from "
                          "its MOF block only"}
        elif sk is None:
            notes.append("%s: in the MOF, not in the Properties section" % n)
        typ = (mp or sp).get("type", "string")
        array = (mp or {}).get("array", False) or sp.get("array", False)
        p = {
            "type": typ + ("[]" if array else ""),
            "array": array,
            "key": bool((mp or {}).get("key") or sp.get("key")),
            "writable": bool((mp or {}).get("write") or sp.get("write")
                             or sp.get("access", "").lower() in ("read/write", "write-only")),
            "wmidataid": sp.get("wmidataid", 0),
            "maxlen": sp.get("maxlen", -1),
            "valuemap": sp.get("valuemap", []),
            "values": sp.get("values", []),
        }
        if sp.get("wmidataid", 0) and not p["writable"]:
            # Hyper-V's feature classes: WmiDataId marks the stored (and
            # caller-set) fields; the page says so with Read/write anyway
            pass
        if mp is not None and "default" in mp:
            if isinstance(mp["default"], str) and (
                    (p["key"] and "GUID" in mp["default"])
                    or sp.get("fixed_note", "").startswith("documented form")):
                # a key's "default" in these pages is the form of the key
                # ("Microsoft:GUID\\DeviceSpecificData"), not a value
                mp = dict(mp, default_note="MOF shows the form '%s', not a default"
                          % mp["default"])
            else:
                p["default"] = mp["default"]
        if "fixed" in sp:
            p["fixed"] = sp["fixed"]
        if "documented_values" in sp:
            p["documented_values"] = sp["documented_values"]
        extra = None
        if "default" in p and array and not isinstance(p["default"], list):
            extra = "MOF default %s is a scalar for an array: not recorded" % \
                json.dumps(p.pop("default"))
        elif isinstance(p.get("default"), list) and not array:
            extra = "MOF default %s is an array for a scalar: not recorded" % \
                json.dumps(p.pop("default"))
        elif "fixed" in p and "default" in p and \
                str(p["default"]).lower() != p["fixed"].lower():
            extra = ("the page's MOF default %s and its text (always %s) disagree: "
                     "no fixed value recorded" % (json.dumps(p["default"]),
                                                  json.dumps(p.pop("fixed"))))
        pnotes = [x for x in ((mp or {}).get("default_note"), sp.get("fixed_note"), extra,
                              sp.get("note")) if x]
        if pnotes:
            p["note"] = "; ".join(pnotes)
        if sp.get("access"):
            p["access"] = sp["access"]
        props[n] = p
    cls = {
        "namespace": namespace_of(cname),
        "parent": parent,
        "doc": relpath,
        "properties": props,
    }
    if cquals.get("DisplayName"):
        cls["display_name"] = cquals["DisplayName"]
    if notes:
        cls["notes"] = sorted(notes)
    return cls


def apply_overrides(classes):
    for cname, c in sorted(classes.items()):
        if not (c.get("doc") or "").startswith("desktop-src/NetWNVProv/"):
            continue
        for pname, p in sorted(c["properties"].items()):
            if not p["valuemap"]:
                continue
            p["doc_valuemap"], p["doc_values"] = p["valuemap"], p["values"]
            p["valuemap"], p["values"] = [], []
            pairs = ", ".join("%s (%s)" % (v, n) for n, v in
                              zip(p["doc_valuemap"], p["doc_values"]))
            note = _NETWNV_NOTE.format(pairs=pairs)
            ov = OVERRIDE_VALUEMAPS.get((cname, pname))
            if ov:
                p["valuemap"] = list(ov["valuemap"])
                p["values"] = list(ov["values"])
                p["valuemap_source"] = ov["valuemap_source"]
                note += _NETWNV_OVERRIDE_NOTE.format(src=ov["valuemap_source"],
                                                     conflict=ov["conflict"])
            else:
                note += _NETWNV_NONE_NOTE
            p["note"] = note
    for (cname, pname) in OVERRIDE_VALUEMAPS:
        if cname not in classes or "valuemap_source" not in \
                classes[cname]["properties"].get(pname, {}):
            raise SystemExit("override for %s.%s not applied" % (cname, pname))
    for cname, ov in sorted(KEY_OVERRIDES.items()):
        c = classes.get(cname)
        if c is None or c.get("source", "").startswith("hand-written"):
            continue
        for k in ov["keys"]:
            if k not in c["properties"]:
                raise SystemExit("key override for missing %s.%s" % (cname, k))
            if not c["properties"][k]["key"]:
                c["properties"][k]["key"] = True
                c["properties"][k]["key_source"] = ov["source"]
    for cname, note in CLASS_NOTES.items():
        if cname in classes:
            classes[cname]["note"] = note


def hand_written(cname, spec):
    props = {}
    for pname, ps in spec["properties"].items():
        array = ps.get("array", False)
        props[pname] = {
            "type": ps["type"] + ("[]" if array else ""),
            "array": array,
            "key": ps.get("key", False),
            "writable": ps.get("writable", False),
            "wmidataid": 0,
            "maxlen": -1,
            "valuemap": [],
            "values": [],
        }
    return {
        "namespace": spec["namespace"],
        "parent": spec["parent"],
        "doc": None,
        "source": spec["source"],
        "properties": props,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", required=True,
                    help="a MicrosoftDocs/win32 checkout (or a copy keeping its paths)")
    ap.add_argument("--commit", required=True, help="the commit the docs are at")
    ap.add_argument("--out", default="src/vswitch/hyperv/hyperv-schema.json")
    args = ap.parse_args()
    commits = read_commits(args.docs)
    classes, paths, missing = {}, [], []
    for cname, rel in sorted(CLASSES.items()):
        full = os.path.join(args.docs, rel) if rel else None
        if full and os.path.exists(full):
            with open(full, encoding="utf-8") as f:
                text = f.read()
            kind = commits.get(rel, [None, None])[1:2]
            classes[cname] = build_class(cname, rel, text, kind[0] if kind else None)
            ent = {"path": rel}
            if rel in commits:
                ent["commit"] = commits[rel][0]
                if len(commits[rel]) > 1:
                    # a copy with markup noise dropped (anchors, padding),
                    # every fact kept
                    ent["copy"] = commits[rel][1]
            paths.append(ent)
        elif cname in HAND_WRITTEN:
            classes[cname] = hand_written(cname, HAND_WRITTEN[cname])
        else:
            missing.append({"class": cname, "path": rel})
    apply_overrides(classes)
    out = {
        "source": {
            "repository": "MicrosoftDocs/win32",
            "commit": args.commit,
            "paths": sorted(paths, key=lambda e: e["path"]),
            "generator": "scripts/hv-schema.py",
        },
        "classes": classes,
    }
    if missing:
        # their page is listed above but was not in the --docs tree given
        out["source"]["not_in_docs_tree"] = missing
    text = json.dumps(out, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    nprops = sum(len(c["properties"]) for c in classes.values())
    print("%s: %d classes, %d properties%s" % (
        args.out, len(classes), nprops,
        "; not in the docs tree: " + ", ".join(m["class"] for m in missing)
        if missing else ""),
        file=sys.stderr)


if __name__ == "__main__":
    main()
