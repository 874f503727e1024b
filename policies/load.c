/* load.c: the strict YAML policy loader, on libyaml's event API.
 *
 * Accepted: one document, one top-level mapping of known keys, whose values
 * are plain strings or flat sequences of strings. Anchors, aliases, tags,
 * merge keys, duplicate keys and nested collections are errors. Every error
 * carries file:line:column and quotes the offending value; loading goes on
 * after a bad value so that `policy check` lists them all.
 */
#include <errno.h>
#include <libpsl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "index.h"
#include "policy.h"

#define MAX_POLICY_BYTES (1u << 20)
#define MAX_LIST 10000
#define MAX_ERRORS 100
#define MAX_PATH_BYTES 4095 /* PATH_MAX less its NUL */
#define QUOTE_MAX 128       /* bytes of a value that a message quotes */

struct loader {
	const char *file;
	struct policy *pol;
	struct pol_errors *errs;
	const psl_ctx_t *psl;
	unsigned seen; /* bit per key */
	bool fatal;
};

struct key_def {
	const char *key;
	bool list;
	void (*value)(struct loader *ld, const yaml_event_t *ev);
};

static void err_at(struct loader *ld, const yaml_mark_t *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void pol_errors_add(struct pol_errors *e, const char *fmt, ...)
{
	char *line;
	va_list ap;

	if (e->n >= MAX_ERRORS)
		return;
	va_start(ap, fmt);
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	char **v = realloc(e->v, (e->n + 1) * sizeof(*v));
	if (!v) {
		free(line);
		return;
	}
	e->v = v;
	v[e->n++] = line;
}

static void err_at(struct loader *ld, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pol_errors_add(ld->errs, "%s:%zu:%zu: %s", ld->file, m->line + 1, m->column + 1, msg);
}

static const char *scalar(const yaml_event_t *ev)
{
	return (const char *)ev->data.scalar.value;
}

/* The whole scalar, NULs from "\0" escapes included. */
static struct span scalar_span(const yaml_event_t *ev)
{
	return span_of(scalar(ev), ev->data.scalar.length);
}

/* The control character (C0, DEL or a UTF-8 C1) at s.p[i], or -1; *w gets
 * the width in bytes of the character there. */
static int control_at(struct span s, size_t i, size_t *w)
{
	unsigned char c = (unsigned char)s.p[i];

	*w = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (*w > s.len - i)
		*w = s.len - i;
	if (c < 0x20 || c == 0x7f)
		return c;
	if (c == 0xc2 && *w == 2 && (unsigned char)s.p[i + 1] < 0xa0)
		return (unsigned char)s.p[i + 1]; /* U+0080..U+009F */
	return -1;
}

/* The scalar as a message quotes it: control characters escaped, cut with
 * "..." at a character boundary when it does not fit in buf. */
static const char *quote(const yaml_event_t *ev, char buf[QUOTE_MAX])
{
	struct span s = scalar_span(ev);
	size_t n = 0, w;

	for (size_t i = 0; i < s.len; i += w) {
		int ctl = control_at(s, i, &w);
		if (n + (ctl >= 0 ? 6 : w) + sizeof("...") > QUOTE_MAX) {
			memcpy(buf + n, "...", sizeof("..."));
			return buf;
		}
		if (ctl >= 0) {
			n += (size_t)snprintf(buf + n, QUOTE_MAX - n, ctl < 0x80 ? "\\x%02x" : "\\u%04x", (unsigned)ctl);
		} else {
			memcpy(buf + n, s.p + i, w);
			n += w;
		}
	}
	buf[n] = '\0';
	return buf;
}

/* "a, b, c": the names name(0) .. name(n - 1), for messages. */
static const char *join_names(const char *(*name)(unsigned), unsigned n, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", name(i));
	return buf;
}

static struct pol_entry *list_add(struct pol_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct pol_entry *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

/* Split "X:port" into X and the port; "[v6]..." and bare IPv6 keep their colons. */
static int split_port(const char *text, struct span *left, uint16_t *port)
{
	struct span s = span_str(text);
	long colon = span_rfind(s, ':');
	unsigned long p;

	*port = 0;
	*left = s;
	if (colon < 0)
		return 0;
	if (s.p[0] == '[') {
		long close = span_find(s, ']');
		if (close < 0 || colon < close)
			return 0; /* no port after the bracket; the address check reports */
	} else if (span_find(s, ':') != colon) {
		return 0; /* bare IPv6 literal or CIDR: no port */
	}
	if (span_to_uint(span_sub(s, (size_t)colon + 1, s.len), 1, 65535, &p) < 0)
		return -EINVAL;
	*port = (uint16_t)p;
	*left = span_sub(s, 0, (size_t)colon);
	return 0;
}

static int parse_cidr_entry(struct span s, struct pol_entry *e)
{
	char buf[ADDR_TEXT_MAX + 8];

	if (s.len >= sizeof(buf))
		return -EINVAL;
	/* "[2001:db8::]/32" → "2001:db8::/32" */
	if (s.len > 0 && s.p[0] == '[') {
		long close = span_find(s, ']');
		if (close < 0)
			return -EINVAL;
		size_t n = 0;
		for (size_t i = 1; i < s.len; i++)
			if (i != (size_t)close)
				buf[n++] = s.p[i];
		s = span_of(buf, n);
		if (span_find(span_sub(s, 0, (size_t)close - 1), ':') < 0)
			return -EINVAL; /* brackets only around IPv6 */
	}
	if (addr_parse_cidr(s, &e->cidr) < 0)
		return -EINVAL;
	e->kind = POL_CIDR;
	return 0;
}

static bool looks_like_ip(struct span s)
{
	if (s.len && s.p[0] == '[')
		return true;
	if (span_find(s, '/') >= 0 || span_find(s, ':') >= 0)
		return true;
	struct addr a;
	return addr_parse(s, &a) == 0;
}

static int parse_suffix(struct loader *ld, const yaml_event_t *ev, struct span s, struct pol_entry *e)
{
	struct host h;
	const char *why = NULL;
	const char *text = scalar(ev);

	if (host_canonicalize(span_sub(s, 2, s.len), &h, &why) < 0 || h.kind != HOST_NAME) {
		err_at(ld, &ev->start_mark, "invalid wildcard '%s': %s", text, why ? why : "not a name");
		return -EINVAL;
	}
	if (!strchr(h.text, '.') || (ld->psl && psl_is_public_suffix2(ld->psl, h.text, PSL_TYPE_ICANN))) {
		err_at(ld, &ev->start_mark,
		       "wildcard '%s' covers the public suffix '%s': name a registered domain", text, h.text);
		return -EINVAL;
	}
	e->kind = POL_SUFFIX;
	e->name = strdup(h.text);
	return e->name ? 0 : -ENOMEM;
}

static int parse_name(struct loader *ld, const yaml_event_t *ev, struct span s, struct pol_entry *e)
{
	struct host h;
	const char *why = NULL;

	if (host_canonicalize(s, &h, &why) < 0) {
		err_at(ld, &ev->start_mark, "invalid host '%s': %s", scalar(ev), why);
		return -EINVAL;
	}
	if (h.kind == HOST_IP) {
		e->kind = POL_CIDR;
		e->cidr.base = h.ip;
		e->cidr.prefix = h.ip.family == AF_INET ? 32 : 128;
		return 0;
	}
	e->kind = POL_EXACT;
	e->name = strdup(h.text);
	return e->name ? 0 : -ENOMEM;
}

/* One allow/deny/allow_private entry. */
static void parse_entry(struct loader *ld, const yaml_event_t *ev, struct pol_list *l, bool ip_only)
{
	const char *text = scalar(ev);
	struct span left;
	uint16_t port;
	struct pol_entry e;
	int rc;

	memset(&e, 0, sizeof(e));
	const char *scheme = strstr(text, "://");
	if (scheme) {
		int hlen = (int)strcspn(scheme + 3, "/?#");
		err_at(ld, &ev->start_mark, "'%s' is a URL: give the host alone ('%.*s')", text, hlen, scheme + 3);
		return;
	}
	if (split_port(text, &left, &port) < 0) {
		err_at(ld, &ev->start_mark, "invalid port in '%s' (want 1-65535)", text);
		return;
	}
	if (ip_only || looks_like_ip(left)) {
		rc = parse_cidr_entry(left, &e);
		if (rc < 0)
			err_at(ld, &ev->start_mark, "invalid address or CIDR '%s'%s", text,
			       ip_only ? " (allow_private takes IP[/prefix][:port])" : "");
	} else if (left.len == 1 && left.p[0] == '*') {
		e.kind = POL_ANY;
		rc = 0;
	} else if (left.len > 2 && left.p[0] == '*' && left.p[1] == '.') {
		rc = parse_suffix(ld, ev, left, &e);
	} else if (span_find(left, '*') >= 0) {
		err_at(ld, &ev->start_mark, "invalid wildcard '%s': only a leading '*.' is allowed", text);
		rc = -EINVAL;
	} else {
		rc = parse_name(ld, ev, left, &e);
		if (rc == 0 && e.kind == POL_EXACT && l != &ld->pol->deny && pol_is_metadata_name(e.name)) {
			err_at(ld, &ev->start_mark, "'%s' is a metadata name and is always denied", text);
			rc = -EINVAL;
		}
	}
	if (rc < 0) {
		free(e.name);
		return;
	}
	e.port = port;
	e.text = strdup(text);
	struct pol_entry *slot = l->n < MAX_LIST ? list_add(l) : NULL;
	if (!slot || !e.text) {
		err_at(ld, &ev->start_mark, "too many entries or out of memory at '%s'", text);
		free(e.name);
		free(e.text);
		return;
	}
	*slot = e;
}

static void v_allow(struct loader *ld, const yaml_event_t *ev)
{
	parse_entry(ld, ev, &ld->pol->allow, false);
}

static void v_deny(struct loader *ld, const yaml_event_t *ev)
{
	parse_entry(ld, ev, &ld->pol->deny, false);
}

static void v_private(struct loader *ld, const yaml_event_t *ev)
{
	parse_entry(ld, ev, &ld->pol->allow_private, true);
}

static bool valid_ident(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  strchr(extra, c);
		if (!ok || c == '\0')
			return false;
	}
	return true;
}

static void v_name(struct loader *ld, const yaml_event_t *ev)
{
	if (!valid_ident(scalar(ev), 64, "._-")) {
		err_at(ld, &ev->start_mark, "invalid name '%s' (letters, digits, '.', '_', '-'; 1-64)",
		       scalar(ev));
		return;
	}
	free(ld->pol->name);
	ld->pol->name = strdup(scalar(ev));
}

/* Whether the whole scalar is word: "report\0x" is not "report". */
static bool scalar_is(const yaml_event_t *ev, const char *word)
{
	return ev->data.scalar.length == strlen(word) && strcmp(scalar(ev), word) == 0;
}

static void v_version(struct loader *ld, const yaml_event_t *ev)
{
	char q[QUOTE_MAX];

	if (!scalar_is(ev, "1"))
		err_at(ld, &ev->start_mark, "unsupported version '%s' (want 1)", quote(ev, q));
}

static void v_mode(struct loader *ld, const yaml_event_t *ev)
{
	char q[QUOTE_MAX];

	if (scalar_is(ev, "enforce"))
		ld->pol->mode = POL_ENFORCE;
	else if (scalar_is(ev, "report"))
		ld->pol->mode = POL_REPORT;
	else
		err_at(ld, &ev->start_mark, "invalid mode '%s' (want enforce or report)", quote(ev, q));
}

static void v_ech(struct loader *ld, const yaml_event_t *ev)
{
	char q[QUOTE_MAX];

	if (scalar_is(ev, "deny"))
		ld->pol->ech_allow = false;
	else if (scalar_is(ev, "allow"))
		ld->pol->ech_allow = true;
	else
		err_at(ld, &ev->start_mark, "invalid ech '%s' (want deny or allow)", quote(ev, q));
}

static void v_port(struct loader *ld, const yaml_event_t *ev)
{
	unsigned long p;

	if (span_to_uint(span_str(scalar(ev)), 1, 65535, &p) < 0) {
		err_at(ld, &ev->start_mark, "invalid port '%s' (want 1-65535)", scalar(ev));
		return;
	}
	if (ld->pol->nports >= POL_MAX_PORTS) {
		err_at(ld, &ev->start_mark, "too many ports at '%s' (at most %d)", scalar(ev), POL_MAX_PORTS);
		return;
	}
	ld->pol->ports[ld->pol->nports++] = (uint16_t)p;
}

static void v_env(struct loader *ld, const yaml_event_t *ev)
{
	const char *s = scalar(ev);

	if (!valid_ident(s, 128, "_") || (s[0] >= '0' && s[0] <= '9')) {
		err_at(ld, &ev->start_mark, "invalid environment variable name '%s'", s);
		return;
	}
	char **v = ld->pol->nenv < MAX_LIST ? realloc(ld->pol->env, (ld->pol->nenv + 1) * sizeof(*v)) : NULL;
	if (!v)
		return;
	ld->pol->env = v;
	v[ld->pol->nenv] = strdup(s);
	if (v[ld->pol->nenv])
		ld->pol->nenv++;
}

static bool has_control(struct span s)
{
	size_t w;

	for (size_t i = 0; i < s.len; i += w)
		if (control_at(s, i, &w) >= 0)
			return true;
	return false;
}

static bool has_dot_component(struct span s)
{
	size_t start = 0;

	for (size_t i = 0; i <= s.len; i++) {
		if (i < s.len && s.p[i] != '/')
			continue;
		struct span c = span_sub(s, start, i - start);
		if ((c.len == 1 && c.p[0] == '.') || (c.len == 2 && c.p[0] == '.' && c.p[1] == '.'))
			return true;
		start = i + 1;
	}
	return false;
}

/* Check a path as the policy writes it and put its normal form in out
 * ("~", "~/a/b" or "/a/b": single slashes, no trailing one). Returns NULL,
 * or why the path is refused. "~" stays for the sandbox to expand. */
static const char *norm_path(struct span s, char out[MAX_PATH_BYTES + 1])
{
	size_t n = 0;

	if (s.len == 0)
		return "empty";
	if (s.len > MAX_PATH_BYTES)
		return "longer than 4095 bytes";
	if (has_control(s))
		return "control character";
	if (s.p[0] == '~' && s.len > 1 && s.p[1] != '/')
		return "'~user' is not supported: use '~/' or an absolute path";
	if (s.p[0] != '/' && s.p[0] != '~')
		return "must be absolute or start with ~/";
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] != '/' || n == 0 || out[n - 1] != '/')
			out[n++] = s.p[i];
	if (n > 1 && out[n - 1] == '/')
		n--;
	out[n] = '\0';
	if (has_dot_component(span_of(out, n)))
		return "'.' and '..' components are not allowed";
	return NULL;
}

