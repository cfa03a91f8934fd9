#include "server/api.h"
#include "model/dhcp.h"
#include "model/resources.h"
#include "model/quota.h"
#include "model/secgroup.h"
#include "model/subnetpool.h"
#include "server/extensions.h"
#include "model/az.h"
#include "server/channel.h"
#include "server/identity.h"
#include "lib/log.h"
#include "lib/util.h"
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define QAPI_MAX_SEGMENTS 6

typedef struct qapi_path {
    size_t n;
    char seg[QAPI_MAX_SEGMENTS][QAPI_MAX_SEGMENT];
} qapi_path;

/* Splits "/v2.0/ports/ID.json" into segments and drops a final ".json". */
static int qapi_split(const char *path, qapi_path *p)
{
    p->n = 0;
    const char *s = path;
    while (*s) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        const char *end = strchr(s, '/');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (p->n == QAPI_MAX_SEGMENTS || len >= sizeof p->seg[0])
            return -1;
        memcpy(p->seg[p->n], s, len);
        p->seg[p->n][len] = '\0';
        p->n++;
        s += len;
    }
    if (p->n) {
        char *last = p->seg[p->n - 1];
        size_t l = strlen(last);
        if (l > 5 && !strcmp(last + l - 5, ".json"))
            last[l - 5] = '\0';
    }
    return 0;
}



static void qapi_not_allowed(qhttp_resp *resp, const char *allow)
{
    resp->allow = allow;
    qhttp_fail(resp, QE_METHOD_NOT_ALLOWED, "The server could not comply with the request since "
                                           "it is either malformed or otherwise incorrect.");
}

/* "http(s)://host:port" from the Host header (links must point where the
 * client connected). */
static void qapi_base_url(const qhttp_req *req, char *out, size_t n)
{
    const char *host = qhttp_header(req, "Host");
    snprintf(out, n, "%s://%s", req->tls ? "https" : "http",
             host && *host && !strpbrk(host, "\"<> \\") ? host : "localhost");
}

static qj *qapi_link(const char *rel, const char *href)
{
    qj *l = qj_object();
    qj_set(l, "rel", qj_str(rel));
    qj_set(l, "href", qj_str(href));
    return l;
}

static void qapi_versions(const qhttp_req *req, qhttp_resp *resp)
{
    char base[300], href[400];
    qapi_base_url(req, base, sizeof base);
    snprintf(href, sizeof href, "%s/v2.0/", base);
    qj *v = qj_object();
    qj_set(v, "id", qj_str("v2.0"));
    qj_set(v, "status", qj_str("CURRENT"));
    qj *links = qj_array();
    qj_append(links, qapi_link("self", href));
    qj_set(v, "links", links);
    qj *arr = qj_array();
    qj_append(arr, v);
    qj *body = qj_object();
    qj_set(body, "versions", arr);
    qhttp_json(resp, 200, body);
}

static void qapi_v2_root(const qhttp_req *req, qhttp_resp *resp)
{
    char base[300], href[400];
    qapi_base_url(req, base, sizeof base);
    qj *arr = qj_array();
    for (size_t i = 0; i < qres_count(); i++) {
        const qresource *r = qres_at(i);
        if (!r->core)
            continue;
        qj *o = qj_object();
        qj_set(o, "name", qj_str(r->name));
        qj_set(o, "collection", qj_str(r->collection));
        snprintf(href, sizeof href, "%s/v2.0/%s", base, qres_path(r));
        qj *links = qj_array();
        qj_append(links, qapi_link("self", href));
        qj_set(o, "links", links);
        qj_append(arr, o);
    }
    qj *body = qj_object();
    qj_set(body, "resources", arr);
    qhttp_json(resp, 200, body);
}

static void qapi_urlencode(qbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.~:", *p))
            qbuf_putc(b, (char)*p);
        else
            qbuf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    }
}

/* The request's query with marker/page_reverse replaced, as Neutron builds
 * its next/previous links. */
static qj *qapi_page_link(const qhttp_req *req, const char *collection, const char *rel,
                          const char *marker, bool reverse)
{
    char base[300];
    qapi_base_url(req, base, sizeof base);
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_printf(&b, "%s/v2.0/%s?", base, collection);
    bool first = true;
    for (size_t i = 0; i < req->nquery; i++) {
        if (!strcmp(req->query[i].key, "marker") || !strcmp(req->query[i].key, "page_reverse"))
            continue;
        if (!first)
            qbuf_putc(&b, '&');
        first = false;
        qapi_urlencode(&b, req->query[i].key);
        qbuf_putc(&b, '=');
        qapi_urlencode(&b, req->query[i].value);
    }
    if (*marker) {
        qbuf_printf(&b, "%smarker=", first ? "" : "&");
        qapi_urlencode(&b, marker);
        first = false;
    }
    if (reverse)
        qbuf_printf(&b, "%spage_reverse=True", first ? "" : "&");
    qj *l = qapi_link(rel, b.data);
    qbuf_free(&b);
    return l;
}

