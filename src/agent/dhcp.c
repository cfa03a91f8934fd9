#include "agent/dhcp.h"
#ifndef _WIN32
#include "agent/dhcp_conf.h"
#include "agent/metadata.h"
#include "lib/file.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/util.h"
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define QAG_DHCP_CHECK_US 1000000u      /* process liveness checks */
#define QAG_DHCP_RETRY_BASE_US 1000000u
#define QAG_DHCP_RETRY_CAP_US 30000000u

typedef struct qag_dnet {
    char *id, *ns, *dir, *port_id, *ifname;
    char *mac;              /* plugged with this MAC; NULL: not plugged yet */
    char *addrs;            /* addresses and MTU applied ("a/l a/l mtu=N"); NULL: unknown */
    char *files[4];         /* last written: host, addn_hosts, opts, metadata; NULL: unknown */
    int dnsmasq;            /* its pid as last seen alive; 0: unknown */
    int proxy;              /* our metadata proxy child; 0: none */
    bool reload;            /* files changed since dnsmasq last reread them */
    bool ok;                /* everything was in place at the last sync */
    bool seen;
    unsigned failures;
    uint64_t retry_us;
} qag_dnet;

struct qag_dhcp {
    const qag_conf *conf;
    const qvs_class *cls;
    qvs *vs;
    qag_dnet *nets;
    size_t n;
    bool swept;             /* leftovers of a previous run taken down */
    bool need;              /* a process died: sync */
    uint64_t check_us;
    /* The backend serves DHCP itself (cls->serve_dhcp: the dummy backend
     * records it); then nets stays empty and no process runs. */
    bool backend_serves;
    size_t handed;          /* networks the backend took at the last sync */
};

static const char *const qag_file_names[4] = {"host", "addn_hosts", "opts", "metadata"};

/* Runs argv; 0, or -1 with its stderr in err (err may be NULL). */
static int qag_run(const char *const *argv, char *err, size_t errlen)
{
    qbuf e;
    qbuf_init(&e, 0);
    int rc = qproc_run(argv, NULL, NULL, NULL, &e);
    if (rc != 0 && err) {
        size_t l = e.len;
        while (l && (e.data[l - 1] == '\n' || e.data[l - 1] == ' '))
            l--;
        snprintf(err, errlen, "%s %s %s: exit %d: %.*s", argv[0], argv[1] ? argv[1] : "",
                 argv[1] && argv[2] ? argv[2] : "", rc, (int)l, e.data ? e.data : "");
    }
    qbuf_free(&e);
    return rc == 0 ? 0 : -1;
}

static int qag_mkdirs(const char *path, char *err, size_t errlen)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = '\0';
            /* 0755: dnsmasq reads its files as nobody */
            if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                snprintf(err, errlen, "mkdir %s: %s", p, strerror(errno));
                free(p);
                return -1;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return 0;
}

qag_dhcp *qag_dhcp_new(const qag_conf *conf, const qvs_class *cls, qvs *vs, char *err,
                       size_t errlen)
{
    if (cls->serve_dhcp) {      /* backend serves */
        qag_dhcp *d = xcalloc(1, sizeof *d);
        d->conf = conf;
        d->cls = cls;
        d->vs = vs;
        d->backend_serves = true;
        return d;
    }
    if (!cls->plug || !cls->unplug) {
        snprintf(err, errlen, "[dhcp] enabled: the %s backend cannot plug a network node's "
                              "DHCP ports (use the ovs backend)", cls->name);
        return NULL;
    }
    if (qag_mkdirs(conf->dhcp_state_path, err, errlen) < 0)
        return NULL;
    /* dnsmasq drops to nobody and rereads its files on SIGHUP: every
     * directory above them must let others through. */
    char *p = xstrdup(conf->dhcp_state_path);
    for (char *slash = p + strlen(p); slash && slash > p; slash = strrchr(p, '/')) {
        struct stat st;
        *slash = '\0';
        const char *dir = *p ? p : "/";
        if (stat(dir, &st) == 0 && !(st.st_mode & S_IXOTH)) {
            snprintf(err, errlen, "[dhcp] state_path %s: %s is not searchable by others; "
                                  "dnsmasq (running as nobody) could not read its files",
                     conf->dhcp_state_path, dir);
            free(p);
            return NULL;
        }
    }
    free(p);
    qag_dhcp *d = xcalloc(1, sizeof *d);
    d->conf = conf;
    d->cls = cls;
    d->vs = vs;
    return d;
}