/* Add path to l unless it is there already; MAX_LIST entries at most. */
static void paths_add(struct loader *ld, const yaml_event_t *ev, struct pol_paths *l, const char *key,
		      const char *path)
{
	char q[QUOTE_MAX];

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], path) == 0)
			return;
	if (l->n >= MAX_LIST) {
		err_at(ld, &ev->start_mark, "too many paths in '%s' at '%s' (at most %d)", key, quote(ev, q),
		       MAX_LIST);
		return;
	}
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (v)
		l->v = v;
	if (!v || !(l->v[l->n] = strdup(path))) {
		err_at(ld, &ev->start_mark, "out of memory at '%s'", quote(ev, q));
		return;
	}
	l->n++;
}

/* One entry of a list of paths (write, hide, show, and paths in unmask). */
static void parse_path(struct loader *ld, const yaml_event_t *ev, struct pol_paths *l, const char *key)
{
	char path[MAX_PATH_BYTES + 1], q[QUOTE_MAX];
	const char *why = norm_path(scalar_span(ev), path);

	if (why) {
		err_at(ld, &ev->start_mark, "invalid path '%s' in '%s': %s", quote(ev, q), key, why);
		return;
	}
	if (l == &ld->pol->unmask_paths && (strcmp(path, "/") == 0 || strcmp(path, "~") == 0)) {
		err_at(ld, &ev->start_mark, "invalid path '%s' in 'unmask': a directory, not a socket file",
		       quote(ev, q));
		return;
	}
	paths_add(ld, ev, l, key, path);
}

