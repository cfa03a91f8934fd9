/* The ovs backend's flow table, computed from switch objects (no OVS
 * needed): port-range masks, anti-spoofing, VLAN and NVGRE forwarding,
 * security groups with conjunctive remote-group matches, and the property
 * that a group membership change touches one flow, not every port's rules. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit_json.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "vswitch/ovs_flows.h"

static int64_t I(const qj *v)
{
    assert_true(qj_is(v, QJ_INT));
    return v->u.i;
}

/* ---------- port ranges ---------- */

/* Does port p match "value" or "value/mask" (hex or decimal)? */
static bool mask_matches(const char *m, int p)
{
    char *end;
    long v = strtol(m, &end, 0);
    long mask = *end == '/' ? strtol(end + 1, NULL, 0) : 0xffff;
    return (p & mask) == (v & mask);
}

static void check_range(int lo, int hi)
{
    qbuf out;
    qbuf_init(&out, 0);
    qovs_port_masks(lo, hi, &out);
    char *masks[64];
    size_t n = 0;
    char *save = NULL;
    for (char *m = strtok_r(out.data, "\n", &save); m; m = strtok_r(NULL, "\n", &save)) {
        assert_true(n < 64);
        masks[n++] = m;
    }
    /* At most 2 * 16 - 2 masks for any 16-bit range. */
    assert_true(n >= 1 && n <= 30);
    for (int p = 0; p <= 65535; p++) {
        int hits = 0;
        for (size_t i = 0; i < n; i++)
            hits += mask_matches(masks[i], p);
        /* Every port of the range is matched exactly once, none outside. */
        if (hits != (p >= lo && p <= hi))
            fail_msg("[%d, %d]: port %d matched %d times", lo, hi, p, hits);
    }
    qbuf_free(&out);
}

static void test_port_masks(void **state)
{
    (void)state;
    check_range(8080, 8080);
    check_range(1, 65535);
    check_range(0, 65535);
    check_range(1000, 1999);
    check_range(1024, 2047);
    check_range(33, 34);
    check_range(65535, 65535);
    srand(7);
    for (int i = 0; i < 20; i++) {
        int a = rand() % 65536, b = rand() % 65536;
        check_range(a < b ? a : b, a < b ? b : a);
    }
    qbuf out;
    qbuf_init(&out, 0);
    qovs_port_masks(1024, 2047, &out);
    assert_string_equal(out.data, "0x400/0xfc00");
    qbuf_free(&out);
}

/* ---------- tables ---------- */

#define P1 "11111111-1111-1111-1111-111111111111"
#define P2 "22222222-2222-2222-2222-222222222222"
#define G "99999999-9999-9999-9999-999999999999"

typedef struct fx {
    qvs_map *objects, *nics, *patches;
    qovs_topo topo;
} fx;

static void fx_init(fx *f)
{
    f->objects = qvs_map_new();
    f->nics = qvs_map_new();
    f->patches = qvs_map_new();
    qvs_map_put(f->nics, P1, qj_int(5));
    qvs_map_put(f->nics, P2, qj_int(6));
    qvs_map_put(f->patches, "br-phy", qj_int(20));
    f->topo = (qovs_topo){.gre_ofport = 10, .local_ip = "192.168.0.1", .patches = f->patches,
                          .nics = f->nics};
}

static void fx_free(fx *f)
{
    qvs_map_free(f->objects);
    qvs_map_free(f->nics);
    qvs_map_free(f->patches);
}

static void put(fx *f, const char *id, const char *json) { qvs_map_put(f->objects, id, J(json)); }

/* The table as text; problems and counts are returned if asked for. */
static char *table(fx *f, qvs_map **problems, qvs_map **counts)
{
    qbuf out;
    qbuf_init(&out, 0);
    qvs_map *c = qvs_map_new(), *p = qvs_map_new();
    qovs_flows(&f->topo, f->objects, &out, c, p);
    if (problems)
        *problems = p;
    else
        qvs_map_free(p);
    if (counts)
        *counts = c;
    else
        qvs_map_free(c);
    char *s = xstrdup(out.data ? out.data : "");
    qbuf_free(&out);
    return s;
}

