/* test_sni.c: the ClientHello server_name reader, at every split point. */
#include <errno.h>
#include <setjmp.h>
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

/* A ClientHello handshake message (no record header) naming host, or no
 * server_name extension when host is NULL. */
static void hello(struct buf *hs, const char *host)
{
	struct buf body = { .n = 0 }, exts = { .n = 0 };
	uint8_t random[32] = { 7 };

	put_n(&body, 0x0303, 2);
	put(&body, random, 32);
	put_n(&body, 0, 1);                 /* session id */
	put_n(&body, 4, 2);                 /* two cipher suites */
	put_n(&body, 0x1301, 2);
	put_n(&body, 0x1302, 2);
	put_n(&body, 1, 1);                 /* compression: null */
	put_n(&body, 0, 1);
	put_n(&exts, 0x002b, 2);            /* supported_versions, before the name */
	put_n(&exts, 3, 2);
	put_n(&exts, 2, 1);
	put_n(&exts, 0x0304, 2);
	if (host) {
		size_t n = strlen(host);
		put_n(&exts, 0, 2);
		put_n(&exts, (unsigned)(n + 5), 2);
		put_n(&exts, (unsigned)(n + 3), 2);
		put_n(&exts, 0, 1);
		put_n(&exts, (unsigned)n, 2);
		put(&exts, host, n);
	}
	put_n(&body, (unsigned)exts.n, 2);
	put(&body, exts.b, exts.n);
	hs->n = 0;
	put_n(hs, 1, 1);
	put_n(hs, (unsigned)body.n, 3);
	put(hs, body.b, body.n);
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

static int parse(const struct buf *b, size_t len, char *name)
{
	return px_sni_parse(span_of((const char *)b->b, len), name);
}

static void test_every_split(void **state)
{
	struct buf hs, rec;
	char name[PX_SNI_NAME_MAX + 1];

	(void)state;
	hello(&hs, "api.github.com");
	for (size_t max = 16; max <= 4096; max *= 4) {
		records(&rec, &hs, max);
		for (size_t len = 0; len < rec.n; len++)
			assert_int_equal(parse(&rec, len, name), -EAGAIN);
		assert_int_equal(parse(&rec, rec.n, name), 0);
		assert_string_equal(name, "api.github.com");
	}
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
	assert_int_equal(px_sni_parse(span_str(http), name), -EINVAL);
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

/* ClientHellos captured from openssl s_client and curl. */
static void test_real_clients(void **state)
{
	static const struct {
		const char *file, *name;
		int rc;
	} cases[] = {
		{ "curl", "registry.npmjs.org", 0 },
		{ "openssl_tls12", "api.github.com", 0 },
		{ "openssl_tls13", "allowed.test", 0 },
		{ "openssl_nosni", "", -ENOENT },
	};
	char path[512], name[PX_SNI_NAME_MAX + 1];
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
		name[0] = '\0';
		assert_int_equal(px_sni_parse(span_of(b, n), name), cases[i].rc);
		assert_string_equal(name, cases[i].name);
	}
}

int main(int argc, char **argv)
{
	corpus = argc > 1 ? argv[1] : NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_no_name_and_not_tls),
		cmocka_unit_test(test_length_rules),
		cmocka_unit_test(test_name_with_nul),
		cmocka_unit_test(test_real_clients),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
