/* sni.c: a bounded reader of the TLS ClientHello's server_name.
 *
 * The handshake message is gathered from consecutive handshake records
 * (RFC 8446 5.1 lets a ClientHello span several) into a bounded buffer,
 * then walked with a cursor whose every read is checked against the
 * enclosing length: record, handshake, vector, extension.
 */
#include "sni.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define REC_HANDSHAKE 22
#define HS_CLIENT_HELLO 1
#define EXT_SERVER_NAME 0
#define NAME_HOST 0
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

/* Gather handshake bytes from the records in buf. Returns how many are in
 * hs (complete ClientHello or not), or -EINVAL. */
static long gather(struct span buf, uint8_t *hs, size_t cap)
{
	struct cur c = { .p = (const uint8_t *)buf.p, .len = buf.len };
	size_t n = 0;

	while (c.len - c.off >= 5) {
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

/* Walk the server_name extension's list for the first host_name. */
static int host_name(struct cur ext, char *name)
{
	struct cur list = sub(&ext, get(&ext, 2));

	while (!list.bad && list.off < list.len) {
		unsigned type = get(&list, 1);
		struct cur n = sub(&list, get(&list, 2));
		if (list.bad)
			break;
		if (type != NAME_HOST)
			continue;
		if (n.len == 0 || n.len > PX_SNI_NAME_MAX || memchr(n.p, 0, n.len))
			return -EINVAL;
		memcpy(name, n.p, n.len);
		name[n.len] = '\0';
		return 0;
	}
	return list.bad || ext.bad ? -EINVAL : -ENOENT;
}

static int client_hello(struct cur *h, char *name)
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
	while (exts.off < exts.len) {
		unsigned type = get(&exts, 2);
		struct cur ext = sub(&exts, get(&exts, 2));
		if (exts.bad)
			return -EINVAL;
		if (type == EXT_SERVER_NAME)
			return host_name(ext, name);
	}
	return -ENOENT;
}

int px_sni_parse(struct span buf, char name[PX_SNI_NAME_MAX + 1])
{
	static uint8_t hs[PX_SNI_MAX_HELLO]; /* one loop, one thread */
	long n = gather(buf, hs, sizeof(hs));

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
	return client_hello(&h, name);
}
