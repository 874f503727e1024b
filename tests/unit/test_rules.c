/* test_rules.c: cache rules, keys, package identities, published hashes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "ca.h"
#include "policy.h"
#include "rules.h"
#include "verify.h"

static struct policy *load(const char *text)
{
	struct policy *p = NULL;
	struct pol_errors e = { 0 };

	if (pol_load_buffer(text, strlen(text), "t.yaml", &p, &e) < 0)
		fail_msg("does not load: %s", e.n ? e.v[0] : "?");
	pol_errors_free(&e);
	return p;
}

static bool g(const char *pat, const char *path)
{
	return cache_glob(span_str(pat), span_str(path));
}

static void test_glob(void **state)
{
	(void)state;
	assert_true(g("/*/-/*.tgz", "/express/-/express-4.21.2.tgz"));
	assert_false(g("/*/-/*.tgz", "/@types/node/-/node-20.1.0.tgz"));
	assert_true(g("/@*/*/-/*.tgz", "/@types/node/-/node-20.1.0.tgz"));
	assert_true(g("/*", "/@types%2fnode"));
	assert_false(g("/*", "/a/b"));
	assert_true(g("/**/pool/**", "/debian/pool/main/h/hello/hello_2.10-3_amd64.deb"));
	assert_false(g("/**/pool/**", "/debian/dists/bookworm/InRelease"));
	assert_true(g("/**/dists/**", "/debian/dists/bookworm/main/binary-amd64/Packages.gz"));
	assert_true(g("/**/@v/*.zip", "/golang.org/x/mod/@v/v0.17.0.zip"));
	assert_false(g("/**/@v/*.zip", "/golang.org/x/mod/@v/list"));
	assert_false(g("/a", "/ab"));
	assert_true(g("/a**", "/a"));
	/* a long path of stars costs len(pattern) × len(path), not more */
	char path[8001];
	memset(path, 'a', 8000);
	path[0] = '/';
	path[8000] = '\0';
	assert_false(g("/*a*a*a*a*a*a*a*b", path));
}

static void test_rules_in_presets(void **state)
{
	struct policy *p = load("version: 1\npresets: [npm, debian, pypi, go, crates]\n");
	const struct pol_cache_rule *r;

	(void)state;
	r = cache_rule_match(p, "registry.npmjs.org", span_str("/express/-/express-4.21.2.tgz"));
	assert_non_null(r);
	assert_true(r->immutable);
	assert_string_equal(r->ecosystem, "npm");
	assert_string_equal(r->text, "preset:npm:immutable registry.npmjs.org/*/-/*.tgz");
	r = cache_rule_match(p, "registry.npmjs.org", span_str("/express"));
	assert_non_null(r);
	assert_false(r->immutable);
	assert_null(cache_rule_match(p, "registry.npmjs.org", span_str("/-/npm/v1/security/advisories/bulk")));
	assert_null(cache_rule_match(p, "example.com", span_str("/express")));
	assert_true(cache_host_cached(p, "deb.debian.org"));
	assert_false(cache_host_cached(p, "sum.golang.org"));
	r = cache_rule_match(p, "deb.debian.org", span_str("/debian/dists/bookworm/main/by-hash/SHA256/ab"));
	assert_true(r && r->immutable); /* by-hash wins over the dists rule: it comes first */
	const char *hosts[32];
	size_t n = cache_rule_hosts(p, hosts, 32);
	assert_int_equal(n, 9);
	/* the CA's name constraints permit every host a preset caches */
	for (size_t i = 0; i < n; i++) {
		bool in = false;
		for (size_t k = 0; k < ca_nregistry_names; k++)
			in = in || strcmp(hosts[i], ca_registry_names[k]) == 0;
		if (!in)
			fail_msg("%s is cached by a preset but not in ca_registry_names", hosts[i]);
	}
	pol_free(p);
}

static void test_rule_errors(void **state)
{
	static const char *const bad[] = {
		"version: 1\ncache: [\"keep registry.npmjs.org/*\"]\n",
		"version: 1\ncache: [\"immutable /x\"]\n",
		"version: 1\ncache: [\"immutable 10.0.0.1/x\"]\n",
		"version: 1\ncache: [\"immutable a.b/x?y\"]\n",
		"version: 1\ncache: [\"immutable a.b\"]\n",
		"version: 1\ncache: immutable a.b/x\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct policy *p = NULL;
		struct pol_errors e = { 0 };
		assert_int_equal(pol_load_buffer(bad[i], strlen(bad[i]), "t.yaml", &p, &e), -EINVAL);
		assert_true(e.n > 0);
		pol_errors_free(&e);
	}
}

