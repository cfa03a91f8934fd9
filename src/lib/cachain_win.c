#include "lib/cachain_win.h"
#include "lib/file.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qcachain {
    HCERTSTORE roots;
    HCERTCHAINENGINE engine;
};

void qcachain_free(qcachain *c)
{
    if (!c)
        return;
    if (c->engine)
        CertFreeCertificateChainEngine(c->engine);
    if (c->roots)
        CertCloseStore(c->roots, 0);
    free(c);
}

/* Adds every "-----BEGIN CERTIFICATE-----" block of pem to store; returns
 * how many. */
static int qcachain_add_pem(HCERTSTORE store, const char *pem)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    int n = 0;
    for (const char *p = strstr(pem, begin); p; p = strstr(p, begin)) {
        const char *e = strstr(p, end);
        if (!e)
            break;
        e += sizeof end - 1;
        DWORD len = 0;
        if (CryptStringToBinaryA(p, (DWORD)(e - p), CRYPT_STRING_BASE64HEADER, NULL, &len, NULL,
                                 NULL) && len) {
            BYTE *der = malloc(len);
            if (!der)
                abort();
            if (CryptStringToBinaryA(p, (DWORD)(e - p), CRYPT_STRING_BASE64HEADER, der, &len,
                                     NULL, NULL) &&
                CertAddEncodedCertificateToStore(store, X509_ASN_ENCODING, der, len,
                                                 CERT_STORE_ADD_ALWAYS, NULL))
                n++;
            free(der);
        }
        p = e;
    }
    return n;
}

qcachain *qcachain_load(const char *path, char *why, size_t whylen)
{
    char *pem = qfile_read(path, NULL);
    if (!pem) {
        snprintf(why, whylen, "ca_file %s: %s", path, strerror(errno));
        return NULL;
    }
    qcachain *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->roots = CertOpenStore(CERT_STORE_PROV_MEMORY, 0, 0, 0, NULL);
    int added = c->roots ? qcachain_add_pem(c->roots, pem) : 0;
    free(pem);
    if (!added) {
        snprintf(why, whylen, "ca_file %s: no PEM certificate in it", path);
        qcachain_free(c);
        return NULL;
    }
    CERT_CHAIN_ENGINE_CONFIG cfg;
    memset(&cfg, 0, sizeof cfg);
    /* The Windows 7 layout (up to hExclusiveTrustedPeople): every Windows
     * since takes it, and it is the one Wine knows. */
    cfg.cbSize = (DWORD)offsetof(CERT_CHAIN_ENGINE_CONFIG, dwExclusiveFlags);
    cfg.hExclusiveRoot = c->roots;  /* only these are trust anchors */
    if (!CertCreateCertificateChainEngine(&cfg, &c->engine)) {
        snprintf(why, whylen, "ca_file %s: CertCreateCertificateChainEngine failed (0x%08lx)",
                 path, (unsigned long)GetLastError());
        c->engine = NULL;
        qcachain_free(c);
        return NULL;
    }
    return c;
}

/* The chain's error bits, in words (the first few that apply). */
static void qcachain_trust_text(DWORD status, char *out, size_t len)
{
    static const struct {
        DWORD bit;
        const char *text;
    } bits[] = {
        {CERT_TRUST_IS_UNTRUSTED_ROOT, "not issued by a CA of ca_file"},
        {CERT_TRUST_IS_PARTIAL_CHAIN, "no chain to a CA of ca_file"},
        {CERT_TRUST_IS_NOT_TIME_VALID, "expired or not yet valid"},
        {CERT_TRUST_IS_NOT_SIGNATURE_VALID, "bad signature"},
        {CERT_TRUST_IS_NOT_VALID_FOR_USAGE, "not valid for server authentication"},
        {CERT_TRUST_IS_REVOKED, "revoked"},
        {CERT_TRUST_INVALID_BASIC_CONSTRAINTS, "invalid basic constraints"},
    };
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
        if ((status & bits[i].bit) && used < len)
            used += (size_t)snprintf(out + used, len - used, "%s%s", used ? ", " : "",
                                     bits[i].text);
    if (!used)
        snprintf(out, len, "chain error status 0x%08lx", (unsigned long)status);
}

/* Is a an IP address of cert's subjectAltName? (What a client checks for
 * an IP literal in the URL; the SSL policy checks DNS names only, on some
 * systems.) */