static void v_write(struct loader *ld, const yaml_event_t *ev)
{
	parse_path(ld, ev, &ld->pol->write, "write");
}

static void v_hide(struct loader *ld, const yaml_event_t *ev)
{
	parse_path(ld, ev, &ld->pol->hide, "hide");
}

static void v_show(struct loader *ld, const yaml_event_t *ev)
{
	parse_path(ld, ev, &ld->pol->show, "show");
}

const char *pol_host_socket_name(unsigned i)
{
	static const char *const names[POL_SOCK_COUNT] = {
		[POL_SOCK_RESOLVED] = "resolved",     [POL_SOCK_DBUS] = "dbus",
		[POL_SOCK_DOCKER] = "docker",         [POL_SOCK_CONTAINERD] = "containerd",
		[POL_SOCK_PODMAN] = "podman",         [POL_SOCK_NSCD] = "nscd",
		[POL_SOCK_SYSTEMD] = "systemd",       [POL_SOCK_SESSION_BUS] = "session-bus",
		[POL_SOCK_X11] = "x11",               [POL_SOCK_SSH_AGENT] = "ssh-agent",
	};

	return i < POL_SOCK_COUNT ? names[i] : NULL;
}

/* A host socket by name, or a socket file by path: anything with a slash
 * or a leading '~' or '.' is taken as a path and checked like one. */
