/* libFuzzer target for lib/addr: the parsers of addresses, prefixes and MAC
 * addresses that every fixed_ips, cidr, allowed_address_pairs and
 * mac_address of a request goes through. Whatever parses must format to a
 * text that parses back to the same value (and formats identically), and
 * the derived values must stay inside their prefix. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_addr(const char *s)
{
    qaddr a, b;
    if (qaddr_parse(s, &a) < 0)
        return;
    if (a.family != 4 && a.family != 6)
        abort();
    /* The family-restricted parser agrees with the general one. */
    if (qaddr_parse_family(s, a.family, &b) < 0 || !qaddr_eq(&a, &b) ||
        qaddr_parse_family(s, a.family == 4 ? 6 : 4, &b) == 0)
        abort();
    char t[QADDR_STRLEN], t2[QADDR_STRLEN];
    qaddr_format(&a, t);
    if (qaddr_parse(t, &b) < 0 || !qaddr_eq(&a, &b) || qaddr_cmp(&a, &b))
        abort();
    qaddr_format(&b, t2);
    if (strcmp(t, t2))
        abort();
    uint8_t bytes[16];
    size_t n = qaddr_to_bytes(&a, bytes);
    if (n != (a.family == 4 ? 4u : 16u) || qaddr_from_bytes(bytes, n, &b) < 0 || !qaddr_eq(&a, &b))
        abort();
}

static void check_cidr(const char *s, bool or_host)
{
    qcidr c, d;
    if ((or_host ? qcidr_parse_or_host(s, &c) : qcidr_parse(s, &c)) < 0)
        return;
    if (c.prefixlen < 0 || c.prefixlen > qaddr_bits(c.addr.family))
        abort();
    char t[QCIDR_STRLEN];
    qcidr_format(&c, t);
    if (qcidr_parse(t, &d) < 0 || !qaddr_eq(&c.addr, &d.addr) || c.prefixlen != d.prefixlen)
        abort();
    qaddr net = qcidr_network(&c), last = qcidr_last(&c);
    if (!qcidr_contains(&c, &net) || !qcidr_contains(&c, &last) || !qcidr_contains(&c, &c.addr) ||
        qaddr_cmp(&net, &last) > 0 || !qcidr_overlaps(&c, &d) || qcidr_size(&c) == 0)
        abort();
    /* The prefix as a network is a network, and contains the same addresses. */
    qcidr n = {net, c.prefixlen};
    if (!qcidr_is_network(&n) || !qcidr_overlaps(&n, &c))
        abort();
}

static void check_mac(const char *s)
{
    qmac m, m2;
    if (qmac_parse(s, &m) < 0)
        return;
    char t[QMAC_STRLEN];
    qmac_format(&m, t);
    if (qmac_parse(t, &m2) < 0 || memcmp(&m, &m2, sizeof m))
        abort();
    /* A /64 and this MAC give an EUI-64 address inside the /64. */
    qcidr p;
    if (qcidr_parse("2001:db8::/64", &p) < 0)
        abort();
    qaddr a = qaddr_eui64(&p, &m);
    if (!qcidr_contains(&p, &a))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parsers take C strings: the input up to its first NUL. */
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    check_addr(s);
    check_cidr(s, false);
    check_cidr(s, true);
    check_mac(s);
    free(s);
    return 0;
}
