#include "server/keystone.h"
#include "lib/buf.h"
#include "lib/json.h"
#include "lib/kslogin.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/util.h"
#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define QKS_POOL 16                     /* idle libcurl handles kept */
#define QKS_MAX_RESPONSE (1024 * 1024)  /* Keystone answer bytes accepted */
#define QKS_NEGATIVE_TIME 30            /* seconds a refused token is remembered */
#define QKS_RETRY_AFTER_US 1000000      /* after a failed service login, fail fast this long */

typedef struct qks_entry {
    uint8_t key[32];                    /* SHA-256 of the token */
    struct qks_entry *hnext;            /* bucket chain */
    struct qks_entry *prev, *next;      /* LRU list, head = most recently used */
    uint64_t until_us;                  /* monotonic end of validity of this result */
    bool valid;
    qks_token tok;
} qks_entry;

struct qks {
    /* Configuration (owned copies). */
    qkl_login *login;                   /* the service login (URL and body) */
    const char *tokens_url;             /* login->url: .../v3/auth/tokens */
    char *validate_url;                 /* .../v3/auth/tokens?nocatalog */
    const char *auth_body;              /* login->body */
    char *agent_role;                   /* NULL: none */
    char *cafile;
    bool insecure;
    long connect_timeout_ms, request_timeout_ms;
    int64_t cache_time;
    size_t cache_size;

    /* Idle libcurl handles (connection reuse). */
    pthread_mutex_t pool_lock;
    CURL *pool[QKS_POOL];
    size_t npool;

    /* The service token. Held while logging in, so that one thread logs in
     * and the others wait for its result. */
    pthread_mutex_t svc_lock;
    char svc_token[QKS_MAX_TOKEN + 1];
    uint64_t svc_renew_us;              /* monotonic: renew from here on */
    uint64_t svc_expire_us;             /* monotonic: unusable from here on */
    uint64_t svc_fail_until_us;         /* fail fast until (Keystone just failed) */

    /* The cache. */
    pthread_mutex_t cache_lock;
    qks_entry **buckets;
    size_t nbuckets;                    /* power of two */
    size_t count;
    qks_entry *lru_head, *lru_tail;

    /* Log throttle: one warning a second at most. */
    pthread_mutex_t warn_lock;
    uint64_t warn_last_us;
    unsigned warn_suppressed;

    atomic_uint_fast64_t st_hits, st_validations, st_service_auths, st_failures;
};

/* ---------- logging ---------- */

__attribute__((format(printf, 2, 3)))
static void qks_warn(qks *k, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    uint64_t now = qhv_now_us();
    unsigned suppressed = 0;
    bool emit = false;
    pthread_mutex_lock(&k->warn_lock);
    if (!k->warn_last_us || now - k->warn_last_us >= 1000000) {
        emit = true;
        suppressed = k->warn_suppressed;
        k->warn_suppressed = 0;
        k->warn_last_us = now;
    } else {
        k->warn_suppressed++;
    }
    pthread_mutex_unlock(&k->warn_lock);
    if (!emit)
        return;
    if (suppressed)
        QLOG_W("keystone", "%s (%u similar messages suppressed)", msg, suppressed);
    else
        QLOG_W("keystone", "%s", msg);
}

/* ---------- HTTP ---------- */

typedef struct qks_http {
    long status;                        /* 0: no answer (error says why) */
    qbuf body;
    char subject_token[QKS_MAX_TOKEN + 1];
    char error[CURL_ERROR_SIZE];
} qks_http;

static size_t qks_on_body(char *p, size_t size, size_t n, void *ud)
{
    qbuf *b = ud;
    size_t len = size * n;
    if (!qbuf_append(b, p, len))
        return 0;                       /* too large: curl stops with an error */
    return len;
}

static size_t qks_on_header(char *p, size_t size, size_t n, void *ud)
{
    qks_http *h = ud;
    size_t len = size * n;
    static const char name[] = "X-Subject-Token:";
    if (len > sizeof name - 1 && !strncasecmp(p, name, sizeof name - 1)) {
        const char *v = p + sizeof name - 1;
        size_t vl = len - (sizeof name - 1);
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl <= QKS_MAX_TOKEN) {
            memcpy(h->subject_token, v, vl);
            h->subject_token[vl] = '\0';
        }
    }
    return len;
}

static CURL *qks_handle_get(qks *k)
{
    CURL *c = NULL;
    pthread_mutex_lock(&k->pool_lock);
    if (k->npool)
        c = k->pool[--k->npool];
    pthread_mutex_unlock(&k->pool_lock);
    if (!c) {
        c = curl_easy_init();
        if (!c)
            return NULL;
    }
    return c;
}