static void v_unmask(struct loader *ld, const yaml_event_t *ev)
{
	struct span s = scalar_span(ev);
	char known[256], q[QUOTE_MAX];

	if (s.len == 0 || s.p[0] == '~' || s.p[0] == '.' || span_find(s, '/') >= 0) {
		parse_path(ld, ev, &ld->pol->unmask_paths, "unmask");
		return;
	}
	for (unsigned i = 0; i < POL_SOCK_COUNT; i++)
		if (strlen(pol_host_socket_name(i)) == s.len && strcmp(s.p, pol_host_socket_name(i)) == 0) {
			ld->pol->unmask |= 1u << i;
			return;
		}
	err_at(ld, &ev->start_mark, "unknown host socket '%s' (known: %s; or an absolute path to a socket file)",
	       quote(ev, q), join_names(pol_host_socket_name, POL_SOCK_COUNT, known, sizeof(known)));
}

/* "immutable HOST/PATTERN" | "revalidate HOST/PATTERN". */
static int parse_cache_rule(struct span s, struct pol_cache_rule *r, const char **why)
{
	long sp = span_find(s, ' ');
	struct span kind = span_sub(s, 0, sp < 0 ? 0 : (size_t)sp);
	struct span rest = span_sub(s, (size_t)sp + 1, s.len);
	long slash = span_find(rest, '/');
	struct host h;

	*why = "want 'immutable HOST/PATTERN' or 'revalidate HOST/PATTERN'";
	if (sp < 0 || slash <= 0)
		return -EINVAL;
	if (kind.len == 9 && memcmp(kind.p, "immutable", 9) == 0)
		r->immutable = true;
	else if (!(kind.len == 10 && memcmp(kind.p, "revalidate", 10) == 0))
		return -EINVAL;
	struct span pat = span_sub(rest, (size_t)slash, rest.len);
	const char *hwhy;
	if (host_canonicalize(span_sub(rest, 0, (size_t)slash), &h, &hwhy) < 0 || h.kind != HOST_NAME) {
		*why = "HOST must be a host name";
		return -EINVAL;
	}
	for (size_t i = 0; i < pat.len; i++)
		if ((unsigned char)pat.p[i] <= ' ' || pat.p[i] == 0x7f || pat.p[i] == '?' || pat.p[i] == '#') {
			*why = "PATTERN is a path: no spaces, controls, '?' or '#'";
			return -EINVAL;
		}
	if (pat.len > 256) {
		*why = "PATTERN longer than 256 bytes";
		return -EINVAL;
	}
	r->host = strdup(h.text);
	r->pattern = strndup(pat.p, pat.len);
	return r->host && r->pattern ? 0 : -ENOMEM;
}