static bool qcachain_san_has_ip(PCCERT_CONTEXT cert, const qaddr *a)
{
    PCERT_EXTENSION ext = CertFindExtension(szOID_SUBJECT_ALT_NAME2,
                                            cert->pCertInfo->cExtension,
                                            cert->pCertInfo->rgExtension);
    CERT_ALT_NAME_INFO *info = NULL;
    DWORD len = 0;
    if (!ext || !CryptDecodeObjectEx(X509_ASN_ENCODING, X509_ALTERNATE_NAME, ext->Value.pbData,
                                     ext->Value.cbData, CRYPT_DECODE_ALLOC_FLAG, NULL, &info,
                                     &len))
        return false;
    bool found = false;
    for (DWORD i = 0; i < info->cAltEntry && !found; i++) {
        const CERT_ALT_NAME_ENTRY *e = &info->rgAltEntry[i];
        qaddr san;
        if (e->dwAltNameChoice == CERT_ALT_NAME_IP_ADDRESS &&
            qaddr_from_bytes(e->IPAddress.pbData, e->IPAddress.cbData, &san) == 0)
            found = qaddr_eq(&san, a);
    }
    LocalFree(info);
    return found;
}

/* host as an IP address ("[...]" around IPv6 allowed); false for a name. */
static bool qcachain_host_ip(const wchar_t *host, qaddr *ret)
{
    char h[64];
    int n = WideCharToMultiByte(CP_UTF8, 0, host, -1, h, sizeof h, NULL, NULL);
    if (n <= 1)
        return false;
    char *p = h;
    size_t l = strlen(p);
    if (l > 2 && p[0] == '[' && p[l - 1] == ']') {
        p[l - 1] = '\0';
        p++;
    }
    return qaddr_parse(p, ret) == 0;
}

int qcachain_verify(const qcachain *c, PCCERT_CONTEXT cert, const wchar_t *host, char *why,
                    size_t whylen)
{
    static LPSTR server_auth[] = {(LPSTR)szOID_PKIX_KP_SERVER_AUTH};
    CERT_CHAIN_PARA para;
    memset(&para, 0, sizeof para);
    para.cbSize = sizeof para;
    para.RequestedUsage.dwType = USAGE_MATCH_TYPE_AND;
    para.RequestedUsage.Usage.cUsageIdentifier = 1;
    para.RequestedUsage.Usage.rgpszUsageIdentifier = server_auth;
    PCCERT_CHAIN_CONTEXT chain = NULL;
    /* cert->hCertStore holds what the server sent: the intermediates. */
    if (!CertGetCertificateChain(c->engine, cert, NULL, cert->hCertStore, &para, 0, NULL,
                                 &chain)) {
        snprintf(why, whylen, "CertGetCertificateChain failed (0x%08lx)",
                 (unsigned long)GetLastError());
        return -1;
    }
    DWORD status = chain->TrustStatus.dwErrorStatus &
                   ~(DWORD)(CERT_TRUST_REVOCATION_STATUS_UNKNOWN | CERT_TRUST_IS_OFFLINE_REVOCATION);
    if (status) {
        char text[200];
        qcachain_trust_text(status, text, sizeof text);
        snprintf(why, whylen, "server certificate verification failed: %s", text);
        CertFreeCertificateChain(chain);
        return -1;
    }
    qaddr ip;
    bool is_ip = qcachain_host_ip(host, &ip);
    if (is_ip && !qcachain_san_has_ip(cert, &ip)) {
        snprintf(why, whylen, "server certificate verification failed: the host's address "
                              "is not among its subjectAltName IP addresses");
        CertFreeCertificateChain(chain);
        return -1;
    }
    SSL_EXTRA_CERT_CHAIN_POLICY_PARA ssl;
    memset(&ssl, 0, sizeof ssl);
    ssl.cbSize = sizeof ssl;
    ssl.dwAuthType = AUTHTYPE_SERVER;
    /* No revocation check (see above); an address was checked just now. */
    ssl.fdwChecks = 0x00000080 /* SECURITY_FLAG_IGNORE_REVOCATION */ |
                    (is_ip ? 0x00001000u /* SECURITY_FLAG_IGNORE_CERT_CN_INVALID */ : 0);
    ssl.pwszServerName = (WCHAR *)host;
    CERT_CHAIN_POLICY_PARA pp;
    memset(&pp, 0, sizeof pp);
    pp.cbSize = sizeof pp;
    pp.pvExtraPolicyPara = &ssl;
    CERT_CHAIN_POLICY_STATUS ps;
    memset(&ps, 0, sizeof ps);
    ps.cbSize = sizeof ps;
    BOOL ok = CertVerifyCertificateChainPolicy(CERT_CHAIN_POLICY_SSL, chain, &pp, &ps);
    CertFreeCertificateChain(chain);
    if (!ok || ps.dwError) {
        DWORD e = ok ? ps.dwError : GetLastError();
        snprintf(why, whylen, "server certificate verification failed: %s (0x%08lx)",
                 e == (DWORD)CERT_E_CN_NO_MATCH ? "the name does not match the host"
                 : e == (DWORD)CERT_E_EXPIRED  ? "expired or not yet valid"
                                               : "rejected by the SSL policy",
                 (unsigned long)e);
        return -1;
    }
    return 0;
}