/* A process that is alive (not a zombie) and whose command line holds
 * needle; its command line (NUL-separated, caller frees) in *cmd if wanted. */
static bool qag_proc_alive(int pid, const char *needle, char **cmd, size_t *cmdlen)
{
    if (pid <= 0)
        return false;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    char *stat = qfile_read(path, NULL);
    const char *rp = stat ? strrchr(stat, ')') : NULL;
    bool alive = rp && rp[1] == ' ' && rp[2] && rp[2] != 'Z' && rp[2] != 'X';
    free(stat);
    if (!alive)
        return false;
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    size_t len = 0;
    char *c = qfile_read(path, &len);
    bool has = false;
    for (size_t off = 0; c && off < len; off += strlen(c + off) + 1)
        has = has || strstr(c + off, needle) != NULL;
    if (has && cmd) {
        *cmd = c;
        *cmdlen = len;
    } else {
        free(c);
    }
    return has;
}

static int qag_pidfile(const char *dir)
{
    char *path = xasprintf("%s/pid", dir);
    char *t = qfile_read(path, NULL);
    int pid = t ? atoi(t) : 0;
    free(t);
    free(path);
    return pid;
}

/* Ends pid (SIGTERM, then SIGKILL after 2 s), reaping it if it is a child. */
static void qag_kill(int pid)
{
    if (pid <= 0 || kill(pid, SIGTERM) < 0)
        return;
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid || kill(pid, 0) < 0)
            return;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        char *st = qfile_read(path, NULL);
        const char *rp = st ? strrchr(st, ')') : NULL;
        bool zombie = !rp || (rp[1] && rp[2] == 'Z');
        free(st);
        if (zombie)
            return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, WNOHANG);
}

static void qag_dnet_free(qag_dnet *n)
{
    free(n->id);
    free(n->ns);
    free(n->dir);
    free(n->port_id);
    free(n->ifname);
    free(n->mac);
    free(n->addrs);
    for (int i = 0; i < 4; i++)
        free(n->files[i]);
}

void qag_dhcp_free(qag_dhcp *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        qag_kill(d->nets[i].proxy);
        qag_dnet_free(&d->nets[i]);
    }
    free(d->nets);
    free(d);
}

/* Takes a network down: its processes, interface, namespace and files. */
static void qag_teardown(qag_dhcp *d, const char *net_id, const char *port_id, int proxy)
{
    char err[512];
    char *dir = xasprintf("%s/%s", d->conf->dhcp_state_path, net_id);
    char *ns = xasprintf("%s%s", d->conf->dhcp_namespace_prefix, net_id);
    char *pidpath = xasprintf("%s/pid", dir);
    int pid = qag_pidfile(dir);
    if (qag_proc_alive(pid, pidpath, NULL, NULL))
        qag_kill(pid);
    qag_kill(proxy);
    if (port_id && *port_id && d->cls->unplug(d->vs, port_id, err, sizeof err) < 0)
        QLOG_W("dhcp", "network %s: unplugging port %s: %s", net_id, port_id, err);
    const char *del[] = {"ip", "netns", "del", ns, NULL};
    qag_run(del, NULL, 0);
    static const char *const files[] = {"host", "addn_hosts", "opts", "metadata", "pid",
                                        "port", "leases", "dnsmasq.log"};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(files); i++) {
        char *p = xasprintf("%s/%s", dir, files[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
    QLOG_I("dhcp", "network %s: no longer served here", net_id);
    free(pidpath);
    free(dir);
    free(ns);
}

static qag_dnet *qag_find(qag_dhcp *d, const char *id)
{
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->nets[i].id, id))
            return &d->nets[i];
    return NULL;
}

/* Networks a previous run served that the plan no longer has. */
static void qag_sweep(qag_dhcp *d, const qag_plan *plan)
{
    DIR *dir = opendir(d->conf->dhcp_state_path);
    struct dirent *e;
    while (dir && (e = readdir(dir))) {
        if (e->d_name[0] == '.' || qtm_get(plan->sec[QAG_SEC_DHCP_NETS], e->d_name, NULL))
            continue;
        char *pf = xasprintf("%s/%s/port", d->conf->dhcp_state_path, e->d_name);
        char *port = qfile_read(pf, NULL);
        qag_teardown(d, e->d_name, port, 0);
        free(port);
        free(pf);
    }
    if (dir)
        closedir(dir);
}

