#include "server/tls.h"
#include "lib/log.h"
#include "lib/util.h"
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define QTLS_MAX_FILE (1024 * 1024)

/* The whole file as a NUL-terminated string (caller frees), or NULL with e. */
static char *qtls_read(const char *what, const char *path, qerr *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        qerr_set(e, QE_INTERNAL, "[ssl] %s: cannot open %s: %s", what, path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (len + 1 == cap) {
            if (cap >= QTLS_MAX_FILE) {
                fclose(f);
                free(buf);
                qerr_set(e, QE_INTERNAL, "[ssl] %s: %s is larger than %d bytes", what, path,
                         QTLS_MAX_FILE);
                return NULL;
            }
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        size_t n = fread(buf + len, 1, cap - 1 - len, f);
        len += n;
        if (n == 0)
            break;
    }
    bool err = ferror(f);
    fclose(f);
    buf[len] = '\0';
    if (err) {
        free(buf);
        qerr_set(e, QE_INTERNAL, "[ssl] %s: cannot read %s", what, path);
        return NULL;
    }
    return buf;
}

/* Parses every certificate of pem; their count, or -1 with e. Warns about
 * the validity period of the first one (the server's or the first CA). */
static int qtls_check_certs(const char *what, const char *path, const char *pem, qerr *e)
{
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
    gnutls_x509_crt_t *certs = NULL;
    unsigned n = 0;
    int rc = gnutls_x509_crt_list_import2(&certs, &n, &d, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || n == 0) {
        qerr_set(e, QE_INTERNAL, "[ssl] %s: %s holds no PEM certificate (%s)", what, path,
                 rc < 0 ? gnutls_strerror(rc) : "empty");
        return -1;
    }
    time_t now = time(NULL);
    time_t not_after = gnutls_x509_crt_get_expiration_time(certs[0]);
    time_t not_before = gnutls_x509_crt_get_activation_time(certs[0]);
    if (not_after != (time_t)-1 && not_after < now)
        QLOG_W("tls", "[ssl] %s: the certificate in %s expired", what, path);
    else if (not_before != (time_t)-1 && not_before > now)
        QLOG_W("tls", "[ssl] %s: the certificate in %s is not valid yet", what, path);
    else if (not_after != (time_t)-1 && not_after - now < 30 * 86400)
        QLOG_W("tls", "[ssl] %s: the certificate in %s expires in %lld days", what, path,
               (long long)((not_after - now) / 86400));
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(certs[i]);
    gnutls_free(certs);
    return (int)n;
}

int qtls_load(const char *cert_file, const char *key_file, const char *ca_file,
              qtls_material *ret, qerr *e)
{
    memset(ret, 0, sizeof *ret);
    ret->cert_pem = qtls_read("cert_file", cert_file, e);
    if (!ret->cert_pem)
        goto fail;
    ret->key_pem = qtls_read("key_file", key_file, e);
    if (!ret->key_pem)
        goto fail;
    if (qtls_check_certs("cert_file", cert_file, ret->cert_pem, e) < 0)
        goto fail;
    /* The key parses and is the certificate's: GnuTLS checks both here. */
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) < 0) {
        qerr_set(e, QE_INTERNAL, "[ssl]: cannot allocate GnuTLS credentials");
        goto fail;
    }
    gnutls_datum_t c = {(unsigned char *)ret->cert_pem, (unsigned)strlen(ret->cert_pem)};
    gnutls_datum_t k = {(unsigned char *)ret->key_pem, (unsigned)strlen(ret->key_pem)};
    int rc = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(cred);
    if (rc < 0) {
        qerr_set(e, QE_INTERNAL, "[ssl] key_file %s and cert_file %s: %s%s", key_file,
                 cert_file, gnutls_strerror(rc),
                 rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH ? "" :
                 " (an unencrypted PEM private key is needed)");
        goto fail;
    }
    struct stat sb;
    if (stat(key_file, &sb) == 0 && (sb.st_mode & 077))
        QLOG_W("tls", "[ssl] key_file %s can be read by other users (mode %03o): chmod 600 it",
               key_file, (unsigned)(sb.st_mode & 0777));
    if (ca_file && *ca_file) {
        ret->ca_pem = qtls_read("ca_file", ca_file, e);
        if (!ret->ca_pem || qtls_check_certs("ca_file", ca_file, ret->ca_pem, e) < 0)
            goto fail;
    }
    return 0;
fail:
    qtls_material_free(ret);
    return -1;
}

void qtls_material_free(qtls_material *m)
{
    if (!m)
        return;
    if (m->key_pem)
        explicit_bzero(m->key_pem, strlen(m->key_pem));
    free(m->cert_pem);
    free(m->key_pem);
    free(m->ca_pem);
    memset(m, 0, sizeof *m);
}

/* What a client certificate is checked for: no host name (it names a
 * client, not this server), and the TLS client purpose (a certificate whose
 * extended key usage excludes clientAuth, e.g. a server's, is refused; one
 * without the extension is good for any purpose, as RFC 5280 says). */
static gnutls_typed_vdata_st qtls_client_purpose[] = {
    {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0},
};

void qtls_require_client_cert(void *session)
{
    gnutls_session_t s = session;
    gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
    gnutls_session_set_verify_cert2(s, qtls_client_purpose, QHV_ARRAY_SIZE(qtls_client_purpose),
                                    0);
}

bool qtls_peer_verified(void *session)
{
    gnutls_session_t s = session;
    unsigned n = 0, status = 0;
    if (!gnutls_certificate_get_peers(s, &n) || n == 0)
        return false;
    return gnutls_certificate_verify_peers(s, qtls_client_purpose,
                                           QHV_ARRAY_SIZE(qtls_client_purpose), &status) == 0 &&
           status == 0;
}