static void qks_handle_put(qks *k, CURL *c)
{
    pthread_mutex_lock(&k->pool_lock);
    if (k->npool < QKS_POOL) {
        k->pool[k->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&k->pool_lock);
    if (c)
        curl_easy_cleanup(c);
}

/* One request to Keystone: POST body if not NULL, else GET. headers: "Name:
 * value" lines, NULL-terminated. Fills *h (the caller frees h->body).
 * Returns the status or -1. */
static long qks_perform(qks *k, const char *url, const char *const *headers,
                        const char *body, qks_http *h)
{
    memset(h, 0, sizeof *h);
    qbuf_init(&h->body, QKS_MAX_RESPONSE);
    CURL *c = qks_handle_get(k);
    if (!c) {
        snprintf(h->error, sizeof h->error, "cannot create a libcurl handle");
        return -1;
    }
    curl_easy_reset(c);
    struct curl_slist *hl = NULL, *tmp;
    bool ok = true;
    for (size_t i = 0; headers && headers[i] && ok; i++) {
        tmp = curl_slist_append(hl, headers[i]);
        if (tmp)
            hl = tmp;
        else
            ok = false;
    }
    if (ok && (tmp = curl_slist_append(hl, "Accept: application/json")))
        hl = tmp;
    if (ok && body && (tmp = curl_slist_append(hl, "Content-Type: application/json")))
        hl = tmp;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, k->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, k->request_timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, qks_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &h->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, qks_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->error);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "qhv-server keystone");
    if (k->cafile)
        curl_easy_setopt(c, CURLOPT_CAINFO, k->cafile);
    if (k->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = ok ? curl_easy_perform(c) : CURLE_OUT_OF_MEMORY;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
    } else {
        if (!h->error[0])
            snprintf(h->error, sizeof h->error, "%s", curl_easy_strerror(rc));
        if (h->body.overflow)
            snprintf(h->error, sizeof h->error, "answer larger than %d bytes", QKS_MAX_RESPONSE);
        h->status = 0;
    }
    /* The handle must not keep pointers into this call's stack. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hl);
    qks_handle_put(k, c);
    return h->status ? h->status : -1;
}

/* ---------- the service token ---------- */

/* Logs in (svc_lock held). 0, or -1 with e (QE_UNAVAILABLE). */
static int qks_service_login(qks *k, qerr *e)
{
    qks_http h;
    atomic_fetch_add(&k->st_service_auths, 1);
    long st = qks_perform(k, k->tokens_url, NULL, k->auth_body, &h);
    int rc = -1;
    char why[300] = "";
    if (st > 0) {
        qkl_token t;
        if (qkl_parse_answer(st, h.subject_token, h.body.data, h.body.len, &t, why,
                             sizeof why) == 0) {
            uint64_t now_us = qhv_now_us();
            snprintf(k->svc_token, sizeof k->svc_token, "%s", t.token);
            k->svc_expire_us = now_us + (uint64_t)t.lifetime * 1000000u;
            k->svc_renew_us = now_us + (uint64_t)t.renew_after * 1000000u;
            QLOG_I("keystone", "service token obtained for the configured service user "
                               "(expires in %lld s)", (long long)t.lifetime);
            rc = 0;
        } else if (st == 401) {
            snprintf(why, sizeof why, "Keystone refused the service credentials (401): check "
                                      "[keystone_authtoken] username, password, project_name "
                                      "and the domains");
        }
        explicit_bzero(&t, sizeof t);
    } else {
        snprintf(why, sizeof why, "Keystone unreachable at %s: %s", k->tokens_url, h.error);
    }
    qbuf_free(&h.body);
    if (rc < 0) {
        k->svc_token[0] = '\0';
        k->svc_fail_until_us = qhv_now_us() + QKS_RETRY_AFTER_US;
        qks_warn(k, "%s", why);
        qerr_set(e, QE_UNAVAILABLE, "The server is currently unavailable: the identity service "
                                    "cannot be reached. Please try again later.");
    }
    return rc;
}

/* Copies a usable service token into out (QKS_MAX_TOKEN + 1 bytes). stale:
 * a token Keystone just refused (renew unless another thread already did). */
