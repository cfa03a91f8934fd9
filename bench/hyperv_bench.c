/* qhv-bench-hyperv: WMI calls of the hyperv backend, counted on the WMI
 * model (src/vswitch/hyperv/wmi_model.h). Not a test: it prints figures
 * (docs/hyperv.md, "Figures").
 *
 *   1. a new port with a VLAN and 20 security-group rules (target: at most
 *      4 write calls);
 *   2. 1,000 unchanged ports after an agent restart (target: 0 writes, one
 *      enumeration per class);
 *   3. a remote-group membership change on a host with 100 affected ports;
 *   4. one port's changes: port security off then on, admin state down then
 *      up, a VLAN change, the VM's checkpoint restored, the NIC deleted and
 *      made again (a VM rebuild). */
#include "agent/reconcile.h"
#include "lib/util.h"
#include "vswitch/hyperv/hyperv.h"
#include "vswitch/hyperv/wmi_model.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SG "33333333-0000-4000-8000-000000000001"

typedef struct bench {
    qwmi_transport t;
    qvs *vs;
    char state[64];
} bench;

static qvs *bench_open(bench *b)
{
    qvs_options o = {.hyperv_transport = &b->t, .hyperv_state_file = b->state,
                     .provider_address = "192.168.1.1", .hyperv_pa_ifindex = 13,
                     .hyperv_pa_prefix_len = 24, .hyperv_job_wait_ms = 100};
    char err[256];
    qvs *vs = NULL;
    if (qvs_hyperv_class.open(&o, &vs, err, sizeof err) < 0) {
        fprintf(stderr, "open: %s\n", err);
        exit(1);
    }
    return vs;
}

static void port_id(int i, char out[37])
{
    snprintf(out, 37, "11111111-0000-4000-8000-%012d", i);
}

static void bench_init(bench *b, int nics)
{
    char err[256];
    if (qwmi_model_open(NULL, "10.0.14393", &b->t, err, sizeof err) < 0) {
        fprintf(stderr, "model: %s\n", err);
        exit(1);
    }
    snprintf(b->state, sizeof b->state, "/tmp/qhv_bench_hyperv_XXXXXX");
    int fd = mkstemp(b->state);
    close(fd);
    unlink(b->state);
    qwmi_model_add_switch(b->t.w, "sw1");
    qwmi_model_add_netadapter(b->t.w, 13, "Ethernet 2", "00-15-5D-01-02-03", true);
    for (int i = 0; i < nics; i++) {
        char id[37], vm[32], mac[24];
        port_id(i, id);
        snprintf(vm, sizeof vm, "vm%d", i);
        snprintf(mac, sizeof mac, "FA163E%06X", i);
        qwmi_model_add_nic(b->t.w, vm, id, mac);
    }
    b->vs = bench_open(b);
}

static void bench_free(bench *b)
{
    qvs_hyperv_class.close(b->vs);
    b->t.cls->close(b->t.w);
    unlink(b->state);
}

static qj *J(const char *text)
{
    qj *v = qj_parse(text, strlen(text), NULL, NULL);
    if (!v) {
        fprintf(stderr, "bad JSON: %s\n", text);
        exit(1);
    }
    return v;
}

/* A port with a VLAN and the given ingress rules (JSON array text); with
 * ps false, port security off (no acl/ objects). */
static void add_port_ps(qvs_map *d, int i, const char *ingress, int vlan, bool up, bool ps)
{
    char id[37], key[128];
    port_id(i, id);
    char *t = xasprintf("{\"vswitch\": \"sw1\", \"network_id\": \"n\", \"network_type\": \"vlan\", "
                        "\"vlan\": %d, \"mac_address\": \"fa:16:3e:%02x:%02x:%02x\", \"mtu\": 1500, "
                        "\"admin_state_up\": %s, \"port_security\": %s, \"mac_spoofing\": "
                        "%s, \"dhcp_guard\": %s, \"router_guard\": %s}",
                        vlan ? vlan : 100 + i % 50, (i >> 16) & 255, (i >> 8) & 255, i & 255,
                        up ? "true" : "false", ps ? "true" : "false", ps ? "false" : "true",
                        ps ? "true" : "false", ps ? "true" : "false");
    snprintf(key, sizeof key, "port/%s", id);
    qvs_map_put(d, key, J(t));
    free(t);
    static const char *const dirs[] = {"ingress", "egress"};
    for (int k = 0; k < 2; k++) {
        snprintf(key, sizeof key, "acl/%s/%s", id, dirs[k]);
        if (!ps) {
            qvs_map_del(d, key);
            continue;
        }
        t = xasprintf("{\"port_id\": \"%s\", \"direction\": \"%s\", \"default\": \"deny\", "
                      "\"stateful\": true, \"rules\": %s}", id, dirs[k], k ? "[]" : ingress);
        qvs_map_put(d, key, J(t));
        free(t);
    }
}

