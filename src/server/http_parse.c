#include "server/http_parse.h"
#include "lib/util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An empty line before the request line is ignored (RFC 9112 2.2: some
 * clients send CRLF after a POST body); a few, not a stream of them. */
#define QHP_MAX_BLANK 4

static qhp_result qhp_fail(qhp_error *err, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static qhp_result qhp_fail(qhp_error *err, int status, const char *type, const char *fmt, ...)
{
    err->status = status;
    err->type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return QHP_ERROR;
}

#define QHP_BAD(err, ...) qhp_fail(err, 400, "HTTPBadRequest", __VA_ARGS__)

/* RFC 9110 5.6.2 tchar. */
static bool qhp_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

void qhp_head_reset(qhp_head *h)
{
    size_t mt = h->max_target, mf = h->max_fields, cap = h->cap;
    qhp_field *f = h->fields;
    memset(h, 0, sizeof *h);
    h->max_target = mt;
    h->max_fields = mf;
    h->fields = f;
    h->cap = cap;
}

void qhp_head_free(qhp_head *h)
{
    if (!h)
        return;
    free(h->fields);
    h->fields = NULL;
    h->cap = h->nfields = 0;
}

/* method SP request-target SP HTTP-version */
static qhp_result qhp_request_line(qhp_head *h, const char *buf, size_t at, size_t len,
                                   qhp_error *err)
{
    const char *l = buf + at;
    size_t i = 0;
    while (i < len && qhp_tchar((unsigned char)l[i]))
        i++;
    if (i == 0 || i == len || l[i] != ' ')
        return QHP_BAD(err, "The request line is not 'method SP target SP HTTP/1.x'.");
    h->method = (qhp_span){at, i};
    size_t t = ++i;
    while (i < len && (unsigned char)l[i] > 0x20 && (unsigned char)l[i] < 0x7f)
        i++;
    if (i - t > h->max_target)
        return qhp_fail(err, 414, "HTTPRequestURITooLong",
                        "Request URI is too long: it exceeds %zu bytes.", h->max_target);
    if (i == t || i == len || l[i] != ' ')
        return QHP_BAD(err, "The request line is not 'method SP target SP HTTP/1.x'.");
    h->target = (qhp_span){at + t, i - t};
    const char *v = l + i + 1;
    size_t vlen = len - i - 1;
    if (vlen != 8 || memcmp(v, "HTTP/", 5) || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return QHP_BAD(err, "The request line has no HTTP version of the form HTTP/d.d.");
    if (v[5] != '1')
        return qhp_fail(err, 505, "HTTPVersionNotSupported",
                        "HTTP/%c.%c is not supported: this server speaks HTTP/1.1.", v[5], v[7]);
    h->minor = v[7] - '0';
    return QHP_MORE;
}

/* field-name ":" OWS field-value OWS */
static qhp_result qhp_field_line(qhp_head *h, const char *buf, size_t at, size_t len,
                                 qhp_error *err)
{
    const char *l = buf + at;
    if (l[0] == ' ' || l[0] == '\t')
        return QHP_BAD(err, "A header line is folded (obs-fold), which is not accepted.");
    size_t i = 0;
    while (i < len && qhp_tchar((unsigned char)l[i]))
        i++;
    if (i == 0 || i == len || l[i] != ':')
        return QHP_BAD(err, "A header line is not 'name: value'.");
    size_t name = i++;
    while (i < len && (l[i] == ' ' || l[i] == '\t'))
        i++;
    size_t v = i, end = len;
    while (end > v && (l[end - 1] == ' ' || l[end - 1] == '\t'))
        end--;
    for (size_t k = v; k < end; k++) {
        unsigned char c = (unsigned char)l[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return QHP_BAD(err, "A header value holds a control character.");
    }
    if (h->nfields == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->fields = xrealloc(h->fields, h->cap * sizeof *h->fields);
    }
    h->fields[h->nfields++] = (qhp_field){{at, name}, {at + v, end - v}};
    return QHP_MORE;
}

static bool qhp_name_is(const qhp_field *f, const char *buf, const char *name)
{
    return f->name.len == strlen(name) && !strncasecmp(buf + f->name.off, name, f->name.len);
}

/* Whether the comma-separated list value holds token (case-insensitive). */
static bool qhp_list_has(const char *v, size_t len, const char *token)
{
    size_t tl = strlen(token), i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < len && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && !strncasecmp(v + s, token, tl))
            return true;
    }
    return false;
}

/* The head is complete: framing (RFC 9112 6.1-6.3) and connection fields. */
static qhp_result qhp_finish(qhp_head *h, const char *buf, qhp_error *err)
{
    unsigned ncl = 0, nte = 0, nhost = 0;
    const qhp_field *te = NULL;
    bool keep_alive = false, close = false;
    for (size_t i = 0; i < h->nfields; i++) {
        const qhp_field *f = &h->fields[i];
        const char *v = buf + f->value.off;
        size_t vl = f->value.len;
        if (qhp_name_is(f, buf, "Content-Length")) {
            uint64_t n = 0;
            bool over = false;
            if (!vl)
                return QHP_BAD(err, "The request's Content-Length is not a number.");
            for (size_t k = 0; k < vl; k++) {
                if (v[k] < '0' || v[k] > '9')
                    return QHP_BAD(err, "The request's Content-Length is not a number.");
                over |= n > (UINT64_MAX - (uint64_t)(v[k] - '0')) / 10;
                n = over ? 0 : n * 10 + (uint64_t)(v[k] - '0');
            }
            if (over)
                return qhp_fail(err, 413, "HTTPRequestEntityTooLarge",
                                "Request is too large: its Content-Length exceeds 2^64.");
            if (ncl++ && n != h->length)
                return QHP_BAD(err, "The request has conflicting Content-Length headers.");
            h->length = n;
        } else if (qhp_name_is(f, buf, "Transfer-Encoding")) {
            te = f;
            nte++;
        } else if (qhp_name_is(f, buf, "Host")) {
            nhost++;
        } else if (qhp_name_is(f, buf, "Connection")) {
            close |= qhp_list_has(v, vl, "close");
            keep_alive |= qhp_list_has(v, vl, "keep-alive");
        } else if (qhp_name_is(f, buf, "Expect")) {
            if (vl != 12 || strncasecmp(v, "100-continue", 12))
                return qhp_fail(err, 417, "HTTPExpectationFailed",
                                "Only 'Expect: 100-continue' is supported.");
            h->expect_continue = h->minor >= 1;
        }
    }
    if (nte > 1)
        return QHP_BAD(err, "The request has more than one Transfer-Encoding header.");
    if (nte && ncl)
        return QHP_BAD(err, "The request has both Transfer-Encoding and Content-Length.");
    if (nte && h->minor == 0)
        return QHP_BAD(err, "Transfer-Encoding is not defined in HTTP/1.0.");
    if (te && (te->value.len != 7 || strncasecmp(buf + te->value.off, "chunked", 7)))
        return qhp_fail(err, 501, "HTTPNotImplemented",
                        "Transfer-Encoding '%.*s' is not supported: send the body plain "
                        "(with Content-Length) or chunked.",
                        (int)(te->value.len < 64 ? te->value.len : 64), buf + te->value.off);
    if (h->minor >= 1 && nhost != 1)
        return QHP_BAD(err, nhost ? "The request has more than one Host header."
                                  : "The request is HTTP/1.1 without a Host header.");
    h->has_length = ncl > 0;
    h->chunked = nte > 0;
    h->close = close || (h->minor == 0 && !keep_alive);
    return QHP_DONE;
}

qhp_result qhp_head_feed(qhp_head *h, const char *buf, size_t len, qhp_error *err)
{
    for (;;) {
        const char *lf = h->pos < len ? memchr(buf + h->pos, '\n', len - h->pos) : NULL;
        size_t have = (lf ? (size_t)(lf - buf) : len) - h->pos;
        /* Limits before the line is complete: a sender cannot make the
         * buffer grow past them. The request line holds a method and a
         * version around the target (16 + 10 bytes are plenty). */
        if (!h->line_seen && have > h->max_target + 32)
            return qhp_fail(err, 414, "HTTPRequestURITooLong",
                            "Request URI is too long: it exceeds %zu bytes.", h->max_target);
        if (h->line_seen && h->field_bytes + have > h->max_fields)
            return qhp_fail(err, 431, "HTTPRequestHeaderFieldsTooLarge",
                            "Request headers are too large: they exceed %zu bytes.",
                            h->max_fields);
        if (!lf)
            return QHP_MORE;
        size_t at = h->pos;
        h->pos = (size_t)(lf - buf) + 1;
        if (have == 0 || buf[at + have - 1] != '\r')
            return QHP_BAD(err, "A request line does not end with CRLF.");
        size_t ll = have - 1;
        if (memchr(buf + at, '\0', ll) || memchr(buf + at, '\r', ll))
            return QHP_BAD(err, "A request line holds a NUL or a bare CR.");
        if (!h->line_seen) {
            if (ll == 0) {
                if (++h->blank_lines > QHP_MAX_BLANK)
                    return QHP_BAD(err, "The request has empty lines instead of a request line.");
                continue;
            }
            if (qhp_request_line(h, buf, at, ll, err) == QHP_ERROR)
                return QHP_ERROR;
            h->line_seen = true;
            continue;
        }
        if (ll == 0)
            return qhp_finish(h, buf, err);
        h->field_bytes += have + 1;
        if (qhp_field_line(h, buf, at, ll, err) == QHP_ERROR)
            return QHP_ERROR;
    }
}

const char *qhp_head_field(const qhp_head *h, const char *buf, const char *name, size_t *vlen)
{
    for (size_t i = 0; i < h->nfields; i++)
        if (qhp_name_is(&h->fields[i], buf, name)) {
            if (vlen)
                *vlen = h->fields[i].value.len;
            return buf + h->fields[i].value.off;
        }
    return NULL;
}

enum { QHP_C_SIZE, QHP_C_EXT, QHP_C_SIZE_LF, QHP_C_DATA, QHP_C_DATA_CR, QHP_C_DATA_LF,
       QHP_C_TRAILER, QHP_C_TRAILER_LF, QHP_C_DONE };

void qhp_chunked_init(qhp_chunked *c, size_t max_line)
{
    memset(c, 0, sizeof *c);
    c->max_line = max_line;
}

static int qhp_hex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)(ch | 0x20);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

