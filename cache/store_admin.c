/* store_admin.c: walking the store: least recently used eviction (for
 * writers and gc), and `sluice cache stats | verify | gc | purge`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_priv.h"

#define EVICT_BATCH 64            /* oldest records kept per scan of meta/ */
#define GC_MAX_REFS (1u << 22)    /* records gc remembers; past it no blob is called an orphan */
#define GC_GRACE_S 60             /* an unnamed blob this young may be a commit in progress */
#define HASH_CHUNK (64 * 1024)

static bool is_sub(const char *name)
{
	return strlen(name) == 2 && strspn(name, "0123456789abcdef") == 2;
}

static int scan_sub(struct cache_store *st, int base, const char *sub,
		    int (*fn)(struct cache_store *, const char *, void *), void *arg)
{
	int fd = openat(base, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW), rc = 0;
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (!d) {
		rc = errno == ENOENT ? 0 : -errno; /* gone under a concurrent purge */
		if (fd >= 0)
			close(fd);
		return rc;
	}
	for (struct dirent *de; rc == 0 && (de = readdir(d));)
		if (cache_is_hex(de->d_name) && strncmp(de->d_name, sub, 2) == 0)
			rc = fn(st, de->d_name, arg);
	closedir(d);
	return rc;
}

/* A DIR stream of base itself (base stays open), or NULL with *err set. */
static DIR *open_dir(int base, int *err)
{
	int fd = openat(base, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (!d) {
		*err = -errno;
		if (fd >= 0)
			close(fd);
	}
	return d;
}

/* Call fn for every well-named file under base (blobs/ or meta/); stop at its error. */
static int scan(struct cache_store *st, int base, int (*fn)(struct cache_store *, const char *, void *),
		void *arg)
{
	int rc = 0;
	DIR *d = open_dir(base, &rc);

	if (!d)
		return rc;
	for (struct dirent *de; rc == 0 && (de = readdir(d));)
		if (is_sub(de->d_name))
			rc = scan_sub(st, base, de->d_name, fn, arg);
	closedir(d);
	return rc;
}

static int stat_in(int base, const char *hex, struct stat *sb)
{
	char path[CACHE_SUB_PATH];

	cache_sub_path(hex, path);
	return fstatat(base, path, sb, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static bool older(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* The EVICT_BATCH least recently used records, oldest first. */
struct lru {
	struct {
		struct timespec used;
		char hex[CACHE_HEX_LEN + 1];
	} v[EVICT_BATCH];
	size_t n;
};

static int lru_cb(struct cache_store *st, const char *hex, void *arg)
{
	struct lru *l = arg;
	struct stat sb;
	size_t i;

	if (stat_in(st->meta, hex, &sb) < 0)
		return 0;
	if (l->n == EVICT_BATCH && !older(&sb.st_mtim, &l->v[EVICT_BATCH - 1].used))
		return 0;
	for (i = l->n < EVICT_BATCH ? l->n : EVICT_BATCH - 1; i > 0 && older(&sb.st_mtim, &l->v[i - 1].used); i--)
		l->v[i] = l->v[i - 1];
	l->v[i].used = sb.st_mtim;
	memcpy(l->v[i].hex, hex, sizeof(l->v[i].hex));
	if (l->n < EVICT_BATCH)
		l->n++;
	return 0;
}

/* Evict one record (unless used since the scan) and its blob. Returns records removed. */
static int evict_one(struct cache_store *st, const char *hex, const struct timespec *used, uint64_t *freed)
{
	char path[CACHE_SUB_PATH];
	struct cache_entry e;
	struct stat sb;

	if (stat_in(st->meta, hex, &sb) < 0 || older(used, &sb.st_mtim))
		return 0;
	bool ok = cache_record_read(st, hex, NULL, &e, NULL) == 0;
	cache_sub_path(hex, path);
	if (unlinkat(st->meta, path, 0) < 0)
		return 0;
	if (ok)
		*freed += cache_blob_drop(st, e.blob);
	return 1;
}

int cache_evict(struct cache_store *st, uint64_t target, uint64_t *freed)
{
	struct lru l;

	*freed = 0;
	while (*freed < target) {
		int removed = 0, rc;
		l.n = 0;
		if ((rc = scan(st, st->meta, lru_cb, &l)) < 0)
			return rc;
		for (size_t i = 0; i < l.n && *freed < target; i++)
			removed += evict_one(st, l.v[i].hex, &l.v[i].used, freed);
		if (removed == 0)
			return 0; /* nothing left to evict, or all of it in use right now */
	}
	return 0;
}

static int count_cb(struct cache_store *st, const char *hex, void *arg)
{
	(void)st;
	(void)hex;
	(*(uint64_t *)arg)++;
	return 0;
}

struct sizes {
	uint64_t n, bytes;
};

static int size_cb(struct cache_store *st, const char *hex, void *arg)
{
	struct sizes *s = arg;
	struct stat sb;

	if (stat_in(st->blobs, hex, &sb) == 0) {
		s->n++;
		s->bytes += (uint64_t)sb.st_size;
	}
	return 0;
}

int cache_stats(struct cache_store *st, struct cache_stats *out)
{
	struct sizes s = { 0 };
	struct cache_usage u;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = scan(st, st->meta, count_cb, &out->entries)) < 0 || (rc = scan(st, st->blobs, size_cb, &s)) < 0 ||
	    (rc = cache_usage_begin(st, &u)) < 0)
		return rc;
	cache_usage_end(st, NULL);
	out->blobs = s.n;
	out->bytes = s.bytes;
	out->max_bytes = st->max_bytes;
	out->hits = u.hits;
	out->misses = u.misses;
	out->reserved = u.reserved;
	return 0;
}

/* SHA-256 of the blob named hex, in hex. 0 or -errno. */
static int hash_blob(struct cache_store *st, const char *hex, uint8_t *buf, char out[CACHE_HEX_LEN + 1])
{
	char path[CACHE_SUB_PATH];
	uint8_t md[32];
	unsigned len = 0;
	ssize_t k = 0;

	cache_sub_path(hex, path);
	int fd = openat(st->blobs, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = fd < 0 ? -errno : ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ? 0 : -ENOMEM;

	while (rc == 0 && (k = read(fd, buf, HASH_CHUNK)) > 0)
		if (!EVP_DigestUpdate(ctx, buf, (size_t)k))
			rc = -ENOMEM;
	if (rc == 0 && k < 0)
		rc = -errno;
	if (rc == 0 && !EVP_DigestFinal_ex(ctx, md, &len))
		rc = -ENOMEM;
	if (rc == 0)
		cache_hex(md, sizeof(md), out);
	EVP_MD_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return rc;
}

struct verify {
	uint8_t *buf;
	uint64_t checked, bad;
};

static int verify_cb(struct cache_store *st, const char *hex, void *arg)
{
	struct verify *v = arg;
	char got[CACHE_HEX_LEN + 1];
	int rc = hash_blob(st, hex, v->buf, got);

	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	v->checked++;
	if (strcmp(got, hex) != 0) {
		cache_blob_drop(st, hex);
		v->bad++;
	}
	return 0;
}

/* Drop a record that is garbage or whose blob is gone. Returns its entry's state. */
static bool record_ok(struct cache_store *st, const char *hex, struct cache_entry *e)
{
	struct stat sb;
	int rc = cache_record_read(st, hex, NULL, e, NULL);

	if (rc == -EBADMSG || (rc == 0 && stat_in(st->blobs, e->blob, &sb) == -ENOENT)) {
		cache_record_drop(st, hex, -1);
		return false;
	}
	return rc == 0;
}

static int stale_cb(struct cache_store *st, const char *hex, void *arg)
{
	struct cache_entry e;

	(void)arg;
	record_ok(st, hex, &e);
	return 0;
}

int cache_verify(struct cache_store *st, uint64_t *checked, uint64_t *bad)
{
	struct verify v = { .buf = malloc(HASH_CHUNK) };
	int rc = v.buf ? scan(st, st->blobs, verify_cb, &v) : -ENOMEM;

	if (rc == 0)
		rc = scan(st, st->meta, stale_cb, NULL);
	free(v.buf);
	*checked = v.checked;
	*bad = v.bad;
	return rc;
}

/* The blobs records name, as sorted SHA-256 values. */
struct refs {
	uint8_t (*v)[32];
	size_t n, cap;
	bool overflow;
};

static void unhex(const char *hex, uint8_t out[32])
{
	for (int i = 0; i < 32; i++) {
		char c[3] = { hex[2 * i], hex[2 * i + 1], '\0' };
		out[i] = (uint8_t)strtoul(c, NULL, 16);
	}
}

static int refs_cb(struct cache_store *st, const char *hex, void *arg)
{
	struct refs *r = arg;
	struct cache_entry e;

	if (!record_ok(st, hex, &e) || r->overflow)
		return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 1024;
		void *v = cap <= GC_MAX_REFS ? realloc(r->v, cap * sizeof(*r->v)) : NULL;
		if (!v) {
			r->overflow = true; /* keep every blob rather than guess */
			return 0;
		}
		r->v = v;
		r->cap = cap;
	}
	unhex(e.blob, r->v[r->n++]);
	return 0;
}

static int cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

struct orphans {
	struct refs *refs;
	time_t before;
	uint64_t freed, kept;
};

static int orphan_cb(struct cache_store *st, const char *hex, void *arg)
{
	struct orphans *o = arg;
	uint8_t key[32];
	struct stat sb;

	if (stat_in(st->blobs, hex, &sb) < 0)
		return 0;
	unhex(hex, key);
	if (o->refs->overflow || sb.st_mtime >= o->before ||
	    bsearch(key, o->refs->v, o->refs->n, sizeof(key), cmp32))
		o->kept += (uint64_t)sb.st_size;
	else
		o->freed += cache_blob_drop(st, hex);
	return 0;
}

/* Drop stale records and unnamed blobs; recount bytes from what is left. */
static int gc_orphans(struct cache_store *st, uint64_t *freed)
{
	struct refs r = { 0 };
	struct orphans o = { .refs = &r, .before = time(NULL) - GC_GRACE_S };
	struct cache_usage u;
	int rc = scan(st, st->meta, refs_cb, &r);

	if (rc == 0) {
		if (r.n)
			qsort(r.v, r.n, sizeof(*r.v), cmp32);
		rc = scan(st, st->blobs, orphan_cb, &o);
	}
	free(r.v);
	if (rc == 0 && (rc = cache_usage_begin(st, &u)) == 0) {
		u.bytes = o.kept;
		rc = cache_usage_end(st, &u);
	}
	*freed = o.freed;
	return rc;
}

int cache_gc(struct cache_store *st, uint64_t max_bytes, uint64_t *freed)
{
	struct cache_usage u;
	uint64_t evicted = 0;
	int rc = cache_tmp_sweep(st); /* crashed writers' files and reservations */

	*freed = 0;
	if (rc == 0)
		rc = gc_orphans(st, freed);

	if (rc < 0 || (rc = cache_usage_begin(st, &u)) < 0)
		return rc;
	cache_usage_end(st, NULL);
	uint64_t used = u.bytes + u.reserved;
	if (used > max_bytes)
		rc = cache_evict(st, used - max_bytes, &evicted);
	*freed += evicted;
	return rc;
}

/* Remove every file in base's subdirectories and the subdirectories. */
static int empty_dir(int base)
{
	int rc = 0;
	DIR *d = open_dir(base, &rc);

	if (!d)
		return rc;
	for (struct dirent *de; (de = readdir(d));) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int sub = openat(base, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		DIR *sd = sub < 0 ? NULL : fdopendir(sub);
		for (struct dirent *se; sd && (se = readdir(sd));)
			if (strcmp(se->d_name, ".") && strcmp(se->d_name, ".."))
				unlinkat(sub, se->d_name, 0);
		if (sd)
			closedir(sd);
		else if (sub >= 0)
			close(sub);
		if (unlinkat(base, de->d_name, sd ? AT_REMOVEDIR : 0) < 0 && errno != ENOENT && !rc)
			rc = -errno;
	}
	closedir(d);
	return rc;
}

int cache_purge(struct cache_store *st)
{
	struct cache_usage u;
	int rc = empty_dir(st->meta), rc2 = empty_dir(st->blobs);

	rc = rc ? rc : rc2;
	if ((rc2 = cache_usage_begin(st, &u)) == 0) {
		u.bytes = u.hits = u.misses = 0;
		rc2 = cache_usage_end(st, &u);
	}
	rc = rc ? rc : rc2;
	rc2 = cache_tmp_sweep(st); /* live writers' files stay: they clean up after themselves */
	return rc ? rc : rc2;
}
