#include "vswitch/ovs_plug.h"
#include "vswitch/ovs_exec.h"
#include "lib/file.h"
#include "lib/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"

void qovs_plug_tap(const char *port_id, char out[16])
{
    snprintf(out, 16, "tap%.11s", port_id);
}

/* Runs argv; 0 or -1 with its stderr (or why it could not run) in err. */
static int qovs_plug_run(const char *rundir, const char *const *argv, char *err, size_t errlen)
{
    qbuf e;
    qbuf_init(&e, 0);
    int rc = qovs_exec(rundir, argv, NULL, NULL, &e);
    if (rc != 0 && err) {
        size_t l = e.len;
        while (l && (e.data[l - 1] == '\n' || e.data[l - 1] == ' '))
            l--;
        snprintf(err, errlen, "%s %s: %.*s", argv[0], argv[1], (int)l, e.data ? e.data : "");
    }
    qbuf_free(&e);
    return rc == 0 ? 0 : -1;
}

/* "--net=/proc/<pid>/ns/net" of ovs-vswitchd, or -1 with err. */
static int qovs_plug_nsarg(const char *rundir, char *out, size_t n, char *err, size_t errlen)
{
    char *path = xasprintf("%s/ovs-vswitchd.pid", rundir && *rundir ? rundir
                                                                    : "/var/run/openvswitch");
    char *text = qfile_read(path, NULL);
    long pid = text ? strtol(text, NULL, 10) : 0;
    free(text);
    if (pid <= 0) {
        snprintf(err, errlen, "cannot read ovs-vswitchd's pid from %s", path);
        free(path);
        return -1;
    }
    free(path);
    snprintf(out, n, "--net=/proc/%ld/ns/net", pid);
    return 0;
}

int qovs_plug(const char *rundir, const char *bridge, const char *port_id, const char *mac,
              const char *netns, const char *ifname, char *err, size_t errlen)
{
    char tap[16], nsarg[64], ext_id[128], ext_mac[64];
    qovs_plug_tap(port_id, tap);
    if (qovs_plug_nsarg(rundir, nsarg, sizeof nsarg, err, errlen) < 0)
        return -1;
    const char *show_in[] = {"ip", "-n", netns, "link", "show", "dev", ifname, NULL};
    const char *show_tap[] = {"nsenter", nsarg, "ip", "link", "show", "dev", tap, NULL};
    bool have = qovs_plug_run(rundir, show_in, NULL, 0) == 0 &&
                qovs_plug_run(rundir, show_tap, NULL, 0) == 0;
    if (!have) {
        /* Half a pair (or none): make it anew. */
        const char *del_tap[] = {"nsenter", nsarg, "ip", "link", "del", "dev", tap, NULL};
        const char *del_in[] = {"ip", "-n", netns, "link", "del", "dev", ifname, NULL};
        const char *add[] = {"nsenter", nsarg, "ip", "link", "add", "name", tap, "type", "veth",
                             "peer", "name", ifname, "netns", netns, NULL};
        qovs_plug_run(rundir, del_tap, NULL, 0);
        qovs_plug_run(rundir, del_in, NULL, 0);
        if (qovs_plug_run(rundir, add, err, errlen) < 0)
            return -1;
    }
    /* The userspace datapath reads packets with partial checksums as they
     * are: checksums are computed by the sender (docs/ovs.md). */
    const char *in_up[] = {"ip", "-n", netns, "link", "set", "dev", ifname, "address", mac, "up",
                           NULL};
    const char *in_csum[] = {"ip", "netns", "exec", netns, "ethtool", "-K", ifname, "tx", "off",
                             NULL};
    const char *tap_up[] = {"nsenter", nsarg, "ip", "link", "set", "dev", tap, "up", NULL};
    const char *tap_csum[] = {"nsenter", nsarg, "ethtool", "-K", tap, "tx", "off", NULL};
    if (qovs_plug_run(rundir, in_up, err, errlen) < 0 ||
        qovs_plug_run(rundir, tap_up, err, errlen) < 0)
        return -1;
    qovs_plug_run(rundir, in_csum, NULL, 0);    /* no ethtool: a kernel datapath needs none */
    qovs_plug_run(rundir, tap_csum, NULL, 0);
    /* The bridge end takes the namespace end's MTU (the network's, once the
     * caller has set it: it plugs again after a change). */
    const char *show[] = {"ip", "-n", netns, "-o", "link", "show", "dev", ifname, NULL};
    qbuf out;
    qbuf_init(&out, 0);
    const char *m = qovs_exec(rundir, show, NULL, &out, NULL) == 0 && out.data
                        ? strstr(out.data, " mtu ") : NULL;
    char mtu[16];
    if (m && sscanf(m, " mtu %15[0-9]", mtu) == 1) {
        const char *set[] = {"nsenter", nsarg, "ip", "link", "set", "dev", tap, "mtu", mtu, NULL};
        if (qovs_plug_run(rundir, set, err, errlen) < 0) {
            qbuf_free(&out);
            return -1;
        }
    }
    qbuf_free(&out);
    snprintf(ext_id, sizeof ext_id, "external_ids:iface-id=%s", port_id);
    snprintf(ext_mac, sizeof ext_mac, "external_ids:attached-mac=%s", mac);
    /* A new pair replaces the bridge's port (its old interface is gone). */
    const char *del_port[] = {"ovs-vsctl", "--timeout=20", "--if-exists", "del-port", bridge,
                              tap, NULL};
    if (!have)
        qovs_plug_run(rundir, del_port, NULL, 0);
    const char *add_port[] = {"ovs-vsctl", "--timeout=20", "--may-exist", "add-port", bridge,
                              tap, "--", "set", "Interface", tap, ext_id, ext_mac,
                              "external_ids:iface-status=active", NULL};
    return qovs_plug_run(rundir, add_port, err, errlen);
}

int qovs_unplug(const char *rundir, const char *bridge, const char *port_id, char *err,
                size_t errlen)
{
    char tap[16], nsarg[64];
    qovs_plug_tap(port_id, tap);
    const char *del_port[] = {"ovs-vsctl", "--timeout=20", "--if-exists", "del-port", bridge,
                              tap, NULL};
    if (qovs_plug_run(rundir, del_port, err, errlen) < 0)
        return -1;
    if (qovs_plug_nsarg(rundir, nsarg, sizeof nsarg, err, errlen) == 0) {
        const char *del_tap[] = {"nsenter", nsarg, "ip", "link", "del", "dev", tap, NULL};
        qovs_plug_run(rundir, del_tap, NULL, 0);    /* gone already: fine */
    }
    return 0;
}
