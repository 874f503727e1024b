/* rules.c: cache rules against requests, store keys, package identities. */
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "store.h"

#define GLOB_MAX_PATH 8192

/* Dynamic programming over (pattern position, path position): row[j] says
 * whether the pattern so far matches the first j bytes of the path. */
bool cache_glob(struct span pat, struct span path)
{
	if (path.len > GLOB_MAX_PATH)
		return false;
	bool *row = calloc(path.len + 1, sizeof(bool)), *next = calloc(path.len + 1, sizeof(bool));
	bool ok = false;

	if (!row || !next)
		goto out;
	row[0] = true;
	for (size_t i = 0; i < pat.len;) {
		bool dbl = pat.p[i] == '*' && i + 1 < pat.len && pat.p[i + 1] == '*';
		memset(next, 0, (path.len + 1) * sizeof(bool));
		if (pat.p[i] == '*') {
			for (size_t j = 0; j <= path.len; j++) /* any run, of non-'/' unless ** */
				next[j] = row[j] || (j > 0 && next[j - 1] && (dbl || path.p[j - 1] != '/'));
			i += dbl ? 2 : 1;
		} else {
			for (size_t j = 1; j <= path.len; j++)
				next[j] = row[j - 1] && path.p[j - 1] == pat.p[i];
			i++;
		}
		bool *t = row;
		row = next;
		next = t;
	}
	ok = row[path.len];
out:
	free(row);
	free(next);
	return ok;
}

const struct pol_cache_rule *cache_rule_match(const struct policy *p, const char *host, struct span path)
{
	for (size_t i = 0; i < p->cache.n; i++) {
		const struct pol_cache_rule *r = &p->cache.v[i];
		if (strcmp(r->host, host) == 0 && cache_glob(span_str(r->pattern), path))
			return r;
	}
	return NULL;
}

bool cache_host_cached(const struct policy *p, const char *host)
{
	for (size_t i = 0; i < p->cache.n; i++)
		if (strcmp(p->cache.v[i].host, host) == 0)
			return true;
	return false;
}

size_t cache_rule_hosts(const struct policy *p, const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < p->cache.n && n < max; i++) {
		bool seen = false;
		for (size_t k = 0; k < n && !seen; k++)
			seen = strcmp(out[k], p->cache.v[i].host) == 0;
		if (!seen)
			out[n++] = p->cache.v[i].host;
	}
	return n;
}

