/* addr: hand-written parsers and formatters (no inet_pton/inet_ntop) so the
 * accepted syntax is identical on every platform and as strict as we want. */
#include "lib/addr.h"
#include <string.h>

#define U128_MAX (~(qhv_u128)0)

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool isdig(char c) { return c >= '0' && c <= '9'; }

/* Dotted quad in s[0..len): exactly 4 parts, 0-255, no leading zeros. */
static int parse_v4(const char *s, size_t len, uint32_t *ret)
{
    uint32_t v = 0;
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= len || s[i] != '.')
                return -1;
            i++;
        }
        size_t start = i;
        unsigned n = 0;
        /* At most 3 digits, so n cannot overflow before the range check. */
        while (i < len && isdig(s[i]) && i - start < 3)
            n = n * 10 + (unsigned)(s[i++] - '0');
        size_t nd = i - start;
        if (nd == 0 || n > 255 || (nd > 1 && s[start] == '0'))
            return -1;
        v = v << 8 | n;
    }
    if (i != len)
        return -1;
    *ret = v;
    return 0;
}

/* RFC 4291 text in s[0..len): at most one "::", 1-4 hex digits per group,
 * optional dotted-quad tail as the last 32 bits, no zone id. */
static int parse_v6(const char *s, size_t len, qhv_u128 *ret)
{
    uint16_t head[8], tail[8];
    int nh = 0, nt = 0;
    bool dbl = false;
    size_t i = 0;

    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        dbl = true;
        i = 2;
    } else if (len >= 1 && s[0] == ':') {
        return -1;
    }
    while (i < len) {
        size_t start = i;
        while (i < len && s[i] != ':')
            i++;
        size_t tlen = i - start;
        if (memchr(s + start, '.', tlen)) {
            /* An embedded IPv4 must be the very last token. */
            uint32_t v4;
            if (i != len || parse_v4(s + start, tlen, &v4) < 0 || nh + nt + 2 > 8)
                return -1;
            uint16_t *g = dbl ? tail : head;
            int *n = dbl ? &nt : &nh;
            g[(*n)++] = (uint16_t)(v4 >> 16);
            g[(*n)++] = (uint16_t)v4;
            break;
        }
        if (tlen < 1 || tlen > 4 || nh + nt >= 8)
            return -1;
        unsigned g = 0;
        for (size_t k = start; k < i; k++) {
            int h = hexval(s[k]);
            if (h < 0)
                return -1;
            g = g << 4 | (unsigned)h;
        }
        if (dbl)
            tail[nt++] = (uint16_t)g;
        else
            head[nh++] = (uint16_t)g;
        if (i == len)
            break;
        i++; /* skip ':' */
        if (i < len && s[i] == ':') {
            if (dbl)
                return -1;
            dbl = true;
            i++;
        } else if (i == len) {
            return -1; /* trailing single ':' */
        }
    }
    /* "::" stands for at least one zero group. */
    if (dbl ? nh + nt > 7 : nh + nt != 8)
        return -1;
    uint16_t g[8] = {0};
    memcpy(g, head, (size_t)nh * sizeof g[0]);
    memcpy(g + 8 - nt, tail, (size_t)nt * sizeof g[0]);
    qhv_u128 v = 0;
    for (int k = 0; k < 8; k++)
        v = v << 16 | g[k];
    *ret = v;
    return 0;
}

/* Family is decided by the presence of ':' (IPv6 always has one, IPv4 never). */
static int parse_addr_n(const char *s, size_t len, int family, qaddr *ret)
{
    if (family != 0 && family != 4 && family != 6)
        return -1;
    qaddr a = {0};
    if (memchr(s, ':', len)) {
        if (family == 4 || parse_v6(s, len, &a.v) < 0)
            return -1;
        a.family = 6;
    } else {
        uint32_t v4;
        if (family == 6 || parse_v4(s, len, &v4) < 0)
            return -1;
        a.family = 4;
        a.v = v4;
    }
    *ret = a;
    return 0;
}

int qaddr_parse(const char *s, qaddr *ret) { return qaddr_parse_family(s, 0, ret); }

int qaddr_parse_family(const char *s, int family, qaddr *ret)
{
    if (!s)
        return -1;
    return parse_addr_n(s, strlen(s), family, ret);
}