static void v_cache(struct loader *ld, const yaml_event_t *ev)
{
	struct pol_cache_rules *l = &ld->pol->cache;
	struct pol_cache_rule r = { 0 };
	const char *why;
	char q[QUOTE_MAX];

	if (l->n >= MAX_LIST) {
		err_at(ld, &ev->start_mark, "'cache' has more than %u entries", MAX_LIST);
		return;
	}
	if (parse_cache_rule(scalar_span(ev), &r, &why) < 0 || !(r.text = strdup(scalar(ev)))) {
		err_at(ld, &ev->start_mark, "invalid cache rule '%s': %s", quote(ev, q), why);
		free(r.host);
		free(r.pattern);
		return;
	}
	struct pol_cache_rule *v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v) {
		free(r.text);
		free(r.host);
		free(r.pattern);
		return;
	}
	l->v = v;
	l->v[l->n++] = r;
}

static void v_preset(struct loader *ld, const yaml_event_t *ev);

static const struct key_def keys[] = {
	{ "version", false, v_version },
	{ "name", false, v_name },
	{ "mode", false, v_mode },
	{ "allow", true, v_allow },
	{ "presets", true, v_preset },
	{ "ports", true, v_port },
	{ "deny", true, v_deny },
	{ "allow_private", true, v_private },
	{ "env", true, v_env },
	{ "unmask", true, v_unmask },
	{ "write", true, v_write },
	{ "hide", true, v_hide },
	{ "show", true, v_show },
	{ "ech", false, v_ech },
	{ "cache", true, v_cache },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= sizeof(unsigned) * 8, "struct loader's seen has a bit per key");