qhp_result qhp_chunked_feed(qhp_chunked *c, const char *in, size_t len, size_t *used, qbuf *body,
                            qhp_error *err)
{
    size_t i = 0;
    *used = 0;
    while (i < len && c->state != QHP_C_DONE) {
        char ch = in[i];
        if (c->state == QHP_C_DATA) {
            size_t n = len - i < c->left ? len - i : (size_t)c->left;
            if (!qbuf_append(body, in + i, n))
                return qhp_fail(err, 413, "HTTPRequestEntityTooLarge",
                                "Request is too large: the body exceeds %zu bytes.", body->max);
            i += n;
            c->left -= n;
            if (!c->left)
                c->state = QHP_C_DATA_CR;
            continue;
        }
        i++;
        if (c->state != QHP_C_DATA_CR && c->state != QHP_C_DATA_LF && ++c->line > c->max_line)
            return QHP_BAD(err, "A chunk-size or trailer line is too long.");
        switch (c->state) {
        case QHP_C_SIZE: {
            int d = qhp_hex(ch);
            if (d >= 0) {
                if (c->left > (UINT64_MAX >> 4))
                    return qhp_fail(err, 413, "HTTPRequestEntityTooLarge",
                                    "Request is too large: a chunk size exceeds 2^64.");
                c->left = c->left << 4 | (uint64_t)d;
                c->digits = true;
            } else if (c->digits && (ch == ';' || ch == ' ' || ch == '\t')) {
                c->state = QHP_C_EXT;
            } else if (c->digits && ch == '\r') {
                c->state = QHP_C_SIZE_LF;
            } else {
                return QHP_BAD(err, "A chunk size is not hexadecimal.");
            }
            break;
        }
        case QHP_C_EXT:
            if (ch == '\r')
                c->state = QHP_C_SIZE_LF;
            else if ((unsigned char)ch < 0x20 && ch != '\t')
                return QHP_BAD(err, "A chunk extension holds a control character.");
            break;
        case QHP_C_SIZE_LF:
            if (ch != '\n')
                return QHP_BAD(err, "A chunk-size line does not end with CRLF.");
            c->line = 0;
            c->digits = false;
            c->state = c->left ? QHP_C_DATA : QHP_C_TRAILER;
            break;
        case QHP_C_DATA_CR:
            if (ch != '\r')
                return QHP_BAD(err, "A chunk's data is not followed by CRLF.");
            c->state = QHP_C_DATA_LF;
            break;
        case QHP_C_DATA_LF:
            if (ch != '\n')
                return QHP_BAD(err, "A chunk's data is not followed by CRLF.");
            c->state = QHP_C_SIZE;
            c->line = 0;
            break;
        case QHP_C_TRAILER:     /* a trailer line, or the final empty line */
            if (ch == '\r') {
                c->state = QHP_C_TRAILER_LF;
            } else if (ch == ':' && c->line > 1) {
                c->colon = true;
            } else if (!c->colon && !qhp_tchar((unsigned char)ch)) {
                return QHP_BAD(err, "A trailer line is not 'name: value'.");
            } else if (c->colon && (unsigned char)ch < 0x20 && ch != '\t') {
                return QHP_BAD(err, "A trailer value holds a control character.");
            }
            break;
        case QHP_C_TRAILER_LF:
            if (ch != '\n')
                return QHP_BAD(err, "A trailer line does not end with CRLF.");
            if (c->line == 2) {
                c->state = QHP_C_DONE;
            } else if (!c->colon) {
                return QHP_BAD(err, "A trailer line is not 'name: value'.");
            } else {
                c->state = QHP_C_TRAILER;
                c->colon = false;
                c->line = 0;
            }
            break;
        default:
            break;
        }
    }
    *used = i;
    return c->state == QHP_C_DONE ? QHP_DONE : QHP_MORE;
}

bool qhp_unescape(char *s, bool plus_is_space)
{
    char *w = s;
    bool ok = true;
    for (char *r = s; *r; r++) {
        int hi, lo;
        if (*r == '%' && (hi = qhp_hex(r[1])) >= 0 && (lo = qhp_hex(r[2])) >= 0) {
            char ch = (char)(hi * 16 + lo);
            ok &= ch != '\0';
            *w++ = ch;
            r += 2;
        } else {
            *w++ = plus_is_space && *r == '+' ? ' ' : *r;
        }
    }
    *w = '\0';
    return ok;
}
