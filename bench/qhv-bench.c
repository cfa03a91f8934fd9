/* qhv-bench: port-create, list and show throughput and latency of qhv-server,
 * with the server's memory and CPU per port.
 *
 *   qhv-bench --server PATH [--ports N] [--concurrency C] [--list-ports M] [--gets G] [--keep]
 *             [--synchronous NORMAL|FULL]
 *   qhv-bench --url http://127.0.0.1:PORT [...]
 *
 * With --server it starts its own qhv-server (temporary directory, SQLite
 * database, free port), measures it and stops it; with --url it measures a
 * running server (then the server's memory and CPU are not shown).
 *
 * The HTTP client is a minimal HTTP/1.1 one over a TCP socket: one persistent
 * (keep-alive) connection per client thread, a request in one write, a
 * response framed by Content-Length; "Connection: close" makes the next
 * request reconnect. It is a benchmark, not a test: it exits 0 whatever the
 * figures, 1 if the server cannot be started or requests fail, 2 on bad usage.
 * docs/benchmarks.md explains the figures. */
#include "lib/buf.h"
#include "lib/json.h"
#include "lib/util.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Targets from the issue (docs/benchmarks.md). */
#define TARGET_CREATES_PER_S 1000.0
#define TARGET_CREATE_P99_MS 50.0
#define TARGET_LIST_MS 200.0
#define TARGET_LIST_PORTS 10000
#define TARGET_BYTES_PER_PORT 4096.0

#define LIST_REPEAT 5
#define IO_TIMEOUT_S 120

static volatile sig_atomic_t g_stop;
/* "Name: value" sent with every request (--token-header), or NULL. */
static const char *g_token_header;
/* [database] sqlite_synchronous of the server started with --server, or NULL
 * for the server's default (bench/synchronous.sh compares the two). */
static const char *g_synchronous;

static void on_signal(int sig) { g_stop = sig; }

/* ------------------------------------------------------------------------ */
/* Minimal HTTP/1.1 client                                                    */

typedef struct hconn {
    struct sockaddr_in addr;
    int fd;                 /* -1 when not connected */
    bool reused;            /* a response was already read on fd */
    char *buf;              /* received bytes; buf[0..consumed) is the last response */
    size_t len, cap, consumed;
    qbuf req;
    unsigned connects;
} hconn;

typedef struct hresp {
    int status;
    const char *body;       /* into the connection's buffer, valid until the next request */
    size_t body_len;
} hresp;

/* printf arguments for "%.*s": the start of a response body (not NUL-terminated). */
#define BODY_HEAD(r) (int)((r)->body_len > 300 ? 300 : (r)->body_len), (r)->body

static void hconn_init(hconn *c, const struct sockaddr_in *addr)
{
    memset(c, 0, sizeof *c);
    c->addr = *addr;
    c->fd = -1;
    qbuf_init(&c->req, 0);
}

static void hconn_close(hconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->reused = false;
}

static void hconn_free(hconn *c)
{
    hconn_close(c);
    free(c->buf);
    c->buf = NULL;
    qbuf_free(&c->req);
}

static int hconn_connect(hconn *c, char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (const struct sockaddr *)&c->addr, sizeof c->addr) < 0) {
        snprintf(err, errlen, "connect to 127.0.0.1:%u: %s", ntohs(c->addr.sin_port),
                 strerror(errno));
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->reused = false;
    c->connects++;
    return 0;
}

static void hconn_reserve(hconn *c, size_t need)
{
    if (need <= c->cap)
        return;
    size_t cap = c->cap ? c->cap : 16384;
    while (cap < need)
        cap *= 2;
    c->buf = xrealloc(c->buf, cap);
    c->cap = cap;
}

/* Reads more bytes into the buffer: >0 bytes read, 0 on EOF, -1 on error. */
static ssize_t hconn_fill(hconn *c, size_t want)
{
    hconn_reserve(c, c->len + (want > 4096 ? want : 4096));
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR && !g_stop)
            continue;
        if (n > 0)
            c->len += (size_t)n;
        return n;
    }
}

static bool header_is(const char *line, size_t len, const char *name, const char **value,
                      size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n))
        return false;
    const char *v = line + n + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *value = v;
    *vlen = (size_t)(end - v);
    return true;
}