/* A body must be declared JSON: an HTML form or a text/plain POST, which a
 * web page in an operator's browser may send to a loopback noauth server
 * without a CORS preflight, is refused before it is read (415). Parameters
 * (charset) are allowed; a request without a body is not checked. */
static int qapi_check_media_type(const qhttp_req *req, qerr *e)
{
    if (!req->body_len)
        return 0;
    const char *ct = qhttp_header(req, "Content-Type");
    static const char json[] = "application/json";
    size_t n = 0;
    if (ct) {
        while (*ct == ' ' || *ct == '\t')
            ct++;
        n = strcspn(ct, ";");
        while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
            n--;
    }
    if (!ct || n != sizeof json - 1 || strncasecmp(ct, json, n))
        return qerr_set(e, QE_MEDIA_TYPE, "The request body must be application/json, not "
                                          "'%.100s'", ct ? ct : "(no Content-Type)");
    return 0;
}

static int qapi_parse_body(const qhttp_req *req, qj **ret, qerr *e)
{
    *ret = NULL;
    if (qapi_check_media_type(req, e) < 0)
        return -1;
    qj_error je;
    qj_limits lim = {.max_depth = 32};
    *ret = qj_parse(req->body, req->body_len, &lim, &je);
    if (!*ret) {
        /* Neutron's message, and where the JSON went wrong in the detail. */
        qerr_set(e, QE_BAD_REQUEST, "Body contains invalid data");
        snprintf(e->detail, sizeof e->detail, "%s at line %zu, column %zu", je.msg, je.line,
                 je.column);
        return -1;
    }
    return 0;
}

static int qapi_if_match(const qhttp_req *req, int64_t *ret, qerr *e)
{
    *ret = -1;
    const char *h = qhttp_header(req, "If-Match");
    if (!h)
        return 0;
    if (strncmp(h, "revision_number=", 16) || qhv_parse_i64(h + 16, 0, INT64_MAX, ret) < 0)
        return qerr_set(e, QE_BAD_REQUEST, "If-Match header must be revision_number=N, not '%s'",
                        h);
    return 0;
}

static void qapi_collection(qapi *api, const qctx *ctx, const qresource *r,
                            const qhttp_req *req, qhttp_resp *resp)
{
    qerr e;
    qj *out = NULL;
    qquery q = {req->nquery, (void *)req->query};
    if (!strcmp(req->method, "GET")) {
        qlist_page page;
        /* Neutron shows a project its default group as soon as it lists; a
         * refused list changes nothing, so when the group is still to be
         * made the filters are checked (by the list itself) first, and the
         * list runs again after (once per project: the usual list runs once). */
        int missing = r == &qres_security_group ? qsg_default_missing(api->model, ctx, &e) : 0;
        if (missing) {
            qbuf_reset(&resp->body);
            if (missing < 0 ||
                qres_list_text(api->model, ctx, r, &q, &resp->body, &page, &e) < 0 ||
                qsg_ensure_default_request(api->model, ctx, &e) < 0) {
                qhttp_error(resp, &e);
                return;
            }
        }
        qbuf_reset(&resp->body);
        if (qres_list_text(api->model, ctx, r, &q, &resp->body, &page, &e) < 0) {
            qhttp_error(resp, &e);
            return;
        }
        if (page.has_next || page.has_prev) {
            qj *links = qj_array();
            if (page.has_next)
                qj_append(links, qapi_page_link(req, qres_path(r), "next", page.next_marker, false));
            if (page.has_prev)
                qj_append(links, qapi_page_link(req, qres_path(r), "previous", page.prev_marker, true));
            /* The text ends with "}": extend the object with the links. */
            resp->body.data[--resp->body.len] = '\0';
            qbuf_printf(&resp->body, ",\"%s_links\":", r->collection);
            qj_emit(links, &resp->body, false);
            qbuf_putc(&resp->body, '}');
            qj_free(links);
        }
        resp->status = 200;
    } else if (!strcmp(req->method, "POST") && !r->no_create) {
        qj *body = NULL;
        if (qapi_parse_body(req, &body, &e) < 0 ||
            qres_create_request(api->model, ctx, r, body, &out, &e) < 0) {
            qhttp_error(resp, &e);
        } else {
            qhttp_json(resp, 201, out);
        }
        qj_free(body);
    } else {
        qapi_not_allowed(resp, r->no_create ? "GET" : "GET, POST");
    }
}

