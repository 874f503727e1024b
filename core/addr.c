/* addr.c: address parsing, CIDR matching and the blocked-range classifier.
 *
 * Only canonical text is accepted: "127.1", "0x7f.0.0.1", "2130706433" and
 * zero-padded octets are malformed, never interpreted, so that no spelling of
 * an address can slip past a check that another component reads differently.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

struct range4 {
	uint32_t base;
	unsigned prefix;
	const char *text;
};

struct range6 {
	uint8_t base[16];
	unsigned prefix;
	const char *text;
};

#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* IANA special-purpose space that is not globally reachable, plus metadata. */
static const struct range4 blocked4[] = {
	{ V4(0, 0, 0, 0), 8, "0.0.0.0/8" },
	{ V4(10, 0, 0, 0), 8, "10.0.0.0/8" },
	{ V4(100, 64, 0, 0), 10, "100.64.0.0/10" },
	{ V4(127, 0, 0, 0), 8, "127.0.0.0/8" },
	{ V4(169, 254, 0, 0), 16, "169.254.0.0/16" },
	{ V4(172, 16, 0, 0), 12, "172.16.0.0/12" },
	{ V4(192, 0, 0, 0), 24, "192.0.0.0/24" },
	{ V4(192, 0, 2, 0), 24, "192.0.2.0/24" },
	{ V4(192, 88, 99, 0), 24, "192.88.99.0/24" },
	{ V4(192, 168, 0, 0), 16, "192.168.0.0/16" },
	{ V4(198, 18, 0, 0), 15, "198.18.0.0/15" },
	{ V4(198, 51, 100, 0), 24, "198.51.100.0/24" },
	{ V4(203, 0, 113, 0), 24, "203.0.113.0/24" },
	{ V4(224, 0, 0, 0), 4, "224.0.0.0/4" },
	{ V4(240, 0, 0, 0), 4, "240.0.0.0/4" },
	{ V4(168, 63, 129, 16), 32, "168.63.129.16/32" },
};

static const struct range6 blocked6[] = {
	{ { 0 }, 128, "::/128" },
	{ { [15] = 1 }, 128, "::1/128" },
	{ { 0 }, 96, "::/96" },
	{ { 0x00, 0x64, 0xff, 0x9b }, 96, "64:ff9b::/96" },
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48, "64:ff9b:1::/48" },
	{ { 0x01, 0x00 }, 64, "100::/64" },
	{ { 0x20, 0x01 }, 23, "2001::/23" },
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, "2001:db8::/32" },
	{ { 0x20, 0x02 }, 16, "2002::/16" },
	{ { 0x3f, 0xff }, 20, "3fff::/20" },
	{ { 0xfc }, 7, "fc00::/7" },
	{ { 0xfe, 0x80 }, 10, "fe80::/10" },
	{ { 0xfe, 0xc0 }, 10, "fec0::/10" },
	{ { 0xff }, 8, "ff00::/8" },
	/* IPv4-translated (RFC 2765): embeds any IPv4 address, metadata too */
	{ { [8] = 0xff, [9] = 0xff }, 96, "::ffff:0:0:0/96" },
};

/* Everything outside global unicast 2000::/3, for what the rows above do
 * not name more precisely. */
static const struct range6 outside6[] = {
	{ { 0x00 }, 3, "::/3" },
	{ { 0x40 }, 2, "4000::/2" },
	{ { 0x80 }, 1, "8000::/1" },
};

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned bytes = prefix / 8, bits = prefix % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - bits));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

static bool is_v4_mapped(const struct in6_addr *a)
{
	static const uint8_t pfx[12] = { [10] = 0xff, [11] = 0xff };
	return memcmp(a->s6_addr, pfx, 12) == 0;
}

void addr_unmap(struct addr *a)
{
	if (a->family != AF_INET6 || !is_v4_mapped(&a->v6))
		return;
	struct in_addr v4;
	memcpy(&v4, &a->v6.s6_addr[12], 4);
	a->family = AF_INET;
	a->v4 = v4;
}

/* Canonical dotted quad: four decimal octets 0-255, no leading zeros. */
static int parse_v4(struct span s, struct in_addr *out)
{
	uint32_t v = 0;
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		size_t start = i;
		while (i < s.len && s.p[i] != '.')
			i++;
		unsigned long octet;
		if (span_to_uint(span_sub(s, start, i - start), 0, 255, &octet) < 0)
			return -EINVAL;
		v = (v << 8) | (uint32_t)octet;
		if (part < 3) {
			if (i >= s.len || s.p[i] != '.')
				return -EINVAL;
			i++;
		}
	}
	if (i != s.len)
		return -EINVAL;
	out->s_addr = htonl(v);
	return 0;
}