static char *put_dec(char *p, unsigned n)
{
    char tmp[10];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    while (k)
        *p++ = tmp[--k];
    return p;
}

static char *put_hex(char *p, unsigned n)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[8];
    int k = 0;
    do {
        tmp[k++] = digits[n & 15];
        n >>= 4;
    } while (n);
    while (k)
        *p++ = tmp[--k];
    return p;
}

void qaddr_format(const qaddr *a, char out[static QADDR_STRLEN])
{
    char *p = out;
    if (a->family == 4) {
        uint32_t v = (uint32_t)a->v;
        for (int i = 3; i >= 0; i--) {
            p = put_dec(p, (v >> (i * 8)) & 0xff);
            if (i)
                *p++ = '.';
        }
    } else if (a->family == 6) {
        unsigned g[8];
        for (int i = 0; i < 8; i++)
            g[i] = (unsigned)(a->v >> ((7 - i) * 16)) & 0xffff;
        /* RFC 5952 4.2: compress the longest run of >= 2 zero groups, the
         * first one on a tie. */
        int best = -1, bestlen = 1;
        for (int i = 0; i < 8;) {
            if (g[i]) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && !g[j])
                j++;
            if (j - i > bestlen) {
                best = i;
                bestlen = j - i;
            }
            i = j;
        }
        for (int i = 0; i < 8; i++) {
            if (i == best) {
                *p++ = ':';
                *p++ = ':';
                i += bestlen - 1;
                continue;
            }
            if (i > 0 && i != best + bestlen)
                *p++ = ':';
            p = put_hex(p, g[i]);
        }
    }
    *p = '\0';
}

int qaddr_cmp(const qaddr *a, const qaddr *b)
{
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    if (a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return 0;
}

bool qaddr_eq(const qaddr *a, const qaddr *b) { return qaddr_cmp(a, b) == 0; }

int qaddr_bits(int family) { return family == 4 ? 32 : family == 6 ? 128 : 0; }

static qhv_u128 family_max(int family) { return family == 4 ? (qhv_u128)0xffffffffu : U128_MAX; }

bool qaddr_add(const qaddr *a, qhv_u128 n, qaddr *ret)
{
    qhv_u128 max = family_max(a->family);
    if (a->v > max || n > max - a->v)
        return false;
    qaddr r = {.family = a->family, .v = a->v + n};
    *ret = r;
    return true;
}

bool qaddr_sub(const qaddr *a, qhv_u128 n, qaddr *ret)
{
    if (n > a->v)
        return false;
    qaddr r = {.family = a->family, .v = a->v - n};
    *ret = r;
    return true;
}

size_t qaddr_to_bytes(const qaddr *a, uint8_t out[static 16])
{
    size_t len = a->family == 4 ? 4 : 16;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(a->v >> ((len - 1 - i) * 8));
    return len;
}

int qaddr_from_bytes(const uint8_t *p, size_t len, qaddr *ret)
{
    if (len != 4 && len != 16)
        return -1;
    qaddr a = {.family = len == 4 ? 4 : 6, .v = 0};
    for (size_t i = 0; i < len; i++)
        a.v = a.v << 8 | p[i];
    *ret = a;
    return 0;
}

/* Prefix length: decimal, no leading zeros, 0..bits. */
static int parse_prefixlen(const char *s, int bits, int *ret)
{
    size_t len = strlen(s);
    if (len < 1 || len > 3 || (len > 1 && s[0] == '0'))
        return -1;
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdig(s[i]))
            return -1;
        n = n * 10 + (s[i] - '0');
    }
    if (n > bits)
        return -1;
    *ret = n;
    return 0;
}

int qcidr_parse(const char *s, qcidr *ret)
{
    if (!s)
        return -1;
    const char *slash = strchr(s, '/');
    if (!slash)
        return -1;
    qcidr c;
    if (parse_addr_n(s, (size_t)(slash - s), 0, &c.addr) < 0 ||
        parse_prefixlen(slash + 1, qaddr_bits(c.addr.family), &c.prefixlen) < 0)
        return -1;
    *ret = c;
    return 0;
}

