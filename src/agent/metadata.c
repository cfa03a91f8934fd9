#include "agent/metadata.h"
#ifndef _WIN32
#include "agent/dhcp_conf.h"
#include "lib/file.h"
#include "lib/httpc.h"
#include "lib/plat.h"
#include "lib/util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define QMD_MAX_HEAD 16384
#define QMD_MAX_BODY (1 << 20)
#define QMD_IO_TIMEOUT_S 10
#define QMD_UPSTREAM_TIMEOUT_MS 20000
#define QMD_MAX_CLIENTS 32          /* requests served at once per network */

void qag_metadata_sign(const char *secret, const char *id, char out[65])
{
    unsigned char mac[32];
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, strlen(secret), id, strlen(id), mac);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* The proxy's state, in the child only. */
typedef struct qmd {
    const qag_conf *conf;
    const char *map_path;
    char *map;              /* the map file's text as last read */
    struct timespec map_mtime;
    off_t map_size;
    qhttpc *http;
} qmd;

static void qmd_reload(qmd *m)
{
    struct stat st;
    if (stat(m->map_path, &st) < 0)
        return;
    if (m->map && st.st_mtim.tv_sec == m->map_mtime.tv_sec &&
        st.st_mtim.tv_nsec == m->map_mtime.tv_nsec && st.st_size == m->map_size)
        return;
    char *t = qfile_read(m->map_path, NULL);
    if (!t)
        return;
    free(m->map);
    m->map = t;
    m->map_mtime = st.st_mtim;
    m->map_size = st.st_size;
}

/* The device_id and project of address ip ("address device project" lines). */
static bool qmd_lookup(qmd *m, const char *ip, char *dev, size_t dn, char *proj, size_t pn)
{
    qmd_reload(m);
    size_t il = strlen(ip);
    for (const char *l = m->map; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t ll = e ? (size_t)(e - l) : strlen(l);
        if (ll > il && !strncmp(l, ip, il) && l[il] == ' ') {
            char line[512];
            snprintf(line, sizeof line, "%.*s", (int)ll, l);
            char a[64], d[200], p[200];
            if (sscanf(line, "%63s %199s %199s", a, d, p) == 3) {
                snprintf(dev, dn, "%s", d);
                snprintf(proj, pn, "%s", p);
                return true;
            }
        }
        l = e ? e + 1 : l + ll;
    }
    return false;
}

static void qmd_write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void qmd_answer(int fd, int status, const char *ctype, const char *body, size_t len,
                       bool head)
{
    const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request"
                       : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed"
                       : status == 413 ? "Request Entity Too Large"
                       : status == 502 ? "Bad Gateway" : "Status";
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
                                      "%zu\r\nConnection: close\r\n\r\n",
                     status, reason, ctype, len);
    qmd_write_all(fd, hdr, (size_t)n);
    if (!head)
        qmd_write_all(fd, body, len);
}

static void qmd_error(int fd, int status, const char *text)
{
    qmd_answer(fd, status, "text/plain", text, strlen(text), false);
}

/* The value of header name in the request head (lines after the first), or NULL. */
static const char *qmd_header(const char *head, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
        const char *s = l + 2;
        if (!strncasecmp(s, name, nl) && s[nl] == ':') {
            s += nl + 1;
            while (*s == ' ' || *s == '\t')
                s++;
            const char *e = strstr(s, "\r\n");
            size_t len = e ? (size_t)(e - s) : strlen(s);
            snprintf(out, n, "%.*s", (int)len, s);
            return out;
        }
    }
    return NULL;
}

