/* http_tls: the listener's TLS on GnuTLS — credentials from PEM text, one
 * non-blocking server session per connection (client certificates demanded
 * and verified in the handshake when a CA is given, see server/tls.h), and
 * record I/O that reports "would block" as the plain socket does.
 *
 * Ownership: qhttp_tls_new returns credentials freed by qhttp_tls_free;
 * qhttp_tls_session returns a session freed by qhttp_tls_session_free (both
 * accept NULL). The PEM text is copied by GnuTLS. */
#ifndef QHV_SERVER_HTTP_TLS_H
#define QHV_SERVER_HTTP_TLS_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "lib/err.h"

typedef struct qhttp_tls qhttp_tls;

qhttp_tls *qhttp_tls_new(const char *cert_pem, const char *key_pem, const char *ca_pem, qerr *e);
void qhttp_tls_free(qhttp_tls *t);
/* A server session on fd, or NULL. */
void *qhttp_tls_session(qhttp_tls *t, int fd);
void qhttp_tls_session_free(void *session);
/* 1 = done, 0 = would block, -1 = failed (or the client certificate is
 * not verified). */
int qhttp_tls_handshake(qhttp_tls *t, void *session);
/* Bytes read / written; 0 = end of stream (read); -1 = would block;
 * -2 = failed. */
ssize_t qhttp_tls_recv(void *session, char *buf, size_t len);
ssize_t qhttp_tls_send(void *session, const char *buf, size_t len);
/* Sends close_notify if it can without blocking. */
void qhttp_tls_bye(void *session);

#endif