static int qks_service_token(qks *k, char *out, const char *stale, qerr *e)
{
    int rc = 0;
    pthread_mutex_lock(&k->svc_lock);
    uint64_t now = qhv_now_us();
    bool have = k->svc_token[0] && now < k->svc_expire_us;
    if (have && stale && !strcmp(stale, k->svc_token))
        have = false;                   /* refused: this one is no good */
    if (!have || now >= k->svc_renew_us) {
        if (now < k->svc_fail_until_us) {
            /* Keystone failed a moment ago: do not queue every request
             * behind another attempt; keep a still valid token. */
            if (!have)
                rc = qerr_set(e, QE_UNAVAILABLE, "The server is currently unavailable: the "
                                                 "identity service cannot be reached. Please "
                                                 "try again later.");
        } else {
            char *old = have ? xstrdup(k->svc_token) : NULL;
            uint64_t old_exp = k->svc_expire_us, old_renew = k->svc_renew_us;
            rc = qks_service_login(k, e);
            if (rc < 0 && old) {
                /* Early renewal failed: the current token still works. */
                snprintf(k->svc_token, sizeof k->svc_token, "%s", old);
                k->svc_expire_us = old_exp;
                k->svc_renew_us = old_renew;
                rc = 0;
            }
            if (old) {
                explicit_bzero(old, strlen(old));
                free(old);
            }
        }
    }
    if (rc == 0)
        memcpy(out, k->svc_token, strlen(k->svc_token) + 1);
    pthread_mutex_unlock(&k->svc_lock);
    return rc;
}

/* ---------- the cache ---------- */

static size_t qks_bucket(const qks *k, const uint8_t key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)(h & (k->nbuckets - 1));
}

static void qks_lru_unlink(qks *k, qks_entry *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        k->lru_head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        k->lru_tail = x->prev;
    x->prev = x->next = NULL;
}

static void qks_lru_push(qks *k, qks_entry *x)
{
    x->prev = NULL;
    x->next = k->lru_head;
    if (k->lru_head)
        k->lru_head->prev = x;
    k->lru_head = x;
    if (!k->lru_tail)
        k->lru_tail = x;
}

/* Unlinks x from its bucket and the LRU list and frees it (cache_lock held). */
static void qks_drop(qks *k, qks_entry *x)
{
    qks_entry **pp = &k->buckets[qks_bucket(k, x->key)];
    while (*pp != x)
        pp = &(*pp)->hnext;
    *pp = x->hnext;
    qks_lru_unlink(k, x);
    k->count--;
    free(x);
}

static qks_entry *qks_find(qks *k, const uint8_t key[32])
{
    for (qks_entry *x = k->buckets[qks_bucket(k, key)]; x; x = x->hnext)
        if (!memcmp(x->key, key, 32))
            return x;
    return NULL;
}

/* 1 = valid (copied to *ret), 0 = refused, -1 = not cached. */
static int qks_cache_get(qks *k, const uint8_t key[32], qks_token *ret)
{
    if (!k->cache_size)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&k->cache_lock);
    qks_entry *x = qks_find(k, key);
    if (x && qhv_now_us() >= x->until_us) {
        qks_drop(k, x);
        x = NULL;
    }
    if (x) {
        qks_lru_unlink(k, x);
        qks_lru_push(k, x);
        rc = x->valid;
        if (x->valid)
            *ret = x->tok;
    }
    pthread_mutex_unlock(&k->cache_lock);
    return rc;
}

static void qks_cache_put(qks *k, const uint8_t key[32], bool valid, const qks_token *tok)
{
    if (!k->cache_size)
        return;
    int64_t secs = valid ? k->cache_time : (k->cache_time < QKS_NEGATIVE_TIME ? k->cache_time
                                                                              : QKS_NEGATIVE_TIME);
    int64_t life_us = secs * 1000000;
    if (valid) {
        /* Never past the token's expiry. In microseconds: Keystone's
         * expires_at is a whole second, and whole seconds on our side too
         * would let a cached token outlive it by up to a second. */
        int64_t left_us = tok->expires_at * 1000000 - qplat_wall_us();
        if (left_us < life_us)
            life_us = left_us;
    }
    if (life_us <= 0)
        return;
    pthread_mutex_lock(&k->cache_lock);
    qks_entry *x = qks_find(k, key);
    if (x) {
        qks_drop(k, x);
    } else if (k->count >= k->cache_size) {
        qks_drop(k, k->lru_tail);
    }
    x = xcalloc(1, sizeof *x);
    memcpy(x->key, key, 32);
    x->valid = valid;
    if (valid)
        x->tok = *tok;
    x->until_us = qhv_now_us() + (uint64_t)life_us;
    size_t b = qks_bucket(k, key);
    x->hnext = k->buckets[b];
    k->buckets[b] = x;
    qks_lru_push(k, x);
    k->count++;
    pthread_mutex_unlock(&k->cache_lock);
}

/* ---------- validation ---------- */