static const char *key_name(unsigned i)
{
	return i < NKEYS ? keys[i].key : NULL;
}

static bool next_event(struct loader *ld, yaml_parser_t *p, yaml_event_t *ev)
{
	if (!yaml_parser_parse(p, ev)) {
		/* `- *.example.com` unquoted: YAML reads '*' as an alias */
		bool alias = p->context && strstr(p->context, "alias");
		err_at(ld, &p->problem_mark, "YAML syntax error: %s%s", p->problem ? p->problem : "unknown",
		       alias ? " (a value that starts with '*' must be quoted: write \"*.example.com\")" : "");
		ld->fatal = true;
		return false;
	}
	const char *anchor = NULL, *tag = NULL;
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		err_at(ld, &ev->start_mark, "aliases are not allowed ('*%s'); a value that starts with '*' "
		       "must be quoted: write \"*%s\"", (const char *)ev->data.alias.anchor,
		       (const char *)ev->data.alias.anchor);
		ld->fatal = true;
		break;
	case YAML_SCALAR_EVENT:
		anchor = (const char *)ev->data.scalar.anchor;
		tag = (const char *)ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)ev->data.sequence_start.anchor;
		tag = (const char *)ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)ev->data.mapping_start.anchor;
		tag = (const char *)ev->data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (anchor) {
		err_at(ld, &ev->start_mark, "anchors are not allowed ('&%s')", anchor);
		ld->fatal = true;
	}
	if (tag) {
		err_at(ld, &ev->start_mark, "tags are not allowed ('%s')", tag);
		ld->fatal = true;
	}
	if (ld->fatal) {
		yaml_event_delete(ev);
		return false;
	}
	return true;
}

/* Skip a nested collection whose start event was just read. */
static bool skip_nested(struct loader *ld, yaml_parser_t *p)
{
	int depth = 1;
	yaml_event_t ev;

	while (depth > 0) {
		if (!next_event(ld, p, &ev))
			return false;
		if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		yaml_event_delete(&ev);
	}
	return true;
}

static bool read_list(struct loader *ld, yaml_parser_t *p, const struct key_def *k)
{
	yaml_event_t ev;

	for (;;) {
		if (!next_event(ld, p, &ev))
			return false;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return true;
		}
		bool ok = true;
		if (ev.type == YAML_SCALAR_EVENT) {
			k->value(ld, &ev);
		} else {
			err_at(ld, &ev.start_mark, "'%s' takes a flat list of strings", k->key);
			ok = skip_nested(ld, p);
		}
		yaml_event_delete(&ev);
		if (!ok)
			return false;
	}
}

/* The value of key k, whose first event is ev. */
static bool read_value(struct loader *ld, yaml_parser_t *p, const struct key_def *k, yaml_event_t *ev)
{
	if (ev->type == YAML_SCALAR_EVENT) {
		bool empty = ev->data.scalar.length == 0 && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (k->list && !empty)
			err_at(ld, &ev->start_mark, "'%s' takes a list, not '%s'", k->key, scalar(ev));
		else if (!k->list && empty)
			err_at(ld, &ev->start_mark, "'%s' needs a value", k->key);
		else if (!k->list)
			k->value(ld, ev);
		return true;
	}
	if (ev->type == YAML_SEQUENCE_START_EVENT && k->list)
		return read_list(ld, p, k);
	err_at(ld, &ev->start_mark, "'%s' takes %s", k->key, k->list ? "a flat list" : "a single value");
	return skip_nested(ld, p);
}

static const struct key_def *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].key, name) == 0)
			return &keys[i];
	return NULL;
}

