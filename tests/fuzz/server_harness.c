/* The server's half of the fuzz targets: see server_harness.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server_harness.h"
#include "lib/log.h"
#include "lib/util.h"
#include "model/config.h"
#include "server/api.h"
#include "server/channel.h"
#include "server/feed.h"
#include "store/store.h"

#define FZ_ID_LEN 64

/* The server under test. */
static struct {
    char dir[64], db[128], pristine[160];
    qconf conf;
    qstore *store;
    qmodel *model;
    qfeed *feed;
    qapi api;
    int64_t revision;       /* the seeded database's */
    /* The seeded objects' ids and hv1's agent token, for fz_expand. */
    char net[FZ_ID_LEN], subnet[FZ_ID_LEN], sg[FZ_ID_LEN], port[FZ_ID_LEN];
    char token[QCHAN_TOKEN_LEN + 1];
} fz;

/* ---- the listener, as far as the handler reaches it ----
 * server/http.c and http_conn.c are not built in (tests/fuzz/CMakeLists.txt):
 * headers come in the qhttp_req, and a watch that suspends its request is
 * called again instead (fz_run). */

void qhttp_suspend(void *conn) { (void)conn; }
void qhttp_resume(void *conn) { (void)conn; }

/* ---- the server ---- */

/* libFuzzer's leak check after an input can run while fz_reset's new store
 * is starting its checkpoint thread, before that thread's connection is on
 * the store's list: LeakSanitizer then reports the half-opened connection
 * (seen twice in 300 s runs, never reproduced by the input alone). So
 * allocations on the checkpoint thread's path and inside SQLite are not
 * reported (qstore_close frees every connection of the store); any other
 * leak still is, after an input and at exit. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:qstore_checkpoint_main\nleak:libsqlite3.so\n";
}

static void fz_fail(const char *what)
{
    fprintf(stderr, "fuzz: %s\n", what);
    abort();
}

static void fz_open(void)
{
    qerr e;
    qstore_opts so = {.sqlite_path = fz.db, .sqlite_synchronous = "OFF", .migrate = true};
    fz.store = qstore_open(&so, &e);
    if (!fz.store)
        fz_fail(e.msg);
    fz.model = qmodel_new(fz.store, &fz.conf);
    fz.feed = qfeed_new(fz.model);
    fz.api = (qapi){.model = fz.model, .conf = &fz.conf, .feed = fz.feed};   /* no Nova */
}

static void fz_close(void)
{
    qfeed_shutdown(fz.feed);
    qfeed_free(fz.feed);
    qmodel_free(fz.model);
    qstore_close(fz.store);
}

static void fz_copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    if (!in || !out)
        fz_fail("cannot copy the database");
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            fz_fail("cannot copy the database");
    fclose(in);
    if (fclose(out))
        fz_fail("cannot copy the database");
}