static void assert_has(const char *t, const char *line)
{
    if (!strstr(t, line))
        fail_msg("missing flow:\n  %s\nin:\n%s", line, t);
}

static void assert_lacks(const char *t, const char *part)
{
    if (strstr(t, part))
        fail_msg("unexpected '%s' in:\n%s", part, t);
}

static size_t count_lines(const char *t)
{
    size_t n = 0;
    for (; *t; t++)
        n += *t == '\n';
    return n;
}

#define VLAN_PORT(id, mac, ip)                                                                    \
    "{\"vswitch\":\"br-phy\",\"network_id\":\"n1\",\"network_type\":\"vlan\",\"vlan\":100,"       \
    "\"mac_address\":\"" mac "\",\"admin_state_up\":true,\"port_security\":true,"                 \
    "\"allowed_addresses\":[{\"ip_address\":\"" ip "\",\"mac_address\":\"" mac "\"}]}"

static void test_vlan_port_with_port_security(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    put(&f, "port/" P1, VLAN_PORT(P1, "fa:16:3e:00:00:01", "10.0.0.5"));
    char *t = table(&f, NULL, NULL);
    /* classification into the network, its ofport in reg6 */
    assert_has(t, "table=0,priority=100,in_port=5,cookie=");
    assert_has(t, "->metadata,set_field:5->reg6,goto_table:10\n");
    /* anti-spoofing: its own MAC and IP, ARP with both, nothing else */
    assert_has(t, "table=10,priority=100,in_port=5,dl_src=fa:16:3e:00:00:01,ip,nw_src=10.0.0.5,");
    assert_has(t, "table=10,priority=100,in_port=5,dl_src=fa:16:3e:00:00:01,arp,"
                  "arp_sha=fa:16:3e:00:00:01,arp_spa=10.0.0.5,");
    /* DHCP guard and router guard */
    assert_has(t, "table=10,priority=110,in_port=5,udp,tp_src=67,");
    assert_has(t, "table=10,priority=110,in_port=5,icmp6,icmpv6_type=134,");
    /* from the wire: VLAN 100 on the patch, tag popped */
    assert_has(t, "table=0,priority=100,in_port=20,dl_vlan=100,");
    assert_has(t, "actions=pop_vlan,set_field:");
    /* out: tagged 4096|100 to the patch */
    assert_has(t, "push_vlan:0x8100,set_field:4196->vlan_vid,output:20");
    /* default deny in every table */
    assert_has(t, "table=0,priority=0,cookie=0x71680000000000,actions=drop\n");
    assert_has(t, "table=51,priority=0,cookie=0x71680000000000,actions=drop\n");
    free(t);
    fx_free(&f);
}

/* DHCP answers reach a port with port security from its network's DHCP
 * servers only, when the port names them (docs/network-node.md). */
static void test_dhcp_answers_only_from_dhcp_servers(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    put(&f, "port/" P1, "{\"vswitch\":\"br-phy\",\"network_id\":\"n1\",\"network_type\":\"vlan\","
                      "\"vlan\":100,\"mac_address\":\"fa:16:3e:00:00:01\",\"admin_state_up\":true,"
                      "\"port_security\":true,\"dhcp_servers\":[\"fa:16:3e:00:00:d1\"],"
                      "\"allowed_addresses\":[{\"ip_address\":\"10.0.0.5\","
                      "\"mac_address\":\"fa:16:3e:00:00:01\"}]}");
    char *t = table(&f, NULL, NULL);
    assert_has(t, "table=50,priority=95,reg7=5,dl_src=fa:16:3e:00:00:d1,udp,tp_src=67,tp_dst=68,");
    assert_has(t, "table=50,priority=94,reg7=5,udp,tp_src=67,tp_dst=68,");
    assert_lacks(t, "table=50,priority=95,reg7=5,udp,tp_src=67,tp_dst=68,");
    free(t);
    /* Without the member: any source, as before. */
    put(&f, "port/" P1, VLAN_PORT(P1, "fa:16:3e:00:00:01", "10.0.0.5"));
    t = table(&f, NULL, NULL);
    assert_has(t, "table=50,priority=95,reg7=5,udp,tp_src=67,tp_dst=68,");
    free(t);
    fx_free(&f);
}