static void qmd_serve(qmd *m, int fd, const char *client)
{
    struct timeval tv = {QMD_IO_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    qbuf in;
    qbuf_init(&in, QMD_MAX_HEAD + QMD_MAX_BODY);
    char chunk[4096];
    char *end = NULL;
    while (!end) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r <= 0 || !qbuf_append(&in, chunk, (size_t)r) || !qbuf_putc(&in, '\0')) {
            qbuf_free(&in);
            return;
        }
        in.len--;       /* keep the text NUL-terminated */
        end = strstr(in.data, "\r\n\r\n");
        if (!end && in.len > QMD_MAX_HEAD) {
            qmd_error(fd, 400, "request head too large\n");
            qbuf_free(&in);
            return;
        }
    }
    size_t head_len = (size_t)(end - in.data) + 4;
    char method[16], path[4096], ver[16], v[64];
    if (sscanf(in.data, "%15s %4095s %15s", method, path, ver) != 3 || path[0] != '/') {
        qmd_error(fd, 400, "bad request line\n");
        qbuf_free(&in);
        return;
    }
    bool head = !strcmp(method, "HEAD");
    if (strcmp(method, "GET") && !head && strcmp(method, "POST")) {
        qmd_error(fd, 405, "only GET, HEAD and POST\n");
        qbuf_free(&in);
        return;
    }
    long clen = qmd_header(in.data, "Content-Length", v, sizeof v) ? atol(v) : 0;
    if (clen < 0 || clen > QMD_MAX_BODY) {
        qmd_error(fd, 413, "body too large\n");
        qbuf_free(&in);
        return;
    }
    while (in.len < head_len + (size_t)clen) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r <= 0 || !qbuf_append(&in, chunk, (size_t)r)) {
            qbuf_free(&in);
            return;
        }
    }
    char dev[200], proj[200];
    if (!qmd_lookup(m, client, dev, sizeof dev, proj, sizeof proj)) {
        /* An address that is no instance's port of this network. */
        qmd_error(fd, 404, "404 Not Found\n");
        qbuf_free(&in);
        return;
    }
    const qag_conf *c = m->conf;
    char sig[65];
    qag_metadata_sign(c->metadata_proxy_shared_secret, dev, sig);
    char *url = xasprintf("%s://%s:%lld%s", c->nova_metadata_protocol, c->nova_metadata_host,
                          (long long)c->nova_metadata_port, path);
    char *h_ff = xasprintf("X-Forwarded-For: %s", client);
    char *h_id = xasprintf("X-Instance-ID: %s", dev);
    char *h_t = xasprintf("X-Tenant-ID: %s", proj);
    char *h_sig = xasprintf("X-Instance-ID-Signature: %s", sig);
    char ct[200];
    char *h_ct = qmd_header(in.data, "Content-Type", ct, sizeof ct)
                     ? xasprintf("Content-Type: %s", ct) : NULL;
    const char *headers[] = {h_ff, h_id, h_t, h_sig, h_ct, NULL};
    qhttpc_tls tls = {.insecure = c->nova_metadata_insecure};
    qhttpc_req req = {.method = head ? "GET" : method, .url = url, .headers = headers,
                      .body = clen ? in.data + head_len : NULL, .body_len = (size_t)clen,
                      .timeout_ms = QMD_UPSTREAM_TIMEOUT_MS, .max_body = 16 << 20, .tls = &tls,
                      .capture_header = "Content-Type"};
    qhttpc_resp r;
    int st = qhttpc_request(m->http, &req, &r);
    if (st <= 0)
        qmd_error(fd, 502, "the metadata service cannot be reached\n");
    else
        qmd_answer(fd, st, r.header ? r.header : "text/plain", r.body.data ? r.body.data : "",
                   r.body.len, head);
    qhttpc_resp_free(&r);
    free(url);
    free(h_ff);
    free(h_id);
    free(h_t);
    free(h_sig);
    free(h_ct);
    qbuf_free(&in);
}

/* The listening socket on 169.254.169.254:port inside the namespace at
 * nspath; the process comes back to its own namespace. -1 on failure. */
static int qmd_listen(const char *nspath, int port)
{
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int ns = open(nspath, O_RDONLY | O_CLOEXEC);
    if (self < 0 || ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
        if (self >= 0)
            close(self);
        if (ns >= 0)
            close(ns);
        return -1;
    }
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, QAG_METADATA_IP, &a.sin_addr);
    if (s >= 0) {
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        /* The address may be added after the proxy starts. */
        setsockopt(s, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
        if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) {
            close(s);
            s = -1;
        }
    }
    bool back = setns(self, CLONE_NEWNET) == 0;
    close(self);
    close(ns);
    if (!back) {
        if (s >= 0)
            close(s);
        return -1;
    }
    return s;
}

static void qmd_main(const qag_conf *conf, const char *netns, const char *map_path)
{
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    char *nspath = xasprintf("/run/netns/%s", netns);
    int ls = qmd_listen(nspath, (int)conf->dhcp_metadata_port);
    free(nspath);
    if (ls < 0)
        _exit(1);
    qmd m = {.conf = conf, .map_path = map_path};
    int active = 0;
    for (;;) {
        while (active > 0 && waitpid(-1, NULL, WNOHANG) > 0)
            active--;
        if (active >= QMD_MAX_CLIENTS && waitpid(-1, NULL, 0) > 0)
            active--;   /* at the cap: wait for one to end */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept(ls, (struct sockaddr *)&ss, &sl);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            _exit(1);
        }
        char client[INET6_ADDRSTRLEN] = "";
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, client, sizeof client);
        qmd_reload(&m);     /* children inherit the map as read now */
        pid_t pid = fork();
        if (pid == 0) {
            /* One child per request: a slow client or a slow Nova holds
             * only its own. */
            close(ls);
            m.http = qhttpc_new();
            qmd_serve(&m, fd, client);
            close(fd);
            _exit(0);
        }
        if (pid > 0)
            active++;
        else {
            if (!m.http)
                m.http = qhttpc_new();
            qmd_serve(&m, fd, client);      /* no fork: serve it here */
        }
        close(fd);
    }
}

int qag_metadata_spawn(const qag_conf *conf, const char *netns, const char *map_path, char *err,
                       size_t errlen)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0)
        return (int)pid;
    /* The child: it ends with the agent. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(0);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);      /* the agent's connections are not the proxy's */
    qmd_main(conf, netns, map_path);
    _exit(0);
}

#else
typedef int qag_metadata_windows_has_no_proxy;
#endif