/* Writes the file if its content differs from what it holds; true if written. */
static bool qag_put_file(qag_dnet *n, int i, const char *text, char *err, size_t errlen,
                         bool *failed)
{
    char *path = xasprintf("%s/%s", n->dir, qag_file_names[i]);
    if (!n->files[i])
        n->files[i] = qfile_read(path, NULL);   /* what a previous run left */
    bool same = n->files[i] && !strcmp(n->files[i], text);
    if (!same) {
        if (qfile_write_atomic(path, text, false) < 0) {
            snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
            *failed = true;
            free(path);
            return false;
        }
        free(n->files[i]);
        n->files[i] = xstrdup(text);
    }
    free(path);
    return !same;
}

/* The namespace's addresses on the DHCP port's interface and its MTU made
 * what the plan says (only when that changed since the last time): 1 if
 * they changed, 0 if not, -1 with err. */
static int qag_addresses(qag_dnet *n, const qag_dnsmasq *m, char *err, size_t errlen)
{
    qbuf want;
    qbuf_init(&want, 0);
    for (size_t i = 0; i < m->naddrs; i++)
        qbuf_printf(&want, "%s ", m->addrs[i]);
    qbuf_printf(&want, "mtu=%ld", m->mtu);
    if (n->addrs && !strcmp(n->addrs, want.data)) {
        qbuf_free(&want);
        return 0;
    }
    const char *show[] = {"ip", "-n", n->ns, "-o", "addr", "show", "dev", n->ifname, NULL};
    qbuf out;
    qbuf_init(&out, 0);
    if (qproc_run(show, NULL, NULL, &out, NULL) != 0) {
        snprintf(err, errlen, "ip -n %s addr show dev %s failed", n->ns, n->ifname);
        qbuf_free(&out);
        qbuf_free(&want);
        return -1;
    }
    /* "2: ns-x    inet 10.0.0.2/24 brd ... scope global ns-x ..." */
    char *save = NULL;
    bool have[64] = {false};
    for (char *line = strtok_r(out.data ? out.data : (char *)"", "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *fam = strstr(line, " inet");
        if (!fam || strstr(line, "scope link"))
            continue;
        char addr[80];
        if (sscanf(fam + (fam[5] == '6' ? 6 : 5), " %79s", addr) != 1)
            continue;
        bool wanted = false;
        for (size_t i = 0; i < m->naddrs; i++)
            if (!strcmp(m->addrs[i], addr)) {
                wanted = true;
                if (i < 64)
                    have[i] = true;
            }
        if (!wanted) {
            const char *del[] = {"ip", "-n", n->ns, "addr", "del", addr, "dev", n->ifname, NULL};
            qag_run(del, NULL, 0);
        }
    }
    qbuf_free(&out);
    int rc = 0;
    for (size_t i = 0; i < m->naddrs && rc == 0; i++) {
        if (i < 64 && have[i])
            continue;
        const char *add[] = {"ip", "-n", n->ns, "addr", "add", m->addrs[i], "dev", n->ifname,
                             strchr(m->addrs[i], ':') ? "nodad" : NULL, NULL};
        rc = qag_run(add, err, errlen);
    }
    if (rc == 0 && m->mtu > 0) {
        char mtu[24];
        snprintf(mtu, sizeof mtu, "%ld", m->mtu);
        const char *set[] = {"ip", "-n", n->ns, "link", "set", "dev", n->ifname, "mtu", mtu, NULL};
        rc = qag_run(set, err, errlen);
    }
    if (rc == 0) {
        free(n->addrs);
        n->addrs = qbuf_steal(&want, NULL);
    }
    qbuf_free(&want);
    return rc < 0 ? -1 : 1;
}

/* dnsmasq running with m's command line, told about changed files. */
static int qag_dnsmasq_ensure(qag_dnet *n, const qag_dnsmasq *m, bool files_changed, char *err,
                              size_t errlen)
{
    char *pidpath = xasprintf("%s/pid", n->dir);
    int pid = qag_pidfile(n->dir);
    char *cmd = NULL;
    size_t cmdlen = 0;
    bool alive = qag_proc_alive(pid, pidpath, &cmd, &cmdlen);
    free(pidpath);
    if (alive) {
        /* The same command line (NUL-separated; argv[0] as exec'd)? */
        bool same = true;
        size_t off = 0;
        for (size_t i = 0; i < m->argc && same; i++) {
            same = off < cmdlen && !strcmp(cmd + off, m->argv[i]);
            if (same)
                off += strlen(cmd + off) + 1;
        }
        same = same && off == cmdlen;
        free(cmd);
        if (same) {
            if (files_changed || n->dnsmasq != pid) {
                if (files_changed)
                    kill(pid, SIGHUP);
                if (n->dnsmasq != pid)
                    QLOG_I("dhcp", "network %s: dnsmasq %d already serves it", n->id, pid);
                n->dnsmasq = pid;
            }
            return 0;
        }
        QLOG_I("dhcp", "network %s: dnsmasq %d restarted for a new command line (subnets, MTU, "
                       "lease time or domain changed)", n->id, pid);
        qag_kill(pid);
    } else if (n->dnsmasq) {
        QLOG_W("dhcp", "network %s: dnsmasq %d is gone: starting it again", n->id, n->dnsmasq);
    }
    n->dnsmasq = 0;
    const char **argv = xcalloc(m->argc + 5, sizeof *argv);
    argv[0] = "ip";
    argv[1] = "netns";
    argv[2] = "exec";
    argv[3] = n->ns;
    for (size_t i = 0; i < m->argc; i++)
        argv[4 + i] = m->argv[i];
    /* dnsmasq daemonizes: its first process exits once it serves (non-zero
     * when it cannot start). */
    int rc = qag_run(argv, err, errlen);
    free(argv);
    if (rc < 0)
        return -1;
    n->dnsmasq = qag_pidfile(n->dir);
    QLOG_I("dhcp", "network %s: dnsmasq %d started in %s", n->id, n->dnsmasq, n->ns);
    return 0;
}

static int qag_sync_net(qag_dhcp *d, qag_dnet *n, const qj *net, const qj *const *hosts,
                        size_t nhosts, char *err, size_t errlen)
{
    const qj *port = qj_get(net, "port");
    const char *pid = qj_get_str(port, "id"), *mac = qj_get_str(port, "mac_address");
    if (!pid || !mac) {
        snprintf(err, errlen, "the plan gives no DHCP port (id, mac_address)");
        return -1;
    }
    if (n->port_id && strcmp(n->port_id, pid)) {
        /* Another DHCP port: the old one's interface goes. */
        char e2[256];
        d->cls->unplug(d->vs, n->port_id, e2, sizeof e2);
        free(n->mac);
        n->mac = NULL;
        free(n->addrs);
        n->addrs = NULL;
    }
    if (!n->port_id || strcmp(n->port_id, pid)) {
        free(n->port_id);
        free(n->ifname);
        n->port_id = xstrdup(pid);
        n->ifname = xasprintf("ns-%.11s", pid);
    }
    if (qag_mkdirs(n->dir, err, errlen) < 0)
        return -1;
    char *pf = xasprintf("%s/port", n->dir);
    char *old = qfile_read(pf, NULL);
    if (!old || strcmp(old, pid))
        qfile_write_atomic(pf, pid, false);
    free(old);
    free(pf);
    char *nspath = xasprintf("/run/netns/%s", n->ns);
    struct stat st;
    bool have_ns = stat(nspath, &st) == 0;
    free(nspath);
    if (!have_ns) {
        /* A new namespace (first time, or someone deleted it): processes
         * left in an old one serve nobody. */
        char *pidpath = xasprintf("%s/pid", n->dir);
        int stale = qag_pidfile(n->dir);
        if (qag_proc_alive(stale, pidpath, NULL, NULL)) {
            QLOG_W("dhcp", "network %s: namespace %s is gone: starting again in a new one",
                   n->id, n->ns);
            qag_kill(stale);
        }
        free(pidpath);
        qag_kill(n->proxy);
        n->proxy = 0;
        n->dnsmasq = 0;
        const char *add[] = {"ip", "netns", "add", n->ns, NULL};
        const char *lo[] = {"ip", "-n", n->ns, "link", "set", "lo", "up", NULL};
        if (qag_run(add, err, errlen) < 0 || qag_run(lo, err, errlen) < 0)
            return -1;
        free(n->mac);
        n->mac = NULL;
        free(n->addrs);
        n->addrs = NULL;
    }
    if (!n->mac || strcmp(n->mac, mac)) {
        if (d->cls->plug(d->vs, pid, mac, n->ns, n->ifname, err, errlen) < 0)
            return -1;
        free(n->mac);
        n->mac = xstrdup(mac);
        free(n->addrs);
        n->addrs = NULL;
    }
    qag_dnsmasq_where w = {.dnsmasq = d->conf->dhcp_dnsmasq, .dir = n->dir, .ifname = n->ifname,
                           .metadata = d->conf->dhcp_isolated_metadata, .debug = d->conf->debug};
    qag_dnsmasq m;
    qag_dnsmasq_render(net, hosts, nhosts, &w, &m);
    int rc = qag_addresses(n, &m, err, errlen);
    /* A new MTU reaches the bridge end too (plug mirrors it). */
    if (rc > 0 && m.mtu > 0 && d->cls->plug(d->vs, pid, mac, n->ns, n->ifname, err, errlen) < 0) {
        free(n->addrs);         /* try again at the next sync */
        n->addrs = NULL;
        rc = -1;
    }
    if (rc > 0)
        rc = 0;
    bool failed = false;
    const char *texts[4] = {m.hosts, m.addn_hosts, m.opts, m.metadata};
    for (int i = 0; rc == 0 && i < 4; i++)
        n->reload |= qag_put_file(n, i, texts[i], err, errlen, &failed);
    if (failed)
        rc = -1;
    /* A reload owed from a sync that failed halfway is still owed. */
    if (rc == 0 && (rc = qag_dnsmasq_ensure(n, &m, n->reload, err, errlen)) == 0)
        n->reload = false;
    /* A proxy where the namespace holds 169.254.169.254 (metadata on, and
     * an IPv4 subnet). */
    bool want_proxy = false;
    for (size_t i = 0; i < m.naddrs; i++)
        want_proxy = want_proxy || !strcmp(m.addrs[i], QAG_METADATA_IP "/32");
    qag_dnsmasq_free(&m);
    if (rc == 0 && want_proxy && !n->proxy) {
        char *map = xasprintf("%s/metadata", n->dir);
        int p = qag_metadata_spawn(d->conf, n->ns, map, err, errlen);
        free(map);
        if (p < 0)
            return -1;
        n->proxy = p;
        QLOG_I("dhcp", "network %s: metadata proxy %d on %s:%lld", n->id, p, QAG_METADATA_IP,
               (long long)d->conf->dhcp_metadata_port);
    }
    return rc;
}

/* Section s of plan as one object (caller frees). */
static qj *qag_dhcp_section(const qag_plan *plan, qag_section s)
{
    qj *o = qj_object();
    const char *key, *text;
    size_t len;
    for (size_t k = 0; k < qtm_end(plan->sec[s]); k++)
        if (qtm_at(plan->sec[s], k, &key, &text, &len)) {
            qj *v = qag_plan_parse(text, len);
            qj_set_new(o, key, v ? v : qj_null());
        }
    return o;
}

/* backend serves: the two sections handed over as they are. */
static void qag_dhcp_hand(qag_dhcp *d, const qag_plan *plan)
{
    qj *nets = qag_dhcp_section(plan, QAG_SEC_DHCP_NETS);
    qj *hosts = qag_dhcp_section(plan, QAG_SEC_DHCP_HOSTS);
    char err[256];
    if (d->cls->serve_dhcp(d->vs, nets, hosts, err, sizeof err) < 0)
        QLOG_W("dhcp", "the %s backend did not take the DHCP plan: %s", d->cls->name, err);
    else
        d->handed = qj_len(nets);
    qj_free(nets);
    qj_free(hosts);
}

void qag_dhcp_sync(qag_dhcp *d, const qag_plan *plan)
{
    if (d->backend_serves) {
        qag_dhcp_hand(d, plan);
        return;
    }
    uint64_t now = qhv_now_us();
    d->need = false;
    if (!d->swept) {
        qag_sweep(d, plan);
        d->swept = true;
    }
    for (size_t i = 0; i < d->n; i++)
        d->nets[i].seen = false;
    /* The hosts of each network, grouped once. */
    const qtm *hs = plan->sec[QAG_SEC_DHCP_HOSTS], *ns = plan->sec[QAG_SEC_DHCP_NETS];
    const char *key, *text;
    size_t len;
    for (size_t i = 0; i < qtm_end(ns); i++) {
        if (!qtm_at(ns, i, &key, &text, &len))
            continue;
        qag_dnet *n = qag_find(d, key);
        if (!n) {
            d->nets = xrealloc(d->nets, (d->n + 1) * sizeof *d->nets);
            n = &d->nets[d->n++];
            memset(n, 0, sizeof *n);
            n->id = xstrdup(key);
            n->ns = xasprintf("%s%s", d->conf->dhcp_namespace_prefix, key);
            n->dir = xasprintf("%s/%s", d->conf->dhcp_state_path, key);
        }
        n->seen = true;
        if (n->retry_us > now)
            continue;
        qj *net = qag_plan_parse(text, len);
        size_t cap = 16, nh = 0, klen = strlen(key);
        qj **hosts = xcalloc(cap, sizeof *hosts);
        const char *hk, *ht;
        size_t hl;
        for (size_t k = 0; k < qtm_end(hs); k++) {
            if (!qtm_at(hs, k, &hk, &ht, &hl) || strncmp(hk, key, klen) || hk[klen] != '/')
                continue;
            if (nh == cap)
                hosts = xrealloc(hosts, (cap *= 2) * sizeof *hosts);
            hosts[nh++] = qag_plan_parse(ht, hl);
        }
        char err[512] = "";
        bool was_ok = n->ok;
        n->ok = qag_sync_net(d, n, net, (const qj *const *)hosts, nh, err, sizeof err) == 0;
        for (size_t k = 0; k < nh; k++)
            qj_free(hosts[k]);
        free(hosts);
        qj_free(net);
        if (n->ok) {
            if (!was_ok)
                QLOG_I("dhcp", "network %s: served (%zu hosts)", key, nh);
            n->failures = 0;
            n->retry_us = 0;
        } else {
            n->failures++;
            uint64_t delay = QAG_DHCP_RETRY_BASE_US << (n->failures < 6 ? n->failures - 1 : 5);
            if (delay > QAG_DHCP_RETRY_CAP_US)
                delay = QAG_DHCP_RETRY_CAP_US;
            n->retry_us = now + delay;
            QLOG_W("dhcp", "network %s: %s; retry in %llu ms", key, err,
                   (unsigned long long)(delay / 1000));
        }
    }
    for (size_t i = 0; i < d->n;) {
        if (d->nets[i].seen) {
            i++;
            continue;
        }
        qag_teardown(d, d->nets[i].id, d->nets[i].port_id, d->nets[i].proxy);
        qag_dnet_free(&d->nets[i]);
        d->nets[i] = d->nets[--d->n];
    }
}

uint64_t qag_dhcp_due(qag_dhcp *d, uint64_t now)
{
    if (d->backend_serves)
        return UINT64_MAX;      /* nothing of ours to watch */
    if (now >= d->check_us) {
        d->check_us = now + QAG_DHCP_CHECK_US;
        for (size_t i = 0; i < d->n; i++) {
            qag_dnet *n = &d->nets[i];
            if (n->proxy && waitpid(n->proxy, NULL, WNOHANG) == n->proxy) {
                QLOG_W("dhcp", "network %s: metadata proxy %d ended: starting it again", n->id,
                       n->proxy);
                n->proxy = 0;
                d->need = true;
            }
            if (n->dnsmasq) {
                char *pidpath = xasprintf("%s/pid", n->dir);
                if (!qag_proc_alive(n->dnsmasq, pidpath, NULL, NULL))
                    d->need = true;
                free(pidpath);
            }
            char *nspath = xasprintf("/run/netns/%s", n->ns);
            struct stat st;
            if (n->ok && stat(nspath, &st) < 0)
                d->need = true;     /* its namespace was deleted */
            free(nspath);
        }
    }
    uint64_t due = d->need ? now : UINT64_MAX;
    for (size_t i = 0; i < d->n; i++)
        if (!d->nets[i].ok && d->nets[i].retry_us < due)
            due = d->nets[i].retry_us;
    return due;
}

size_t qag_dhcp_served(const qag_dhcp *d)
{
    if (d && d->backend_serves)
        return d->handed;
    size_t k = 0;
    for (size_t i = 0; d && i < d->n; i++)
        k += d->nets[i].ok;
    return k;
}

#else
typedef int qag_dhcp_windows_has_no_network_node;
#endif
