/* test_policy.c: the strict loader and the matcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

static struct policy *load(const char *text, struct pol_errors *errs)
{
	struct policy *p = NULL;

	memset(errs, 0, sizeof(*errs));
	if (pol_load_buffer(text, strlen(text), "t.yaml", &p, errs) < 0)
		return NULL;
	return p;
}

/* The load fails and the first error contains want. */
static void expect_error(const char *text, const char *want)
{
	struct pol_errors e;
	struct policy *p = load(text, &e);

	if (p)
		fail_msg("accepted: %s", text);
	if (e.n == 0 || !strstr(e.v[0], want))
		fail_msg("for %s: expected an error with '%s', got '%s'", text, want, e.n ? e.v[0] : "none");
	pol_errors_free(&e);
}

static void test_loader_errors(void **state)
{
	(void)state;
	expect_error("", "empty policy");
	expect_error("allow: [a.com]\n", "missing 'version: 1'");
	expect_error("version: 2\n", "t.yaml:1:10: unsupported version '2'");
	expect_error("version: 1\nversion: 1\n", "duplicate key 'version'");
	expect_error("version: 1\nallow: &x [a.com]\n", "anchors are not allowed");
	expect_error("version: 1\nallow: [a.com]\ndeny: *x\n", "");
	expect_error("version: 1\nallow: !!str a\n", "tags are not allowed");
	expect_error("version: 1\n<<: {a: b}\n", "unknown key '<<'");
	expect_error("version: 1\nallow: [[a.com]]\n", "flat list");
	expect_error("version: 1\nallow: a.com\n", "takes a list");
	expect_error("version: 1\nallow: [\"*.com\"]\n", "public suffix 'com'");
	expect_error("version: 1\nallow: [\"*.co.uk\"]\n", "public suffix 'co.uk'");
	expect_error("version: 1\nallow: [\"*.test\"]\n", "public suffix");
	expect_error("version: 1\nallow: [\"a.*.com\"]\n", "only a leading");
	expect_error("version: 1\nallow: [127.1]\n", "not a canonical IPv4");
	expect_error("version: 1\nallow: [a.com:0]\n", "invalid port");
	expect_error("version: 1\nallow: [metadata.google.internal]\n", "metadata name");
	expect_error("version: 1\nallow_private: [example.com]\n", "allow_private takes");
	expect_error("version: 1\nallow_private: [10.0.0.1/8]\n", "invalid address");
	expect_error("version: 1\nports: [http]\n", "invalid port 'http'");
	expect_error("version: 1\nmode: audit\n", "invalid mode 'audit'");
	expect_error("version: 1\nenv: [1BAD]\n", "invalid environment variable");
	expect_error("version: 1\npresets: [nosuch]\n", "unknown preset 'nosuch'");
	expect_error("version: 1\n---\nversion: 1\n", "only one YAML document");
	expect_error("version: 1\nallow: [a.com\n", "YAML syntax error");
}

/* The load fails with exactly one error, want. */
static void expect_only_error(const char *text, const char *want)
{
	struct pol_errors e;
	struct policy *p = load(text, &e);

	if (p)
		fail_msg("accepted: %s", text);
	if (e.n != 1 || strcmp(e.v[0], want) != 0)
		fail_msg("for %s: expected only '%s', got %zu errors, the first '%s'", text, want, e.n,
			 e.n ? e.v[0] : "none");
	pol_errors_free(&e);
}

/* l holds exactly the n paths in want, in order. */
static void expect_paths(const struct pol_paths *l, const char *const *want, size_t n)
{
	for (size_t i = 0; i < l->n && i < n; i++)
		if (strcmp(l->v[i], want[i]) != 0)
			fail_msg("path %zu: expected '%s', got '%s'", i, want[i], l->v[i]);
	if (l->n != n)
		fail_msg("expected %zu paths, got %zu", n, l->n);
}