/* One "key: value" pair of the top mapping, its key event in ev. */
static bool read_pair(struct loader *ld, yaml_parser_t *p, yaml_event_t *key)
{
	yaml_event_t val;
	const struct key_def *k = NULL;
	char known[256], q[QUOTE_MAX];

	if (key->type != YAML_SCALAR_EVENT) {
		err_at(ld, &key->start_mark, "keys must be plain strings");
		return false;
	}
	k = find_key(scalar(key));
	if (!k) {
		err_at(ld, &key->start_mark, "unknown key '%s' (known: %s)", quote(key, q),
		       join_names(key_name, NKEYS, known, sizeof(known)));
	} else {
		unsigned bit = 1u << (k - keys);
		if (ld->seen & bit) {
			err_at(ld, &key->start_mark, "duplicate key '%s'", k->key);
			k = NULL;
		}
		ld->seen |= bit;
	}
	if (!next_event(ld, p, &val))
		return false;
	bool ok;
	if (k) {
		ok = read_value(ld, p, k, &val);
	} else {
		ok = val.type == YAML_SCALAR_EVENT || skip_nested(ld, p);
	}
	yaml_event_delete(&val);
	return ok;
}

static bool expect(struct loader *ld, yaml_parser_t *p, yaml_event_type_t type, const char *what)
{
	yaml_event_t ev;

	if (!next_event(ld, p, &ev))
		return false;
	bool ok = ev.type == type;
	if (!ok) {
		err_at(ld, &ev.start_mark, "%s", what);
		ld->fatal = true;
	}
	yaml_event_delete(&ev);
	return ok;
}

static void parse_doc(struct loader *ld, yaml_parser_t *p)
{
	yaml_event_t ev;

	if (!expect(ld, p, YAML_STREAM_START_EVENT, "not a YAML stream") ||
	    !expect(ld, p, YAML_DOCUMENT_START_EVENT, "empty policy: want a mapping with 'version: 1'") ||
	    !expect(ld, p, YAML_MAPPING_START_EVENT, "a policy is a mapping of keys (version, allow, ...)"))
		return;
	for (;;) {
		if (!next_event(ld, p, &ev))
			return;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		bool ok = read_pair(ld, p, &ev);
		yaml_event_delete(&ev);
		if (!ok)
			return;
	}
	if (expect(ld, p, YAML_DOCUMENT_END_EVENT, "junk after the policy mapping"))
		expect(ld, p, YAML_STREAM_END_EVENT, "only one YAML document is allowed");
}

/* Default name: the file's base name without ".yaml"/".yml". */
static char *default_name(const char *file)
{
	const char *base = strrchr(file, '/');
	char buf[65];

	base = base ? base + 1 : file;
	snprintf(buf, sizeof(buf), "%s", base);
	char *dot = strrchr(buf, '.');
	if (dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0))
		*dot = '\0';
	return strdup(valid_ident(buf, 64, "._-") ? buf : "policy");
}

const psl_ctx_t *pol_psl(void)
{
	/* Loaded once; read-only afterwards. */
	static const psl_ctx_t *ctx;
	static bool tried;

	if (!tried) {
		tried = true;
		ctx = psl_latest(NULL);
		if (!ctx)
			ctx = psl_builtin();
	}
	return ctx;
}

static int load_into(struct loader *ld, const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_mark_t top = { 0, 0, 0 };

	if (len > MAX_POLICY_BYTES) {
		err_at(ld, &top, "policy larger than %u bytes", MAX_POLICY_BYTES);
		return -EINVAL;
	}
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	parse_doc(ld, &parser);
	yaml_parser_delete(&parser);
	if (!ld->fatal && !(ld->seen & 1u))
		err_at(ld, &top, "missing 'version: 1'");
	return ld->errs->n ? -EINVAL : 0;
}

int pol_load_buffer(const char *buf, size_t len, const char *filename, struct policy **out,
		    struct pol_errors *errs)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct loader ld = { .file = filename, .pol = pol, .errs = errs, .psl = pol_psl() };

	if (!pol)
		return -ENOMEM;
	pol->refs = 1;
	int rc = load_into(&ld, buf, len);
	if (rc == 0 && !pol->name)
		pol->name = default_name(filename);
	if (rc == 0 && pol->nports == 0) {
		pol->ports[0] = 443;
		pol->ports[1] = 80;
		pol->nports = 2;
	}
	if (rc == 0 && !pol->name)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < pol->cache.n; i++)
		if (!pol->cache.v[i].ecosystem[0])
			snprintf(pol->cache.v[i].ecosystem, sizeof(pol->cache.v[i].ecosystem), "%s", pol->name);
	if (rc == 0 && (pol_index_build(&pol->allow) < 0 || pol_index_build(&pol->deny) < 0 ||
			pol_index_build(&pol->preset) < 0))
		rc = -ENOMEM;
	if (rc < 0) {
		pol_free(pol);
		return rc;
	}
	*out = pol;
	return 0;
}