static void test_admin_down_drops(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    put(&f, "port/" P1,
        "{\"vswitch\":\"br-phy\",\"network_id\":\"n1\",\"network_type\":\"vlan\",\"vlan\":100,"
        "\"mac_address\":\"fa:16:3e:00:00:01\",\"admin_state_up\":false,\"port_security\":true}");
    char *t = table(&f, NULL, NULL);
    assert_has(t, "table=0,priority=100,in_port=5,cookie=");
    assert_has(t, "actions=drop\n");
    assert_lacks(t, "set_field:5->reg6");
    assert_lacks(t, "set_field:5->reg7");
    free(t);
    fx_free(&f);
}

static void test_nvgre_forwarding(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    put(&f, "port/" P1,
        "{\"vswitch\":\"br-phy\",\"network_id\":\"n2\",\"network_type\":\"nvgre\",\"vsid\":5001,"
        "\"mac_address\":\"fa:16:3e:00:00:01\",\"admin_state_up\":true,\"port_security\":false}");
    put(&f, "lookup_record/5001/10.0.0.5/fa:16:3e:00:00:01",
        "{\"vsid\":5001,\"customer_address\":\"10.0.0.5\",\"mac_address\":\"fa:16:3e:00:00:01\","
        "\"provider_address\":\"192.168.0.1\",\"rule\":\"encap\"}");
    put(&f, "lookup_record/5001/10.0.0.6/fa:16:3e:00:00:02",
        "{\"vsid\":5001,\"customer_address\":\"10.0.0.6\",\"mac_address\":\"fa:16:3e:00:00:02\","
        "\"provider_address\":\"192.168.0.2\",\"rule\":\"encap\"}");
    char *t = table(&f, NULL, NULL);
    /* from the wire: the VSID in the key's upper 24 bits, the flow id ignored,
     * from the remote host's provider address */
    assert_has(t, "table=0,priority=100,in_port=10,tun_src=192.168.0.2,"
                  "tun_id=0x138900/0xffffff00,");
    /* the metadata of an NVGRE network is its VSID */
    assert_has(t, "actions=set_field:0x1389->metadata,goto_table:30\n");
    /* to the remote MAC: key VSID<<8 | flow hash, to the record's provider address */
    assert_has(t, "table=40,priority=100,metadata=0x1389,dl_dst=fa:16:3e:00:00:02,");
    assert_has(t, "set_field:0x138900->tun_id,multipath(symmetric_l4,0,modulo_n,256,0,"
                  "NXM_NX_TUN_ID[0..7]),set_field:192.168.0.2->tun_dst,output:10\n");
    /* the local record does not tunnel to ourselves */
    assert_lacks(t, "192.168.0.1->tun_dst");
    /* broadcast: the local port and the remote host */
    assert_has(t, "set_field:5->reg7,resubmit(,50),set_field:0x138900->tun_id,"
                  "set_field:192.168.0.2->tun_dst,output:10\n");
    /* no port security: no conntrack for this port */
    assert_has(t, "table=20,priority=100,reg6=5,cookie=");
    assert_lacks(t, "reg6=5,ip,");
    free(t);
    fx_free(&f);
}