static void qapi_send(qhttp_resp *resp, int rc, const qerr *e, int status, qj *out)
{
    if (rc < 0)
        qhttp_error(resp, e);
    else if (out)
        qhttp_json(resp, status, out);
    else
        resp->status = status;
}

/* /v2.0/subnetpools/{id}/add_prefixes|remove_prefixes (subnetpool-prefix-ops) */
static void qapi_subnetpool_prefixes(qapi *api, const qctx *ctx, const qapi_path *p,
                                     const qhttp_req *req, qhttp_resp *resp)
{
    if (strcmp(req->method, "PUT")) {
        qapi_not_allowed(resp, "PUT");
        return;
    }
    qerr e;
    qj *body = NULL, *out = NULL;
    if (qapi_parse_body(req, &body, &e) < 0 ||
        qsubnetpool_prefixes_request(api->model, ctx, p->seg[2],
                                     !strcmp(p->seg[3], "add_prefixes"), body, &out, &e) < 0)
        qhttp_error(resp, &e);
    else
        qhttp_json(resp, 200, out);
    qj_free(body);
}

/* /v2.0/{collection}/{id}/tags[/{tag}] */
static void qapi_tags(qapi *api, const qctx *ctx, const qresource *r, const qapi_path *p,
                      const qhttp_req *req, qhttp_resp *resp)
{
    qerr e;
    qj *body = NULL, *out = NULL;
    int status = 200, rc = 0;
    if (!strcmp(req->method, "PUT") && p->n == 4)
        rc = qapi_parse_body(req, &body, &e);
    if (rc == 0)
        rc = qres_tags_request(api->model, ctx, r, p->seg[2], req->method,
                               p->n == 5 ? p->seg[4] : NULL, body, &out, &status, &e);
    qj_free(body);
    if (rc < 0 && e.code == QE_METHOD_NOT_ALLOWED)
        resp->allow = "GET, PUT, DELETE";   /* a 405 must say what is allowed */
    qapi_send(resp, rc, &e, status, out);
}

/* /v2.0/quotas[/{project}[/default|/details]] */
static void qapi_quotas(qapi *api, const qctx *ctx, const qapi_path *p, const qhttp_req *req,
                        qhttp_resp *resp)
{
    qerr e;
    qj *out = NULL, *body = NULL;
    int rc;
    const char *m = req->method;
    if (p->n == 2) {
        if (strcmp(m, "GET"))
            { qapi_not_allowed(resp, "GET"); return; }
        rc = qquota_list_request(api->model, ctx, &out, &e);
        { qapi_send(resp, rc, &e, 200, out); return; }
    }
    const char *project = p->seg[2];
    if (p->n == 4) {
        if (strcmp(m, "GET"))
            { qapi_not_allowed(resp, "GET"); return; }
        rc = qquota_show_request(api->model, ctx, project, p->seg[3], &out, &e);
        { qapi_send(resp, rc, &e, 200, out); return; }
    }
    if (!strcmp(m, "GET")) {
        rc = qquota_show_request(api->model, ctx, project, NULL, &out, &e);
    } else if (!strcmp(m, "PUT")) {
        rc = qapi_parse_body(req, &body, &e);
        if (rc == 0)
            rc = qquota_update_request(api->model, ctx, project, body, &out, &e);
        qj_free(body);
    } else if (!strcmp(m, "DELETE")) {
        rc = qquota_delete_request(api->model, ctx, project, &e);
        { qapi_send(resp, rc, &e, 204, NULL); return; }
    } else {
        { qapi_not_allowed(resp, "GET, PUT, DELETE"); return; }
    }
    qapi_send(resp, rc, &e, 200, out);
}

/* /v2.0/agents/{id}/dhcp-networks[/{network}], /v2.0/networks/{id}/dhcp-agents
 * (dhcp_agent_scheduler, model/dhcp.h) */
static void qapi_dhcp(qapi *api, const qctx *ctx, const qapi_path *p, const qhttp_req *req,
                      qhttp_resp *resp)
{
    qerr e;
    qj *body = NULL, *out = NULL;
    int status = 200, rc = 0;
    if (!strcmp(req->method, "POST"))
        rc = qapi_parse_body(req, &body, &e);
    if (rc == 0)
        rc = qdhcp_scheduler_request(api->model, ctx, req->method, p->seg[1], p->seg[2],
                                     p->n == 5 ? p->seg[4] : NULL, body, &out, &status, &e);
    qj_free(body);
    if (rc < 0 && e.code == QE_METHOD_NOT_ALLOWED)
        resp->allow = p->n == 5 ? "DELETE" : !strcmp(p->seg[1], "agents") ? "GET, POST" : "GET";
    qapi_send(resp, rc, &e, status, out);
}

