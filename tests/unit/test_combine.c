/* test_combine.c: policies combined and extended on the command line
 * (combine.c), policy check's warnings (lint.c), localhost, and the one
 * stderr rate limiter (core/log.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"

static bool allows(const struct policy *p, const char *name, uint16_t port)
{
	struct host h;
	struct pol_verdict v;
	const char *why;

	assert_int_equal(host_canonicalize(span_str(name), &h, &why), 0);
	pol_decide(p, &h, port, &v);
	return v.allow;
}

static struct policy *spec(const char *const *parts, const char *const *kinds, size_t n, struct pol_errors *e)
{
	char *s = NULL;
	struct policy *p = NULL;

	memset(e, 0, sizeof(*e));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(pol_spec_add(&s, kinds[i], parts[i]), 0);
	int rc = pol_load(s, &p, e);
	free(s);
	return rc == 0 ? p : NULL;
}

static void test_presets_and_entries(void **state)
{
	const char *parts[] = { "npm", "pypi,go", "api.example.com", "git.example.com:22", "203.0.113.0/24" };
	const char *kinds[] = { NULL, NULL, "allow", "allow", "allow_private" };
	struct pol_errors e;
	struct policy *p = spec(parts, kinds, 5, &e);

	(void)state;
	assert_non_null(p);
	assert_string_equal(p->name, "npm"); /* the first policy names it */
	assert_true(allows(p, "registry.npmjs.org", 443));
	assert_true(allows(p, "pypi.org", 443));
	assert_true(allows(p, "proxy.golang.org", 443));
	assert_true(allows(p, "api.example.com", 443));
	assert_true(allows(p, "git.example.com", 22));
	assert_false(allows(p, "git.example.com", 443));
	assert_false(allows(p, "evil.example", 443));
	assert_int_equal(p->allow_private.n, 1);
	pol_free(p);
	pol_errors_free(&e);
}

static void test_entry_errors(void **state)
{
	const char *parts[] = { "npm", "bad host", "*.com", "https://x.example/y", "api.example.com" };
	const char *kinds[] = { NULL, "allow", "allow", "allow", "allow_private" };
	struct pol_errors e;

	(void)state;
	assert_null(spec(parts, kinds, 5, &e));
	assert_int_equal(e.n, 4); /* each bad entry, with the loader's own message */
	assert_non_null(strstr(e.v[0], "--allow: invalid host 'bad host'"));
	assert_non_null(strstr(e.v[1], "covers the public suffix"));
	assert_non_null(strstr(e.v[2], "is a URL: give the host alone ('x.example')"));
	assert_non_null(strstr(e.v[3], "--allow-private: invalid address or CIDR 'api.example.com'"));
	pol_errors_free(&e);
	/* a quote is data, not YAML syntax */
	const char *q[] = { "npm", "it's.example" };
	const char *qk[] = { NULL, "allow" };
	assert_null(spec(q, qk, 2, &e));
	assert_non_null(strstr(e.v[0], "invalid host 'it's.example'"));
	pol_errors_free(&e);
	char *s = NULL;
	assert_int_equal(pol_spec_add(&s, "allow", "a.example\n+allow *"), -EINVAL);
	assert_null(s);
}

static void test_unknown_preset(void **state)
{
	struct policy *p = NULL;
	struct pol_errors e = { 0 };

	(void)state;
	assert_int_equal(pol_load("npm,nosuch", &p, &e), -EINVAL);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.v[0], "cannot read policy 'nosuch'"));
	assert_non_null(strstr(e.v[0], "crates, debian, github, go, npm, pypi"));
	pol_errors_free(&e);
	assert_int_equal(pol_load("nosuch", &p, &e), -ENOENT); /* one part: as pol_load_one */
}

static void test_lint(void **state)
{
	static const char text[] = "version: 1\n"
				   "allow: [a.example.com, b.example.com, a.example.com, 10.0.0.5, 198.51.100.7, localhost,"
				   " \"*.x.example.com\", \"*.github.com\"]\n"
				   "deny: [b.example.com, \"*.x.example.com\", gist.github.com]\n"
				   "allow_private: [198.51.100.0/24, 198.51.100.0/24]\n";
	struct policy *p = NULL;
	struct pol_errors e = { 0 }, w = { 0 };

	(void)state;
	assert_int_equal(pol_load_buffer(text, sizeof(text) - 1, "t.yaml", &p, &e), 0);
	assert_int_equal(pol_lint(p, &w), 6);
	assert_non_null(strstr(w.v[0], "'b.example.com' is both allowed and denied"));
	assert_non_null(strstr(w.v[1], "allow '10.0.0.5' is in the blocked range 10.0.0.0/8"));
	assert_non_null(strstr(w.v[2], "allow 'localhost' never matches"));
	assert_non_null(strstr(w.v[3], "'*.x.example.com' is both allowed and denied"));
	assert_non_null(strstr(w.v[4], "'a.example.com' is in allow twice"));
	assert_non_null(strstr(w.v[5], "'198.51.100.0/24' is in allow_private twice"));
	pol_errors_free(&w);
	pol_free(p);
}

static void test_localhost(void **state)
{
	static const char text[] = "version: 1\nallow: [\"*\"]\nallow_private: [127.0.0.0/8, \"::1\"]\n";
	struct policy *p = NULL;
	struct pol_errors e = { 0 };
	struct host h;
	struct pol_verdict v;
	const char *why;
	char hint[320];

	(void)state;
	assert_int_equal(pol_load_buffer(text, sizeof(text) - 1, "t.yaml", &p, &e), 0);
	for (int i = 0; i < 3; i++) {
		const char *n = (const char *[]){ "localhost", "LocalHost.", "a.b.localhost" }[i];
		assert_int_equal(host_canonicalize(span_str(n), &h, &why), 0);
		pol_decide(p, &h, 443, &v);
		assert_false(v.allow);
		assert_int_equal(v.reason, POL_BLOCKED_ADDRESS);
		pol_decide_name(p, &h, &v);
		assert_false(v.allow);
	}
	pol_hint(&v, "localhost", 443, NULL, hint, sizeof(hint));
	assert_non_null(strstr(hint, "localhost is always blocked"));
	assert_true(allows(p, "notlocalhost.example", 443));
	pol_free(p);
}

static void test_log_limit(void **state)
{
	struct log_limit l = { 0 };
	char key[16];

	(void)state;
	assert_true(log_limit_pass(&l, "tcp 203.0.113.5:22", 1000));
	assert_false(log_limit_pass(&l, "tcp 203.0.113.5:22", 1000));
	assert_true(log_limit_pass(&l, "tcp 203.0.113.6:22", 1000)); /* per destination */
	assert_false(log_limit_pass(&l, "tcp 203.0.113.5:22", 1000));
	for (int i = 0; i < LOG_LIMIT_SLOTS; i++) { /* more keys than slots: the oldest is forgotten */
		snprintf(key, sizeof(key), "k%d", i);
		assert_true(log_limit_pass(&l, key, 1000));
	}
	assert_true(log_limit_pass(&l, "tcp 203.0.113.5:22", 1000));
	assert_true(log_limit_pass(&l, "short", 20));
	usleep(40 * 1000);
	assert_true(log_limit_pass(&l, "short", 20)); /* the interval is over */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_presets_and_entries), cmocka_unit_test(test_entry_errors),
		cmocka_unit_test(test_unknown_preset),      cmocka_unit_test(test_lint),
		cmocka_unit_test(test_localhost),           cmocka_unit_test(test_log_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