static bool token_in(const char *v, size_t vlen, const char *tok)
{
    size_t n = strlen(tok);
    for (size_t i = 0; i + n <= vlen; i++)
        if (!strncasecmp(v + i, tok, n) && (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
            (i + n == vlen || v[i + n] == ',' || v[i + n] == ' '))
            return true;
    return false;
}

/* Reads one response. *got is set once any byte of it arrived (so that a
 * failure before that, on a reused connection, can be retried). */
static int hconn_read_response(hconn *c, bool head, hresp *r, bool *close_after, bool *got,
                               char *err, size_t errlen)
{
    size_t hdr_end = 0, scan = 0;
    for (;;) {
        if (c->len >= 4) {
            for (size_t i = scan; i + 4 <= c->len; i++)
                if (!memcmp(c->buf + i, "\r\n\r\n", 4)) {
                    hdr_end = i + 4;
                    break;
                }
            if (hdr_end)
                break;
            scan = c->len - 3;
        }
        if (c->len > 65536) {
            snprintf(err, errlen, "response headers larger than 64 KiB");
            return -1;
        }
        ssize_t n = hconn_fill(c, 0);
        if (n <= 0) {
            snprintf(err, errlen, "%s", n == 0 ? "connection closed by the server"
                                               : strerror(errno));
            return -1;
        }
        *got = true;
    }
    *got = true;
    const char *p = c->buf, *end = c->buf + hdr_end - 2;
    if (hdr_end < 14 || strncmp(p, "HTTP/1.", 7) || p[8] != ' ' || p[9] < '1' || p[9] > '5' ||
        p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9') {
        snprintf(err, errlen, "bad status line '%.40s'", p);
        return -1;
    }
    r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    bool http10 = p[7] == '0';
    bool have_len = false, chunked = false, conn_close = http10, keep_alive = false;
    uint64_t clen = 0;
    const char *line = memchr(p, '\n', (size_t)(end - p));
    line = line ? line + 1 : end;
    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line + 1));
        if (!eol)
            eol = end;
        size_t ll = (size_t)(eol - line);
        if (ll && line[ll - 1] == '\r')
            ll--;
        const char *v;
        size_t vl;
        if (header_is(line, ll, "Content-Length", &v, &vl)) {
            char tmp[24];
            int64_t x;
            if (vl == 0 || vl >= sizeof tmp) {
                snprintf(err, errlen, "bad Content-Length");
                return -1;
            }
            memcpy(tmp, v, vl);
            tmp[vl] = '\0';
            if (qhv_parse_i64(tmp, 0, INT64_MAX, &x) < 0) {
                snprintf(err, errlen, "bad Content-Length '%s'", tmp);
                return -1;
            }
            clen = (uint64_t)x;
            have_len = true;
        } else if (header_is(line, ll, "Connection", &v, &vl)) {
            if (token_in(v, vl, "close"))
                conn_close = true;
            if (token_in(v, vl, "keep-alive"))
                keep_alive = true;
        } else if (header_is(line, ll, "Transfer-Encoding", &v, &vl)) {
            chunked = !token_in(v, vl, "identity");
        }
        line = eol + 1;
    }
    if (http10 && keep_alive)
        conn_close = false;
    if (r->status >= 100 && r->status < 200) {
        /* Interim response (we never send Expect, but be tolerant): drop it. */
        memmove(c->buf, c->buf + hdr_end, c->len - hdr_end);
        c->len -= hdr_end;
        return hconn_read_response(c, head, r, close_after, got, err, errlen);
    }
    if (head || r->status == 204 || r->status == 304) {
        clen = 0;
    } else if (chunked) {
        snprintf(err, errlen, "chunked responses are not supported by qhv-bench");
        return -1;
    } else if (!have_len) {
        /* Body delimited by the end of the connection. */
        for (;;) {
            ssize_t n = hconn_fill(c, 1 << 20);
            if (n == 0)
                break;
            if (n < 0) {
                snprintf(err, errlen, "reading body: %s", strerror(errno));
                return -1;
            }
        }
        clen = c->len - hdr_end;
        conn_close = true;
    }
    hconn_reserve(c, hdr_end + clen + 1);
    while (c->len < hdr_end + clen) {
        ssize_t n = hconn_fill(c, hdr_end + clen - c->len);
        if (n <= 0) {
            snprintf(err, errlen, "reading body (%zu of %llu bytes): %s", c->len - hdr_end,
                     (unsigned long long)clen, n == 0 ? "connection closed" : strerror(errno));
            return -1;
        }
    }
    r->body = c->buf + hdr_end;
    r->body_len = (size_t)clen;
    c->consumed = hdr_end + (size_t)clen;
    *close_after = conn_close;
    return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR && !g_stop)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One request and its response. Returns 0 when a response arrived (any
 * status), -1 on a transport or framing error (err says which). */
static int http_do(hconn *c, const char *method, const char *path, const char *body,
                   size_t body_len, hresp *r, char *err, size_t errlen)
{
    /* Drop the previous response. */
    if (c->consumed) {
        memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
        c->len -= c->consumed;
        c->consumed = 0;
    }
    qbuf_reset(&c->req);
    qbuf_printf(&c->req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUser-Agent: qhv-bench\r\n"
                         "Accept: application/json\r\n",
                method, path, ntohs(c->addr.sin_port));
    if (body)
        qbuf_printf(&c->req, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                    body_len);
    if (g_token_header)
        qbuf_printf(&c->req, "%s\r\n", g_token_header);
    qbuf_puts(&c->req, "\r\n");
    if (body)
        qbuf_append(&c->req, body, body_len);
    for (int attempt = 0;; attempt++) {
        if (g_stop) {
            snprintf(err, errlen, "interrupted");
            return -1;
        }
        if (c->fd < 0) {
            c->len = 0;
            if (hconn_connect(c, err, errlen) < 0)
                return -1;
        }
        bool retryable = c->reused && attempt == 0;
        bool got = false, close_after = false;
        if (send_all(c->fd, c->req.data, c->req.len) < 0) {
            snprintf(err, errlen, "send: %s", strerror(errno));
            hconn_close(c);
            if (retryable)
                continue;
            return -1;
        }
        if (hconn_read_response(c, !strcmp(method, "HEAD"), r, &close_after, &got, err,
                                errlen) < 0) {
            hconn_close(c);
            /* A keep-alive connection the server closed while idle: retry
             * once on a new one (nothing of the response arrived). */
            if (retryable && !got)
                continue;
            return -1;
        }
        c->reused = true;
        if (close_after) {
            /* The body stays in c->buf; the next request reconnects. */
            close(c->fd);
            c->fd = -1;
        }
        return 0;
    }
}

/* ------------------------------------------------------------------------ */
/* Statistics                                                                 */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v, in ms. */
static double pct_ms(const uint64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1000.0;
}

