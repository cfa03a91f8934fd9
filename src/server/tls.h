/* tls: the API listener's TLS material ([ssl] cert_file, key_file, ca_file),
 * read and checked once at start so that a wrong file stops the server with
 * a clear message instead of failing every handshake, and the GnuTLS
 * per-connection hooks the listener (server/http_tls.c) uses to demand and
 * verify client certificates.
 *
 * Ownership: qtls_load fills a qtls_material whose PEM strings it owns;
 * qtls_material_free frees them (accepts NULL and a zeroed material; it
 * wipes the key). */
#ifndef QHV_SERVER_TLS_H
#define QHV_SERVER_TLS_H
#include <stdbool.h>
#include "lib/err.h"

typedef struct qtls_material {
    char *cert_pem;        /* the certificate, then its chain */
    char *key_pem;         /* unencrypted private key of the first certificate */
    char *ca_pem;          /* CAs that sign client certificates, or NULL */
} qtls_material;

/* GnuTLS priorities of the listener: TLS 1.2 and 1.3 only. */
#define QTLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Reads and checks the files (ca_file may be NULL or ""): the certificate
 * parses, the key parses and belongs to it, the CA file holds at least one
 * certificate. Warns (log) about a certificate that is expired or not yet
 * valid and about a key file others can read. -1 with e on error. */
int qtls_load(const char *cert_file, const char *key_file, const char *ca_file,
              qtls_material *ret, qerr *e);
void qtls_material_free(qtls_material *m);

/* On a new server session (gnutls_session_t): ask for a client certificate,
 * make the handshake fail without one, and verify it during the handshake
 * against the credentials' trust list, for the TLS client purpose (an
 * extended key usage without clientAuth is refused). */
void qtls_require_client_cert(void *session);
/* true if the session's peer presented a certificate that verifies against
 * the trust list (one chain verification: call once per connection). */
bool qtls_peer_verified(void *session);

#endif