int addr_parse(struct span s, struct addr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];

	memset(out, 0, sizeof(*out));
	if (parse_v4(s, &out->v4) == 0) {
		out->family = AF_INET;
		return 0;
	}
	if (s.len == 0 || s.len >= sizeof(buf) || span_find(s, ':') < 0)
		return -EINVAL;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			  (c >= 'A' && c <= 'F') || c == ':' || c == '.';
		if (!ok)
			return -EINVAL;
	}
	/* An embedded IPv4 tail must itself be canonical. */
	long colon = span_rfind(s, ':');
	struct span tail = span_sub(s, (size_t)colon + 1, s.len);
	struct in_addr ignored;
	if (span_find(tail, '.') >= 0 && parse_v4(tail, &ignored) < 0)
		return -EINVAL;
	span_copy(s, buf, sizeof(buf));
	if (inet_pton(AF_INET6, buf, &out->v6) != 1)
		return -EINVAL;
	out->family = AF_INET6;
	addr_unmap(out);
	return 0;
}

int addr_parse_cidr(struct span s, struct addr_cidr *out)
{
	long slash = span_find(s, '/');
	struct span ip = slash < 0 ? s : span_sub(s, 0, (size_t)slash);
	bool mapped = false;

	memset(out, 0, sizeof(*out));
	if (addr_parse(ip, &out->base) < 0)
		return -EINVAL;
	/* "::ffff:10.0.0.0/104" is folded to the IPv4 prefix it covers. */
	if (out->base.family == AF_INET && span_find(ip, ':') >= 0)
		mapped = true;
	unsigned max = out->base.family == AF_INET ? 32 : 128;
	unsigned long prefix = mapped ? 128 : max;
	if (slash >= 0 && span_to_uint(span_sub(s, (size_t)slash + 1, s.len), 0,
				       mapped ? 128 : max, &prefix) < 0)
		return -EINVAL;
	if (mapped) {
		if (prefix < 96)
			return -EINVAL;
		prefix -= 96;
	}
	out->prefix = (unsigned)prefix;
	/* Reject set host bits: "10.0.0.1/8" is almost always a typo. */
	const uint8_t *bytes = out->base.family == AF_INET ? (const uint8_t *)&out->base.v4
							    : out->base.v6.s6_addr;
	unsigned nbytes = max / 8;
	for (unsigned bit = out->prefix; bit < nbytes * 8; bit++)
		if (bytes[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	return 0;
}

bool addr_in_cidr(const struct addr *a, const struct addr_cidr *c)
{
	if (a->family != c->base.family)
		return false;
	if (a->family == AF_INET)
		return prefix_match((const uint8_t *)&a->v4, (const uint8_t *)&c->base.v4, c->prefix);
	return prefix_match(a->v6.s6_addr, c->base.v6.s6_addr, c->prefix);
}

bool addr_equal(const struct addr *a, const struct addr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->v4.s_addr == b->v4.s_addr;
	return memcmp(&a->v6, &b->v6, sizeof(a->v6)) == 0;
}

const char *addr_blocked_range(const struct addr *in)
{
	struct addr a = *in;

	addr_unmap(&a);
	if (a.family == AF_INET) {
		uint32_t v = ntohl(a.v4.s_addr);
		for (size_t i = 0; i < sizeof(blocked4) / sizeof(blocked4[0]); i++) {
			uint32_t mask = blocked4[i].prefix ? ~0u << (32 - blocked4[i].prefix) : 0;
			if ((v & mask) == blocked4[i].base)
				return blocked4[i].text;
		}
		return NULL;
	}
	for (size_t i = 0; i < sizeof(blocked6) / sizeof(blocked6[0]); i++)
		if (prefix_match(a.v6.s6_addr, blocked6[i].base, blocked6[i].prefix))
			return blocked6[i].text;
	/* only 2000::/3 is global unicast; the rest is reserved or special */
	for (size_t i = 0; i < sizeof(outside6) / sizeof(outside6[0]); i++)
		if (prefix_match(a.v6.s6_addr, outside6[i].base, outside6[i].prefix))
			return outside6[i].text;
	return NULL;
}

/* Dotted quad, as inet_ntop writes it, without its sprintf per byte (every
 * DNS answer's audit record formats its addresses). buf holds
 * INET_ADDRSTRLEN bytes. */
static void format_v4(const struct in_addr *v4, char *buf)
{
	const uint8_t *b = (const uint8_t *)v4;
	char *p = buf;

	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
}

void addr_format(const struct addr *a, char *buf, size_t size)
{
	if (a->family == AF_INET && size >= INET_ADDRSTRLEN) {
		format_v4(&a->v4, buf);
		return;
	}
	if (!inet_ntop(a->family, a->family == AF_INET ? (const void *)&a->v4 : (const void *)&a->v6,
		       buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

socklen_t addr_to_sockaddr(const struct addr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = a->v4;
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = a->v6;
	return sizeof(*sin6);
}

int addr_from_sockaddr(const struct sockaddr *sa, struct addr *a, uint16_t *port)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		a->family = AF_INET;
		a->v4 = sin->sin_addr;
		if (port)
			*port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		a->family = AF_INET6;
		a->v6 = sin6->sin6_addr;
		if (port)
			*port = ntohs(sin6->sin6_port);
		addr_unmap(a);
		return 0;
	}
	return -EAFNOSUPPORT;
}