static void test_unmask(void **state)
{
	struct pol_errors e;
	struct policy *p = load("version: 1\nunmask: [docker, nscd, systemd, session-bus, x11, ssh-agent]\n", &e);

	(void)state;
	assert_non_null(p);
	assert_int_equal(p->unmask, (1u << POL_SOCK_DOCKER) | (1u << POL_SOCK_NSCD) | (1u << POL_SOCK_SYSTEMD) |
					    (1u << POL_SOCK_SESSION_BUS) | (1u << POL_SOCK_X11) |
					    (1u << POL_SOCK_SSH_AGENT));
	assert_int_equal(p->unmask_paths.n, 0);
	pol_free(p);

	/* Every name the sandbox knows loads as its own bit, and the unknown-name
	 * error lists each of them. */
	struct pol_errors bad;
	assert_null(load("version: 1\nunmask: [Docker]\n", &bad));
	assert_int_equal(bad.n, 1);
	assert_non_null(strstr(bad.v[0], "t.yaml:2:10: unknown host socket 'Docker' (known: resolved, dbus,"));
	for (unsigned i = 0; i < POL_SOCK_COUNT; i++) {
		char text[128], name[32];
		assert_non_null(pol_host_socket_name(i));
		snprintf(text, sizeof(text), "version: 1\nunmask: [%s]\n", pol_host_socket_name(i));
		p = load(text, &e);
		assert_non_null(p);
		assert_int_equal(p->unmask, 1u << i);
		pol_free(p);
		snprintf(name, sizeof(name), " %s%s", pol_host_socket_name(i), i + 1 < POL_SOCK_COUNT ? "," : ";");
		if (!strstr(bad.v[0], name))
			fail_msg("'%s' missing from: %s", name, bad.v[0]);
	}
	assert_null(pol_host_socket_name(POL_SOCK_COUNT));
	pol_errors_free(&bad);
}

/* unmask also takes the path of a socket file, checked like write paths. */
static void test_unmask_paths(void **state)
{
	struct pol_errors e;
	struct policy *p = load("version: 1\nunmask: [docker, /run/postgresql/.s.PGSQL.5432, \"~/.local//db.sock\", "
				"/run/postgresql/.s.PGSQL.5432/]\n",
				&e);
	static const char *const want[] = { "/run/postgresql/.s.PGSQL.5432", "~/.local/db.sock" };

	(void)state;
	assert_non_null(p);
	assert_int_equal(p->unmask, 1u << POL_SOCK_DOCKER);
	expect_paths(&p->unmask_paths, want, 2);
	pol_free(p);
	expect_only_error("version: 1\nunmask: [run/docker.sock]\n",
			  "t.yaml:2:10: invalid path 'run/docker.sock' in 'unmask': must be absolute or start with ~/");
	expect_only_error("version: 1\nunmask: [\"~bob/.sock\"]\n",
			  "t.yaml:2:10: invalid path '~bob/.sock' in 'unmask': '~user' is not supported: use '~/' or an "
			  "absolute path");
	expect_only_error("version: 1\nunmask: [/run/../x.sock]\n",
			  "t.yaml:2:10: invalid path '/run/../x.sock' in 'unmask': '.' and '..' components are not allowed");
	expect_only_error("version: 1\nunmask: [\"\"]\n", "t.yaml:2:10: invalid path '' in 'unmask': empty");
	expect_only_error("version: 1\nunmask: [//]\n", "t.yaml:2:10: invalid path '//' in 'unmask': a directory, not a socket file");
	expect_only_error("version: 1\nunmask: [\"~/\"]\n", "t.yaml:2:10: invalid path '~/' in 'unmask': a directory, not a socket file");
}

/* write, hide and show: normalised, "~" kept for the sandbox, duplicates
 * (after normalising) dropped, first one kept. */
static void test_paths(void **state)
{
	struct pol_errors e;
	struct policy *p = load("version: 1\n"
				"write: [\"~/.npm/\", /srv//out/, \"~\", /, \"~/\", /srv/out, \"~//a///b\", /a/.../b]\n"
				"hide:\n  - ~/projects/keys\n  - /etc/ssl/private/\n"
				"show: [\"~/.npmrc\"]\n",
				&e);
	static const char *const write[] = { "~/.npm", "/srv/out", "~", "/", "~/a/b", "/a/.../b" };
	static const char *const hide[] = { "~/projects/keys", "/etc/ssl/private" };
	static const char *const show[] = { "~/.npmrc" };

	(void)state;
	if (!p)
		fail_msg("rejected: %s", e.n ? e.v[0] : "?");
	expect_paths(&p->write, write, 6);
	expect_paths(&p->hide, hide, 2);
	expect_paths(&p->show, show, 1);
	assert_int_equal(p->unmask_paths.n, 0);
	pol_free(p);

	p = load("version: 1\n", &e);
	assert_non_null(p);
	assert_int_equal(p->write.n + p->hide.n + p->show.n + p->unmask_paths.n, 0);
	pol_free(p);
}