static void test_ip_rewrite(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    put(&f, "port/" P1,
        "{\"vswitch\":\"br-phy\",\"network_id\":\"n3\",\"network_type\":\"ip_rewrite\","
        "\"vsid\":5002,\"mac_address\":\"fa:16:3e:00:00:01\",\"admin_state_up\":true,"
        "\"port_security\":false}");
    /* our VM 10.0.0.5 has PA 192.168.0.101 (ours); 10.0.0.6 is elsewhere at .102 */
    put(&f, "provider_address/192.168.0.101", "{\"address\":\"192.168.0.101\"}");
    put(&f, "lookup_record/5002/10.0.0.5/fa:16:3e:00:00:01",
        "{\"vsid\":5002,\"customer_address\":\"10.0.0.5\",\"mac_address\":\"fa:16:3e:00:00:01\","
        "\"provider_address\":\"192.168.0.101\",\"rule\":\"rewrite\"}");
    put(&f, "lookup_record/5002/10.0.0.6/fa:16:3e:00:00:02",
        "{\"vsid\":5002,\"customer_address\":\"10.0.0.6\",\"mac_address\":\"fa:16:3e:00:00:02\","
        "\"provider_address\":\"192.168.0.102\",\"rule\":\"rewrite\"}");
    qvs_map *problems;
    char *t = table(&f, &problems, NULL);
    assert_int_equal(qvs_map_size(problems), 0);
    /* from the wire (the patch, untagged): our PA → the VM's CA and MAC */
    assert_has(t, "table=0,priority=110,in_port=20,vlan_tci=0x0000/0x1fff,ip,nw_dst=192.168.0.101,");
    assert_has(t, "table=35,priority=100,metadata=");
    assert_has(t, ",ip,nw_dst=192.168.0.101,cookie=");
    assert_has(t, "actions=set_field:10.0.0.5->ip_dst,set_field:fa:16:3e:00:00:01->eth_dst,"
                  "set_field:5->reg7,goto_table:36\n");
    /* ... the remote sender's PA → its CA and MAC, then the ingress SG */
    assert_has(t, ",ip,dl_src=02:71:c0:a8:00:66,nw_src=192.168.0.102,cookie=");
    /* ... and from that address's host only: not from any MAC (a VM with a
     * fixed IP equal to the provider address on a shared underlay) */
    assert_lacks(t, ",ip,nw_src=192.168.0.102,");
    assert_has(t, "actions=set_field:10.0.0.6->ip_src,set_field:fa:16:3e:00:00:02->eth_src,"
                  "goto_table:50\n");
    /* to the remote CA: its PA and the PA's MAC; then our source rewritten, out the patch */
    assert_has(t, ",ip,dl_dst=fa:16:3e:00:00:02,nw_dst=10.0.0.6,cookie=");
    assert_has(t, "actions=set_field:192.168.0.102->ip_dst,set_field:02:71:c0:a8:00:66->eth_dst,"
                  "goto_table:41\n");
    assert_has(t, "actions=set_field:192.168.0.101->ip_src,set_field:02:71:c0:a8:00:65->eth_src,"
                  "output:20\n");
    /* the VM's ARP for the remote CA is answered here; ARP for our PA on the wire too */
    assert_has(t, ",arp,arp_op=1,arp_tpa=10.0.0.6,cookie=");
    assert_has(t, "set_field:fa:16:3e:00:00:02->arp_sha,set_field:10.0.0.6->arp_spa,IN_PORT\n");
    assert_has(t, "table=0,priority=110,in_port=20,vlan_tci=0x0000/0x1fff,arp,arp_op=1,"
                  "arp_tpa=192.168.0.101,");
    /* nothing floods off the host, nothing is encapsulated */
    assert_lacks(t, "tun_dst");
    assert_lacks(t, "priority=10,metadata=");
    free(t);
    qvs_map_free(problems);
    fx_free(&f);
}

/* NVGRE is taken only from the provider addresses of the hosts holding a
 * port of the VSID: any other source (a VM on a physical network sharing the
 * underlay, a host without a port of that VSID, ourselves) matches no flow of
 * table 0 and drops there. */