static void pkg(const char *eco, const char *path, const char *want)
{
	struct pol_cache_rule r = { 0 };
	char buf[256];

	snprintf(r.ecosystem, sizeof(r.ecosystem), "%s", eco);
	cache_package(&r, span_str(path), buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("%s %s: got '%s', want '%s'", eco, path, buf, want);
}

static void test_packages(void **state)
{
	(void)state;
	pkg("npm", "/express/-/express-4.21.2.tgz", "npm:express@4.21.2");
	pkg("npm", "/@types/node/-/node-20.1.0.tgz", "npm:@types/node@20.1.0");
	pkg("npm", "/@types%2fnode", "npm:@types/node");
	pkg("npm", "/express", "npm:express");
	pkg("npm", "/express/-/other-1.0.0.tgz", "");
	pkg("debian", "/debian/pool/main/h/hello/hello_2.10-3_amd64.deb", "debian:hello_2.10-3_amd64");
	pkg("debian", "/debian/dists/bookworm/InRelease", "");
	pkg("pypi", "/packages/ab/cd/requests-2.32.3-py3-none-any.whl", "pypi:requests@2.32.3");
	pkg("pypi", "/packages/ab/cd/requests-2.32.3.tar.gz", "pypi:requests@2.32.3");
	pkg("pypi", "/simple/requests/", "pypi:requests");
	pkg("crates", "/crates/serde/serde-1.0.200.crate", "crates:serde@1.0.200");
	pkg("crates", "/crates/serde-json/serde-json-1.0.0.crate", "crates:serde-json@1.0.0");
	pkg("go", "/golang.org/x/mod/@v/v0.17.0.zip", "go:golang.org/x/mod@v0.17.0");
	pkg("go", "/github.com/!burnt!sushi/toml/@v/v1.3.2.mod", "go:github.com/BurntSushi/toml@v1.3.2");
	pkg("go", "/golang.org/x/mod/@v/list", "go:golang.org/x/mod");
	pkg("npm", "/a\"b/-/a\"b-1.tgz", ""); /* nothing a log line would have to escape */
}

static void test_keys(void **state)
{
	char a[CACHE_KEY_MAX], b[CACHE_KEY_MAX], big[CACHE_KEY_MAX + 10];

	(void)state;
	assert_int_equal(cache_key("registry.npmjs.org", 443, span_str("/express"), true, "corgi", a, sizeof(a)), 0);
	assert_int_equal(cache_key("registry.npmjs.org", 443, span_str("/express"), true, "full", b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(cache_key("registry.npmjs.org", 443, span_str("/express"), false, "corgi", b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(cache_key("h", 80, span_str(big), false, NULL, a, sizeof(a)), -ENAMETOOLONG);
}

static void test_sri(void **state)
{
	struct cache_hash h;

	(void)state;
	/* sha512 of "" */
	assert_true(cache_hash_sri(span_str("sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk= sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="), &h));
	assert_int_equal(h.alg, CACHE_ALG_SHA512);
	assert_int_equal(h.d[0], 0xcf);
	assert_int_equal(h.d[63], 0x3e);
	assert_false(cache_hash_sri(span_str("md5-1B2M2Y8AsgTpgAmY7PhCfg=="), &h));
	assert_false(cache_hash_sri(span_str("sha512-short"), &h));
	assert_true(cache_hash_hex(CACHE_ALG_SHA1, span_str("da39a3ee5e6b4b0d3255bfef95601890afd80709"), &h));
	assert_false(cache_hash_hex(CACHE_ALG_SHA1, span_str("da39a3ee5e6b4b0d3255bfef95601890afd8070g"), &h));
}

/* A body checked as it comes, in pieces, against each algorithm's digest
 * of "abc"; one byte off, or cut short, does not match. */
static void test_check(void **state)
{
	static const struct {
		enum cache_alg alg;
		const char *hex;
	} abc[] = {
		{ CACHE_ALG_SHA1, "a9993e364706816aba3e25717850c26c9cd0d89d" },
		{ CACHE_ALG_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ CACHE_ALG_SHA512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
				    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f" },
	};
	struct cache_check *c;
	struct cache_hash h = { .alg = CACHE_ALG_NONE };

	(void)state;
	assert_int_equal(cache_check_new(&h, &c), -EINVAL);
	assert_null(c);
	for (size_t i = 0; i < sizeof(abc) / sizeof(abc[0]); i++) {
		assert_true(cache_hash_hex(abc[i].alg, span_str(abc[i].hex), &h));
		const char *bodies[] = { "abc", "abd", "ab" };
		for (size_t b = 0; b < 3; b++) {
			assert_int_equal(cache_check_new(&h, &c), 0);
			assert_int_equal(cache_check_update(c, bodies[b], 1), 0);
			assert_int_equal(cache_check_update(c, "", 0), 0);
			assert_int_equal(cache_check_update(c, bodies[b] + 1, strlen(bodies[b]) - 1), 0);
			assert_int_equal(cache_check_end(c), b == 0 ? 0 : -EBADMSG);
			cache_check_free(c);
		}
	}
	cache_check_free(NULL);
}

static void learn(struct cache_expect *x, const char *eco, bool immutable, const char *host, const char *path,
		  const char *enc, struct span body)
{
	struct pol_cache_rule r = { .immutable = immutable };
	snprintf(r.ecosystem, sizeof(r.ecosystem), "%s", eco);
	cache_expect_learn(x, &r, host, span_str(path), enc, body);
}

static void test_learn(void **state)
{
	struct cache_expect *x;
	struct cache_hash h;
	static const char npm[] =
		"{\"name\":\"a\",\"versions\":{\"1.0.0\":{\"dist\":{\"tarball\":"
		"\"https://registry.npmjs.org/a/-/a-1.0.0.tgz\",\"integrity\":\"sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/"
		"SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==\"}},\"0.9.0\":{\"dist\":{\"tarball\":"
		"\"https://registry.npmjs.org/a/-/a-0.9.0.tgz\",\"shasum\":\"da39a3ee5e6b4b0d3255bfef95601890afd80709\"}}}}";
	static const char pypi[] = "<a href=\"https://files.pythonhosted.org/packages/aa/bb/x-1.0-py3-none-any.whl"
				   "#sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\">x</a>";
	static const char deb[] = "Package: hello\nFilename: pool/main/h/hello/hello_1_amd64.deb\nSHA256: "
				  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\n";

	(void)state;
	assert_int_equal(cache_expect_new(3, &x), 0);
	learn(x, "npm", false, "registry.npmjs.org", "/a", NULL, span_str(npm));
	assert_true(cache_expect_find(x, "registry.npmjs.org", span_str("/a/-/a-1.0.0.tgz"), &h));
	assert_int_equal(h.alg, CACHE_ALG_SHA512);
	assert_true(cache_expect_find(x, "registry.npmjs.org", span_str("/a/-/a-0.9.0.tgz"), &h));
	assert_int_equal(h.alg, CACHE_ALG_SHA1);
	assert_true(cache_expect_find(x, "registry.npmjs.org", span_str("/a/-/a-1.0.0.tgz"), &h));
	assert_false(cache_expect_find(x, "registry.npmjs.org", span_str("/a/-/a-2.0.0.tgz"), &h));
	/* gzip-encoded packuments are read too */
	unsigned char gz[2048];
	z_stream z = { 0 };
	deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (unsigned char *)pypi;
	z.avail_in = sizeof(pypi) - 1;
	z.next_out = gz;
	z.avail_out = sizeof(gz);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	size_t gzlen = sizeof(gz) - z.avail_out;
	deflateEnd(&z);
	learn(x, "pypi", false, "pypi.org", "/simple/x/", "gzip", span_of((const char *)gz, gzlen));
	assert_true(cache_expect_find(x, "files.pythonhosted.org", span_str("/packages/aa/bb/x-1.0-py3-none-any.whl"), &h));
	assert_int_equal(h.alg, CACHE_ALG_SHA256);
	learn(x, "debian", true, "deb.debian.org", "/debian/dists/bookworm/main/binary-amd64/Packages", NULL,
	      span_str(deb));
	assert_true(cache_expect_find(x, "deb.debian.org", span_str("/debian/pool/main/h/hello/hello_1_amd64.deb"), &h));
	/* the table holds 3: the oldest of the packument's two is forgotten */
	assert_true(cache_expect_find(x, "registry.npmjs.org", span_str("/a/-/a-1.0.0.tgz"), &h) !=
		    cache_expect_find(x, "registry.npmjs.org", span_str("/a/-/a-0.9.0.tgz"), &h));
	/* by-hash names carry their digest; a bad one is none */
	assert_true(cache_expect_find(x, "deb.debian.org", span_str("/debian/dists/b/main/binary-amd64/by-hash/SHA256/"
								      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), &h));
	assert_false(cache_expect_find(x, "deb.debian.org", span_str("/debian/dists/b/by-hash/SHA256/zz"), &h));
	/* garbage teaches nothing and does not crash */
	learn(x, "npm", false, "registry.npmjs.org", "/b", "gzip", span_str("not gzip"));
	learn(x, "npm", false, "registry.npmjs.org", "/b", NULL, span_str("{\"versions\":[1,2]}"));
	cache_expect_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob),        cmocka_unit_test(test_rules_in_presets),
		cmocka_unit_test(test_rule_errors), cmocka_unit_test(test_packages),
		cmocka_unit_test(test_keys),        cmocka_unit_test(test_sri),
		cmocka_unit_test(test_learn),       cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