static void test_path_errors(void **state)
{
	(void)state;
	expect_only_error("version: 1\nwrite: [\"\"]\n", "t.yaml:2:9: invalid path '' in 'write': empty");
	expect_only_error("version: 1\nwrite: [/ok, src/out]\n",
			  "t.yaml:2:14: invalid path 'src/out' in 'write': must be absolute or start with ~/");
	expect_only_error("version: 1\nhide: [keys]\n",
			  "t.yaml:2:8: invalid path 'keys' in 'hide': must be absolute or start with ~/");
	expect_only_error("version: 1\nshow: [\"~other/x\"]\n",
			  "t.yaml:2:8: invalid path '~other/x' in 'show': '~user' is not supported: use '~/' or an "
			  "absolute path");
	expect_only_error("version: 1\nshow: [\"~root\"]\n",
			  "t.yaml:2:8: invalid path '~root' in 'show': '~user' is not supported: use '~/' or an "
			  "absolute path");
	expect_only_error("version: 1\nhide:\n  - /srv/../etc\n",
			  "t.yaml:3:5: invalid path '/srv/../etc' in 'hide': '.' and '..' components are not allowed");
	expect_error("version: 1\nwrite: [\"~/..\"]\n", "'.' and '..' components are not allowed");
	expect_error("version: 1\nwrite: [/a/./b]\n", "'.' and '..' components are not allowed");
	expect_error("version: 1\nwrite: [/a/.]\n", "'.' and '..' components are not allowed");
	expect_error("version: 1\nwrite: [/..]\n", "'.' and '..' components are not allowed");
	/* Control characters, quoted escaped; a NUL must not cut the path short. */
	expect_only_error("version: 1\nwrite: [\"/a\\tb\"]\n",
			  "t.yaml:2:9: invalid path '/a\\x09b' in 'write': control character");
	expect_only_error("version: 1\nwrite: [\"/a\\0b\"]\n",
			  "t.yaml:2:9: invalid path '/a\\x00b' in 'write': control character");
	expect_only_error("version: 1\nwrite: [\"/a\\x85b\"]\n",
			  "t.yaml:2:9: invalid path '/a\\u0085b' in 'write': control character");
	expect_only_error("version: 1\nwrite: [\"/a\\x7f\"]\n",
			  "t.yaml:2:9: invalid path '/a\\x7f' in 'write': control character");
	expect_error("version: 1\nwrite: /srv\n", "'write' takes a list, not '/srv'");
	expect_error("version: 1\nwrite: [[/srv]]\n", "flat list");
	expect_error("version: 1\nwrite: []\nwrite: []\n", "duplicate key 'write'");

	/* Every bad entry is listed, the good ones kept going. */
	struct pol_errors e;
	assert_null(load("version: 1\nwrite: [a, /ok, b]\nhide: [\"\"]\nshow: [c]\n", &e));
	assert_int_equal(e.n, 4);
	assert_non_null(strstr(e.v[0], "t.yaml:2:9: invalid path 'a'"));
	assert_non_null(strstr(e.v[1], "t.yaml:2:17: invalid path 'b'"));
	assert_non_null(strstr(e.v[2], "t.yaml:3:8: invalid path ''"));
	assert_non_null(strstr(e.v[3], "t.yaml:4:8: invalid path 'c'"));
	pol_errors_free(&e);
}

/* 4095 bytes is the longest path; the message about a longer one still
 * says why after quoting the start of the value. */