typedef struct lat_stats {
    size_t n;
    double p50, p90, p99, max;
} lat_stats;

static lat_stats stats_of(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    lat_stats s = {n, pct_ms(v, n, 50), pct_ms(v, n, 90), pct_ms(v, n, 99),
                   n ? (double)v[n - 1] / 1000.0 : 0};
    return s;
}

/* ------------------------------------------------------------------------ */
/* Server process                                                             */

typedef struct server {
    pid_t pid;              /* 0 with --url */
    char dir[256];
    char log[300];
    bool keep;
} server;

static long long proc_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long kib = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) {
            kib = strtoll(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

/* utime + stime of pid, in ms; -1 if unknown. */
static double proc_cpu_ms(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *p = strrchr(text, ')');
    if (!p)
        return -1;
    p++;
    /* After ")": field 3 (state) onwards; utime and stime are fields 14, 15. */
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return -1;
        char *next;
        unsigned long long v = strtoull(p, &next, 10);
        if (field == 14)
            utime = v;
        else if (field == 15)
            stime = v;
        p = next;
        while (*p && *p != ' ')
            p++;
    }
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(utime + stime) * 1000.0 / (double)(hz > 0 ? hz : 100);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void print_log_tail(const server *s)
{
    FILE *f = fopen(s->log, "r");
    if (!f)
        return;
    static char tail[4096];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)sizeof tail - 1 ? size - (long)sizeof tail + 1 : 0, SEEK_SET);
    size_t n = fread(tail, 1, sizeof tail - 1, f);
    tail[n] = '\0';
    fclose(f);
    fprintf(stderr, "---- end of %s ----\n%s---- ----\n", s->log, tail);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[600];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static int server_start(server *s, const char *exe, struct sockaddr_in *addr)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/qhv-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir)) {
        fprintf(stderr, "qhv-bench: mkdtemp %s: %s\n", s->dir, strerror(errno));
        return -1;
    }
    int port = free_port();
    if (port <= 0) {
        fprintf(stderr, "qhv-bench: no free port: %s\n", strerror(errno));
        return -1;
    }
    char conf[300];
    snprintf(conf, sizeof conf, "%s/qhv.conf", s->dir);
    snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
    FILE *f = fopen(conf, "w");
    if (!f) {
        fprintf(stderr, "qhv-bench: %s: %s\n", conf, strerror(errno));
        return -1;
    }
    /* quota_port = -1: the default quota (500 per project) would stop the
     * top-up long before 10,000 ports. */
    fprintf(f,
            "# written by qhv-bench\n"
            "[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = %d\napi_workers = 8\n\n"
            "[database]\nconnection = sqlite:///%s/qhv.sqlite\n%s%s%s\n"
            "[ml2]\ntenant_network_types = vlan,nvgre\n\n"
            "[ml2_type_vlan]\nnetwork_vlan_ranges = physnet1:100:2999\n\n"
            "[quotas]\nquota_port = -1\n",
            port, s->dir, g_synchronous ? "sqlite_synchronous = " : "",
            g_synchronous ? g_synchronous : "", g_synchronous ? "\n" : "");
    if (fclose(f) != 0) {
        fprintf(stderr, "qhv-bench: writing %s failed\n", conf);
        return -1;
    }
    int logfd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (logfd < 0) {
        fprintf(stderr, "qhv-bench: %s: %s\n", s->log, strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "qhv-bench: fork: %s\n", strerror(errno));
        close(logfd);
        return -1;
    }
    if (pid == 0) {
        /* The server goes when the bench goes, even if the bench crashes. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        dup2(logfd, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, STDIN_FILENO);
        char *const argv[] = {(char *)exe, (char *)"--config-file", conf, NULL};
        execv(exe, argv);
        dprintf(STDERR_FILENO, "qhv-bench: exec %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    close(logfd);
    s->pid = pid;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr->sin_port = htons((uint16_t)port);
    /* Wait until it accepts connections (or dies). */
    uint64_t deadline = qhv_now_us() + 20 * 1000000ull;
    while (!g_stop) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            fprintf(stderr, "qhv-bench: %s exited at start (%s %d)\n", exe,
                    WIFEXITED(st) ? "status" : "signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            print_log_tail(s);
            return -1;
        }
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)addr, sizeof *addr) == 0) {
            close(fd);
            return 0;
        }
        if (fd >= 0)
            close(fd);
        if (qhv_now_us() > deadline) {
            fprintf(stderr, "qhv-bench: %s does not accept connections on port %d after 20 s\n",
                    exe, port);
            print_log_tail(s);
            return -1;
        }
        usleep(20000);
    }
    return -1;
}

/* Stops the server; false if it did not exit cleanly. */
static bool server_stop(server *s)
{
    bool clean = true;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int st = 0;
        uint64_t deadline = qhv_now_us() + 10 * 1000000ull;
        pid_t w;
        while ((w = waitpid(s->pid, &st, WNOHANG)) == 0 && qhv_now_us() < deadline)
            usleep(10000);
        if (w == 0) {
            fprintf(stderr, "qhv-bench: server did not stop within 10 s of SIGTERM; killing it\n");
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
            clean = false;
        } else if (w == s->pid && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
            fprintf(stderr, "qhv-bench: server stopped with %s %d\n",
                    WIFEXITED(st) ? "status" : "signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            print_log_tail(s);
            clean = false;
        }
        s->pid = 0;
    }
    if (*s->dir) {
        if (s->keep)
            printf("kept %s (configuration, database, server.log)\n", s->dir);
        else
            remove_dir(s->dir);
    }
    return clean;
}

