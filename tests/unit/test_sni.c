/* test_sni.c: the ClientHello server_name reader, at every split point. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sni.h"

struct buf {
	uint8_t b[4096];
	size_t n;
};

static void put(struct buf *x, const void *p, size_t n)
{
	memcpy(x->b + x->n, p, n);
	x->n += n;
}

static void put_n(struct buf *x, unsigned v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--) {
		uint8_t c = (uint8_t)(v >> (8 * i));
		put(x, &c, 1);
	}
}

/* A ClientHello handshake message (no record header) with the extension
 * block exts. */
static void hello_exts(struct buf *hs, const struct buf *exts)
{
	struct buf body = { .n = 0 };
	uint8_t random[32] = { 7 };

	put_n(&body, 0x0303, 2);
	put(&body, random, 32);
	put_n(&body, 0, 1);                 /* session id */
	put_n(&body, 4, 2);                 /* two cipher suites */
	put_n(&body, 0x1301, 2);
	put_n(&body, 0x1302, 2);
	put_n(&body, 1, 1);                 /* compression: null */
	put_n(&body, 0, 1);
	put_n(&body, (unsigned)exts->n, 2);
	put(&body, exts->b, exts->n);
	hs->n = 0;
	put_n(hs, 1, 1);
	put_n(hs, (unsigned)body.n, 3);
	put(hs, body.b, body.n);
}

/* Append an extension of type with n bytes of data. */
static void ext(struct buf *exts, unsigned type, const void *data, size_t n)
{
	put_n(exts, type, 2);
	put_n(exts, (unsigned)n, 2);
	put(exts, data, n);
}

static void ext_versions(struct buf *exts)
{
	static const uint8_t v[] = { 2, 0x03, 0x04 };

	ext(exts, 0x002b, v, sizeof(v));
}

/* A server_name extension listing the n names, each of type types[i]
 * (host_name when types is NULL). */
static void ext_names(struct buf *exts, const char *const *names, const unsigned *types, size_t n)
{
	struct buf list = { .n = 0 }, data = { .n = 0 };

	for (size_t i = 0; i < n; i++) {
		put_n(&list, types ? types[i] : 0, 1);
		put_n(&list, (unsigned)strlen(names[i]), 2);
		put(&list, names[i], strlen(names[i]));
	}
	put_n(&data, (unsigned)list.n, 2);
	put(&data, list.b, list.n);
	ext(exts, 0x0000, data.b, data.n);
}

static void ext_name(struct buf *exts, const char *host)
{
	ext_names(exts, &host, NULL, 1);
}

/* An outer encrypted_client_hello (draft-ietf-tls-esni-13 on): type outer,
 * HKDF-SHA256/AES-128-GCM, config id, a 32-byte enc and a payload. */
static void ext_ech(struct buf *exts, unsigned type)
{
	struct buf d = { .n = 0 };
	uint8_t key[32] = { 0x42 }, payload[48] = { 0x17 };

	put_n(&d, 0, 1);
	put_n(&d, 0x0001, 2);
	put_n(&d, 0x0001, 2);
	put_n(&d, 0x2a, 1);
	put_n(&d, sizeof(key), 2);
	put(&d, key, sizeof(key));
	put_n(&d, sizeof(payload), 2);
	put(&d, payload, sizeof(payload));
	ext(exts, type, d.b, d.n);
}

/* A ClientHello handshake message (no record header) naming host, or no
 * server_name extension when host is NULL. */
static void hello(struct buf *hs, const char *host)
{
	struct buf exts = { .n = 0 };

	ext_versions(&exts); /* before the name */
	if (host)
		ext_name(&exts, host);
	hello_exts(hs, &exts);
}

/* Wrap hs in records of at most max bytes each. */
static void records(struct buf *out, const struct buf *hs, size_t max)
{
	out->n = 0;
	for (size_t off = 0; off < hs->n; off += max) {
		size_t n = hs->n - off < max ? hs->n - off : max;
		put_n(out, 22, 1);
		put_n(out, 0x0301, 2);
		put_n(out, (unsigned)n, 2);
		put(out, hs->b + off, n);
	}
}

/* hs in two records, split after its first cut bytes. */
static void two_records(struct buf *out, const struct buf *hs, size_t cut)
{
	out->n = 0;
	put_n(out, 22, 1);
	put_n(out, 0x0301, 2);
	put_n(out, (unsigned)cut, 2);
	put(out, hs->b, cut);
	put_n(out, 22, 1);
	put_n(out, 0x0303, 2);
	put_n(out, (unsigned)(hs->n - cut), 2);
	put(out, hs->b + cut, hs->n - cut);
}

static int read_sni(const struct buf *b, size_t len, struct px_sni *out)
{
	return px_sni_read(span_of((const char *)b->b, len), out);
}

