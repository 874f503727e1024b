/* sni.c: a bounded reader of the TLS ClientHello's server_name.
 *
 * The handshake message is gathered from consecutive handshake records
 * (RFC 8446 5.1 lets a ClientHello span several) into a bounded buffer,
 * then walked with a cursor whose every read is checked against the
 * enclosing length: record, handshake, vector, extension.
 *
 * The name must be the one the server will act on, so every extension is
 * walked: a hello that repeats an extension type or a name type is refused
 * as ambiguous rather than read by its first copy, and one that carries an
 * encrypted ClientHello is flagged, since its server_name is only the outer
 * one and the server actually reached is named inside the ciphertext.
 */
#include "sni.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tlswire.h"

_Static_assert(PX_SNI_NAME_MAX == TLS_NAME_MAX, "one name limit for both readers");

#define REC_HANDSHAKE 22
#define HS_CLIENT_HELLO 1
#define EXT_SERVER_NAME 0
#define REC_MAX 18432 /* 2^14 + 2048: the largest record a peer may send */

/* A read cursor over trusted-length-checked bytes. */
struct cur {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static unsigned get(struct cur *c, size_t n)
{
	unsigned v = 0;

	if (c->bad || n > c->len - c->off) {
		c->bad = true;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v = v << 8 | c->p[c->off + i];
	c->off += n;
	return v;
}

static void skip(struct cur *c, size_t n)
{
	if (c->bad || n > c->len - c->off)
		c->bad = true;
	else
		c->off += n;
}

/* A sub-cursor over the next n bytes of c (which moves past them). */
static struct cur sub(struct cur *c, size_t n)
{
	struct cur s = { .p = c->p + c->off, .len = n };

	if (c->bad || n > c->len - c->off) {
		c->bad = true;
		s.bad = true;
		s.len = 0;
		return s;
	}
	c->off += n;
	return s;
}

/* Whether the handshake bytes in hs[0..n) hold a whole message. */
static bool complete(const uint8_t *hs, size_t n)
{
	return n >= 4 && n - 4 >= ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]);
}

/* Gather handshake bytes from the records in buf, up to the end of the first
 * handshake message: what follows it (0-RTT data, a ChangeCipherSpec) is for
 * upstream. Returns how many are in hs (complete message or not), or -EINVAL. */
static long gather(struct span buf, uint8_t *hs, size_t cap)
{
	struct cur c = { .p = (const uint8_t *)buf.p, .len = buf.len };
	size_t n = 0;

	while (c.len - c.off >= 5 && !complete(hs, n)) {
		unsigned type = get(&c, 1), major = get(&c, 1), minor = get(&c, 1), len = get(&c, 2);
		(void)minor;
		if (type != REC_HANDSHAKE || major != 3 || len == 0 || len > REC_MAX)
			return -EINVAL;
		size_t have = c.len - c.off < len ? c.len - c.off : len;
		if (n + have > cap)
			return -EINVAL; /* a ClientHello this big is not one we serve */
		memcpy(hs + n, c.p + c.off, have);
		n += have;
		c.off += have;
		if (have < len)
			break;
	}
	return (long)n;
}

/* Add v to the bit set; false when it was there already. */
static bool first_time(uint64_t *set, unsigned v)
{
	uint64_t bit = (uint64_t)1 << (v % 64);

	if (set[v / 64] & bit)
		return false;
	set[v / 64] |= bit;
	return true;
}

/* Extension types that carry an encrypted ClientHello, so that server_name
 * is only the outer, public name: encrypted_client_hello from
 * draft-ietf-tls-esni-13 on (0xfe0d), the earlier drafts' codepoints
 * (0xff02 in -07; 0xfe08..0xfe0c in -08..-12, which some implementations
 * numbered 0xff08..0xff0c), and ESNI's encrypted_server_name (0xffce). All
 * sit in ranges no other extension uses; 0xff01 (renegotiation_info) is not
 * one of them. */
static bool hides_name(unsigned type)
{
	return (type >= 0xfe08 && type <= 0xfe0d) || type == 0xff02 ||
	       (type >= 0xff08 && type <= 0xff0c) || type == 0xffce;
}

/* Walk every extension: a type given twice makes the hello ambiguous, since
 * the server may read another copy than we did. */
static int extensions(struct cur exts, struct px_sni *out)
{
	uint64_t types[65536 / 64] = { 0 };
	int rc = -ENOENT;

	while (exts.off < exts.len) {
		unsigned type = get(&exts, 2);
		struct cur ext = sub(&exts, get(&exts, 2));
		if (exts.bad)
			return -EINVAL;
		if (!first_time(types, type))
			return -ENOTUNIQ;
		if (hides_name(type))
			out->ech = true;
		if (type == EXT_SERVER_NAME)
			rc = tls_server_name(span_of((const char *)ext.p, ext.len), out->name);
		if (rc != 0 && rc != -ENOENT)
			return rc;
	}
	return rc;
}

static int client_hello(struct cur *h, struct px_sni *out)
{
	skip(h, 2 + 32);                  /* legacy_version, random */
	skip(h, get(h, 1));               /* legacy_session_id */
	unsigned suites = get(h, 2);
	if (suites % 2)
		return -EINVAL;
	skip(h, suites);                  /* cipher_suites */
	skip(h, get(h, 1));               /* legacy_compression_methods */
	if (h->bad)
		return -EINVAL;
	if (h->off == h->len)
		return -ENOENT;               /* no extensions at all */
	struct cur exts = sub(h, get(h, 2));
	if (h->bad || h->off != h->len)
		return -EINVAL;
	return extensions(exts, out);
}

int px_sni_read(struct span buf, struct px_sni *out)
{
	static uint8_t hs[PX_SNI_MAX_HELLO]; /* one loop, one thread */
	long n = gather(buf, hs, sizeof(hs));

	memset(out, 0, sizeof(*out));
	if (n < 0)
		return (int)n;
	struct cur c = { .p = hs, .len = (size_t)n };
	if (n < 4)
		return buf.len >= 1 && (uint8_t)buf.p[0] != REC_HANDSHAKE ? -EINVAL : -EAGAIN;
	unsigned type = get(&c, 1), len = get(&c, 3);
	if (type != HS_CLIENT_HELLO || len + 4 > sizeof(hs))
		return -EINVAL;
	if (c.len - c.off < len)
		return -EAGAIN;
	struct cur h = sub(&c, len);
	int rc = client_hello(&h, out);
	if (rc != 0 && rc != -ENOENT)
		memset(out, 0, sizeof(*out)); /* no half-read name for a careless caller */
	return rc;
}

int px_sni_parse(struct span buf, char name[PX_SNI_NAME_MAX + 1])
{
	struct px_sni sni;
	int rc = px_sni_read(buf, &sni);

	if (rc == 0)
		memcpy(name, sni.name, sizeof(sni.name));
	return rc;
}