/* ------------------------------------------------------------------------ */
/* Benchmark phases                                                           */

typedef char uuid_str[37];

typedef struct bench {
    struct sockaddr_in addr;
    pid_t pid;              /* server pid, 0 with --url */
    char network_id[37];
    uuid_str *ids;          /* port ids by creation index; "" if that create failed */
    size_t nids;
    uuid_str *ok_ids;       /* ids of created ports, for the GET phase */
    size_t n_ok;
} bench;

typedef enum { JOB_CREATE, JOB_SHOW } job_kind;

typedef struct worker {
    pthread_t th;
    bench *b;
    job_kind kind;
    size_t first, count;    /* JOB_CREATE: creation indexes [first, first+count) */
    uint64_t seed;          /* JOB_SHOW */
    pthread_barrier_t *start;
    hconn conn;
    uint64_t *lat;
    size_t nlat;
    size_t done;            /* jobs attempted */
    size_t fail;
    char first_err[320];
} worker;

static void worker_fail(worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void worker_fail(worker *w, const char *fmt, ...)
{
    if (w->fail++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->first_err, sizeof w->first_err, fmt, ap);
        va_end(ap);
    }
}

/* The "id" of {"<key>":{"id":...}} into out. */
static bool response_id(const hresp *r, const char *key, char out[37])
{
    qj *j = qj_parse(r->body, r->body_len, NULL, NULL);
    const char *id = qj_get_str(qj_get(j, key), "id");
    bool ok = id && qhv_is_uuid(id);
    if (ok)
        snprintf(out, 37, "%s", id);
    qj_free(j);
    return ok;
}

static void create_one(worker *w, size_t i, qbuf *body)
{
    bench *b = w->b;
    char err[256];
    hresp r;
    qbuf_reset(body);
    qbuf_printf(body, "{\"port\":{\"network_id\":\"%s\",\"name\":\"b-%zu\"}}", b->network_id, i);
    uint64_t t0 = qhv_now_us();
    int rc = http_do(&w->conn, "POST", "/v2.0/ports", body->data, body->len, &r, err, sizeof err);
    uint64_t t1 = qhv_now_us();
    b->ids[i][0] = '\0';
    if (rc < 0) {
        worker_fail(w, "POST /v2.0/ports (b-%zu): %s", i, err);
        return;
    }
    w->lat[w->nlat++] = t1 - t0;
    if (r.status != 201) {
        worker_fail(w, "POST /v2.0/ports (b-%zu): HTTP %d: %.*s", i, r.status, BODY_HEAD(&r));
        return;
    }
    if (!response_id(&r, "port", b->ids[i]))
        worker_fail(w, "POST /v2.0/ports (b-%zu): 201 without a port id", i);
}

static void show_one(worker *w, const char *id)
{
    char path[80], err[256];
    hresp r;
    snprintf(path, sizeof path, "/v2.0/ports/%s", id);
    uint64_t t0 = qhv_now_us();
    int rc = http_do(&w->conn, "GET", path, NULL, 0, &r, err, sizeof err);
    uint64_t t1 = qhv_now_us();
    if (rc < 0) {
        worker_fail(w, "GET %s: %s", path, err);
        return;
    }
    w->lat[w->nlat++] = t1 - t0;
    if (r.status != 200)
        worker_fail(w, "GET %s: HTTP %d: %.*s", path, r.status, BODY_HEAD(&r));
    else if (!memmem(r.body, r.body_len, id, 36))
        worker_fail(w, "GET %s: 200 without the port's id", path);
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    char err[256];
    /* Connect before the clock starts; a failure shows on the first request. */
    if (hconn_connect(&w->conn, err, sizeof err) < 0)
        w->conn.fd = -1;
    pthread_barrier_wait(w->start);
    qbuf body;
    qbuf_init(&body, 0);
    for (size_t k = 0; k < w->count && !g_stop; k++, w->done++) {
        if (w->kind == JOB_CREATE)
            create_one(w, w->first + k, &body);
        else
            show_one(w, w->b->ok_ids[xorshift(&w->seed) % w->b->n_ok]);
    }
    qbuf_free(&body);
    return NULL;
}

typedef struct phase_result {
    const char *name;
    unsigned clients;
    size_t requests, fail;
    double secs;
    lat_stats lat;
    double srv_cpu_ms;      /* server CPU during the phase; < 0 unknown */
    unsigned connects;
} phase_result;