static void test_nvgre_only_from_hosts_of_the_vsid(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    put(&f, "port/" P1,
        "{\"vswitch\":\"br-phy\",\"network_id\":\"n2\",\"network_type\":\"nvgre\",\"vsid\":5001,"
        "\"mac_address\":\"fa:16:3e:00:00:01\",\"admin_state_up\":true,\"port_security\":false}");
    put(&f, "port/" P2,
        "{\"vswitch\":\"br-phy\",\"network_id\":\"n4\",\"network_type\":\"nvgre\",\"vsid\":5003,"
        "\"mac_address\":\"fa:16:3e:00:00:09\",\"admin_state_up\":true,\"port_security\":false}");
    /* VSID 5001: ours, two VMs at .2, one at .3; VSID 5003: ours and one at .4;
     * VSID 5009 (no port here): at .5 */
    static const char *const recs[][3] = {
        {"5001", "10.0.0.5", "192.168.0.1"}, {"5001", "10.0.0.6", "192.168.0.2"},
        {"5001", "10.0.0.7", "192.168.0.2"}, {"5001", "10.0.0.8", "192.168.0.3"},
        {"5003", "10.0.0.9", "192.168.0.1"}, {"5003", "10.0.0.6", "192.168.0.4"},
        {"5009", "10.0.0.6", "192.168.0.5"}};
    for (size_t i = 0; i < sizeof recs / sizeof *recs; i++) {
        char id[128], json[512];
        snprintf(id, sizeof id, "lookup_record/%s/%s/fa:16:3e:00:01:%02zx", recs[i][0],
                 recs[i][1], i);
        snprintf(json, sizeof json,
                 "{\"vsid\":%s,\"customer_address\":\"%s\",\"mac_address\":"
                 "\"fa:16:3e:00:01:%02zx\",\"provider_address\":\"%s\",\"rule\":\"encap\"}",
                 recs[i][0], recs[i][1], i, recs[i][2]);
        put(&f, id, json);
    }
    qvs_map *counts;
    char *t = table(&f, NULL, &counts);
    /* Exactly one flow per (VSID, remote host), and nothing else takes GRE. */
    static const char *const want[] = {
        "table=0,priority=100,in_port=10,tun_src=192.168.0.2,tun_id=0x138900/0xffffff00,",
        "table=0,priority=100,in_port=10,tun_src=192.168.0.3,tun_id=0x138900/0xffffff00,",
        "table=0,priority=100,in_port=10,tun_src=192.168.0.4,tun_id=0x138b00/0xffffff00,"};
    size_t n = 0;
    for (const char *l = strstr(t, "in_port=10,"); l; l = strstr(l + 1, "in_port=10,"))
        n++;
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_has(t, want[i]);
    assert_lacks(t, "tun_src=192.168.0.1,");     /* ourselves */
    assert_lacks(t, "tun_src=192.168.0.4,tun_id=0x138900");  /* a host of another VSID */
    assert_lacks(t, "tun_src=192.168.0.5");      /* a VSID with no port here */
    assert_lacks(t, "in_port=10,tun_id=");       /* no VSID-only match */
    /* The flows count toward their network's cookie, so a missing one is
     * noticed and reinstalled. */
    int64_t total = 0;
    const char *k;
    qj *v;
    for (size_t i = 0; i < qvs_map_end(counts); i++)
        if (qvs_map_at(counts, i, &k, &v))
            total += v->u.i;
    assert_int_equal(total, (int64_t)count_lines(t));
    free(t);
    qvs_map_free(counts);
    /* A host that leaves the VSID (its last record gone) is no longer heard. */
    qvs_map_del(f.objects, "lookup_record/5001/10.0.0.8/fa:16:3e:00:01:03");
    t = table(&f, NULL, NULL);
    assert_lacks(t, "tun_src=192.168.0.3,");
    assert_has(t, want[0]);
    free(t);
    fx_free(&f);
}

#define ACL(port, dir, rules)                                                                     \
    "{\"port_id\":\"" port "\",\"direction\":\"" dir "\",\"default\":\"deny\","                  \
    "\"stateful\":true,\"rules\":" rules "}"

