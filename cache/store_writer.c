/* store_writer.c: writing one body into the store: a flock'd file in
 * DIR/tmp, hashed as it grows (SHA-256 for its name, and the published
 * hash's own algorithm when it is known upfront, so the check needs no
 * second pass), its bytes reserved in DIR/usage (evicting the least
 * recently used entries to make room), checked, fsynced and linked into
 * blobs/ under its SHA-256 only when complete. A writer may be checked on
 * one thread and committed on another (the store's usage file is guarded
 * for that), never used by two at once. A large body's hashing and writes
 * may go to a flusher thread (cache_writer_async, store_flusher.c): the
 * reservation stays on the caller's thread, and check waits for the
 * flusher and ends it, so commit and abort see a writer of one thread. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "store_priv.h"

#define RESERVE_STEP (64 * 1024) /* growth past the reservation, to lock less often */
#define RESERVE_ROUNDS 8         /* evictions tried before giving up with -ENOSPC */
#define EVICT_SLACK_SHIFT 6      /* evict 1/64 of the cap more than needed: fewer scans of meta/ */
#define REHASH_CHUNK (64 * 1024)

#define WRITEBACK_STEP (4u << 20)

struct cache_writer {
	struct cache_store *st;
	int fd;
	char name[CACHE_TMP_NAME]; /* in DIR/tmp */
	uint64_t size, reserved;
	uint64_t filed;          /* bytes written to the file (by the flusher, when there is one) */
	uint64_t flushed;        /* bytes handed to writeback already (sync_file_range) */
	struct cache_flusher *fl; /* NULL: written on the caller's thread */
	EVP_MD_CTX *sha256;
	EVP_MD_CTX *other;       /* the expected hash's algorithm, as the body comes (NULL: none) */
	struct cache_hash want;  /* what cache_writer_expect was told */
	bool checked;            /* check ran: verdict and hex are final */
	int verdict;             /* 0, -EBADMSG or -errno */
	char hex[CACHE_HEX_LEN + 1];
	int err; /* set once a write failed: only abort is left */
};

/* Reserve need more bytes under the cap, evicting as needed. 0 or -ENOSPC/-errno. */
static int reserve(struct cache_writer *w, uint64_t need)
{
	struct cache_store *st = w->st;

	if (need > st->max_bytes)
		return -ENOSPC;
	for (int round = 0; round < RESERVE_ROUNDS; round++) {
		struct cache_usage u;
		uint64_t freed = 0;
		int rc = cache_usage_begin(st, &u);
		if (rc < 0)
			return rc;
		uint64_t used = u.bytes + u.reserved;
		bool fits = used <= st->max_bytes - need;
		if (fits)
			u.reserved += need;
		if ((rc = cache_usage_end(st, fits ? &u : NULL)) < 0 || fits) {
			w->reserved += rc == 0 ? need : 0;
			return rc;
		}
		uint64_t short_by = used - (st->max_bytes - need);
		if ((rc = cache_evict(st, short_by + (st->max_bytes >> EVICT_SLACK_SHIFT), &freed)) < 0)
			return rc;
		if (freed == 0)
			return -ENOSPC; /* the rest is other writers' reservations */
	}
	return -ENOSPC;
}