static void qapi_member(qapi *api, const qctx *ctx, const qresource *r, const char *id,
                        const qhttp_req *req, qhttp_resp *resp)
{
    qerr e;
    qj *out = NULL;
    int64_t if_match;
    qquery q = {req->nquery, (void *)req->query};
    if (!strcmp(req->method, "GET")) {
        if (qres_show_request(api->model, ctx, r, id, &q, &out, &e) < 0)
            qhttp_error(resp, &e);
        else
            qhttp_json(resp, 200, out);
    } else if (!strcmp(req->method, "PUT")) {
        qj *body = NULL;
        if (qapi_if_match(req, &if_match, &e) < 0 || qapi_parse_body(req, &body, &e) < 0 ||
            qres_update_request(api->model, ctx, r, id, body, if_match, &out, &e) < 0)
            qhttp_error(resp, &e);
        else
            qhttp_json(resp, 200, out);
        qj_free(body);
    } else if (!strcmp(req->method, "DELETE")) {
        if (qapi_if_match(req, &if_match, &e) < 0 ||
            qres_delete_request(api->model, ctx, r, id, if_match, &e) < 0)
            qhttp_error(resp, &e);
        else
            resp->status = 204;
    } else {
        qapi_not_allowed(resp, "GET, PUT, DELETE");
    }
}

void qapi_handle(void *vctx, const qhttp_req *req, qhttp_resp *resp)
{
    qapi *api = vctx;
    qapi_path p;
    if (qapi_split(req->path, &p) < 0) {
        qhttp_fail(resp, QE_NOT_FOUND, "The resource could not be found.");
        return;
    }
    if (p.n == 0) {
        if (strcmp(req->method, "GET"))
            qapi_not_allowed(resp, "GET");
        else
            qapi_versions(req, resp);
        return;
    }
    if (!strcmp(p.seg[0], "channel")) {
        qchan_handle(api, req, p.n, p.seg, resp);
        return;
    }
    if (strcmp(p.seg[0], "v2.0")) {
        qhttp_fail(resp, QE_NOT_FOUND, "The resource could not be found.");
        return;
    }
    qctx ctx;
    qerr e;
    if (qidentity_from_request(api->conf, req, &ctx, &e) < 0) {
        qhttp_error(resp, &e);
        return;
    }
    if (p.n == 1) {
        if (strcmp(req->method, "GET"))
            qapi_not_allowed(resp, "GET");
        else
            qapi_v2_root(req, resp);
        return;
    }
    if (!strcmp(p.seg[1], "extensions") && p.n <= 3) {
        if (strcmp(req->method, "GET")) {
            qapi_not_allowed(resp, "GET");
            return;
        }
        qj *out = p.n == 2 ? qext_list() : qext_show(p.seg[2]);
        if (out) {
            qhttp_json(resp, 200, out);
        } else {
            char msg[400];
            snprintf(msg, sizeof msg, "Extension with alias %.300s does not exist", p.seg[2]);
            qhttp_fail(resp, QE_NOT_FOUND, msg);
        }
        return;
    }
    if (!strcmp(p.seg[1], "availability_zones") && p.n == 2) {
        if (strcmp(req->method, "GET")) {
            qapi_not_allowed(resp, "GET");
            return;
        }
        qquery q = {req->nquery, (void *)req->query};
        qj *out = NULL;
        int rc = qaz_list_request(api->model, &ctx, &q, &out, &e);
        qapi_send(resp, rc, &e, 200, out);
        return;
    }
    if (!strcmp(p.seg[1], "quotas") && p.n <= 4) {
        qapi_quotas(api, &ctx, &p, req, resp);
        return;
    }
    const qresource *r = qres_by_path(p.seg[1]);
    if (r && (p.n == 4 || p.n == 5) && !strcmp(p.seg[3], "tags")) {
        qapi_tags(api, &ctx, r, &p, req, resp);
        return;
    }
    if (r == &qres_subnetpool && p.n == 4 && (!strcmp(p.seg[3], "add_prefixes") ||
                                              !strcmp(p.seg[3], "remove_prefixes"))) {
        qapi_subnetpool_prefixes(api, &ctx, &p, req, resp);
        return;
    }
    if ((r == &qres_agent && (p.n == 4 || p.n == 5) && !strcmp(p.seg[3], "dhcp-networks")) ||
        (r == &qres_network && p.n == 4 && !strcmp(p.seg[3], "dhcp-agents"))) {
        qapi_dhcp(api, &ctx, &p, req, resp);
        return;
    }
    if (!r || p.n > 3) {
        qhttp_fail(resp, QE_NOT_FOUND, "The resource could not be found.");
        return;
    }
    if (p.n == 2)
        qapi_collection(api, &ctx, r, req, resp);
    else
        qapi_member(api, &ctx, r, p.seg[2], req, resp);
}
