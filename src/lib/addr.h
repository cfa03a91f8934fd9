/* addr: IPv4/IPv6 addresses, CIDR prefixes and MAC addresses as values.
 * No allocation anywhere: every type is a plain struct the caller owns.
 *
 * An address is 128 bits: IPv4 is kept as its own 32 bits in the low word
 * (family 4), not as a v4-mapped v6 address, so arithmetic is the same code
 * for both families. */
#ifndef QHV_ADDR_H
#define QHV_ADDR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

__extension__ typedef unsigned __int128 qhv_u128;

typedef struct qaddr {
    int family;         /* 4 or 6 */
    qhv_u128 v;         /* host-order value; for family 4 only the low 32 bits */
} qaddr;

typedef struct qcidr {
    qaddr addr;         /* as written (may have host bits set) */
    int prefixlen;      /* 0..32 or 0..128 */
} qcidr;

typedef struct qmac {
    uint8_t b[6];
} qmac;

#define QADDR_STRLEN 46   /* enough for any IPv6 text form + NUL */
#define QCIDR_STRLEN 50
#define QMAC_STRLEN 18

/* Parsing is strict: no surrounding spaces, IPv4 dotted quad with no leading
 * zeros ("01.2.3.4" is rejected), IPv6 per RFC 4291 incl. "::" and an
 * embedded IPv4 tail, no zone ids. Return 0 or -1. */
int qaddr_parse(const char *s, qaddr *ret);
int qaddr_parse_family(const char *s, int family, qaddr *ret); /* family 0 = any */
/* Canonical text: dotted quad, or RFC 5952 for IPv6 (lower case, longest
 * zero run compressed, "::ffff:1.2.3.4" not special-cased). */
void qaddr_format(const qaddr *a, char out[static QADDR_STRLEN]);
int qaddr_cmp(const qaddr *a, const qaddr *b);     /* family first, then value */
bool qaddr_eq(const qaddr *a, const qaddr *b);
int qaddr_bits(int family);                         /* 32 or 128 */
/* a + n / a - n within the family; false on wrap-around out of the family. */
bool qaddr_add(const qaddr *a, qhv_u128 n, qaddr *ret);
bool qaddr_sub(const qaddr *a, qhv_u128 n, qaddr *ret);
/* Big-endian bytes (4 or 16) for storage with memcmp ordering; returns length. */
size_t qaddr_to_bytes(const qaddr *a, uint8_t out[static 16]);
int qaddr_from_bytes(const uint8_t *p, size_t len, qaddr *ret);

/* "10.0.0.0/24", "2001:db8::/64"; a bare address is NOT accepted here. */
int qcidr_parse(const char *s, qcidr *ret);
/* Accepts a bare address too, as a host prefix (/32 or /128). */
int qcidr_parse_or_host(const char *s, qcidr *ret);
void qcidr_format(const qcidr *c, char out[static QCIDR_STRLEN]);
qaddr qcidr_network(const qcidr *c);     /* host bits cleared */
qaddr qcidr_last(const qcidr *c);        /* host bits set (broadcast for IPv4) */
qhv_u128 qcidr_size(const qcidr *c);     /* number of addresses; for ::/0 returns max u128 */
bool qcidr_is_network(const qcidr *c);   /* no host bits set */
bool qcidr_contains(const qcidr *c, const qaddr *a);
bool qcidr_overlaps(const qcidr *a, const qcidr *b);

/* MACs: "fa:16:3e:00:11:22" (also accepts '-' separators and upper case).
 * Format is lower case with ':'. */
int qmac_parse(const char *s, qmac *ret);
void qmac_format(const qmac *m, char out[static QMAC_STRLEN]);
bool qmac_is_multicast(const qmac *m);
bool qmac_is_zero(const qmac *m);
/* Modified EUI-64 IPv6 address in prefix (a /64) for mac (RFC 4291 App. A). */
qaddr qaddr_eui64(const qcidr *prefix, const qmac *mac);

#endif
