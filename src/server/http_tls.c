#include "server/http_tls.h"
#include "server/tls.h"
#include "lib/log.h"
#include "lib/util.h"
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>

struct qhttp_tls {
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    bool client_certs;
};

static gnutls_datum_t qhttp_tls_datum(const char *pem)
{
    return (gnutls_datum_t){(unsigned char *)pem, (unsigned)strlen(pem)};
}

qhttp_tls *qhttp_tls_new(const char *cert_pem, const char *key_pem, const char *ca_pem, qerr *e)
{
    qhttp_tls *t = xcalloc(1, sizeof *t);
    gnutls_datum_t c = qhttp_tls_datum(cert_pem), k = qhttp_tls_datum(key_pem ? key_pem : "");
    int rc = gnutls_certificate_allocate_credentials(&t->cred);
    if (rc >= 0)
        rc = gnutls_certificate_set_x509_key_mem2(t->cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc >= 0 && ca_pem) {
        gnutls_datum_t ca = qhttp_tls_datum(ca_pem);
        rc = gnutls_certificate_set_x509_trust_mem(t->cred, &ca, GNUTLS_X509_FMT_PEM);
        t->client_certs = true;
    }
    if (rc >= 0)
        rc = gnutls_priority_init(&t->prio, QTLS_PRIORITIES, NULL);
    if (rc < 0) {
        qerr_set(e, QE_INTERNAL, "[ssl]: cannot set up TLS: %s", gnutls_strerror(rc));
        qhttp_tls_free(t);
        return NULL;
    }
    return t;
}

void qhttp_tls_free(qhttp_tls *t)
{
    if (!t)
        return;
    if (t->prio)
        gnutls_priority_deinit(t->prio);
    if (t->cred)
        gnutls_certificate_free_credentials(t->cred);
    free(t);
}

void *qhttp_tls_session(qhttp_tls *t, int fd)
{
    gnutls_session_t s;
    if (gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0)
        return NULL;
    if (gnutls_priority_set(s, t->prio) < 0 ||
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred) < 0) {
        gnutls_deinit(s);
        return NULL;
    }
    if (t->client_certs)
        qtls_require_client_cert(s);
    gnutls_transport_set_int(s, fd);
    return s;
}

void qhttp_tls_session_free(void *session)
{
    if (session)
        gnutls_deinit(session);
}

int qhttp_tls_handshake(qhttp_tls *t, void *session)
{
    int rc;
    do
        rc = gnutls_handshake(session);
    while (rc == GNUTLS_E_INTERRUPTED);
    if (rc == GNUTLS_E_AGAIN)
        return 0;
    if (rc < 0) {
        if (rc != GNUTLS_E_PREMATURE_TERMINATION && rc != GNUTLS_E_PUSH_ERROR &&
            rc != GNUTLS_E_PULL_ERROR)
            QLOG_W("http", "TLS handshake failed: %s", gnutls_strerror(rc));
        return -1;
    }
    /* Verified in the handshake already; checked once more so that a
     * session that could not be set up that way is refused all the same. */
    if (t->client_certs && !qtls_peer_verified(session)) {
        QLOG_W("http", "connection without a verified client certificate refused");
        return -1;
    }
    return 1;
}

ssize_t qhttp_tls_recv(void *session, char *buf, size_t len)
{
    for (;;) {
        ssize_t n = gnutls_record_recv(session, buf, len);
        if (n >= 0)
            return n;
        if (n == GNUTLS_E_INTERRUPTED)
            continue;
        if (n == GNUTLS_E_AGAIN)
            return -1;
        return n == GNUTLS_E_PREMATURE_TERMINATION ? 0 : -2;
    }
}

ssize_t qhttp_tls_send(void *session, const char *buf, size_t len)
{
    for (;;) {
        ssize_t n = gnutls_record_send(session, buf, len);
        if (n >= 0)
            return n;
        if (n == GNUTLS_E_INTERRUPTED)
            continue;
        return n == GNUTLS_E_AGAIN ? -1 : -2;
    }
}

void qhttp_tls_bye(void *session)
{
    gnutls_bye(session, GNUTLS_SHUT_WR);
}