static void sg_fixture(fx *f, const char *members)
{
    fx_init(f);
    put(f, "port/" P1, VLAN_PORT(P1, "fa:16:3e:00:00:01", "10.0.0.5"));
    put(f, "port/" P2, VLAN_PORT(P2, "fa:16:3e:00:00:02", "10.0.0.6"));
    /* Both ports: tcp 22 from the group, icmp echo from a prefix, IPv6 any. */
    const char *rules =
        "[{\"ethertype\":\"IPv4\",\"protocol\":1,\"port_range_min\":8,\"port_range_max\":0,"
        "\"remote_ip_prefixes\":[\"192.0.2.0/24\"],\"remote_address_sets\":[]},"
        "{\"ethertype\":\"IPv4\",\"protocol\":6,\"port_range_min\":22,\"port_range_max\":22,"
        "\"remote_ip_prefixes\":[],\"remote_address_sets\":[\"" G "/IPv4\"]},"
        "{\"ethertype\":\"IPv6\",\"protocol\":null,\"port_range_min\":null,"
        "\"port_range_max\":null,\"remote_ip_prefixes\":null,\"remote_address_sets\":[]}]";
    char *a1 = xasprintf(ACL(P1, "ingress", "%s"), rules);
    char *a2 = xasprintf(ACL(P2, "ingress", "%s"), rules);
    put(f, "acl/" P1 "/ingress", a1);
    put(f, "acl/" P2 "/ingress", a2);
    free(a1);
    free(a2);
    char *set = xasprintf("{\"group_id\":\"" G "\",\"ethertype\":\"IPv4\",\"addresses\":%s}",
                          members);
    put(f, "address_set/" G "/IPv4", set);
    free(set);
}

static void test_security_group_rules(void **state)
{
    (void)state;
    fx f;
    sg_fixture(&f, "[\"10.0.0.5/32\",\"10.0.0.6/32\"]");
    char *t = table(&f, NULL, NULL);
    /* icmp type 8 from the prefix, committed to the port's zone */
    assert_has(t, "table=51,priority=50,ct_state=+new-est-rel-inv+trk,reg7=5,icmp,icmp_type=8,"
                  "icmp_code=0,nw_src=192.0.2.0/24,");
    assert_has(t, "actions=ct(commit,zone=NXM_NX_REG7[0..15]),output:NXM_NX_REG7[0..15]\n");
    /* IPv6 from anywhere */
    assert_has(t, "table=51,priority=50,ct_state=+new-est-rel-inv+trk,reg7=6,ipv6,");
    /* the remote group: one conjunction shared by both ports' identical rule */
    assert_has(t, "reg7=5,tcp,tp_dst=22,cookie=");
    assert_has(t, "reg7=6,tcp,tp_dst=22,cookie=");
    assert_has(t, "table=51,priority=40,ct_state=+new-est-rel-inv+trk,ip,nw_src=10.0.0.5/32,");
    assert_has(t, "table=51,priority=40,ct_state=+new-est-rel-inv+trk,ip,nw_src=10.0.0.6/32,");
    /* established and related return traffic, invalid dropped */
    assert_has(t, "table=51,priority=100,ct_state=+est-inv+trk,");
    assert_has(t, "table=51,priority=100,ct_state=+inv+trk,cookie=0x71680000000000,actions=drop");
    /* every conjunction id used in a clause has its conj_id flow */
    const char *p = t;
    int clauses = 0;
    while ((p = strstr(p, "conjunction("))) {
        unsigned id;
        assert_int_equal(sscanf(p, "conjunction(%u,", &id), 1);
        char want[64];
        snprintf(want, sizeof want, "conj_id=%u,ip,", id);
        assert_has(t, want);
        clauses++;
        p++;
    }
    assert_true(clauses >= 4);
    free(t);
    fx_free(&f);
}

/* stateful-security-group: a stateless port's rules match every packet
 * without conntrack (no ct(), no ct_state, no commit), its ingress clears
 * the sender's connection state first; a stateful port beside it keeps
 * conntrack, and the two never share a conjunction. */
