/* The ovs backend's flow-table computation alone (src/vswitch/ovs_flows.c),
 * in CPU time: N VLAN ports with port security, each in one default-like
 * security group (egress anywhere, ingress from the group: a conjunctive
 * remote-group match whose address set holds every port). This is what an
 * ovs agent recomputes on a change (docs/benchmarks.md).
 *
 * usage: qhv-bench-ovs-flows [PORTS] [ROUNDS]   (defaults 1000 and 5) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "vswitch/ovs_flows.h"

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
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

int main(int argc, char **argv)
{
    int ports = argc > 1 ? atoi(argv[1]) : 1000, rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (ports < 1 || ports > 60000 || rounds < 1) {
        fprintf(stderr, "usage: qhv-bench-ovs-flows [PORTS 1-60000] [ROUNDS]\n");
        return 2;
    }
    qvs_map *objects = qvs_map_new(), *nics = qvs_map_new(), *patches = qvs_map_new();
    qvs_map_put(patches, "br-phy", qj_int(2));
    qbuf members;
    qbuf_init(&members, 0);
    for (int i = 0; i < ports; i++) {
        char id[64], mac[32], ip[32], text[1024];
        snprintf(id, sizeof id, "%08d-0000-4000-8000-000000000000", i);
        snprintf(mac, sizeof mac, "fa:16:3e:%02x:%02x:%02x", (i >> 16) & 255, (i >> 8) & 255,
                 i & 255);
        snprintf(ip, sizeof ip, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        qvs_map_put(nics, id, qj_int(10 + i));
        snprintf(text, sizeof text,
                 "{\"vswitch\":\"br-phy\",\"network_id\":\"n\",\"network_type\":\"vlan\","
                 "\"vlan\":100,\"mac_address\":\"%s\",\"admin_state_up\":true,"
                 "\"port_security\":true,\"allowed_addresses\":[{\"ip_address\":\"%s\","
                 "\"mac_address\":\"%s\"}]}", mac, ip, mac);
        char key[128];
        snprintf(key, sizeof key, "port/%s", id);
        qvs_map_put(objects, key, J(text));
        snprintf(key, sizeof key, "acl/%s/egress", id);
        snprintf(text, sizeof text,
                 "{\"port_id\":\"%s\",\"direction\":\"egress\",\"rules\":["
                 "{\"ethertype\":\"IPv4\",\"protocol\":null,\"remote_ip_prefixes\":null,"
                 "\"remote_address_sets\":[]},{\"ethertype\":\"IPv6\",\"protocol\":null,"
                 "\"remote_ip_prefixes\":null,\"remote_address_sets\":[]}]}", id);
        qvs_map_put(objects, key, J(text));
        snprintf(key, sizeof key, "acl/%s/ingress", id);
        snprintf(text, sizeof text,
                 "{\"port_id\":\"%s\",\"direction\":\"ingress\",\"rules\":["
                 "{\"ethertype\":\"IPv4\",\"protocol\":null,\"remote_ip_prefixes\":[],"
                 "\"remote_address_sets\":[\"g/IPv4\"]}]}", id);
        qvs_map_put(objects, key, J(text));
        qbuf_printf(&members, "%s\"%s/32\"", i ? "," : "", ip);
    }
    char *set = xasprintf("{\"group_id\":\"g\",\"ethertype\":\"IPv4\",\"addresses\":[%s]}",
                          members.data);
    qvs_map_put(objects, "address_set/g/IPv4", J(set));
    free(set);
    qbuf_free(&members);
    qovs_topo t = {0, "192.168.0.1", patches, nics};
    double best = 1e18, total = 0;
    size_t lines = 0, bytes = 0;
    for (int r = 0; r < rounds; r++) {
        qbuf out;
        qbuf_init(&out, 0);
        qvs_map *counts = qvs_map_new(), *problems = qvs_map_new();
        double t0 = cpu_ms();
        qovs_flows(&t, objects, &out, counts, problems);
        double dt = cpu_ms() - t0;
        best = dt < best ? dt : best;
        total += dt;
        bytes = out.len;
        lines = 0;
        for (size_t k = 0; k < out.len; k++)
            lines += out.data[k] == '\n';
        qbuf_free(&out);
        qvs_map_free(counts);
        qvs_map_free(problems);
    }
    printf("ovs flow table: %d ports, %zu objects -> %zu flows (%zu KiB): %.1f ms CPU per "
           "computation (best %.1f, %d rounds)\n",
           ports, qvs_map_size(objects), lines, bytes / 1024, total / rounds, best, rounds);
    qvs_map_free(objects);
    qvs_map_free(nics);
    qvs_map_free(patches);
    return 0;
}