int cache_key(const char *host, unsigned port, struct span target, bool gzip, const char *form, char *buf,
	      size_t size)
{
	size_t cap = size < CACHE_KEY_MAX ? size : CACHE_KEY_MAX;
	int n = snprintf(buf, cap, "%s:%u%.*s\n%s%s%s", host, port, (int)target.len, target.p,
			 gzip ? "gzip" : "identity", form && *form ? " " : "", form ? form : "");
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* ---- package identities ------------------------------------------------ */

/* Copy s to out, decoding %2f/%2F and %40 (npm's scoped names); false when
 * it holds anything but printable ASCII or does not fit. */
static bool clean_copy(struct span s, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		if (c == '%' && i + 2 < s.len && s.p[i + 1] == '2' && (s.p[i + 2] == 'f' || s.p[i + 2] == 'F')) {
			c = '/';
			i += 2;
		} else if (c == '%' && i + 2 < s.len && s.p[i + 1] == '4' && s.p[i + 2] == '0') {
			c = '@';
			i += 2;
		}
		if (c <= ' ' || c > '~' || c == '"' || c == '\\' || o + 1 >= size)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return o > 0;
}

static struct span last_segment(struct span path)
{
	size_t i = path.len;

	while (i > 0 && path.p[i - 1] != '/')
		i--;
	return span_sub(path, i, path.len);
}

static bool ends_with(struct span s, const char *suf)
{
	size_t n = strlen(suf);
	return s.len >= n && memcmp(s.p + s.len - n, suf, n) == 0;
}

/* /name/-/base-1.2.3.tgz or /@scope/name/-/name-1.2.3.tgz; /name, /@scope%2fname */
static void npm_package(struct span path, char *buf, size_t size)
{
	char p[512];

	if (!clean_copy(span_sub(path, 1, path.len), p, sizeof(p)))
		return;
	char *dash = strstr(p, "/-/");
	if (!dash) {
		if (!strchr(p + (p[0] == '@'), '/') || (p[0] == '@' && strchr(p, '/') == strrchr(p, '/')))
			snprintf(buf, size, "npm:%s", p);
		return;
	}
	*dash = '\0';
	const char *file = dash + 3, *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
	size_t bl = strlen(base), fl = strlen(file);
	if (fl > bl + 5 && strncmp(file, base, bl) == 0 && file[bl] == '-' && strcmp(file + fl - 4, ".tgz") == 0)
		snprintf(buf, size, "npm:%s@%.*s", p, (int)(fl - bl - 5), file + bl + 1);
}

/* pool/main/h/hello/hello_2.10-3_amd64.deb → hello_2.10-3_amd64 */
static void debian_package(struct span path, char *buf, size_t size)
{
	static const char *const sufs[] = { ".deb", ".udeb", ".dsc", ".tar.xz", ".tar.gz", ".diff.gz" };
	struct span f = last_segment(path);
	char p[256];

	for (size_t i = 0; i < sizeof(sufs) / sizeof(sufs[0]); i++)
		if (ends_with(f, sufs[i]) && f.len > strlen(sufs[i]) &&
		    clean_copy(span_sub(f, 0, f.len - strlen(sufs[i])), p, sizeof(p))) {
			snprintf(buf, size, "debian:%s", p);
			return;
		}
}

/* name-1.2.3-py3-none-any.whl, name-1.2.3.tar.gz; /simple/name/ */
static void pypi_package(struct span path, char *buf, size_t size)
{
	struct span f = last_segment(path);
	char p[256];

	if (f.len == 0 && path.len > 8 && memcmp(path.p, "/simple/", 8) == 0) {
		if (clean_copy(span_sub(path, 8, path.len - 9), p, sizeof(p)) && !strchr(p, '/'))
			snprintf(buf, size, "pypi:%s", p);
		return;
	}
	if (!clean_copy(f, p, sizeof(p)))
		return;
	size_t n = strlen(p);
	if (n > 4 && strcmp(p + n - 4, ".whl") == 0) {
		char *d1 = strchr(p, '-'), *d2 = d1 ? strchr(d1 + 1, '-') : NULL;
		if (d1 && d2)
			snprintf(buf, size, "pypi:%.*s@%.*s", (int)(d1 - p), p, (int)(d2 - d1 - 1), d1 + 1);
		return;
	}
	const char *ext = n > 7 && strcmp(p + n - 7, ".tar.gz") == 0 ? p + n - 7 :
			  n > 4 && strcmp(p + n - 4, ".zip") == 0 ? p + n - 4 : NULL;
	char *d = ext ? strrchr(p, '-') : NULL;
	if (d && d < ext)
		snprintf(buf, size, "pypi:%.*s@%.*s", (int)(d - p), p, (int)(ext - d - 1), d + 1);
}

/* /crates/serde/serde-1.0.200.crate */
static void crates_package(struct span path, char *buf, size_t size)
{
	struct span f = last_segment(path);
	char p[256];

	if (!ends_with(f, ".crate") || !clean_copy(span_sub(f, 0, f.len - 6), p, sizeof(p)))
		return;
	/* the version starts at the first '-' followed by a digit */
	for (char *d = strchr(p, '-'); d; d = strchr(d + 1, '-'))
		if (d[1] >= '0' && d[1] <= '9') {
			snprintf(buf, size, "crates:%.*s@%s", (int)(d - p), p, d + 1);
			return;
		}
}

/* /golang.org/x/mod/@v/v0.17.0.zip; '!x' in a module path is 'X' */
static void go_package(struct span path, char *buf, size_t size)
{
	char p[512], m[512];
	size_t o = 0;

	if (!clean_copy(span_sub(path, 1, path.len), p, sizeof(p)))
		return;
	char *at = strstr(p, "/@v/");
	if (!at)
		return;
	for (char *c = p; c < at && o + 1 < sizeof(m); c++)
		m[o++] = (*c == '!' && c[1] >= 'a' && c[1] <= 'z') ? (char)(*++c - 32) : *c;
	m[o] = '\0';
	char *ver = at + 4, *dot = strrchr(ver, '.');
	if (dot && (strcmp(dot, ".zip") == 0 || strcmp(dot, ".mod") == 0 || strcmp(dot, ".info") == 0))
		snprintf(buf, size, "go:%s@%.*s", m, (int)(dot - ver), ver);
	else
		snprintf(buf, size, "go:%s", m);
}

void cache_package(const struct pol_cache_rule *rule, struct span path, char *buf, size_t size)
{
	static const struct {
		const char *eco;
		void (*fn)(struct span, char *, size_t);
	} ecos[] = {
		{ "npm", npm_package }, { "debian", debian_package }, { "pypi", pypi_package },
		{ "crates", crates_package }, { "go", go_package },
	};

	if (size)
		buf[0] = '\0';
	long q = span_find(path, '?');
	if (q >= 0)
		path = span_sub(path, 0, (size_t)q);
	for (size_t i = 0; i < sizeof(ecos) / sizeof(ecos[0]); i++)
		if (strcmp(rule->ecosystem, ecos[i].eco) == 0 && path.len && path.p[0] == '/')
			ecos[i].fn(path, buf, size);
}