/* Runs count jobs over `clients` threads, each with its own connection. */
static phase_result run_phase(bench *b, const char *name, job_kind kind, size_t first,
                              size_t count, unsigned clients)
{
    phase_result res = {.name = name, .clients = clients, .requests = count};
    if (clients > count)
        clients = (unsigned)(count ? count : 1);
    res.clients = clients;
    worker *w = xcalloc(clients, sizeof *w);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, clients + 1);
    uint64_t seed = qhv_now_us() | 1;
    for (unsigned t = 0; t < clients; t++) {
        size_t share = count / clients + (t < count % clients);
        w[t].b = b;
        w[t].kind = kind;
        w[t].first = first;
        w[t].count = share;
        w[t].seed = (seed + 0x9e3779b97f4a7c15ull * (t + 1)) | 1;
        w[t].start = &bar;
        w[t].lat = xcalloc(share ? share : 1, sizeof *w[t].lat);
        hconn_init(&w[t].conn, &b->addr);
        first += share;
        if (pthread_create(&w[t].th, NULL, worker_main, &w[t]) != 0) {
            fprintf(stderr, "qhv-bench: pthread_create failed\n");
            exit(1);
        }
    }
    pthread_barrier_wait(&bar);
    double cpu0 = b->pid ? proc_cpu_ms(b->pid) : -1;
    uint64_t t0 = qhv_now_us();
    for (unsigned t = 0; t < clients; t++)
        pthread_join(w[t].th, NULL);
    uint64_t t1 = qhv_now_us();
    double cpu1 = b->pid ? proc_cpu_ms(b->pid) : -1;
    res.secs = (double)(t1 - t0) / 1e6;
    res.srv_cpu_ms = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
    size_t nlat = 0, attempted = 0;
    for (unsigned t = 0; t < clients; t++)
        nlat += w[t].nlat;
    uint64_t *all = xcalloc(nlat ? nlat : 1, sizeof *all);
    nlat = 0;
    bool shown = false;
    for (unsigned t = 0; t < clients; t++) {
        memcpy(all + nlat, w[t].lat, w[t].nlat * sizeof *all);
        nlat += w[t].nlat;
        attempted += w[t].done;
        res.fail += w[t].fail;
        res.connects += w[t].conn.connects;
        if (w[t].fail && !shown) {
            fprintf(stderr, "qhv-bench: %s: %zu failure(s) in client %u; first: %s\n", name,
                    w[t].fail, t, w[t].first_err);
            shown = true;
        }
        free(w[t].lat);
        hconn_free(&w[t].conn);
    }
    /* Jobs never attempted (interrupted) count as failed. */
    res.fail += count - attempted;
    res.lat = stats_of(all, nlat);
    free(all);
    pthread_barrier_destroy(&bar);
    free(w);
    return res;
}

/* Successful requests per second. */
static double phase_rate(const phase_result *p)
{
    return p->secs > 0 ? (double)(p->requests - p->fail) / p->secs : 0;
}