static bool qks_token_chars_ok(const char *t, size_t *len)
{
    size_t n = 0;
    for (; t[n]; n++) {
        if (n == QKS_MAX_TOKEN || (unsigned char)t[n] <= ' ' || (unsigned char)t[n] >= 0x7f)
            return false;
    }
    *len = n;
    return n > 0;
}

/* Fills ret from Keystone's validation answer; -1 if it is not one. */
static int qks_parse_token(const qks *k, const qbuf *body, qks_token *ret)
{
    memset(ret, 0, sizeof *ret);
    qj_limits lim = {.max_depth = 32};
    qj *doc = qj_parse(body->data, body->len, &lim, NULL);
    qj *tok = qj_get(doc, "token");
    int rc = -1;
    const char *user = qj_get_str(qj_get(tok, "user"), "id");
    int64_t exp = qkl_parse_time(qj_get_str(tok, "expires_at"));
    if (!tok || !user || exp < 0 || strlen(user) >= sizeof ret->user_id)
        goto out;
    snprintf(ret->user_id, sizeof ret->user_id, "%s", user);
    /* Names are kept only if they fit: the agent binding compares them. */
    const char *uname = qj_get_str(qj_get(tok, "user"), "name");
    const char *udom = qj_get_str(qj_get(qj_get(tok, "user"), "domain"), "name");
    if (uname && strlen(uname) < sizeof ret->user_name)
        snprintf(ret->user_name, sizeof ret->user_name, "%s", uname);
    if (udom && strlen(udom) < sizeof ret->user_domain_name)
        snprintf(ret->user_domain_name, sizeof ret->user_domain_name, "%s", udom);
    ret->expires_at = exp;
    const char *project = qj_get_str(qj_get(tok, "project"), "id");
    if (project && *project && strlen(project) < sizeof ret->project_id) {
        ret->project_scoped = true;
        snprintf(ret->project_id, sizeof ret->project_id, "%s", project);
    }
    qj *roles = qj_get(tok, "roles");
    for (size_t i = 0; i < qj_len(roles); i++) {
        const char *name = qj_get_str(qj_at(roles, i), "name");
        if (!name)
            continue;
        if (k->agent_role && !strcasecmp(name, k->agent_role))
            ret->roles |= QKS_ROLE_AGENT;
        else if (!strcasecmp(name, "admin"))
            ret->roles |= QKS_ROLE_ADMIN;
        else if (!strcasecmp(name, "member") || !strcasecmp(name, "_member_"))
            ret->roles |= QKS_ROLE_MEMBER;
        else if (!strcasecmp(name, "reader"))
            ret->roles |= QKS_ROLE_READER;
        else
            ret->roles |= QKS_ROLE_OTHER;
    }
    rc = 0;
out:
    qj_free(doc);
    return rc;
}

static int qks_unavailable(qks *k, qerr *e)
{
    atomic_fetch_add(&k->st_failures, 1);
    return qerr_set(e, QE_UNAVAILABLE, "The server is currently unavailable: the identity "
                                       "service cannot be reached. Please try again later.");
}

int qks_validate(qks *k, const char *token, qks_token *ret, qerr *e)
{
    size_t len;
    if (!token || !qks_token_chars_ok(token, &len))
        return qerr_set(e, QE_UNAUTHORIZED, "The request you have made requires "
                                            "authentication.");
    uint8_t key[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token, len, key) < 0)
        return qerr_set(e, QE_INTERNAL, "cannot hash the token");
    int cached = qks_cache_get(k, key, ret);
    if (cached >= 0) {
        atomic_fetch_add(&k->st_hits, 1);
        if (cached)
            return 0;
        return qerr_set(e, QE_UNAUTHORIZED, "The request you have made requires "
                                            "authentication.");
    }
    char svc[QKS_MAX_TOKEN + 1];
    char *hx = xmalloc(2 * (QKS_MAX_TOKEN + 32));
    char *hsub = hx + QKS_MAX_TOKEN + 32;
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (qks_service_token(k, svc, attempt ? svc : NULL, e) < 0) {
            atomic_fetch_add(&k->st_failures, 1);
            goto out;
        }
        snprintf(hx, QKS_MAX_TOKEN + 32, "X-Auth-Token: %s", svc);
        snprintf(hsub, QKS_MAX_TOKEN + 32, "X-Subject-Token: %s", token);
        const char *headers[] = {hx, hsub, NULL};
        qks_http h;
        atomic_fetch_add(&k->st_validations, 1);
        long st = qks_perform(k, k->validate_url, headers, NULL, &h);
        if (st == 200) {
            if (qks_parse_token(k, &h.body, ret) < 0) {
                qks_warn(k, "Keystone's token validation answer is not a token");
                rc = qks_unavailable(k, e);
            } else {
                qks_cache_put(k, key, true, ret);
                QLOG_D("keystone", "token %02x%02x%02x%02x valid: user %s project %s roles %u",
                       key[0], key[1], key[2], key[3], ret->user_id, ret->project_id, ret->roles);
                rc = 0;
            }
        } else if (st == 404) {
            /* Keystone: not a token, expired or revoked. */
            qks_cache_put(k, key, false, NULL);
            QLOG_I("keystone", "token %02x%02x%02x%02x refused by Keystone (invalid, expired or "
                               "revoked)", key[0], key[1], key[2], key[3]);
            rc = qerr_set(e, QE_UNAUTHORIZED, "The request you have made requires "
                                              "authentication.");
        } else if (st == 401 && !attempt) {
            /* Our service token: expired or revoked. Log in again, once. */
            QLOG_I("keystone", "service token refused (401): logging in again");
            qbuf_free(&h.body);
            continue;
        } else if (st == 401 || st == 403) {
            qks_warn(k, "Keystone refused to validate a token (%ld): the service user needs the "
                        "admin or service role", st);
            rc = qks_unavailable(k, e);
        } else if (st > 0) {
            qks_warn(k, "Keystone answered %ld to a token validation", st);
            rc = qks_unavailable(k, e);
        } else {
            qks_warn(k, "Keystone unreachable at %s: %s", k->validate_url, h.error);
            rc = qks_unavailable(k, e);
        }
        qbuf_free(&h.body);
        break;
    }