static void test_path_length(void **state)
{
	static char text[6000];
	struct pol_errors e;
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "version: 1\nwrite: [/");
	memset(text + n, 'a', 4094);
	snprintf(text + n + 4094, sizeof(text) - (size_t)n - 4094, "]\n");
	struct policy *p = load(text, &e);
	assert_non_null(p);
	assert_int_equal(p->write.n, 1);
	assert_int_equal(strlen(p->write.v[0]), 4095);
	pol_free(p);

	snprintf(text + n + 4094, sizeof(text) - (size_t)n - 4094, "a]\n");
	assert_null(load(text, &e));
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.v[0], "t.yaml:2:9: invalid path '/aaaa"));
	assert_non_null(strstr(e.v[0], "...' in 'write': longer than 4095 bytes"));
	assert_true(strlen(e.v[0]) < 256);
	pol_errors_free(&e);
}

/* The unknown-key message names every key the loader takes. */
static void test_unknown_key(void **state)
{
	(void)state;
	expect_only_error("version: 1\nwritable: [/srv]\n",
			  "t.yaml:2:1: unknown key 'writable' (known: version, name, mode, allow, presets, ports, deny, "
			  "allow_private, env, unmask, write, hide, show, ech, cache)");
}

/* ech: deny (the default) or allow, a single value quoted when wrong. */
static void test_ech(void **state)
{
	static const struct {
		const char *text;
		bool allow;
	} ok[] = {
		{ "version: 1\n", false },
		{ "version: 1\nech: deny\n", false },
		{ "version: 1\nech: allow\n", true },
		{ "version: 1\nech: \"allow\"\nmode: report\n", true },
	};
	struct pol_errors e;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct policy *p = load(ok[i].text, &e);
		if (!p)
			fail_msg("rejected %s: %s", ok[i].text, e.n ? e.v[0] : "?");
		assert_int_equal(p->ech_allow, ok[i].allow);
		pol_free(p);
	}
	expect_only_error("version: 1\nech: Allow\n", "t.yaml:2:6: invalid ech 'Allow' (want deny or allow)");
	expect_only_error("version: 1\nech: yes\n", "t.yaml:2:6: invalid ech 'yes' (want deny or allow)");
	expect_only_error("version: 1\nech: \"allow\\0\"\n",
			  "t.yaml:2:6: invalid ech 'allow\\x00' (want deny or allow)");
	expect_only_error("version: 1\nech: ''\n", "t.yaml:2:6: invalid ech '' (want deny or allow)");
	expect_only_error("version: 1\nech:\n", "t.yaml:2:5: 'ech' needs a value");
	expect_only_error("version: 1\nech: [allow]\n", "t.yaml:2:6: 'ech' takes a single value");
	expect_only_error("version: 1\nech: allow\nech: deny\n", "t.yaml:3:1: duplicate key 'ech'");
	expect_only_error("version: 1\nmode: \"report\\0\"\n",
			  "t.yaml:2:7: invalid mode 'report\\x00' (want enforce or report)");
}

static void test_all_errors_listed(void **state)
{
	struct pol_errors e;

	(void)state;
	assert_null(load("version: 1\nallow: [\"*.com\", ok.com, 'bad host']\nports: [0]\nzzz: 1\n", &e));
	assert_int_equal(e.n, 4);
	assert_string_equal(e.v[0], "t.yaml:2:9: wildcard '*.com' covers the public suffix 'com': name a registered domain");
	pol_errors_free(&e);
}

static const char policy_text[] = "version: 1\n"
				  "name: gh\n"
				  "allow:\n"
				  "  - api.github.com\n"
				  "  - \"*.githubusercontent.com\"\n"
				  "  - github.com:22\n"
				  "  - 192.0.2.0/24:8443\n"
				  "presets: [npm]\n"
				  "deny: [uploads.github.com, \"*.evil.githubusercontent.com\"]\n"
				  "allow_private: [\"10.0.1.50:5432\", \"fd00::/8\"]\n"
				  "env: [GITHUB_TOKEN]\n";

static struct pol_verdict decide(const struct policy *p, const char *authority)
{
	struct host h;
	uint16_t port;
	const char *why;
	struct pol_verdict v;

	assert_int_equal(host_parse_authority(span_str(authority), 443, &h, &port, &why), 0);
	pol_decide(p, &h, port, &v);
	return v;
}