/* The reader's answer for b's first len bytes, with only the name. */
static int parse(const struct buf *b, size_t len, char *name)
{
	struct px_sni out;
	int rc = read_sni(b, len, &out);

	memcpy(name, out.name, sizeof(out.name));
	return rc;
}

/* The whole of rec answers rc (with name and ech), and every shorter read
 * asks for more. */
static void expect_reads(const struct buf *rec, int rc, const char *name, bool ech)
{
	struct px_sni out;

	for (size_t len = 0; len < rec->n; len++) {
		int got = read_sni(rec, len, &out);
		if (got != -EAGAIN)
			fail_msg("%zu of %zu bytes: %d, want -EAGAIN", len, rec->n, got);
	}
	assert_int_equal(read_sni(rec, rec->n, &out), rc);
	assert_string_equal(out.name, name);
	assert_int_equal(out.ech, ech);
}

/* hs in records of 16 to 4096 bytes, and in two records split at every
 * offset, each read at every length: the same answer only once it is all
 * there. */
static void expect_every_split(const struct buf *hs, int rc, const char *name, bool ech)
{
	struct buf rec;

	for (size_t max = 16; max <= 4096; max *= 4) {
		records(&rec, hs, max);
		expect_reads(&rec, rc, name, ech);
	}
	for (size_t cut = 1; cut < hs->n; cut++) {
		two_records(&rec, hs, cut);
		expect_reads(&rec, rc, name, ech);
	}
}

static void test_every_split(void **state)
{
	struct buf hs;

	(void)state;
	hello(&hs, "api.github.com");
	expect_every_split(&hs, 0, "api.github.com", false);
	hello(&hs, NULL);
	expect_every_split(&hs, -ENOENT, "", false);
}

/* Two server_name extensions, or two names of one type in the list: which
 * one the server acts on is its choice, so neither is taken. */
static void test_duplicate_names(void **state)
{
	static const char *const two[] = { "allowed.test", "evil.test" };
	static const char *const same[] = { "allowed.test", "allowed.test" };
	static const unsigned other[] = { 1, 1, 0 };
	static const unsigned mixed[] = { 1, 0 };
	static const char *const three[] = { "x", "y", "allowed.test" };
	struct buf hs, exts;

	(void)state;
	exts.n = 0;
	ext_versions(&exts);
	ext_name(&exts, "allowed.test");
	ext_name(&exts, "evil.test");
	hello_exts(&hs, &exts);
	expect_every_split(&hs, -ENOTUNIQ, "", false);

	exts.n = 0; /* the same name twice is no less a repeated extension */
	ext_name(&exts, "allowed.test");
	ext_versions(&exts);
	ext_name(&exts, "allowed.test");
	hello_exts(&hs, &exts);
	expect_every_split(&hs, -ENOTUNIQ, "", false);

	exts.n = 0;
	ext_versions(&exts);
	ext_names(&exts, two, NULL, 2);
	hello_exts(&hs, &exts);
	expect_every_split(&hs, -ENOTUNIQ, "", false);

	exts.n = 0;
	ext_names(&exts, same, NULL, 2);
	ext_versions(&exts);
	hello_exts(&hs, &exts);
	expect_every_split(&hs, -ENOTUNIQ, "", false);

	exts.n = 0; /* RFC 6066: no name type twice, host_name or not */
	ext_names(&exts, three, other, 3);
	hello_exts(&hs, &exts);
	expect_every_split(&hs, -ENOTUNIQ, "", false);

	exts.n = 0; /* one name of another type beside the host_name is fine */
	ext_names(&exts, three + 1, mixed, 2);
	hello_exts(&hs, &exts);
	expect_every_split(&hs, 0, "allowed.test", false);
}

/* RFC 8446 4.2: no extension type twice in a ClientHello, whatever it is. */
static void test_duplicate_extensions(void **state)
{
	static const unsigned types[] = { 0x002b, 0x0017, 0x0a0a, 0xfe0d };
	static const uint8_t empty[1];
	struct buf hs, exts;

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		exts.n = 0;
		ext(&exts, types[i], empty, 0);
		ext_name(&exts, "allowed.test");
		ext(&exts, types[i], empty, 0);
		hello_exts(&hs, &exts);
		expect_every_split(&hs, -ENOTUNIQ, "", false);
	}
	exts.n = 0; /* the repeat may come after the name */
	ext_name(&exts, "allowed.test");
	ext_versions(&exts);
	ext_versions(&exts);
	hello_exts(&hs, &exts);
	expect_every_split(&hs, -ENOTUNIQ, "", false);

	exts.n = 0; /* two GREASE values (RFC 8701), as Chrome sends, differ */
	ext(&exts, 0x0a0a, empty, 0);
	ext_versions(&exts);
	ext_name(&exts, "allowed.test");
	ext(&exts, 0x1a1a, empty, 1);
	hello_exts(&hs, &exts);
	expect_every_split(&hs, 0, "allowed.test", false);
}

