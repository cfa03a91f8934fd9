/* http_parse: qhv's strict HTTP/1.1 request parser (RFC 9112) — the request
 * head, fed incrementally line by line, and chunked bodies. It refuses what
 * the API does not need (obs-fold, bare LF, a list or a sign in
 * Content-Length, transfer codings other than chunked) with the status the
 * listener answers: 400, 413, 414, 431, 417, 501 or 505.
 *
 * Ownership: a qhp_head owns its field array (qhp_head_free, accepts NULL);
 * spans are offsets into the caller's buffer, which the caller keeps. */
#ifndef QHV_SERVER_HTTP_PARSE_H
#define QHV_SERVER_HTTP_PARSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"

typedef enum { QHP_MORE, QHP_DONE, QHP_ERROR } qhp_result;

typedef struct qhp_span { size_t off, len; } qhp_span;

typedef struct qhp_field { qhp_span name, value; } qhp_field;

/* What a refusal is: the status and a message for the NeutronError. */
typedef struct qhp_error {
    int status;
    const char *type;           /* NeutronError type, e.g. "HTTPBadRequest" */
    char msg[160];
} qhp_error;

typedef struct qhp_head {
    /* Limits, set before the first qhp_head_feed. */
    size_t max_target;          /* request-target bytes: 414 beyond */
    size_t max_fields;          /* field-line bytes: 431 beyond */
    /* Progress: the head spans buf[0, pos) once QHP_DONE. */
    size_t pos;
    bool line_seen;             /* the request line has been parsed */
    unsigned blank_lines;       /* empty lines before the request line (ignored) */
    size_t field_bytes;
    /* The request. */
    qhp_span method, target;
    int minor;                  /* HTTP/1.minor */
    qhp_field *fields;
    size_t nfields, cap;
    /* Framing and connection, set at QHP_DONE. */
    bool has_length, chunked;
    uint64_t length;
    bool close;                 /* Connection: close, or HTTP/1.0 without keep-alive */
    bool expect_continue;
} qhp_head;

/* Resets h for a new request head (keeps its limits and field array). */
void qhp_head_reset(qhp_head *h);
void qhp_head_free(qhp_head *h);
/* Parses the complete lines of buf[h->pos, len) (buf[0] starts the head). */
qhp_result qhp_head_feed(qhp_head *h, const char *buf, size_t len, qhp_error *err);
/* The value of the first field named name (case-insensitive), or NULL;
 * *vlen its length. */
const char *qhp_head_field(const qhp_head *h, const char *buf, const char *name, size_t *vlen);

/* Chunked body decoder (RFC 9112 7.1): chunk extensions skipped, trailer
 * fields checked and dropped. */
typedef struct qhp_chunked {
    int state;
    uint64_t left;              /* bytes of the current chunk, or its size so far */
    size_t line;                /* bytes of the current size or trailer line */
    size_t max_line;            /* bound of a size line or trailer line */
    bool digits;                /* the size line has a hex digit */
    bool colon;                 /* the trailer line has a colon */
} qhp_chunked;

void qhp_chunked_init(qhp_chunked *c, size_t max_line);
/* Decodes in[0, len): data goes to body (413 when body's maximum is
 * exceeded); *used is how many bytes were taken (all, unless QHP_DONE). */
qhp_result qhp_chunked_feed(qhp_chunked *c, const char *in, size_t len, size_t *used, qbuf *body,
                            qhp_error *err);

/* Percent-decodes s in place ("+" stays); false if it decodes to a NUL. */
bool qhp_unescape(char *s, bool plus_is_space);

#endif
