/* verify.c: learning the published hashes from metadata bodies. */
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "verify.h"

#define INFLATE_MAX (256u << 20)
#define EXPECT_BUCKETS 65536

struct expect_item {
	struct expect_item *next;     /* bucket chain */
	struct expect_item *younger;  /* age order, for forgetting the oldest */
	struct cache_hash h;
	char key[];                   /* "host/path" */
};

struct cache_expect {
	struct expect_item *bucket[EXPECT_BUCKETS];
	struct expect_item *oldest, *youngest;
	size_t n, max;
};

int cache_expect_new(size_t max, struct cache_expect **out)
{
	struct cache_expect *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	x->max = max ? max : 1;
	*out = x;
	return 0;
}

void cache_expect_free(struct cache_expect *x)
{
	if (!x)
		return;
	for (struct expect_item *it = x->oldest, *nx; it; it = nx) {
		nx = it->younger;
		free(it);
	}
	free(x);
}

static size_t bucket_of(const char *host, struct span path)
{
	uint32_t h = 2166136261u;

	for (const char *c = host; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (size_t i = 0; i < path.len; i++)
		h = (h ^ (unsigned char)path.p[i]) * 16777619u;
	return h % EXPECT_BUCKETS;
}

static bool item_is(const struct expect_item *it, const char *host, struct span path)
{
	size_t hl = strlen(host);
	return strncmp(it->key, host, hl) == 0 && it->key[hl] == '/' && strlen(it->key + hl + 1) == path.len &&
	       memcmp(it->key + hl + 1, path.p, path.len) == 0;
}

static void forget_oldest(struct cache_expect *x)
{
	struct expect_item *old = x->oldest;
	char host[256];
	const char *slash = strchr(old->key, '/');
	size_t hl = (size_t)(slash - old->key);

	snprintf(host, sizeof(host), "%.*s", (int)hl, old->key);
	struct expect_item **pp = &x->bucket[bucket_of(host, span_str(slash + 1))];
	while (*pp && *pp != old)
		pp = &(*pp)->next;
	if (*pp)
		*pp = old->next;
	x->oldest = old->younger;
	if (!x->oldest)
		x->youngest = NULL;
	x->n--;
	free(old);
}

static void expect_add(struct cache_expect *x, const char *host, struct span path, const struct cache_hash *h)
{
	size_t b = bucket_of(host, path);

	if (strlen(host) > 253 || path.len > 4096)
		return;
	for (struct expect_item *it = x->bucket[b]; it; it = it->next)
		if (item_is(it, host, path)) {
			it->h = *h;
			return;
		}
	if (x->n >= x->max)
		forget_oldest(x);
	struct expect_item *it = malloc(sizeof(*it) + strlen(host) + path.len + 2);
	if (!it)
		return;
	sprintf(it->key, "%s/%.*s", host, (int)path.len, path.p);
	it->h = *h;
	it->next = x->bucket[b];
	x->bucket[b] = it;
	it->younger = NULL;
	if (x->youngest)
		x->youngest->younger = it;
	else
		x->oldest = it;
	x->youngest = it;
	x->n++;
}

/* ---- digests as text --------------------------------------------------- */

static size_t alg_len(enum cache_alg a)
{
	return a == CACHE_ALG_SHA1 ? 20 : a == CACHE_ALG_SHA256 ? 32 : a == CACHE_ALG_SHA512 ? 64 : 0;
}

bool cache_hash_hex(enum cache_alg alg, struct span hex, struct cache_hash *out)
{
	size_t n = alg_len(alg);

	if (!n || hex.len != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (size_t k = 0; k < 2; k++) {
			char c = hex.p[2 * i + k];
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
				c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
			if (d < 0)
				return false;
			v = v * 16 + (unsigned)d;
		}
		out->d[i] = (uint8_t)v;
	}
	out->alg = alg;
	return true;
}

/* One "alg-BASE64" token. */
static bool sri_token(struct span t, struct cache_hash *out)
{
	static const struct { const char *name; enum cache_alg alg; } algs[] = {
		{ "sha512-", CACHE_ALG_SHA512 }, { "sha256-", CACHE_ALG_SHA256 }, { "sha1-", CACHE_ALG_SHA1 },
	};
	unsigned char buf[96];

	for (size_t i = 0; i < 3; i++) {
		size_t pl = strlen(algs[i].name);
		if (t.len <= pl || memcmp(t.p, algs[i].name, pl) != 0 || t.len - pl > 88)
			continue;
		int n = EVP_DecodeBlock(buf, (const unsigned char *)t.p + pl, (int)(t.len - pl));
		size_t want = alg_len(algs[i].alg);
		/* EVP_DecodeBlock counts the padding's zero bytes */
		if (n < (int)want || n > (int)want + 2)
			return false;
		memcpy(out->d, buf, want);
		out->alg = algs[i].alg;
		return true;
	}
	return false;
}

bool cache_hash_sri(struct span text, struct cache_hash *out)
{
	struct cache_hash best = { .alg = CACHE_ALG_NONE }, h;
	size_t i = 0;

	while (i < text.len) {
		size_t j = i;
		while (j < text.len && text.p[j] != ' ')
			j++;
		if (sri_token(span_sub(text, i, j - i), &h) && h.alg > best.alg)
			best = h;
		i = j + 1;
	}
	*out = best;
	return best.alg != CACHE_ALG_NONE;
}

/* ---- bodies ------------------------------------------------------------ */

/* Inflate a gzip body into a malloc'd buffer; NULL when it does not inflate. */
static char *gunzip(struct span in, size_t *outlen)
{
	z_stream z = { 0 };
	size_t cap = in.len * 4 + 4096, len = 0;
	char *out = malloc(cap);
	int rc = Z_OK;

	if (!out || inflateInit2(&z, 15 + 16) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (unsigned char *)in.p;
	z.avail_in = (uInt)in.len;
	while (rc == Z_OK) {
		if (len == cap) {
			char *n = cap < INFLATE_MAX ? realloc(out, cap * 2) : NULL;
			if (!n)
				break;
			out = n;
			cap *= 2;
		}
		z.next_out = (unsigned char *)out + len;
		z.avail_out = (uInt)(cap - len);
		rc = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
	}
	inflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	*outlen = len;
	return out;
}

/* "https://host/path" → host and path spans. */
static bool split_url(const char *url, char *host, size_t hsize, struct span *path)
{
	const char *p = strncmp(url, "https://", 8) == 0 ? url + 8 : strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
	const char *slash = p ? strchr(p, '/') : NULL;

	if (!slash || (size_t)(slash - p) >= hsize || slash == p)
		return false;
	snprintf(host, hsize, "%.*s", (int)(slash - p), p);
	for (char *c = host; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c += 32;
	char *colon = strchr(host, ':');
	if (colon)
		*colon = '\0'; /* the default port is the only one intercepted */
	const char *end = slash + strcspn(slash, "?#");
	*path = span_of(slash, (size_t)(end - slash));
	return true;
}

static void learn_npm(struct cache_expect *x, struct span body)
{
	json_t *doc = json_loadb(body.p, body.len, 0, NULL), *versions, *v;
	const char *ver;

	if (!doc)
		return;
	versions = json_object_get(doc, "versions");
	json_object_foreach(versions, ver, v) {
		json_t *dist = json_object_get(v, "dist");
		const char *url = json_string_value(json_object_get(dist, "tarball"));
		const char *sri = json_string_value(json_object_get(dist, "integrity"));
		const char *sha1 = json_string_value(json_object_get(dist, "shasum"));
		char host[256];
		struct span path;
		struct cache_hash h;
		if (!url || !split_url(url, host, sizeof(host), &path))
			continue;
		if ((sri && cache_hash_sri(span_str(sri), &h)) || (sha1 && cache_hash_hex(CACHE_ALG_SHA1, span_str(sha1), &h)))
			expect_add(x, host, path, &h);
	}
	json_decref(doc);
}

/* href="https://files.pythonhosted.org/packages/...#sha256=HEX" */
static void learn_pypi(struct cache_expect *x, struct span body)
{
	struct span rest = body;
	static const char tag[] = "href=\"";

	while (rest.len > 6) {
		const char *at = memmem(rest.p, rest.len, tag, 6);
		if (!at)
			break;
		rest = span_sub(rest, (size_t)(at - rest.p) + 6, rest.len);
		long q = span_find(rest, '"');
		if (q < 0 || q > 4096)
			break;
		char url[4100], host[256];
		snprintf(url, sizeof(url), "%.*s", (int)q, rest.p);
		char *frag = strstr(url, "#sha256=");
		struct span path;
		struct cache_hash h;
		if (frag && split_url(url, host, sizeof(host), &path) &&
		    cache_hash_hex(CACHE_ALG_SHA256, span_str(frag + 8), &h))
			expect_add(x, host, path, &h);
	}
}

/* Stanzas with "Filename: pool/..." and "SHA256: HEX", relative to the
 * archive root: the Packages file's path up to "/dists/". */
static void learn_debian(struct cache_expect *x, const char *host, struct span path, struct span body)
{
	const char *d = memmem(path.p, path.len, "/dists/", 7);
	struct span root = span_sub(path, 0, d ? (size_t)(d - path.p) + 1 : 0), file = { 0 }, sum = { 0 };
	size_t i = 0;

	if (!d)
		return;
	while (i <= body.len) {
		size_t j = i;
		while (j < body.len && body.p[j] != '\n')
			j++;
		struct span line = span_sub(body, i, j - i);
		if (line.len == 0) { /* end of a stanza */
			char p[4200];
			struct cache_hash h;
			if (file.len && sum.len && root.len + file.len < sizeof(p) &&
			    cache_hash_hex(CACHE_ALG_SHA256, sum, &h)) {
				snprintf(p, sizeof(p), "%.*s%.*s", (int)root.len, root.p, (int)file.len, file.p);
				expect_add(x, host, span_str(p), &h);
			}
			file.len = sum.len = 0;
		} else if (line.len > 10 && memcmp(line.p, "Filename: ", 10) == 0) {
			file = span_sub(line, 10, line.len);
		} else if (line.len > 8 && memcmp(line.p, "SHA256: ", 8) == 0) {
			sum = span_sub(line, 8, line.len);
		}
		i = j + 1;
	}
}

static bool path_ends(struct span path, const char *suf)
{
	size_t n = strlen(suf);
	return path.len >= n && memcmp(path.p + path.len - n, suf, n) == 0;
}

void cache_expect_learn(struct cache_expect *x, const struct pol_cache_rule *rule, const char *host,
			struct span path, const char *content_encoding, struct span body)
{
	size_t len = 0;
	char *plain = NULL;
	bool packages = path_ends(path, "/Packages") || path_ends(path, "/Packages.gz");

	if (rule->immutable && !(packages && strcmp(rule->ecosystem, "debian") == 0))
		return;
	if ((content_encoding && strcmp(content_encoding, "gzip") == 0) || path_ends(path, ".gz")) {
		plain = gunzip(body, &len);
		if (!plain)
			return;
		body = span_of(plain, len);
	}
	if (strcmp(rule->ecosystem, "npm") == 0)
		learn_npm(x, body);
	else if (strcmp(rule->ecosystem, "pypi") == 0)
		learn_pypi(x, body);
	else if (strcmp(rule->ecosystem, "debian") == 0 && packages)
		learn_debian(x, host, path, body);
	free(plain);
}

bool cache_expect_find(const struct cache_expect *x, const char *host, struct span path, struct cache_hash *out)
{
	const char *bh = memmem(path.p, path.len, "/by-hash/", 9);

	if (bh) {
		struct span rest = span_sub(path, (size_t)(bh - path.p) + 9, path.len);
		long s = span_find(rest, '/');
		struct span alg = span_sub(rest, 0, s < 0 ? 0 : (size_t)s), hex = span_sub(rest, (size_t)s + 1, rest.len);
		if (s > 0 && alg.len == 6 && memcmp(alg.p, "SHA256", 6) == 0)
			return cache_hash_hex(CACHE_ALG_SHA256, hex, out);
		if (s > 0 && alg.len == 6 && memcmp(alg.p, "SHA512", 6) == 0)
			return cache_hash_hex(CACHE_ALG_SHA512, hex, out);
	}
	for (const struct expect_item *it = x->bucket[bucket_of(host, path)]; it; it = it->next)
		if (item_is(it, host, path)) {
			*out = it->h;
			return true;
		}
	return false;
}

struct cache_check {
	EVP_MD_CTX *md;
	struct cache_hash want;
};

int cache_check_new(const struct cache_hash *want, struct cache_check **out)
{
	const EVP_MD *md = want->alg == CACHE_ALG_SHA1     ? EVP_sha1()
			   : want->alg == CACHE_ALG_SHA256 ? EVP_sha256()
			   : want->alg == CACHE_ALG_SHA512 ? EVP_sha512()
							   : NULL;
	struct cache_check *c = md ? calloc(1, sizeof(*c)) : NULL;

	*out = NULL;
	if (!md)
		return -EINVAL;
	if (!c || !(c->md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(c->md, md, NULL)) {
		cache_check_free(c);
		return -ENOMEM;
	}
	c->want = *want;
	*out = c;
	return 0;
}

int cache_check_update(struct cache_check *c, const void *p, size_t n)
{
	return EVP_DigestUpdate(c->md, p, n) ? 0 : -ENOMEM;
}

int cache_check_end(struct cache_check *c)
{
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (!EVP_DigestFinal_ex(c->md, d, &len))
		return -ENOMEM;
	return len <= sizeof(c->want.d) && CRYPTO_memcmp(d, c->want.d, len) == 0 ? 0 : -EBADMSG;
}

void cache_check_free(struct cache_check *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}