/* Back to the seeded database (qstore_close checkpoints the WAL away). */
static void fz_reset(void)
{
    fz_close();
    char side[192];
    snprintf(side, sizeof side, "%s-wal", fz.db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", fz.db);
    unlink(side);
    fz_copy(fz.pristine, fz.db);
    fz_open();
}

static void fz_cleanup(void)
{
    fz_close();
    qconf_free(&fz.conf);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fz.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz: could not remove %s\n", fz.dir);
}

/* ---- requests ---- */

static int fz_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s in place (as the listener does for path and arguments;
 * fz_parse_query first turns '+' into a space in arguments, as it does too). */
static void fz_unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        int h, l;
        if (*r == '%' && (h = fz_hex(r[1])) >= 0 && (l = fz_hex(r[2])) >= 0) {
            *w++ = (char)(h * 16 + l);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static void fz_parse_query(fz_request *r, char *q)
{
    while (q && *q && r->nquery < FZ_MAX_QUERY) {
        char *amp = strchr(q, '&');
        if (amp)
            *amp = '\0';
        char *eq = strchr(q, '=');
        if (eq)
            *eq = '\0';
        for (char *p = q; *p; p++)
            *p = *p == '+' ? ' ' : *p;
        if (eq)
            for (char *p = eq + 1; *p; p++)
                *p = *p == '+' ? ' ' : *p;
        fz_unescape(q);
        if (eq)
            fz_unescape(eq + 1);
        r->query[r->nquery].key = q;
        r->query[r->nquery].value = eq ? eq + 1 : "";
        r->nquery++;
        q = amp ? amp + 1 : NULL;
    }
}

/* The input with its placeholders replaced: @N, @S, @G and @P by the seeded
 * network, subnet, security group and port's ids (which change from run
 * to run: the server makes them), @T by host hv1's agent token. The corpus
 * can then name them; any other '@' stays. Caller frees. */
char *fz_expand(const uint8_t *data, size_t size, size_t *len)
{
    qbuf b;
    qbuf_init(&b, 0);
    for (size_t i = 0; i < size; i++) {
        const char *v = NULL;
        if (data[i] == '@' && i + 1 < size) {
            switch (data[i + 1]) {
            case 'N': v = fz.net; break;
            case 'S': v = fz.subnet; break;
            case 'G': v = fz.sg; break;
            case 'P': v = fz.port; break;
            case 'T': v = fz.token; break;
            default: break;
            }
        }
        if (v) {
            qbuf_puts(&b, v);
            i++;
        } else {
            qbuf_putc(&b, (char)data[i]);
        }
    }
    char *text = qbuf_steal(&b, len);
    qbuf_free(&b);
    return text;
}

/* Splits the input into a request; false if it has no request line. */
bool fz_parse(const uint8_t *data, size_t size, fz_request *r)
{
    memset(r, 0, sizeof *r);
    const char *text = (const char *)data, *end = text + size;
    const char *blank = NULL;
    for (const char *p = text; p + 1 < end; p++)
        if (p[0] == '\n' && p[1] == '\n') {
            blank = p;
            break;
        }
    size_t head_len = blank ? (size_t)(blank - text) : size;
    r->body = blank ? blank + 2 : "";
    r->body_len = blank ? (size_t)(end - (blank + 2)) : 0;
    r->scratch = xstrndup(text, head_len);   /* stops at a NUL, as a header would */
    char *line = r->scratch, *nl = strchr(line, '\n');
    if (nl)
        *nl = '\0';
    char *sp = strchr(line, ' ');
    if (!sp || (size_t)(sp - line) >= sizeof r->method)
        return false;
    memcpy(r->method, line, (size_t)(sp - line));
    r->path = sp + 1;
    char *qm = strchr(r->path, '?');
    if (qm)
        *qm = '\0';
    fz_unescape(r->path);
    fz_parse_query(r, qm ? qm + 1 : NULL);
    for (char *h = nl ? nl + 1 : NULL; h && *h && r->nheaders < FZ_MAX_HEADERS;) {
        char *next = strchr(h, '\n');
        if (next)
            *next++ = '\0';
        char *colon = strchr(h, ':');
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            r->headers[r->nheaders].name = h;
            r->headers[r->nheaders].value = v;
            r->fields[r->nheaders] = (qhttp_field){h, v};
            r->nheaders++;
        }
        h = next;
    }
    return true;
}

/* The answer must be what its status says. */
static void fz_check(const qhttp_resp *resp)
{
    if (resp->status < 200 || resp->status > 499 || (resp->status >= 300 && resp->status < 400)) {
        fprintf(stderr, "fuzz: status %d: %.*s\n", resp->status, (int)resp->body.len,
                resp->body.data ? resp->body.data : "");
        abort();
    }
    if (resp->status == 204 && resp->body.len)
        fz_fail("204 with a body");
    if (resp->status < 300 && !resp->body.len)
        return;   /* 204; 201 of a tag added (Neutron's answer has no body) */
    qj_error je;
    qj *body = qj_parse(resp->body.data, resp->body.len, NULL, &je);
    if (!qj_is(body, QJ_OBJECT))
        fz_fail("the body is not a JSON object");
    if (resp->status >= 400) {
        const qj *ne = qj_get(body, "NeutronError");
        if (!qj_is(qj_get(ne, "type"), QJ_STRING) || !qj_is(qj_get(ne, "message"), QJ_STRING) ||
            !qj_is(qj_get(ne, "detail"), QJ_STRING))
            fz_fail("an error without a NeutronError body");
        if (resp->status == 405 && !resp->allow)
            fz_fail("405 without Allow");
    }
    qj_free(body);
}

/* Runs one request through the handler as the http layer would: a
 * suspended watch is called again as resumed. Returns the status, and the
 * answer in *out if out. */
int fz_run(fz_request *r, bool check, qj **out)
{
    void *slot = NULL;
    char who[QHTTP_WHO_LEN] = "";
    qhttp_req req = {
        .method = r->method,
        .path = r->path,
        .nquery = r->nquery,
        .query = (void *)r->query,
        .nheaders = r->nheaders,
        .headers = r->fields,
        .body = r->body,
        .body_len = r->body_len,
        .conn = r,
        .slot = &slot,
        .who = who,
    };
    snprintf(req.request_id, sizeof req.request_id, "req-fuzz");
    qhttp_resp resp;
    for (int round = 0; round < 2; round++) {
        resp = (qhttp_resp){.status = 500};
        qbuf_init(&resp.body, 0);
        qapi_handle(&fz.api, &req, &resp);
        if (!resp.suspend)
            break;
        if (round == 1)
            fz_fail("suspended again after a resume");
        qbuf_free(&resp.body);
        req.resumed = true;
    }
    if (slot)
        qfeed_waiter_free(slot);
    if (check)
        fz_check(&resp);
    if (getenv("FUZZ_API_TRACE"))   /* shows the answer when a crash is reproduced */
        fprintf(stderr, "fuzz: %s %s -> %d %.*s\n", r->method, r->path, resp.status,
                (int)resp.body.len, resp.body.data ? resp.body.data : "");
    int status = resp.status;
    if (out)
        *out = qj_parse(resp.body.data, resp.body.len, NULL, NULL);
    qbuf_free(&resp.body);
    return status;
}

void fz_free(fz_request *r) { free(r->scratch); }

/* Creates a seed object from request text (with placeholders, see
 * fz_expand); its id goes to id. */
static void fz_seed(const char *text, const char *what, char id[FZ_ID_LEN])
{
    fz_request r;
    size_t len;
    char *req = fz_expand((const uint8_t *)text, strlen(text), &len);
    if (!fz_parse((const uint8_t *)req, len, &r))
        fz_fail("bad seed request");
    qj *out = NULL;
    int status = fz_run(&r, true, &out);
    const char *got = qj_get_str(qj_get(out, what), "id");
    if (status != 201 || !got || strlen(got) >= FZ_ID_LEN) {
        fprintf(stderr, "fuzz: seed %s -> %d\n", req, status);
        abort();
    }
    snprintf(id, FZ_ID_LEN, "%s", got);
    qj_free(out);
    fz_free(&r);
    free(req);
}

void fz_server_init(void)
{
    qlog_set_level(QLOG_ERROR);
    snprintf(fz.dir, sizeof fz.dir, "/tmp/qhv-fuzz-api-XXXXXX");
    if (!mkdtemp(fz.dir))
        fz_fail("mkdtemp");
    char conf_path[128], err[512];
    snprintf(conf_path, sizeof conf_path, "%s/qhv.conf", fz.dir);
    snprintf(fz.db, sizeof fz.db, "%s/qhv.sqlite", fz.dir);
    snprintf(fz.pristine, sizeof fz.pristine, "%s/seeded.sqlite", fz.dir);
    FILE *c = fopen(conf_path, "w");
    if (!c)
        fz_fail("cannot write the configuration");
    fprintf(c, "[DEFAULT]\ndefault_project_id = p0\n"
               "[database]\nconnection = sqlite:///%s\n"
               "[ml2]\ntenant_network_types = vlan\n"
               "[ml2_type_vlan]\nnetwork_vlan_ranges = physnet1:10:20\n"
               "[agent]\nauth_token = fuzz-master-secret\n", fz.db);
    fclose(c);
    const char *files[] = {conf_path};
    if (qconf_load(&fz.conf, files, 1, err, sizeof err) < 0)
        fz_fail(err);
    fz_open();
    if (qchan_host_token(fz.conf.agent_auth_token, "hv1", fz.token) < 0)
        fz_fail("no agent token");
    fz_seed("POST /v2.0/networks\nContent-Type: application/json\n\n"
            "{\"network\": {\"name\": \"n1\"}}", "network", fz.net);
    fz_seed("POST /v2.0/subnets\nContent-Type: application/json\n\n"
            "{\"subnet\": {\"network_id\": \"@N\", \"ip_version\": 4, \"cidr\": \"10.0.0.0/24\"}}",
            "subnet", fz.subnet);
    fz_seed("POST /v2.0/security-groups\nX-Project-Id: p1\nContent-Type: application/json\n\n"
            "{\"security_group\": {\"name\": \"sg1\"}}", "security_group", fz.sg);
    fz_seed("POST /v2.0/ports\nContent-Type: application/json\n\n"
            "{\"port\": {\"network_id\": \"@N\", \"binding:host_id\": \"hv1\", "
            "\"name\": \"p1\"}}", "port", fz.port);
    fz_close();
    fz_copy(fz.db, fz.pristine);
    fz_open();
    fz.revision = qstore_revision(fz.store);
    atexit(fz_cleanup);
}


bool fz_changed(void) { return qstore_revision(fz.store) != fz.revision; }

void fz_settle(const fz_request *r)
{
    if (fz_changed() || !strncmp(r->path, "/channel", 8))
        fz_reset();
}