/* An encrypted ClientHello: the outer name is reported with ech set, in any
 * position, and without an outer name too. */
static void test_ech(void **state)
{
	struct buf hs, exts;

	(void)state;
	exts.n = 0;
	ext_versions(&exts);
	ext_ech(&exts, 0xfe0d);
	ext_name(&exts, "public.example");
	hello_exts(&hs, &exts);
	expect_every_split(&hs, 0, "public.example", true);

	exts.n = 0;
	ext_name(&exts, "public.example");
	ext_versions(&exts);
	ext_ech(&exts, 0xfe0d);
	hello_exts(&hs, &exts);
	expect_every_split(&hs, 0, "public.example", true);

	exts.n = 0;
	ext_ech(&exts, 0xfe0d);
	ext_versions(&exts);
	hello_exts(&hs, &exts);
	expect_every_split(&hs, -ENOENT, "", true);
}

/* The drafts' and ESNI's codepoints count; their neighbours do not. */
static void test_ech_codepoints(void **state)
{
	static const struct {
		unsigned type;
		bool ech;
	} cases[] = {
		{ 0xfe0d, true },  { 0xfe08, true },  { 0xfe09, true },  { 0xfe0a, true },
		{ 0xfe0b, true },  { 0xfe0c, true },  { 0xff02, true },  { 0xff08, true },
		{ 0xff0c, true },  { 0xffce, true },  { 0xfe07, false }, { 0xfe0e, false },
		{ 0xff01, false }, { 0xff03, false }, { 0xff0d, false }, { 0xfd00, false },
	};
	struct buf hs, exts, rec;
	struct px_sni out;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		exts.n = 0;
		ext_name(&exts, "public.example");
		ext_ech(&exts, cases[i].type);
		hello_exts(&hs, &exts);
		records(&rec, &hs, 4096);
		assert_int_equal(read_sni(&rec, rec.n, &out), 0);
		if (out.ech != cases[i].ech)
			fail_msg("extension 0x%04x: ech %d, want %d", cases[i].type, out.ech, cases[i].ech);
	}
	exts.n = 0;
	ext_ech(&exts, 0xfe0d);
	hello_exts(&hs, &exts);
	records(&rec, &hs, 4096);
	assert_int_equal(read_sni(&rec, rec.n, &out), -ENOENT);
	assert_true(out.ech);
	hello(&hs, "plain.example"); /* nothing left over from the last read */
	records(&rec, &hs, 4096);
	assert_int_equal(read_sni(&rec, rec.n, &out), 0);
	assert_false(out.ech);
}

/* The list must be the whole server_name extension: bytes after it could be
 * read as one more name by a looser parser upstream. */
static void test_server_name_trailing(void **state)
{
	struct buf hs, exts, data = { .n = 0 }, rec;
	char name[PX_SNI_NAME_MAX + 1];

	(void)state;
	put_n(&data, 9, 2);
	put_n(&data, 0, 1);
	put_n(&data, 6, 2);
	put(&data, "x.test", 6);
	put_n(&data, 0, 1); /* a second entry, outside the list's length */
	put_n(&data, 6, 2);
	put(&data, "y.test", 6);
	exts.n = 0;
	ext(&exts, 0x0000, data.b, data.n);
	hello_exts(&hs, &exts);
	records(&rec, &hs, 4096);
	assert_int_equal(parse(&rec, rec.n, name), -EINVAL);
}

/* What follows the ClientHello (a ChangeCipherSpec, 0-RTT application data)
 * is not the reader's: the answer stands once the hello is complete. */
static void test_bytes_after_hello(void **state)
{
	static const uint8_t after[] = { 20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 5, 1, 2, 3, 4, 5 };
	struct buf hs, rec;
	struct px_sni out;

	(void)state;
	hello(&hs, "api.github.com");
	for (size_t cut = 1; cut < hs.n; cut += 7) {
		two_records(&rec, &hs, cut);
		size_t whole = rec.n;
		put(&rec, after, sizeof(after));
		for (size_t len = 0; len <= rec.n; len++) {
			int rc = read_sni(&rec, len, &out);
			assert_int_equal(rc, len < whole ? -EAGAIN : 0);
			if (rc == 0)
				assert_string_equal(out.name, "api.github.com");
		}
	}
}