/* Move a preset's cache rules to the policy's, named after the preset. */
static void cache_rules_take(struct pol_cache_rules *to, struct pol_cache_rules *from, const char *name)
{
	if (!from->n) /* realloc to 0 bytes would free the list */
		return;
	struct pol_cache_rule *v = realloc(to->v, (to->n + from->n) * sizeof(*v));
	if (!v)
		return;
	to->v = v;
	for (size_t i = 0; i < from->n; i++) {
		struct pol_cache_rule *r = &to->v[to->n++];
		*r = from->v[i];
		char *t = NULL;
		if (asprintf(&t, "preset:%s:%s", name, r->text) >= 0) {
			free(r->text);
			r->text = t;
		}
	}
	from->n = 0;
}

/* Presets are policies of their own, shipped in the binary; their allow
 * entries join the preset list with "preset:NAME:" before the entry text. */
static void v_preset(struct loader *ld, const yaml_event_t *ev)
{
	const char *name = scalar(ev);
	const char *text = pol_preset_text(name);
	struct pol_errors perr = { 0 };
	struct policy *pp = NULL;

	if (!text) {
		err_at(ld, &ev->start_mark, "unknown preset '%s'", name);
		return;
	}
	if (pol_load_buffer(text, strlen(text), name, &pp, &perr) < 0 || pp->preset.n) {
		err_at(ld, &ev->start_mark, "preset '%s' does not load", name);
		pol_errors_free(&perr);
		pol_free(pp);
		return;
	}
	for (size_t i = 0; i < pp->allow.n; i++) {
		struct pol_entry *slot = list_add(&ld->pol->preset);
		if (!slot)
			break;
		*slot = pp->allow.v[i];
		char *t = NULL;
		if (asprintf(&t, "preset:%s:%s", name, slot->text) >= 0) {
			free(slot->text);
			slot->text = t;
		}
	}
	pp->allow.n = 0; /* entries moved */
	cache_rules_take(&ld->pol->cache, &pp->cache, name);
	pol_free(pp);
}

const char *pol_spec_preset(const char *spec)
{
	size_t n = strlen(spec);
	bool path_like = strchr(spec, '/') || (n > 5 && strcmp(spec + n - 5, ".yaml") == 0) ||
			 (n > 4 && strcmp(spec + n - 4, ".yml") == 0);

	return path_like ? NULL : pol_preset_text(spec);
}

int pol_load_one(const char *spec, struct policy **out, struct pol_errors *errs)
{
	const char *preset = pol_spec_preset(spec);

	if (preset)
		return pol_load_buffer(preset, strlen(preset), spec, out, errs);
	FILE *f = fopen(spec, "re");
	if (!f)
		return -errno;
	char *buf = malloc(MAX_POLICY_BYTES + 1);
	size_t len = buf ? fread(buf, 1, MAX_POLICY_BYTES + 1, f) : 0;
	int rc = buf && ferror(f) ? -EIO : 0;
	fclose(f);
	if (!buf)
		return -ENOMEM;
	if (rc == 0)
		rc = pol_load_buffer(buf, len, spec, out, errs);
	free(buf);
	return rc;
}

static void list_free(struct pol_list *l)
{
	pol_index_free(l->idx);
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].text);
		free(l->v[i].name);
	}
	free(l->v);
}

static void paths_free(struct pol_paths *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

const struct policy *pol_ref(const struct policy *p)
{
	if (p)
		((struct policy *)p)->refs++; /* the count is the one mutable field */
	return p;
}

void pol_unref(const struct policy *p)
{
	pol_free((struct policy *)p);
}

void pol_free(struct policy *p)
{
	if (!p || --p->refs > 0)
		return;
	list_free(&p->allow);
	list_free(&p->deny);
	list_free(&p->preset);
	list_free(&p->allow_private);
	for (size_t i = 0; i < p->nenv; i++)
		free(p->env[i]);
	free(p->env);
	paths_free(&p->write);
	paths_free(&p->hide);
	paths_free(&p->show);
	paths_free(&p->unmask_paths);
	for (size_t i = 0; i < p->cache.n; i++) {
		free(p->cache.v[i].text);
		free(p->cache.v[i].host);
		free(p->cache.v[i].pattern);
	}
	free(p->cache.v);
	free(p->name);
	free(p);
}

void pol_errors_free(struct pol_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = 0;
}