static void test_matcher(void **state)
{
	struct pol_errors e;
	struct policy *p = load(policy_text, &e);

	(void)state;
	assert_non_null(p);
	assert_string_equal(p->name, "gh");
	assert_int_equal(p->nports, 2);
	assert_int_equal(decide(p, "api.github.com").reason, POL_ALLOWED);
	assert_int_equal(decide(p, "api.github.com:80").reason, POL_ALLOWED);
	assert_int_equal(decide(p, "api.github.com:8080").reason, POL_PORT_NOT_ALLOWED);
	assert_int_equal(decide(p, "x.api.github.com").reason, POL_NOT_ALLOWED);
	assert_int_equal(decide(p, "raw.githubusercontent.com").reason, POL_ALLOWED);
	assert_int_equal(decide(p, "githubusercontent.com").reason, POL_NOT_ALLOWED); /* subdomains only */
	assert_int_equal(decide(p, "a.evil.githubusercontent.com").reason, POL_DENIED_BY_RULE);
	assert_int_equal(decide(p, "uploads.github.com").reason, POL_DENIED_BY_RULE);
	assert_int_equal(decide(p, "github.com:22").reason, POL_ALLOWED);
	assert_int_equal(decide(p, "github.com:443").reason, POL_PORT_NOT_ALLOWED);
	assert_int_equal(decide(p, "metadata.google.internal").reason, POL_METADATA_HOST);
	assert_int_equal(decide(p, "instance-data").reason, POL_METADATA_HOST);
	struct pol_verdict v = decide(p, "registry.npmjs.org");
	assert_int_equal(v.reason, POL_ALLOWED);
	assert_true(v.rule_is_preset);
	assert_string_equal(v.rule->text, "preset:npm:registry.npmjs.org");
	assert_int_equal(decide(p, "192.0.2.9:8443").reason, POL_ALLOWED);
	assert_int_equal(decide(p, "192.0.2.9:443").reason, POL_PORT_NOT_ALLOWED);
	assert_int_equal(decide(p, "198.51.100.1").reason, POL_IP_LITERAL);
	assert_int_equal(decide(p, "[2001:db8::1]").reason, POL_IP_LITERAL);

	struct addr a, out[4];
	const struct addr *first;
	addr_parse(span_str("10.0.1.50"), &a);
	assert_true(pol_private_allowed(p, &a, 5432, NULL));
	assert_false(pol_private_allowed(p, &a, 5433, NULL));
	struct addr in[3];
	addr_parse(span_str("127.0.0.1"), &in[0]);
	addr_parse(span_str("140.82.112.3"), &in[1]);
	addr_parse(span_str("fd12::1"), &in[2]);
	assert_int_equal(pol_vet(p, in, 3, 443, out, &first), 2);
	assert_ptr_equal(first, &in[0]);
	assert_int_equal(pol_vet(p, in, 1, 443, out, &first), 0);
	pol_free(p);
}

static void test_report_and_presets(void **state)
{
	struct pol_errors e;
	struct policy *p = load("version: 1\nmode: report\npresets: [npm, pypi, github, crates, go, debian]\n", &e);

	(void)state;
	assert_non_null(p);
	assert_int_equal(p->mode, POL_REPORT);
	assert_string_equal(p->name, "t");
	assert_true(p->preset.n >= 6);
	pol_free(p);
	assert_non_null(pol_preset_text("npm"));
	assert_null(pol_preset_text("../etc/passwd"));
}

/* The compiled index must decide exactly as the list order says. */
static void test_index_order(void **state)
{
	struct pol_errors e;
	struct policy *p = load("version: 1\nallow: [\"a.example.com:8443\", \"*.example.com\", a.example.com, "
			       "\"*.b.example.com:22\"]\ndeny: [\"x.example.com:25\", \"*.bad.example.com\"]\n",
			       &e);
	struct pol_verdict v;

	(void)state;
	assert_non_null(p);
	v = decide(p, "a.example.com:443");
	assert_true(v.allow);
	assert_string_equal(v.rule->text, "*.example.com"); /* listed before the exact entry */
	v = decide(p, "a.example.com:8443");
	assert_string_equal(v.rule->text, "a.example.com:8443");
	v = decide(p, "deep.c.b.example.com:22");
	assert_string_equal(v.rule->text, "*.b.example.com:22");
	v = decide(p, "example.com:443"); /* a wildcard covers subdomains only */
	assert_false(v.allow);
	v = decide(p, "x.example.com:25");
	assert_int_equal(v.reason, POL_DENIED_BY_RULE);
	v = decide(p, "x.example.com:443");
	assert_true(v.allow);
	v = decide(p, "y.bad.example.com:443");
	assert_int_equal(v.reason, POL_DENIED_BY_RULE);
	pol_free(p);
}

