/* urls: a list of server URLs as OpenStack list options are written
 * ("http://a:9696, http://b:9696"): the servers of one cluster, tried in
 * order. One parser for qhv-agent's [agent] server_url and qhvctl's --url /
 * $QHV_URL, so both accept and refuse the same lists.
 *
 * Rules: items are separated by commas, with spaces or tabs around them
 * allowed; each item is an http:// or https:// URL with a host, without
 * whitespace, query or fragment; trailing '/' are dropped (paths are
 * appended to the URL); an empty item and a duplicate (the same URL, scheme
 * and host compared without case) are refused; at least one URL.
 *
 * Ownership: qurls_parse fills a caller's struct whose strings it owns;
 * qurls_free frees them (accepts NULL and a zeroed or failed struct). */
#ifndef QHV_URLS_H
#define QHV_URLS_H
#include <stdbool.h>
#include <stddef.h>

typedef struct qurls {
    char **v;       /* the URLs in order, without trailing '/' */
    size_t n;       /* >= 1 after a successful parse */
} qurls;

/* 0, or -1 with err saying which item is wrong and why, prefixed by what
 * (the option's name, e.g. "[agent] server_url"). *out is zeroed first and
 * left empty on error. */
int qurls_parse(qurls *out, const char *text, const char *what, char *err, size_t errlen);
void qurls_free(qurls *u);
/* true if one of the URLs is https:// (TLS settings apply). */
bool qurls_any_https(const qurls *u);

#endif