/* The old entry point answers as px_sni_read does. */
static void test_parse_compat(void **state)
{
	struct buf hs, exts, rec;
	char name[PX_SNI_NAME_MAX + 1] = "";

	(void)state;
	exts.n = 0;
	ext_ech(&exts, 0xfe0d);
	ext_name(&exts, "public.example");
	hello_exts(&hs, &exts);
	records(&rec, &hs, 4096);
	assert_int_equal(px_sni_parse(span_of((const char *)rec.b, rec.n), name), 0);
	assert_string_equal(name, "public.example");
	ext_name(&exts, "evil.test");
	hello_exts(&hs, &exts);
	records(&rec, &hs, 4096);
	assert_int_equal(px_sni_parse(span_of((const char *)rec.b, rec.n), name), -ENOTUNIQ);
}

static void test_no_name_and_not_tls(void **state)
{
	struct buf hs, rec;
	char name[PX_SNI_NAME_MAX + 1];
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	(void)state;
	hello(&hs, NULL);
	records(&rec, &hs, 4096);
	assert_int_equal(parse(&rec, rec.n, name), -ENOENT);
	struct px_sni out = { .ech = true };
	assert_int_equal(px_sni_read(span_of("", 0), &out), -EAGAIN);
	assert_false(out.ech); /* cleared on every call */
	assert_int_equal(px_sni_read(span_str(http), &out), -EINVAL);
	hello(&hs, "x.test");
	records(&rec, &hs, 4096);
	rec.b[0] = 23; /* application data, not a handshake */
	assert_int_equal(parse(&rec, rec.n, name), -EINVAL);
}

static void test_length_rules(void **state)
{
	struct buf hs, rec;
	char name[PX_SNI_NAME_MAX + 1];

	(void)state;
	hello(&hs, "x.test");
	hs.b[hs.n - 7] ^= 0x01; /* the host_name length no longer fits its list */
	records(&rec, &hs, 4096);
	assert_int_equal(parse(&rec, rec.n, name), -EINVAL);
	hello(&hs, "x.test");
	hs.b[0] = 2; /* ServerHello */
	records(&rec, &hs, 4096);
	assert_int_equal(parse(&rec, rec.n, name), -EINVAL);
}

static void test_name_with_nul(void **state)
{
	struct buf hs, rec;
	char name[PX_SNI_NAME_MAX + 1];
	char host[] = "evil.test\0.allowed.test";

	(void)state;
	hello(&hs, "evil.test..allowed.test");
	memcpy(hs.b + hs.n - (sizeof(host) - 1), host, sizeof(host) - 1);
	records(&rec, &hs, 4096);
	assert_int_equal(parse(&rec, rec.n, name), -EINVAL);
}

static const char *corpus; /* tests/fuzz/corpus, from the command line */

/* ClientHellos captured from openssl s_client and curl, and curl's with an
 * encrypted_client_hello or a second server_name spliced in (the fuzz seeds). */
static void test_real_clients(void **state)
{
	static const struct {
		const char *file, *name;
		int rc;
		bool ech;
	} cases[] = {
		{ "curl", "registry.npmjs.org", 0, false },
		{ "openssl_tls12", "api.github.com", 0, false },
		{ "openssl_tls13", "allowed.test", 0, false },
		{ "openssl_nosni", "", -ENOENT, false },
		{ "curl_ech", "registry.npmjs.org", 0, true },
		{ "curl_ech_nosni", "", -ENOENT, true },
		{ "curl_two_sni", "", -ENOTUNIQ, false },
		{ "curl_two_names", "", -ENOTUNIQ, false },
		{ "curl_two_ech", "", -ENOTUNIQ, false },
	};
	char path[512];
	struct px_sni out;
	static char b[65536];

	(void)state;
	if (!corpus)
		skip();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s/client_hello/%s", corpus, cases[i].file);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		size_t n = fread(b, 1, sizeof(b), f);
		fclose(f);
		if (px_sni_read(span_of(b, n), &out) != cases[i].rc)
			fail_msg("%s: %d, want %d", cases[i].file, px_sni_read(span_of(b, n), &out), cases[i].rc);
		assert_string_equal(out.name, cases[i].name);
		assert_int_equal(out.ech, cases[i].ech);
	}
}

int main(int argc, char **argv)
{
	corpus = argc > 1 ? argv[1] : NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_duplicate_names),
		cmocka_unit_test(test_duplicate_extensions),
		cmocka_unit_test(test_ech),
		cmocka_unit_test(test_ech_codepoints),
		cmocka_unit_test(test_server_name_trailing),
		cmocka_unit_test(test_bytes_after_hello),
		cmocka_unit_test(test_parse_compat),
		cmocka_unit_test(test_no_name_and_not_tls),
		cmocka_unit_test(test_length_rules),
		cmocka_unit_test(test_name_with_nul),
		cmocka_unit_test(test_real_clients),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