int qcidr_parse_or_host(const char *s, qcidr *ret)
{
    if (!s)
        return -1;
    if (strchr(s, '/'))
        return qcidr_parse(s, ret);
    qcidr c;
    if (qaddr_parse(s, &c.addr) < 0)
        return -1;
    c.prefixlen = qaddr_bits(c.addr.family);
    *ret = c;
    return 0;
}

void qcidr_format(const qcidr *c, char out[static QCIDR_STRLEN])
{
    qaddr_format(&c->addr, out);
    char *p = out + strlen(out);
    *p++ = '/';
    p = put_dec(p, (unsigned)(c->prefixlen < 0 ? 0 : c->prefixlen));
    *p = '\0';
}

/* Host-bit mask; an out-of-range prefixlen is clamped so shifts stay defined. */
static qhv_u128 host_mask(int family, int prefixlen)
{
    int bits = qaddr_bits(family);
    if (prefixlen < 0)
        prefixlen = 0;
    if (prefixlen > bits)
        prefixlen = bits;
    int host = bits - prefixlen;
    return host >= 128 ? U128_MAX : ((qhv_u128)1 << host) - 1;
}

qaddr qcidr_network(const qcidr *c)
{
    qaddr a = c->addr;
    a.v &= ~host_mask(a.family, c->prefixlen);
    return a;
}

qaddr qcidr_last(const qcidr *c)
{
    qaddr a = c->addr;
    a.v |= host_mask(a.family, c->prefixlen);
    return a;
}

qhv_u128 qcidr_size(const qcidr *c)
{
    qhv_u128 m = host_mask(c->addr.family, c->prefixlen);
    return m == U128_MAX ? m : m + 1;
}

bool qcidr_is_network(const qcidr *c)
{
    return (c->addr.v & host_mask(c->addr.family, c->prefixlen)) == 0;
}

bool qcidr_contains(const qcidr *c, const qaddr *a)
{
    if (a->family != c->addr.family)
        return false;
    qhv_u128 net = ~host_mask(c->addr.family, c->prefixlen);
    return (a->v & net) == (c->addr.v & net);
}

/* Two prefixes overlap iff they agree on the shorter prefix's bits. */
bool qcidr_overlaps(const qcidr *a, const qcidr *b)
{
    if (a->addr.family != b->addr.family)
        return false;
    int p = a->prefixlen < b->prefixlen ? a->prefixlen : b->prefixlen;
    qhv_u128 net = ~host_mask(a->addr.family, p);
    return (a->addr.v & net) == (b->addr.v & net);
}

int qmac_parse(const char *s, qmac *ret)
{
    if (!s || strlen(s) != 17)
        return -1;
    char sep = s[2];
    if (sep != ':' && sep != '-')
        return -1;
    qmac m;
    for (int i = 0; i < 6; i++) {
        const char *p = s + i * 3;
        int hi = hexval(p[0]), lo = hexval(p[1]);
        if (hi < 0 || lo < 0 || (i < 5 && p[2] != sep))
            return -1;
        m.b[i] = (uint8_t)(hi << 4 | lo);
    }
    *ret = m;
    return 0;
}

void qmac_format(const qmac *m, char out[static QMAC_STRLEN])
{
    static const char digits[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 6; i++) {
        if (i)
            *p++ = ':';
        *p++ = digits[m->b[i] >> 4];
        *p++ = digits[m->b[i] & 15];
    }
    *p = '\0';
}

bool qmac_is_multicast(const qmac *m) { return m->b[0] & 1; }

bool qmac_is_zero(const qmac *m)
{
    static const uint8_t zero[6];
    return !memcmp(m->b, zero, sizeof zero);
}

/* The result is always family 6: the prefix's upper 64 bits (host bits
 * cleared) with the MAC's modified EUI-64 interface id in the low 64. */
qaddr qaddr_eui64(const qcidr *prefix, const qmac *mac)
{
    const uint8_t *b = mac->b;
    const uint8_t iid[8] = {(uint8_t)(b[0] ^ 0x02), b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]};
    qaddr a = qcidr_network(prefix);
    a.family = 6;
    a.v &= ~(qhv_u128)UINT64_MAX;
    for (int i = 0; i < 8; i++)
        a.v |= (qhv_u128)iid[i] << ((7 - i) * 8);
    return a;
}