static void test_stateless_port(void **state)
{
    (void)state;
    fx f;
    sg_fixture(&f, "[\"10.0.0.5/32\"]");
    qj *a1 = qj_clone(qvs_map_get(f.objects, "acl/" P1 "/ingress"));
    qj_set(a1, "stateful", qj_bool(false));
    qvs_map_put(f.objects, "acl/" P1 "/ingress", a1);
    put(&f, "acl/" P1 "/egress", "{\"port_id\":\"" P1 "\",\"direction\":\"egress\","
                                 "\"default\":\"deny\",\"stateful\":false,\"rules\":[]}");
    char *t = table(&f, NULL, NULL);
    assert_has(t, "table=50,priority=90,reg7=5,ip,cookie=");
    assert_has(t, "actions=ct_clear,goto_table:51\n");
    assert_has(t, "table=20,priority=90,reg6=5,ip,cookie=");
    assert_has(t, "actions=goto_table:21\n");
    assert_has(t, "table=51,priority=50,reg7=5,icmp,icmp_type=8,icmp_code=0,nw_src=192.0.2.0/24,");
    assert_has(t, "table=51,priority=50,reg7=5,ipv6,");
    assert_has(t, "table=51,priority=40,reg7=5,tcp,tp_dst=22,");
    assert_has(t, "table=51,priority=40,ip,nw_src=10.0.0.5/32,");
    assert_lacks(t, "ct_state=+new-est-rel-inv+trk,reg7=5,");
    /* the stateful port: as before */
    assert_has(t, "table=51,priority=50,ct_state=+new-est-rel-inv+trk,reg7=6,ipv6,");
    assert_has(t, "table=51,priority=40,ct_state=+new-est-rel-inv+trk,ip,nw_src=10.0.0.5/32,");
    assert_has(t, "actions=ct_clear,ct(table=51,zone=NXM_NX_REG7[0..15])\n");
    /* no committing flow for port 5: each of its flows outputs directly */
    const char *p = t;
    while ((p = strstr(p, "reg7=5,"))) {
        const char *eol = strchr(p, '\n');
        char *line = xstrndup(p, (size_t)(eol - p));
        assert_null(strstr(line, "ct(commit"));
        free(line);
        p = eol;
    }
    free(t);
    fx_free(&f);
}

/* Lines of a that are not in b. */
static size_t lines_not_in(const char *a, const char *b, char *first, size_t n)
{
    size_t count = 0;
    char *copy = xstrdup(a), *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *needle = xasprintf("%s\n", l);
        bool at_start = !strncmp(b, needle, strlen(needle));
        char *nl = xasprintf("\n%s", needle);
        if (!at_start && !strstr(b, nl)) {
            if (!count && first)
                snprintf(first, n, "%s", l);
            count++;
        }
        free(nl);
        free(needle);
    }
    free(copy);
    return count;
}

static void test_membership_change_touches_one_flow(void **state)
{
    (void)state;
    fx before, after;
    sg_fixture(&before, "[\"10.0.0.5/32\",\"10.0.0.6/32\"]");
    sg_fixture(&after, "[\"10.0.0.5/32\",\"10.0.0.6/32\",\"10.0.0.7/32\"]");
    qvs_map *cb, *ca;
    char *tb = table(&before, NULL, &cb), *ta = table(&after, NULL, &ca);
    char added[512] = "";
    assert_int_equal(lines_not_in(ta, tb, added, sizeof added), 1);
    assert_int_equal(lines_not_in(tb, ta, NULL, 0), 0);
    assert_non_null(strstr(added, "nw_src=10.0.0.7/32"));
    /* that flow carries the address set's cookie, whose count grew by one */
    char ck[32];
    snprintf(ck, sizeof ck, "0x%" PRIx64, qovs_cookie("address_set/" G "/IPv4"));
    assert_int_equal(I(qvs_map_get(ca, ck)), I(qvs_map_get(cb, ck)) + 1);
    assert_int_equal(count_lines(ta), count_lines(tb) + 1);
    free(tb);
    free(ta);
    qvs_map_free(cb);
    qvs_map_free(ca);
    fx_free(&before);
    fx_free(&after);
}

