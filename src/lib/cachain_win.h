/* cachain_win: verifying a TLS server's certificate against the CAs of one
 * PEM file only (Windows, CryptoAPI), for [ssl] ca_file: WinHTTP itself
 * trusts the Windows certificate store, which an operator's private CA is
 * usually not in, and should not be trusted for this server when a CA is
 * named.
 *
 * The chain is built by a chain engine whose exclusive root store holds the
 * file's certificates (the Windows store plays no part), with the
 * intermediates the server sent, for server authentication, without
 * revocation checks (an agent cannot assume a reachable CRL); then the SSL
 * policy checks the name against host.
 *
 * Ownership: qcachain_load returns a set freed with qcachain_free (accepts
 * NULL). */
#ifndef QHV_CACHAIN_WIN_H
#define QHV_CACHAIN_WIN_H
#include <windows.h>
#include <wincrypt.h>
#include <stddef.h>

typedef struct qcachain qcachain;

/* The certificates of a PEM file; NULL with why if it cannot be read or
 * holds none. */
qcachain *qcachain_load(const char *path, char *why, size_t whylen);
void qcachain_free(qcachain *c);
/* 0 if cert (with the intermediates in its store) chains to one of c's CAs
 * and is valid for host; -1 with why otherwise. */
int qcachain_verify(const qcachain *c, PCCERT_CONTEXT cert, const wchar_t *host, char *why,
                    size_t whylen);

#endif