out:
    /* Wipe this request's copies of the tokens. */
    explicit_bzero(svc, sizeof svc);
    explicit_bzero(hx, 2 * (QKS_MAX_TOKEN + 32));
    free(hx);
    return rc;
}

void qks_get_stats(qks *k, qks_stats *ret)
{
    ret->cache_hits = atomic_load(&k->st_hits);
    ret->validations = atomic_load(&k->st_validations);
    ret->service_auths = atomic_load(&k->st_service_auths);
    ret->failures = atomic_load(&k->st_failures);
}

/* ---------- life ---------- */

qks *qks_new(const qks_config *cfg, qerr *e)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        qerr_set(e, QE_INTERNAL, "cannot initialise libcurl");
        return NULL;
    }
    qks *k = xcalloc(1, sizeof *k);
    /* "http://h:5000", "http://h:5000/", "http://h:5000/v3", "http://h/identity/v3/". */
    qkl_creds cr = {cfg->auth_url, cfg->username, cfg->password, cfg->project_name,
                    cfg->user_domain_name, cfg->project_domain_name};
    k->login = qkl_login_new(&cr);
    k->tokens_url = k->login->url;
    k->validate_url = xasprintf("%s?nocatalog", k->tokens_url);
    k->auth_body = k->login->body;
    if (cfg->agent_role && *cfg->agent_role)
        k->agent_role = xstrdup(cfg->agent_role);
    k->cafile = cfg->cafile && *cfg->cafile ? xstrdup(cfg->cafile) : NULL;
    k->insecure = cfg->insecure;
    k->connect_timeout_ms = cfg->connect_timeout_ms;
    k->request_timeout_ms = cfg->request_timeout_ms;
    k->cache_time = cfg->cache_time;
    k->cache_size = cfg->cache_size;
    k->nbuckets = 16;
    while (k->nbuckets < cfg->cache_size && k->nbuckets < ((size_t)1 << 20))
        k->nbuckets <<= 1;
    k->buckets = xcalloc(k->nbuckets, sizeof *k->buckets);
    pthread_mutex_init(&k->pool_lock, NULL);
    pthread_mutex_init(&k->svc_lock, NULL);
    pthread_mutex_init(&k->cache_lock, NULL);
    pthread_mutex_init(&k->warn_lock, NULL);
    return k;
}

void qks_free(qks *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->npool; i++)
        curl_easy_cleanup(k->pool[i]);
    while (k->lru_head) {
        qks_entry *x = k->lru_head;
        k->lru_head = x->next;
        free(x);
    }
    free(k->buckets);
    pthread_mutex_destroy(&k->pool_lock);
    pthread_mutex_destroy(&k->svc_lock);
    pthread_mutex_destroy(&k->cache_lock);
    pthread_mutex_destroy(&k->warn_lock);
    qkl_login_free(k->login);               /* wipes the password */
    explicit_bzero(k->svc_token, sizeof k->svc_token);
    free(k->agent_role);
    free(k->validate_url);
    free(k->cafile);
    free(k);
    curl_global_cleanup();
}
