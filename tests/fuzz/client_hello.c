/* client_hello.c: libFuzzer harness for the ClientHello reader.
 *
 * An input that starts with 0x16 is what a client sent. Any other input is
 * an extension block: the harness wraps it in a ClientHello and that in
 * records of (first byte) bytes, so that mutations land in the extensions
 * (repeats, encrypted_client_hello) instead of breaking the framing.
 * Checked: a prefix of the bytes asks for more or gives the same answer (the
 * transparent path decides on the first answer that is not -EAGAIN); a
 * wrapped hello answers the same in one record as in many; ech and
 * -ENOTUNIQ agree with a plain walk of the extension block. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(int rc, const struct px_sni *a, int rc2, const struct px_sni *b)
{
	return rc == rc2 && a->ech == b->ech && strcmp(a->name, b->name) == 0;
}

/* The answer for s, checked against its prefixes and the old entry point. */
static int check(struct span s, struct px_sni *out)
{
	struct px_sni again;
	char name[PX_SNI_NAME_MAX + 1];
	int rc = px_sni_read(s, out);
	size_t cuts[] = { s.len - 1, s.len / 2, s.len / 3, 5 };

	if (rc == 0 && (out->name[0] == '\0' || strlen(out->name) > PX_SNI_NAME_MAX))
		__builtin_trap();
	if (rc == -ENOENT && out->name[0])
		__builtin_trap();
	if (rc != 0 && rc != -ENOENT && (out->name[0] || out->ech))
		__builtin_trap();
	for (size_t i = 0; s.len > 0 && i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		int r = px_sni_read(span_sub(s, 0, cuts[i]), &again);
		if (r != -EAGAIN && !same(r, &again, rc, out))
			__builtin_trap();
	}
	if (px_sni_parse(s, name) != rc || (rc == 0 && strcmp(name, out->name) != 0))
		__builtin_trap();
	return rc;
}

static void put(uint8_t *b, size_t *n, unsigned v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		b[(*n)++] = (uint8_t)(v >> (8 * i));
}

/* hs in records of at most max bytes; returns the length written to out. */
static size_t records(uint8_t *out, const uint8_t *hs, size_t len, size_t max)
{
	size_t n = 0;

	for (size_t off = 0; off < len; off += max) {
		size_t k = len - off < max ? len - off : max;
		put(out, &n, 0x160301, 3);
		put(out, &n, (unsigned)k, 2);
		memcpy(out + n, hs + off, k);
		n += k;
	}
	return n;
}

/* Whether the block is well-formed TLVs; *dup if a type repeats, *ech if
 * one is an encrypted ClientHello's. */
static bool walk(const uint8_t *p, size_t len, bool *dup, bool *ech)
{
	uint64_t seen[65536 / 64] = { 0 };

	*dup = *ech = false;
	for (size_t off = 0; off < len;) {
		if (len - off < 4)
			return false;
		unsigned t = (unsigned)p[off] << 8 | p[off + 1];
		size_t n = (size_t)p[off + 2] << 8 | p[off + 3];
		if (n > len - off - 4)
			return false;
		*dup |= (seen[t / 64] >> (t % 64) & 1) != 0;
		seen[t / 64] |= (uint64_t)1 << (t % 64);
		*ech |= (t >= 0xfe08 && t <= 0xfe0d) || t == 0xff02 || (t >= 0xff08 && t <= 0xff0c) || t == 0xffce;
		off += 4 + n;
	}
	return true;
}

static void wrapped(const uint8_t *exts, size_t len, size_t max)
{
	static uint8_t hs[PX_SNI_MAX_HELLO + 64];
	size_t n = 0;
	struct px_sni one, many;
	bool dup, ech;

	if (len > PX_SNI_MAX_HELLO - 64)
		return;
	put(hs, &n, 1, 1);
	put(hs, &n, 0, 3); /* the body's length, below */
	put(hs, &n, 0x0303, 2);
	memset(hs + n, 7, 32);
	n += 32;
	put(hs, &n, 0, 1);
	put(hs, &n, 4, 2);
	put(hs, &n, 0x13011302, 4);
	put(hs, &n, 0x0100, 2);
	put(hs, &n, (unsigned)len, 2);
	memcpy(hs + n, exts, len);
	n += len;
	size_t at = 1;
	put(hs, &at, (unsigned)(n - 4), 3);

	uint8_t *rec = malloc(n + 5 * (n / max + 1));
	if (!rec)
		return;
	int rc1 = check(span_of((const char *)rec, records(rec, hs, n, 16384)), &one);
	int rc = check(span_of((const char *)rec, records(rec, hs, n, max)), &many);
	free(rec);
	if (rc == -EAGAIN || !same(rc, &many, rc1, &one))
		__builtin_trap();
	bool tlv = walk(exts, len, &dup, &ech);
	if (tlv && dup && rc != -ENOTUNIQ && rc != -EINVAL)
		__builtin_trap();
	if ((rc == 0 || rc == -ENOENT) && (!tlv || dup || many.ech != ech))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct px_sni out;

	if (size > 0 && data[0] != 0x16)
		wrapped(data + 1, size - 1, (size_t)data[0] + 1);
	else
		check(span_of((const char *)data, size), &out);
	return 0;
}