static void print_phase_header(void)
{
    printf("  %-28s %6s %5s %7s %8s %7s %7s %7s %7s %11s\n", "phase", "reqs", "fail", "secs",
           "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "srv CPU/req");
}

static void print_phase(const phase_result *p)
{
    char cpu[32] = "-";
    if (p->srv_cpu_ms >= 0 && p->lat.n)
        snprintf(cpu, sizeof cpu, "%.3f ms", p->srv_cpu_ms / (double)p->lat.n);
    printf("  %-28s %6zu %5zu %7.2f %8.0f %7.2f %7.2f %7.2f %7.2f %11s\n", p->name, p->requests,
           p->fail, p->secs, phase_rate(p), p->lat.p50, p->lat.p90, p->lat.p99, p->lat.max, cpu);
    fflush(stdout);
}

/* A POST of the setup (network, subnet) that must return 201 and an id. */
static int setup_post(hconn *c, const char *path, const char *key, const char *body,
                       char id[37])
{
    char err[256] = "";
    hresp r = {0};
    if (http_do(c, "POST", path, body, strlen(body), &r, err, sizeof err) < 0 || r.status != 201 ||
        !response_id(&r, key, id)) {
        if (*err)
            fprintf(stderr, "qhv-bench: POST %s: %s\n", path, err);
        else
            fprintf(stderr, "qhv-bench: POST %s: HTTP %d: %.*s\n", path, r.status,
                    BODY_HEAD(&r));
        return -1;
    }
    return 0;
}

typedef struct list_result {
    double ms[LIST_REPEAT];
    double median_ms;
    size_t bytes;
    size_t count;           /* ports in the last response */
    bool paginated;
    double srv_cpu_ms;
    size_t fail;
} list_result;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Number of ports in a GET /v2.0/ports response, or -1. */
static long count_ports(const hresp *r, bool *paginated)
{
    qj_limits lim = {.max_depth = 64};
    qj *j = qj_parse(r->body, r->body_len, &lim, NULL);
    qj *ports = qj_get(j, "ports");
    long n = qj_is(ports, QJ_ARRAY) ? (long)qj_len(ports) : -1;
    *paginated = qj_get(j, "ports_links") != NULL;
    qj_free(j);
    return n;
}

static list_result run_list(bench *b, hconn *c)
{
    list_result res = {0};
    char err[256];
    double cpu0 = b->pid ? proc_cpu_ms(b->pid) : -1;
    for (int k = 0; k < LIST_REPEAT && !g_stop; k++) {
        hresp r;
        uint64_t t0 = qhv_now_us();
        int rc = http_do(c, "GET", "/v2.0/ports", NULL, 0, &r, err, sizeof err);
        uint64_t t1 = qhv_now_us();
        res.ms[k] = (double)(t1 - t0) / 1000.0;
        if (rc < 0 || r.status != 200) {
            if (rc < 0)
                fprintf(stderr, "qhv-bench: GET /v2.0/ports: %s\n", err);
            else
                fprintf(stderr, "qhv-bench: GET /v2.0/ports: HTTP %d: %.*s\n", r.status,
                        BODY_HEAD(&r));
            res.fail++;
            continue;
        }
        res.bytes = r.body_len;
        long n = count_ports(&r, &res.paginated);
        if (n < 0) {
            fprintf(stderr, "qhv-bench: GET /v2.0/ports: the response has no \"ports\" array\n");
            res.fail++;
        } else {
            res.count = (size_t)n;
        }
    }
    double cpu1 = b->pid ? proc_cpu_ms(b->pid) : -1;
    res.srv_cpu_ms = cpu0 >= 0 && cpu1 >= 0 ? (cpu1 - cpu0) / LIST_REPEAT : -1;
    double sorted[LIST_REPEAT];
    memcpy(sorted, res.ms, sizeof sorted);
    qsort(sorted, LIST_REPEAT, sizeof *sorted, cmp_double);
    res.median_ms = sorted[LIST_REPEAT / 2];
    return res;
}

/* ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qhv-bench (--server PATH_TO_qhv-server | --url http://127.0.0.1:PORT)\n"
            "                 [--ports N] [--concurrency C] [--list-ports M] [--gets G] [--keep]\n"
            "                 [--token-header 'X-Auth-Token: TOKEN']\n"
            "                 [--synchronous NORMAL|FULL]\n\n"
            "  --server PATH      start PATH (qhv-server) on a free port with a temporary\n"
            "                     SQLite database, measure it, stop it\n"
            "  --url URL          measure a running server instead (no memory/CPU figures;\n"
            "                     its port quota must allow M ports: [quotas] quota_port = -1)\n"
            "  --ports N          ports created per create phase (default 2000)\n"
            "  --concurrency C    client threads/connections in the concurrent phases (default 16)\n"
            "  --list-ports M     top up to M ports before timing GET /v2.0/ports (default 10000)\n"
            "  --gets G           GET /v2.0/ports/{id} of G random ports (default 2000)\n"
            "  --keep             keep the temporary directory (database, server.log)\n"
            "  --synchronous S    with --server: [database] sqlite_synchronous = S (NORMAL or\n"
            "                     FULL; the database is in $TMPDIR, so put TMPDIR on the disk\n"
            "                     to measure)\n"
            "  --token-header H   send header H (\"Name: value\") with every request, e.g. a\n"
            "                     Keystone token for a server with auth_strategy = keystone\n"
            "                     (with --url; the token's project needs quota for M ports)\n");
}

static int parse_count(const char *opt, const char *v, int64_t min, int64_t max, int64_t *out)
{
    if (!v || qhv_parse_i64(v, min, max, out) < 0) {
        fprintf(stderr, "qhv-bench: %s needs a number in [%lld, %lld]\n", opt, (long long)min,
                (long long)max);
        return -1;
    }
    return 0;
}

static int parse_url(const char *url, struct sockaddr_in *addr)
{
    const char *p = url;
    if (strncmp(p, "http://", 7))
        return -1;
    p += 7;
    const char *colon = strchr(p, ':');
    if (!colon || colon - p >= 64)
        return -1;
    char host[64], port[16];
    snprintf(host, sizeof host, "%.*s", (int)(colon - p), p);
    const char *end = colon + 1;
    while (*end >= '0' && *end <= '9')
        end++;
    if (end == colon + 1 || end - colon - 1 >= (long)sizeof port || (*end && strcmp(end, "/")))
        return -1;
    snprintf(port, sizeof port, "%.*s", (int)(end - colon - 1), colon + 1);
    int64_t pn;
    if (qhv_parse_i64(port, 1, 65535, &pn) < 0)
        return -1;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)pn);
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    return inet_pton(AF_INET, host, &addr->sin_addr) == 1 ? 0 : -1;
}

static const char *verdict(bool ok) { return ok ? "ok" : "MISSED"; }

int main(int argc, char **argv)
{
    const char *server_exe = NULL, *url = NULL;
    int64_t nports = 2000, conc = 16, list_ports = 10000, ngets = 2000;
    bool keep = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--server") && v) {
            server_exe = v;
            i++;
        } else if (!strcmp(a, "--url") && v) {
            url = v;
            i++;
        } else if (!strcmp(a, "--ports")) {
            if (parse_count(a, v, 1, 10000000, &nports) < 0)
                return 2;
            i++;
        } else if (!strcmp(a, "--concurrency")) {
            if (parse_count(a, v, 1, 1000, &conc) < 0)
                return 2;
            i++;
        } else if (!strcmp(a, "--list-ports")) {
            if (parse_count(a, v, 0, 10000000, &list_ports) < 0)
                return 2;
            i++;
        } else if (!strcmp(a, "--gets")) {
            if (parse_count(a, v, 0, 100000000, &ngets) < 0)
                return 2;
            i++;
        } else if (!strcmp(a, "--keep")) {
            keep = true;
        } else if (!strcmp(a, "--synchronous") && v) {
            if (strcasecmp(v, "NORMAL") && strcasecmp(v, "FULL")) {
                fprintf(stderr, "qhv-bench: --synchronous is NORMAL or FULL, not '%s'\n", v);
                return 2;
            }
            g_synchronous = v;
            i++;
        } else if (!strcmp(a, "--token-header") && v) {
            const char *colon = strchr(v, ':');
            if (!colon || colon == v || strpbrk(v, "\r\n")) {
                fprintf(stderr, "qhv-bench: --token-header needs \"Name: value\" on one line\n");
                return 2;
            }
            g_token_header = v;
            i++;
        } else {
            fprintf(stderr, "qhv-bench: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!server_exe == !url) {
        fprintf(stderr, "qhv-bench: give exactly one of --server PATH or --url URL\n");
        usage(stderr);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    bench b;
    memset(&b, 0, sizeof b);
    server srv;
    memset(&srv, 0, sizeof srv);
    srv.keep = keep;
    if (server_exe) {
        if (server_start(&srv, server_exe, &b.addr) < 0) {
            server_stop(&srv);
            return 1;
        }
        b.pid = srv.pid;
    } else if (parse_url(url, &b.addr) < 0) {
        fprintf(stderr, "qhv-bench: --url wants http://IPv4-or-localhost:PORT, not '%s'\n", url);
        return 2;
    }
    char addrtxt[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &b.addr.sin_addr, addrtxt, sizeof addrtxt);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (b.pid)
        printf("qhv-bench: %s (pid %d) on http://%s:%u, database %s/qhv.sqlite, "
               "synchronous %s\n", server_exe, (int)b.pid, addrtxt, ntohs(b.addr.sin_port),
               srv.dir, g_synchronous ? g_synchronous : "(the server's default)");
    else
        printf("qhv-bench: server at http://%s:%u (not started by qhv-bench: no memory/CPU "
               "figures)\n", addrtxt, ntohs(b.addr.sin_port));
    printf("qhv-bench: %ld CPUs online (shared by the server and the %lld client threads); "
           "N=%lld ports per phase, C=%lld, M=%lld, G=%lld\n",
           ncpu, (long long)conc, (long long)nports, (long long)conc, (long long)list_ports,
           (long long)ngets);

    /* 2. Network and a /16 subnet. */
    hconn c;
    hconn_init(&c, &b.addr);
    char subnet_id[37];
    qbuf body;
    qbuf_init(&body, 0);
    int setup_rc = setup_post(&c, "/v2.0/networks", "network",
                              "{\"network\":{\"name\":\"bench\"}}", b.network_id);
    if (setup_rc == 0) {
        qbuf_printf(&body, "{\"subnet\":{\"network_id\":\"%s\",\"ip_version\":4,"
                           "\"cidr\":\"10.128.0.0/16\",\"name\":\"bench\"}}", b.network_id);
        setup_rc = setup_post(&c, "/v2.0/subnets", "subnet", body.data, subnet_id);
    }
    qbuf_free(&body);
    if (setup_rc < 0) {
        hconn_free(&c);
        server_stop(&srv);
        return 1;
    }
    printf("setup: network %s, subnet 10.128.0.0/16 %s\n", b.network_id, subnet_id);

    /* Ports that already exist (a running server may have some). */
    size_t baseline = 0;
    {
        char err[256] = "unexpected status";
        hresp r = {0};
        bool pag;
        if (http_do(&c, "GET", "/v2.0/ports", NULL, 0, &r, err, sizeof err) < 0 ||
            r.status != 200) {
            fprintf(stderr, "qhv-bench: GET /v2.0/ports: %s (HTTP %d)\n", err, r.status);
            server_stop(&srv);
            return 1;
        }
        long n = count_ports(&r, &pag);
        baseline = n > 0 ? (size_t)n : 0;
    }

    size_t topup = (size_t)list_ports > 2 * (size_t)nports ? (size_t)list_ports - 2 * (size_t)nports
                                                          : 0;
    b.nids = 2 * (size_t)nports + topup;
    b.ids = xcalloc(b.nids, sizeof *b.ids);

    long long rss0 = b.pid ? proc_rss_kib(b.pid) : -1;
    double cpu_create0 = b.pid ? proc_cpu_ms(b.pid) : -1;
    if (rss0 >= 0)
        printf("server RSS before the port creates: %.1f MiB\n", (double)rss0 / 1024.0);

    /* 3. N sequential, N concurrent, then the top-up to M. */
    printf("\nPOST /v2.0/ports (201 expected)\n");
    print_phase_header();
    phase_result seq = run_phase(&b, "sequential, 1 client", JOB_CREATE, 0, (size_t)nports, 1);
    print_phase(&seq);
    char cname[64];
    snprintf(cname, sizeof cname, "concurrent, %lld clients", (long long)conc);
    phase_result par = run_phase(&b, cname, JOB_CREATE, (size_t)nports, (size_t)nports,
                                 (unsigned)conc);
    print_phase(&par);
    phase_result top = {0};
    char tname[64];
    if (topup && !g_stop) {
        snprintf(tname, sizeof tname, "top-up to %lld, %lld clients", (long long)list_ports,
                 (long long)conc);
        top = run_phase(&b, tname, JOB_CREATE, 2 * (size_t)nports, topup, (unsigned)conc);
        print_phase(&top);
    }
    double cpu_create1 = b.pid ? proc_cpu_ms(b.pid) : -1;
    long long rss_created = b.pid ? proc_rss_kib(b.pid) : -1;
    size_t create_fail = seq.fail + par.fail + top.fail;
    b.ok_ids = xcalloc(b.nids ? b.nids : 1, sizeof *b.ok_ids);
    for (size_t i = 0; i < b.nids; i++)
        if (b.ids[i][0])
            memcpy(b.ok_ids[b.n_ok++], b.ids[i], sizeof *b.ok_ids);
    printf("  created %zu ports, %zu failed; %u+%u+%u connections opened\n", b.n_ok, create_fail,
           seq.connects, par.connects, top.connects);

    /* 4. GET all ports. */
    list_result lst = {0};
    size_t expect = baseline + b.n_ok;
    bool count_ok = false;
    if (!g_stop) {
        lst = run_list(&b, &c);
        count_ok = lst.count == expect && !lst.paginated;
        printf("\nGET /v2.0/ports (%zu ports, %.2f MB, %.0f bytes/port)\n  times ms:", lst.count,
               (double)lst.bytes / 1e6, lst.count ? (double)lst.bytes / (double)lst.count : 0.0);
        for (int k = 0; k < LIST_REPEAT; k++)
            printf(" %.1f", lst.ms[k]);
        printf("; median %.1f ms", lst.median_ms);
        if (lst.srv_cpu_ms >= 0)
            printf("; server CPU %.1f ms per list", lst.srv_cpu_ms);
        printf("\n  count: %zu, expected %zu (%zu before + %zu created): %s%s\n", lst.count,
               expect, baseline, b.n_ok, count_ok ? "ok" : "MISMATCH",
               lst.paginated ? " (the server paginated the list: pagination_max_limit)" : "");
    }

    long long rss_list = b.pid ? proc_rss_kib(b.pid) : -1;

    /* 5. GET single ports. */
    phase_result show = {0};
    if (!g_stop && ngets && b.n_ok) {
        printf("\nGET /v2.0/ports/{id} (random ids among the %zu created, 200 expected)\n", b.n_ok);
        print_phase_header();
        char sname[64];
        snprintf(sname, sizeof sname, "show, %lld clients", (long long)conc);
        show = run_phase(&b, sname, JOB_SHOW, 0, (size_t)ngets, (unsigned)conc);
        print_phase(&show);
    }

    /* 6. Server memory and CPU. */
    long long rss_end = b.pid ? proc_rss_kib(b.pid) : -1;
    double grow_end = -1, grow_created = -1, cpu_per_create = -1;
    size_t ncreates = seq.requests + par.requests + top.requests;
    if (rss0 >= 0 && rss_created >= 0 && rss_end >= 0 && b.n_ok) {
        grow_created = (double)(rss_created - rss0) * 1024.0 / (double)b.n_ok;
        grow_end = (double)(rss_end - rss0) * 1024.0 / (double)b.n_ok;
        printf("\nserver RSS (VmRSS): %.1f MiB before the creates, %.1f MiB after them, "
               "%.1f MiB after the lists, %.1f MiB at the end\n"
               "  growth per created port (%zu): %.0f bytes at the end, %.0f bytes right after "
               "the creates\n",
               (double)rss0 / 1024.0, (double)rss_created / 1024.0, (double)rss_list / 1024.0,
               (double)rss_end / 1024.0, b.n_ok, grow_end, grow_created);
    }
    if (cpu_create0 >= 0 && cpu_create1 >= 0 && ncreates) {
        cpu_per_create = (cpu_create1 - cpu_create0) / (double)ncreates;
        printf("server CPU (utime+stime): %.3f ms per port create over all create phases "
               "(%.2f s for %zu creates)\n",
               cpu_per_create, (cpu_create1 - cpu_create0) / 1000.0, ncreates);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        printf("qhv-bench's own CPU (it shares the machine): %.2f s user, %.2f s system\n",
               (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);

    hconn_free(&c);
    bool interrupted = g_stop != 0;
    bool stopped_clean = server_stop(&srv);

    /* 7. Summary against the targets. */
    double par_rate = phase_rate(&par);
    printf("\n== qhv-bench summary ==\n");
    printf("  %-44s %14s %14s\n", "figure", "measured", "target");
    char pname[64];
    snprintf(pname, sizeof pname, "creates, %u concurrent clients", par.clients);
    printf("  %-44s %11.0f /s %11s /s  %s\n", pname, par_rate, ">= 1000",
           verdict(par_rate >= TARGET_CREATES_PER_S && !par.fail));
    printf("  %-44s %11.2f ms %11s ms  %s\n", "create p99, concurrent", par.lat.p99, "<= 50",
           verdict(par.lat.p99 <= TARGET_CREATE_P99_MS));
    printf("  %-44s %11.0f /s %14s  (p50 %.2f ms, p99 %.2f ms)\n", "creates, sequential",
           phase_rate(&seq), "", seq.lat.p50, seq.lat.p99);
    char lname[64];
    snprintf(lname, sizeof lname, "GET /v2.0/ports, %zu ports (median)", lst.count);
    if (lst.count >= TARGET_LIST_PORTS)
        printf("  %-44s %11.1f ms %11s ms  %s\n", lname, lst.median_ms, "<= 200",
               verdict(lst.median_ms <= TARGET_LIST_MS && count_ok));
    else
        printf("  %-44s %11.1f ms %14s  (the target is for >= 10000 ports)\n", lname,
               lst.median_ms, "");
    printf("  %-44s %11.0f /s %14s  (p50 %.2f ms, p99 %.2f ms)\n", "GET /v2.0/ports/{id}",
           phase_rate(&show), "", show.lat.p50,
           show.lat.p99);
    if (grow_end >= 0) {
        printf("  %-44s %10.2f KiB %10s KiB  %s\n", "server RSS growth per port, at the end",
               grow_end / 1024, "<= 4", verdict(grow_end <= TARGET_BYTES_PER_PORT));
        printf("  %-44s %10.2f KiB %10s KiB  %s\n", "server RSS growth per port, after creates",
               grow_created / 1024, "<= 4", verdict(grow_created <= TARGET_BYTES_PER_PORT));
    } else {
        printf("  %-44s %14s %10s KiB  (only with --server)\n", "server RSS growth per port", "-",
               "<= 4");
    }
    if (cpu_per_create >= 0)
        printf("  %-44s %11.3f ms %14s  (Neutron: 140-170 ms)\n", "server CPU per port create",
               cpu_per_create, "");
    size_t failures = create_fail + lst.fail + show.fail + (count_ok || interrupted ? 0 : 1);
    printf("  %-44s %14zu\n", "failed requests (+1 if the list count is wrong)", failures);

    free(b.ids);
    free(b.ok_ids);
    if (interrupted) {
        fprintf(stderr, "qhv-bench: interrupted\n");
        return 130;
    }
    if (!stopped_clean)
        fprintf(stderr, "qhv-bench: warning: the server did not stop cleanly (see above)\n");
    return failures ? 1 : 0;
}