static void test_diff_between_tables(void **state)
{
    (void)state;
    fx before, after;
    sg_fixture(&before, "[\"10.0.0.5/32\",\"10.0.0.6/32\"]");
    sg_fixture(&after, "[\"10.0.0.6/32\",\"10.0.0.7/32\"]");
    char *tb = table(&before, NULL, NULL), *ta = table(&after, NULL, NULL);
    qbuf d;
    qbuf_init(&d, 0);
    /* a table against itself: nothing to send; the count is its length */
    assert_int_equal(qovs_flows_diff(tb, tb, &d), count_lines(tb));
    assert_int_equal(d.len, 0);
    /* one member gone, one come: one delete (by identity), one add (whole line) */
    assert_int_equal(qovs_flows_diff(tb, ta, &d), count_lines(tb));
    assert_int_equal(count_lines(d.data), 2);
    assert_non_null(strstr(d.data, "flow delete_strict table=51,priority=40,"));
    assert_non_null(strstr(d.data, "nw_src=10.0.0.5/32\n"));
    assert_non_null(strstr(d.data, "flow add table=51,priority=40,"));
    assert_non_null(strstr(d.data, "nw_src=10.0.0.7/32,cookie="));
    assert_null(strstr(d.data, "delete_strict table=51,priority=40,ct_state=+new-est-rel-inv+trk,"
                               "ip,nw_src=10.0.0.5/32,cookie"));
    qbuf_free(&d);
    /* a changed action is re-added; identities that prefix others keep their order */
    const char *o = "table=0,priority=10,in_port=1,cookie=0x1,actions=drop\n"
                    "table=0,priority=100,in_port=1,cookie=0x1,actions=drop\n";
    const char *n = "table=0,priority=10,in_port=1,cookie=0x1,actions=goto_table:10\n"
                    "table=0,priority=100,in_port=1,cookie=0x1,actions=drop\n";
    qbuf_init(&d, 0);
    assert_int_equal(qovs_flows_diff(o, n, &d), 2);
    assert_string_equal(d.data,
                        "flow add table=0,priority=10,in_port=1,cookie=0x1,actions=goto_table:10\n");
    qbuf_free(&d);
    /* from nothing: everything added */
    qbuf_init(&d, 0);
    assert_int_equal(qovs_flows_diff("", o, &d), 0);
    assert_int_equal(count_lines(d.data), 2);
    qbuf_free(&d);
    free(tb);
    free(ta);
    fx_free(&before);
    fx_free(&after);
}

static void test_counts_and_determinism(void **state)
{
    (void)state;
    fx f;
    sg_fixture(&f, "[\"10.0.0.5/32\"]");
    qvs_map *counts;
    char *t1 = table(&f, NULL, &counts), *t2 = table(&f, NULL, NULL);
    assert_string_equal(t1, t2);
    int64_t total = 0;
    const char *k;
    qj *v;
    for (size_t i = 0; i < qvs_map_end(counts); i++)
        if (qvs_map_at(counts, i, &k, &v))
            total += v->u.i;
    assert_int_equal(total, (int64_t)count_lines(t1));
    char ck[32];
    snprintf(ck, sizeof ck, "0x%" PRIx64, qovs_cookie("port/" P1));
    assert_true(I(qvs_map_get(counts, ck)) > 5);
    free(t1);
    free(t2);
    qvs_map_free(counts);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_masks),
        cmocka_unit_test(test_vlan_port_with_port_security),
        cmocka_unit_test(test_admin_down_drops),
        cmocka_unit_test(test_dhcp_answers_only_from_dhcp_servers),
        cmocka_unit_test(test_nvgre_forwarding),
        cmocka_unit_test(test_nvgre_only_from_hosts_of_the_vsid),
        cmocka_unit_test(test_ip_rewrite),
        cmocka_unit_test(test_security_group_rules),
        cmocka_unit_test(test_stateless_port),
        cmocka_unit_test(test_membership_change_touches_one_flow),
        cmocka_unit_test(test_diff_between_tables),
        cmocka_unit_test(test_counts_and_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