/* The ports a name may be reached on, as the DNS stub binds them. */
static void test_name_ports(void **state)
{
	struct pol_errors e;
	struct policy *p = load("version: 1\nallow: [a.test, \"a.test:22\", \"*.b.test:5432\"]\n"
			       "deny: [\"a.test:80\"]\n", &e);
	struct host h;
	const char *why;
	uint16_t ports[8];

	(void)state;
	assert_non_null(p);
	assert_int_equal(host_canonicalize(span_str("a.test"), &h, &why), 0);
	size_t n = pol_name_ports(p, &h, ports, 8);
	assert_int_equal(n, 2); /* 443 and 22; 80 is denied */
	assert_true((ports[0] == 443 && ports[1] == 22) || (ports[0] == 22 && ports[1] == 443));
	assert_int_equal(host_canonicalize(span_str("db.b.test"), &h, &why), 0);
	assert_int_equal(pol_name_ports(p, &h, ports, 8), 1);
	assert_int_equal(ports[0], 5432);
	assert_int_equal(host_canonicalize(span_str("c.test"), &h, &why), 0);
	assert_int_equal(pol_name_ports(p, &h, ports, 8), 0);
	pol_free(p);
}

/* A large generated policy: the index and a plain scan agree on every host. */
static void test_index_matches_scan(void **state)
{
	static char text[200000];
	struct pol_errors e;
	size_t n = (size_t)snprintf(text, sizeof(text), "version: 1\nallow:\n");

	(void)state;
	for (int i = 0; i < 3000; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "  - \"%s%d.h%d.example.org%s\"\n",
				      i % 3 == 0 ? "*.n" : "n", i, i % 17, i % 5 == 0 ? ":8080" : "");
	struct policy *p = load(text, &e);
	int allowed = 0, denied = 0;
	assert_non_null(p);
	for (int i = 0; i < 3100; i += 7) {
		char host[128];
		struct pol_verdict a, b;
		snprintf(host, sizeof(host), "%sn%d.h%d.example.org:%d", i % 2 ? "w." : "", i, i % 17,
			 i % 4 ? 443 : 8080);
		a = decide(p, host);
		struct pol_index *idx = p->allow.idx;
		p->allow.idx = NULL; /* the matcher scans the whole list without it */
		b = decide(p, host);
		p->allow.idx = idx;
		assert_int_equal(a.allow, b.allow);
		assert_int_equal(a.reason, b.reason);
		assert_ptr_equal(a.rule, b.rule);
		a.allow ? allowed++ : denied++;
	}
	assert_true(allowed > 50 && denied > 50); /* both outcomes were exercised */
	pol_free(p);
}

/* A policy lives while anyone holds a reference (ASan sees a use after
 * the last one). */
static void test_references(void **state)
{
	(void)state;
	struct pol_errors errs;
	struct policy *p = load("version: 1\nallow: [a.test]\n", &errs);
	assert_non_null(p);
	const struct policy *held = pol_ref(p);
	assert_ptr_equal(held, p);
	assert_null(pol_ref(NULL));
	pol_free(p); /* the loader's reference */
	assert_string_equal(held->allow.v[0].text, "a.test");
	pol_unref(held);
	pol_unref(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loader_errors),
		cmocka_unit_test(test_all_errors_listed),
		cmocka_unit_test(test_unmask),
		cmocka_unit_test(test_unmask_paths),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_path_errors),
		cmocka_unit_test(test_path_length),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_ech),
		cmocka_unit_test(test_matcher),
		cmocka_unit_test(test_report_and_presets),
		cmocka_unit_test(test_index_order),
		cmocka_unit_test(test_name_ports),
		cmocka_unit_test(test_index_matches_scan),
		cmocka_unit_test(test_references),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