static void add_port(qvs_map *d, int i, const char *ingress)
{
    add_port_ps(d, i, ingress, 0, true, true);
}

/* dump, diff, operate in batches of batch ops (0: all in one, as the agent
 * does when it can; its first batches are of one op). */
static size_t converge(bench *b, const qvs_map *d, size_t *failed, size_t batch)
{
    qvs_observed obs;
    char err[256];
    if (qvs_hyperv_class.dump(b->vs, &obs, err, sizeof err) < 0) {
        fprintf(stderr, "dump: %s\n", err);
        exit(1);
    }
    qag_diff diff;
    qag_diff_compute(d, &obs, &diff);
    *failed = 0;
    size_t step = batch ? batch : diff.nops;
    for (size_t i = 0; i < diff.nops; i += step)
        *failed += qvs_hyperv_class.operate(b->vs, &diff.ops[i],
                                            diff.nops - i < step ? diff.nops - i : step);
    size_t n = diff.nops;
    qag_diff_free(&diff);
    qvs_observed_free(&obs);
    return n;
}

static void print(const char *what, bench *b, size_t ops, size_t failed, uint64_t us)
{
    qwmi_model_counters c;
    qwmi_model_counters_get(b->t.w, &c);
    printf("%-58s ops %5zu (failed %zu)  writes %5ld  method calls %5ld  enumerations %3ld  "
           "gets %5ld  %8.1f ms\n",
           what, ops, failed, c.writes, c.calls, c.enumerations, c.gets, (double)us / 1000.0);
}

static char *rules_20(void)
{
    qbuf q;
    qbuf_init(&q, 0);
    qbuf_puts(&q, "[");
    for (int r = 0; r < 20; r++)
        qbuf_printf(&q, "%s{\"ethertype\": \"IPv4\", \"protocol\": 6, \"port_range_min\": %d, "
                        "\"port_range_max\": %d, \"remote_ip_prefixes\": [\"10.%d.0.0/16\"], "
                        "\"remote_address_sets\": []}",
                    r ? "," : "", 1000 + r, 1000 + r, r);
    qbuf_puts(&q, "]");
    char *s = qbuf_steal(&q, NULL);
    qbuf_free(&q);
    return s;
}

/* Scenario 1: one new port with a VLAN and 20 rules, operated batch ops at
 * a time (0: all). */
static void new_port(const char *what, size_t batch)
{
    bench b;
    size_t failed;
    bench_init(&b, 1);
    qvs_map *d = qvs_map_new();
    char *rules = rules_20();
    add_port(d, 0, rules);
    free(rules);
    qwmi_model_counters_reset(b.t.w);
    uint64_t t0 = qhv_now_us();
    size_t ops = converge(&b, d, &failed, batch);
    print(what, &b, ops, failed, qhv_now_us() - t0);
    qvs_map_free(d);
    bench_free(&b);
}

/* Scenario 4: one port with 20 rules, one change at a time. */
static void changes(void)
{
    bench b;
    size_t failed, ops;
    uint64_t t0;
    bench_init(&b, 1);
    qvs_map *d = qvs_map_new();
    char *rules = rules_20();
    add_port(d, 0, rules);
    converge(&b, d, &failed, 0);
    static const struct {
        const char *what;
        int vlan;
        bool up, ps;
        int event;      /* 1: checkpoint restored, 2: NIC deleted and made again */
    } steps[] = {
        {"port security off", 100, true, false, 0},
        {"port security on again", 100, true, true, 0},
        {"admin state down", 100, false, true, 0},
        {"admin state up", 100, true, true, 0},
        {"VLAN change (disabled while it changes)", 200, true, true, 0},
        {"checkpoint restored (VLAN as before it)", 200, true, true, 1},
        {"NIC deleted and made again (VM rebuild)", 200, true, true, 2},
    };
    char id[37];
    port_id(0, id);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (steps[i].event == 1) {
            /* A checkpoint at VLAN 200, the port moved to 300, then the
             * checkpoint applied: Hyper-V brings VLAN 200's settings back
             * (qhv's own, under their old InstanceIDs). */
            qwmi_model_checkpoint(b.t.w, "vm0");
            add_port_ps(d, 0, rules, 300, true, true);
            converge(&b, d, &failed, 0);
            qwmi_model_restore(b.t.w, "vm0");
        } else if (steps[i].event == 2) {
            qwmi_model_del_nic(b.t.w, id);
            qwmi_model_add_nic(b.t.w, "vm0", id, "FA163E000000");
        }
        add_port_ps(d, 0, rules, steps[i].vlan, steps[i].up, steps[i].ps);
        qwmi_model_counters_reset(b.t.w);
        t0 = qhv_now_us();
        ops = converge(&b, d, &failed, 0);
        print(steps[i].what, &b, ops, failed, qhv_now_us() - t0);
    }
    free(rules);
    qvs_map_free(d);
    bench_free(&b);
}