int cache_writer_new(struct cache_store *st, uint64_t expect_len, struct cache_writer **out)
{
	struct cache_writer *w = calloc(1, sizeof(*w));
	int rc = w ? 0 : -ENOMEM;

	if (!w)
		return rc;
	w->st = st;
	w->fd = -1;
	if (!(w->sha256 = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(w->sha256, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto err;
	}
	/* the file exists (and is locked) before the reservation: see cache_tmp_sweep */
	if ((w->fd = cache_tmp_create(st, w->name)) < 0) {
		rc = w->fd;
		goto err;
	}
	if (expect_len && (rc = reserve(w, expect_len)) < 0)
		goto err;
	*out = w;
	return 0;
err:
	cache_writer_abort(w);
	return rc;
}

int cache_writer_fd(const struct cache_writer *w)
{
	return w->fd;
}

uint64_t cache_writer_size(const struct cache_writer *w)
{
	return w->size;
}

static const EVP_MD *alg_md(enum cache_alg alg)
{
	switch (alg) {
	case CACHE_ALG_SHA1:
		return EVP_sha1();
	case CACHE_ALG_SHA256:
		return EVP_sha256();
	case CACHE_ALG_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/* Make room for n more bytes past the reservation. */
static int grow(struct cache_writer *w, size_t n)
{
	uint64_t need = w->size + n - w->reserved;
	uint64_t step = need < RESERVE_STEP ? RESERVE_STEP : need;

	if (step > need && reserve(w, step) == 0)
		return 0;
	return reserve(w, need);
}

int cache_writer_expect(struct cache_writer *w, const struct cache_hash *want)
{
	const EVP_MD *md = alg_md(want->alg);

	if (w->size || w->other)
		return -EINVAL;
	w->want = *want;
	if (!md || want->alg == CACHE_ALG_SHA256)
		return 0; /* none, or the one hashed anyway */
	if (!(w->other = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(w->other, md, NULL)) {
		EVP_MD_CTX_free(w->other);
		w->other = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* writev(2) all of iov (n entries, at most IOV_MAX); the array is used up. */
static int writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t k = writev(fd, iov, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EDQUOT ? -ENOSPC : -errno;
		for (; n > 0 && (size_t)k >= iov->iov_len; iov++, n--)
			k -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

static int hash_iov(struct cache_writer *w, const struct iovec *iov, int n)
{
	for (int i = 0; i < n; i++)
		if (!EVP_DigestUpdate(w->sha256, iov[i].iov_base, iov[i].iov_len) ||
		    (w->other && !EVP_DigestUpdate(w->other, iov[i].iov_base, iov[i].iov_len)))
			return -ENOMEM;
	return 0;
}

/* Hash and write the pieces of iov, and start their writeback: on the
 * caller's thread, or the flusher's. */
static int put_file(struct cache_writer *w, const struct iovec *iov, int n)
{
	struct iovec copy[CACHE_IOV_MAX];
	size_t len = 0;
	int rc = hash_iov(w, iov, n);

	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (rc == 0) {
		memcpy(copy, iov, (size_t)n * sizeof(*iov));
		rc = writev_all(w->fd, copy, n);
	}
	if (rc < 0)
		return rc;
	w->filed += len;
	/* start writeback as the body comes, so the fsync at commit has
	 * little left to write, and dirty pages never pile up to the point
	 * where the kernel throttles the writes themselves */
	if (w->filed - w->flushed >= WRITEBACK_STEP) {
		(void)sync_file_range(w->fd, (off64_t)w->flushed, (off64_t)(w->filed - w->flushed), SYNC_FILE_RANGE_WRITE);
		w->flushed = w->filed;
	}
	return 0;
}

static int flush_sink(void *arg, const uint8_t *p, size_t n)
{
	struct iovec v = { (void *)p, n };

	return put_file(arg, &v, 1);
}

int cache_writer_async(struct cache_writer *w)
{
	struct cache_store *st = w->st;

	if (w->size || w->fl)
		return -EINVAL;
	if (atomic_fetch_add(&st->nasync, 1) >= CACHE_ASYNC_MAX) {
		atomic_fetch_sub(&st->nasync, 1);
		return -EAGAIN;
	}
	int rc = cache_flusher_new(flush_sink, w, &w->fl);
	if (rc < 0)
		atomic_fetch_sub(&st->nasync, 1);
	return rc;
}

/* Wait for the flusher and end it: the writer is the caller's alone again. */
static int end_flusher(struct cache_writer *w)
{
	int rc = w->fl ? cache_flusher_drain(w->fl) : 0;

	if (w->fl) {
		cache_flusher_free(w->fl);
		w->fl = NULL;
		atomic_fetch_sub(&w->st->nasync, 1);
	}
	return rc;
}

int cache_writer_flush(struct cache_writer *w)
{
	return w->fl ? cache_flusher_drain(w->fl) : 0;
}

uint64_t cache_writer_written(const struct cache_writer *w)
{
	return w->fl ? cache_flusher_done(w->fl) : w->filed;
}

int cache_writer_writev(struct cache_writer *w, const struct iovec *iov, int n)
{
	size_t len = 0;
	int rc = w->err;

	if (n < 0 || n > CACHE_IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (rc == 0 && len > UINT64_MAX - w->size)
		rc = -EFBIG;
	if (rc == 0 && w->size + len > w->reserved)
		rc = grow(w, len);
	if (rc == 0)
		rc = w->fl ? cache_flusher_put(w->fl, iov, n) : put_file(w, iov, n);
	if (rc < 0) {
		w->err = rc;
		return rc;
	}
	w->size += len;
	return 0;
}

int cache_writer_write(struct cache_writer *w, const void *p, size_t n)
{
	struct iovec v = { (void *)p, n };

	return cache_writer_writev(w, &v, 1);
}

/* Hash the written file again with md (for SHA-1 and SHA-512 wants). */
static int rehash(struct cache_writer *w, const EVP_MD *md, uint8_t *out, unsigned *len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t *buf = malloc(REHASH_CHUNK);
	int rc = ctx && buf && EVP_DigestInit_ex(ctx, md, NULL) ? 0 : -ENOMEM;

	for (uint64_t off = 0; rc == 0 && off < w->size;) {
		ssize_t k = pread(w->fd, buf, REHASH_CHUNK, (off_t)off);
		if (k <= 0)
			rc = k < 0 ? -errno : -EIO;
		else if (!EVP_DigestUpdate(ctx, buf, (size_t)k))
			rc = -ENOMEM;
		off += k > 0 ? (uint64_t)k : 0;
	}
	if (rc == 0 && !EVP_DigestFinal_ex(ctx, out, len))
		rc = -ENOMEM;
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/* Finish the hashes and compare against want: the body's SHA-256 into
 * w->hex, the verdict into w->verdict (0 or -EBADMSG, or -errno). */
static int check(struct cache_writer *w, const struct cache_hash *want)
{
	uint8_t md[32], other[EVP_MAX_MD_SIZE];
	unsigned len = 0, olen = 0;
	const EVP_MD *wmd = want ? alg_md(want->alg) : NULL;
	int rc = 0;

	if (w->checked)
		return w->verdict;
	if ((rc = end_flusher(w)) < 0)
		return rc;
	if (!EVP_DigestFinal_ex(w->sha256, md, &len))
		return -ENOMEM;
	w->checked = true;
	cache_hex(md, sizeof(md), w->hex);
	if (wmd && want->alg == CACHE_ALG_SHA256) {
		rc = CRYPTO_memcmp(md, want->d, sizeof(md)) ? -EBADMSG : 0;
	} else if (wmd) {
		bool same = w->other && want->alg == w->want.alg; /* hashed as it came */
		if (same && !EVP_DigestFinal_ex(w->other, other, &olen))
			rc = -ENOMEM;
		else if (!same)
			rc = rehash(w, wmd, other, &olen);
		if (rc == 0 && (olen > sizeof(want->d) || CRYPTO_memcmp(other, want->d, olen)))
			rc = -EBADMSG;
	}
	w->verdict = rc;
	return rc;
}

int cache_writer_check(struct cache_writer *w, const struct cache_hash *want)
{
	int rc = w->err ? w->err : check(w, want);

	if (rc < 0 && !w->checked && !w->err)
		w->err = rc; /* the flusher failed: only abort is left */
	return rc;
}

const char *cache_writer_hex(const struct cache_writer *w)
{
	return w->checked ? w->hex : "";
}

/* Link the temporary file in as blobs/ab/<hex>, counting its bytes if new. */
static int place(struct cache_writer *w, const char *hex)
{
	struct cache_store *st = w->st;
	char path[CACHE_SUB_PATH];
	int64_t added = (int64_t)w->size;
	struct stat sb;

	cache_sub_path(hex, path);
	int rc = cache_make_sub(st->blobs, hex);
	if (rc < 0)
		return rc;
	/* content addressed: an existing blob is this body, unless it was damaged */
	if (linkat(st->tmp, w->name, st->blobs, path, 0) < 0) {
		if (errno != EEXIST || fstatat(st->blobs, path, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		added = (uint64_t)sb.st_size == w->size ? 0 : (int64_t)w->size - (int64_t)sb.st_size;
		if (added && renameat(st->tmp, w->name, st->blobs, path) < 0)
			return -errno;
	}
	rc = cache_sync_sub(st->blobs, path);
	if (rc == 0)
		rc = cache_usage_add(st, added, -(int64_t)w->reserved);
	if (rc == 0)
		w->reserved = 0;
	return rc;
}

int cache_writer_commit(struct cache_writer *w, const char *key, struct cache_entry *e,
			const struct cache_hash *want)
{
	char khex[CACHE_HEX_LEN + 1];
	const char *hex = w->hex;
	int rc = w->err;

	if (rc == 0)
		rc = cache_key_hex(key, khex); /* refused before anything is placed */
	if (rc == 0)
		rc = check(w, want);
	if (rc == 0 && fsync(w->fd) < 0)
		rc = -errno;
	if (rc == 0)
		rc = place(w, hex);
	if (rc == 0) {
		memcpy(e->blob, hex, sizeof(e->blob));
		e->size = w->size;
		rc = cache_record_write(w->st, key, e);
	}
	cache_writer_abort(w);
	return rc;
}

void cache_writer_abort(struct cache_writer *w)
{
	if (!w)
		return;
	if (w->fl) { /* its thread first: nothing writes the file after this */
		cache_flusher_free(w->fl);
		atomic_fetch_sub(&w->st->nasync, 1);
	}
	/* reservation first, file after: a live writer always has its file */
	if (w->reserved)
		cache_usage_add(w->st, 0, -(int64_t)w->reserved);
	if (w->fd >= 0) {
		unlinkat(w->st->tmp, w->name, 0);
		close(w->fd);
	}
	EVP_MD_CTX_free(w->sha256);
	EVP_MD_CTX_free(w->other);
	free(w);
}