int main(void)
{
    size_t failed, ops;
    uint64_t t0;
    /* 1. A new port: VLAN + 20 rules, in one batch and one op per call. */
    new_port("new port, VLAN + 20 rules (30 ACL entries)", 0);
    new_port("the same, one op per operate() call", 1);
    /* 2. 1,000 unchanged ports after a restart. */
    {
        bench b;
        bench_init(&b, 1000);
        qvs_map *d = qvs_map_new();
        const char *rules = "[{\"ethertype\": \"IPv4\", \"protocol\": 6, \"port_range_min\": 22, "
                            "\"port_range_max\": 22, \"remote_ip_prefixes\": null, "
                            "\"remote_address_sets\": []}]";
        for (int i = 0; i < 1000; i++)
            add_port(d, i, rules);
        qwmi_model_counters_reset(b.t.w);
        t0 = qhv_now_us();
        ops = converge(&b, d, &failed, 0);
        print("1,000 new ports (setup)", &b, ops, failed, qhv_now_us() - t0);
        qvs_hyperv_class.close(b.vs);
        b.vs = bench_open(&b);
        qwmi_model_counters_reset(b.t.w);
        t0 = qhv_now_us();
        ops = converge(&b, d, &failed, 0);
        print("1,000 unchanged ports after a restart", &b, ops, failed, qhv_now_us() - t0);
        qvs_map_free(d);
        bench_free(&b);
    }
    /* 3. A remote group gains a member: 100 ports name it. */
    {
        bench b;
        bench_init(&b, 150);
        qvs_map *d = qvs_map_new();
        const char *named = "[{\"ethertype\": \"IPv4\", \"protocol\": null, \"port_range_min\": "
                            "null, \"port_range_max\": null, \"remote_ip_prefixes\": [], "
                            "\"remote_address_sets\": [\"" SG "/IPv4\"]}]";
        for (int i = 0; i < 150; i++)
            add_port(d, i, i < 100 ? named : "[]");
        qbuf m;
        qbuf_init(&m, 0);
        qbuf_puts(&m, "{\"group_id\": \"" SG "\", \"ethertype\": \"IPv4\", \"addresses\": [");
        for (int i = 0; i < 100; i++)
            qbuf_printf(&m, "%s\"10.0.%d.%d/32\"", i ? "," : "", i / 250, i % 250 + 1);
        qbuf_puts(&m, "]}");
        qvs_map_put(d, "address_set/" SG "/IPv4", J(m.data));
        converge(&b, d, &failed, 0);
        /* One more member. */
        m.len -= 2;
        qbuf_puts(&m, ",\"10.9.9.9/32\"]}");
        qvs_map_put(d, "address_set/" SG "/IPv4", J(m.data));
        qwmi_model_counters_reset(b.t.w);
        t0 = qhv_now_us();
        ops = converge(&b, d, &failed, 0);
        print("remote group +1 member, 100 of 150 ports affected", &b, ops, failed,
              qhv_now_us() - t0);
        /* And one member fewer. */
        m.len -= 16;
        qbuf_puts(&m, "]}");
        qvs_map_put(d, "address_set/" SG "/IPv4", J(m.data));
        qwmi_model_counters_reset(b.t.w);
        t0 = qhv_now_us();
        ops = converge(&b, d, &failed, 0);
        print("remote group -1 member, 100 of 150 ports affected", &b, ops, failed,
              qhv_now_us() - t0);
        qbuf_free(&m);
        qvs_map_free(d);
        bench_free(&b);
    }
    /* 4. One port's changes. */
    changes();
    return 0;
}
