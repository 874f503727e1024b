/* test_store.c: the package cache's store on disk: what is served, what is
 * never served, what the cap evicts, and what several handles see. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

struct fixture {
	char dir[64];
	struct cache_store *st;
};

static int remove_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/sluice-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(cache_store_open(f->dir, 1 * MIB, &f->st), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cache_store_close(f->st);
	nftw(f->dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static size_t nfiles;

static int count_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path;
	(void)sb;
	(void)ftw;
	nfiles += flag == FTW_F;
	return 0;
}

/* Regular files under dir/sub. */
static size_t count(const struct fixture *f, const char *sub)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", f->dir, sub);
	nfiles = 0;
	assert_int_equal(nftw(path, count_cb, 16, FTW_PHYS), 0);
	return nfiles;
}

/* Deterministic bytes that differ per seed. */
static uint8_t *body(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		p[i] = (uint8_t)seed;
	}
	return p;
}

static struct cache_hash digest(enum cache_alg alg, const uint8_t *p, size_t n)
{
	struct cache_hash h = { .alg = alg };
	const EVP_MD *md = alg == CACHE_ALG_SHA1 ? EVP_sha1() : alg == CACHE_ALG_SHA512 ? EVP_sha512() : EVP_sha256();

	assert_true(EVP_Digest(p, n, h.d, NULL, md, NULL));
	return h;
}

/* Store n bytes of seed's body under key, in 7 KiB pieces. Returns commit's result. */
static int put(struct cache_store *st, const char *key, size_t n, uint32_t seed, uint64_t expect,
	       const struct cache_hash *want)
{
	uint8_t *p = body(n, seed);
	struct cache_writer *w = NULL;
	struct cache_entry e = { .stored_ms = 1700000000000, .etag = "\"v1\"", .content_type = "application/x-tar" };
	int rc = cache_writer_new(st, expect, &w);

	if (rc < 0) {
		free(p);
		return rc;
	}
	for (size_t off = 0; rc == 0 && off < n; off += 7 * KIB)
		rc = cache_writer_write(w, p + off, n - off < 7 * KIB ? n - off : 7 * KIB);
	int crc = cache_writer_commit(w, key, &e, want); /* a failed writer only cleans up */
	free(p);
	return rc ? rc : crc;
}

/* Look key up and check its body is seed's n bytes. */
static void assert_hit(struct cache_store *st, const char *key, size_t n, uint32_t seed)
{
	struct cache_entry e;
	uint8_t *want = body(n, seed), *got = malloc(n + 1);
	int fd = -1;

	assert_int_equal(cache_lookup(st, key, &e, &fd), 0);
	assert_int_equal(e.size, n);
	assert_int_equal(pread(fd, got, n + 1, 0), (ssize_t)n);
	assert_memory_equal(got, want, n);
	close(fd);
	free(want);
	free(got);
}

static void assert_miss(struct cache_store *st, const char *key)
{
	struct cache_entry e;
	int fd = -1;

	assert_int_equal(cache_lookup(st, key, &e, &fd), -ENOENT);
	assert_int_equal(fd, -1);
}

static void record_path(const struct fixture *f, const char *key, char *out, size_t size)
{
	uint8_t md[32];
	char hex[65];

	assert_true(EVP_Digest(key, strlen(key), md, NULL, EVP_sha256(), NULL));
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(out, size, "%s/meta/%.2s/%s", f->dir, hex, hex);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	const char *key = "registry.npmjs.org/express/-/express-4.21.2.tgz";
	uint8_t *p = body(100 * KIB, 1);
	struct cache_hash want = digest(CACHE_ALG_SHA512, p, 100 * KIB), sha = digest(CACHE_ALG_SHA256, p, 100 * KIB);
	struct cache_entry e = { .stored_ms = 42, .etag = "\"abc\"", .package = "npm:express@4.21.2" };
	struct cache_writer *w;
	char hex[65], path[256];
	uint8_t head[10];
	int fd;

	assert_int_equal(cache_writer_new(f->st, 100 * KIB, &w), 0);
	assert_int_equal(cache_writer_write(w, p, 60 * KIB), 0);
	/* a reader follows the growing body */
	assert_int_equal(pread(cache_writer_fd(w), head, sizeof(head), 0), sizeof(head));
	assert_memory_equal(head, p, sizeof(head));
	assert_int_equal(cache_writer_size(w), 60 * KIB);
	assert_int_equal(cache_writer_write(w, p + 60 * KIB, 40 * KIB), 0);
	assert_int_equal(cache_writer_commit(w, key, &e, &want), 0);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sha.d[i]);
	assert_string_equal(e.blob, hex);
	assert_int_equal(e.size, 100 * KIB);
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%s", f->dir, hex, hex);
	assert_int_equal(access(path, R_OK), 0);
	assert_int_equal(count(f, "tmp"), 0);

	memset(&e, 0, sizeof(e));
	assert_int_equal(cache_lookup(f->st, key, &e, &fd), 0);
	close(fd);
	assert_string_equal(e.etag, "\"abc\"");
	assert_string_equal(e.package, "npm:express@4.21.2");
	assert_int_equal(e.stored_ms, 42);
	assert_hit(f->st, key, 100 * KIB, 1);
	assert_miss(f->st, "registry.npmjs.org/express/-/express-4.21.1.tgz");

	/* a 304 rewrites the validators, the body stays */
	snprintf(e.etag, sizeof(e.etag), "\"def\"");
	e.stored_ms = 43;
	assert_int_equal(cache_update(f->st, key, &e), 0);
	assert_int_equal(cache_lookup(f->st, key, &e, &fd), 0);
	close(fd);
	assert_string_equal(e.etag, "\"def\"");
	assert_int_equal(e.stored_ms, 43);
	assert_hit(f->st, key, 100 * KIB, 1);

	assert_int_equal(cache_remove(f->st, key), 0);
	assert_int_equal(cache_remove(f->st, key), -ENOENT);
	assert_miss(f->st, key);
	assert_int_equal(count(f, "blobs") + count(f, "meta"), 0);
	free(p);
}

/* A 304 that changes only the time overwrites its digits in the record's
 * own file (the same inode, nothing left in tmp/); a wider time or new
 * validators rewrite the record whole; each reads back as written. */
static void test_update_in_place(void **state)
{
	struct fixture *f = *state;
	const char *key = "deb.debian.org:80/debian/dists/bookworm/InRelease";
	struct cache_entry e;
	struct stat a, b;
	char path[512];
	int fd;

	assert_int_equal(put(f->st, key, 3000, 5, 3000, NULL), 0);
	record_path(f, key, path, sizeof(path));
	assert_int_equal(stat(path, &a), 0);
	assert_int_equal(cache_lookup(f->st, key, &e, &fd), 0);
	close(fd);
	e.stored_ms = 1799999999999;
	assert_int_equal(cache_update(f->st, key, &e), 0);
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(count(f, "tmp"), 0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(cache_lookup(f->st, key, &e, &fd), 0);
	close(fd);
	assert_int_equal(e.stored_ms, 1799999999999);
	assert_string_equal(e.etag, "\"v1\"");
	assert_hit(f->st, key, 3000, 5);

	e.stored_ms = 17999999999999; /* a digit more: the whole record anew */
	assert_int_equal(cache_update(f->st, key, &e), 0);
	assert_int_equal(stat(path, &b), 0);
	assert_int_not_equal(a.st_ino, b.st_ino);
	memset(&e, 0, sizeof(e));
	assert_int_equal(cache_lookup(f->st, key, &e, &fd), 0);
	close(fd);
	assert_int_equal(e.stored_ms, 17999999999999);

	e.stored_ms = 17999999999990;
	snprintf(e.etag, sizeof(e.etag), "\"v2\"");
	assert_int_equal(cache_update(f->st, key, &e), 0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(cache_lookup(f->st, key, &e, &fd), 0);
	close(fd);
	assert_int_equal(e.stored_ms, 17999999999990);
	assert_string_equal(e.etag, "\"v2\"");
	assert_hit(f->st, key, 3000, 5);
	assert_int_equal(count(f, "tmp"), 0);
}

static void test_other_hashes(void **state)
{
	struct fixture *f = *state;
	uint8_t *p = body(3000, 2);
	struct cache_hash sha1 = digest(CACHE_ALG_SHA1, p, 3000), sha256 = digest(CACHE_ALG_SHA256, p, 3000);
	struct cache_hash none = { .alg = CACHE_ALG_NONE };

	assert_int_equal(put(f->st, "deb.debian.org/a", 3000, 2, 3000, &sha1), 0);
	assert_int_equal(put(f->st, "deb.debian.org/b", 3000, 2, 0, &sha256), 0);
	assert_int_equal(put(f->st, "deb.debian.org/c", 3000, 2, 0, &none), 0);
	assert_int_equal(put(f->st, "deb.debian.org/d", 3000, 2, 0, NULL), 0);
	assert_hit(f->st, "deb.debian.org/a", 3000, 2);
	assert_hit(f->st, "deb.debian.org/d", 3000, 2);
	/* one body, one blob */
	assert_int_equal(count(f, "blobs"), 1);
	assert_int_equal(count(f, "meta"), 4);
	free(p);
}

static void test_hash_mismatch(void **state)
{
	struct fixture *f = *state;
	uint8_t *other = body(5000, 99);
	struct cache_stats s;

	for (enum cache_alg alg = CACHE_ALG_SHA1; alg <= CACHE_ALG_SHA512; alg++) {
		struct cache_hash want = digest(alg, other, 5000);
		assert_int_equal(put(f->st, "files.pythonhosted.org/x.whl", 5000, 3, 5000, &want), -EBADMSG);
		assert_miss(f->st, "files.pythonhosted.org/x.whl");
	}
	assert_int_equal(count(f, "blobs") + count(f, "tmp") + count(f, "meta"), 0);
	assert_int_equal(cache_stats(f->st, &s), 0);
	assert_int_equal(s.reserved, 0);
	assert_int_equal(s.bytes, 0);
	free(other);
}

static void hex_of(const struct cache_hash *h, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h->d[i]);
}

struct commit_arg {
	struct cache_writer *w;
	const char *key;
	struct cache_entry e;
	const struct cache_hash *want;
	int rc;
};

static void *commit_thread(void *arg)
{
	struct commit_arg *a = arg;
	a->rc = cache_writer_commit(a->w, a->key, &a->e, a->want);
	return NULL;
}

/* The verdict comes before the commit, from hashes taken as the body came
 * (in writev pieces); the commit may run on another thread and reuses it. */
static void test_check_before_commit(void **state)
{
	struct fixture *f = *state;
	uint8_t *p = body(50 * KIB, 7), *other = body(50 * KIB, 8);
	struct cache_hash sha256 = digest(CACHE_ALG_SHA256, p, 50 * KIB);
	char hex[65], key[64];
	pthread_t t;

	hex_of(&sha256, hex);
	for (enum cache_alg alg = CACHE_ALG_SHA1; alg <= CACHE_ALG_SHA512; alg++) {
		struct cache_hash want = digest(alg, p, 50 * KIB), bad = digest(alg, other, 50 * KIB);
		struct iovec v[3] = { { p, 1 }, { p + 1, 20 * KIB }, { p + 1 + 20 * KIB, 30 * KIB - 1 } };
		struct commit_arg a = { .key = key };
		struct cache_writer *w;
		snprintf(key, sizeof(key), "deb.debian.org/by-hash/%d", (int)alg);
		/* a mismatch is known before anything is placed, and nothing is */
		assert_int_equal(cache_writer_new(f->st, 50 * KIB, &w), 0);
		assert_int_equal(cache_writer_expect(w, &bad), 0);
		assert_int_equal(cache_writer_writev(w, v, 3), 0);
		assert_int_equal(cache_writer_check(w, &bad), -EBADMSG);
		assert_int_equal(cache_writer_commit(w, key, &a.e, &bad), -EBADMSG);
		assert_miss(f->st, key);
		/* a match: checked here, committed on another thread */
		assert_int_equal(cache_writer_new(f->st, 50 * KIB, &a.w), 0);
		assert_int_equal(cache_writer_expect(a.w, &want), 0);
		assert_int_equal(cache_writer_writev(a.w, v, 3), 0);
		assert_int_equal(cache_writer_expect(a.w, &want), -EINVAL); /* too late */
		assert_string_equal(cache_writer_hex(a.w), "");
		assert_int_equal(cache_writer_check(a.w, &want), 0);
		assert_string_equal(cache_writer_hex(a.w), hex);
		a.want = &want;
		assert_int_equal(pthread_create(&t, NULL, commit_thread, &a), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
		assert_int_equal(a.rc, 0);
		assert_string_equal(a.e.blob, hex);
		assert_hit(f->st, key, 50 * KIB, 7);
	}
	/* told one algorithm, asked another at the commit: hashed again from the file */
	struct cache_hash sha512 = digest(CACHE_ALG_SHA512, p, 50 * KIB), sha1 = digest(CACHE_ALG_SHA1, p, 50 * KIB);
	struct cache_writer *w;
	struct cache_entry e = { 0 };
	assert_int_equal(cache_writer_new(f->st, 0, &w), 0);
	assert_int_equal(cache_writer_expect(w, &sha512), 0);
	assert_int_equal(cache_writer_write(w, p, 50 * KIB), 0);
	assert_int_equal(cache_writer_commit(w, "deb.debian.org/other", &e, &sha1), 0);
	assert_int_equal(count(f, "tmp"), 0);
	free(p);
	free(other);
}

struct busy_arg {
	struct cache_store *st;
	uint32_t seed;
	int rc;
};

static void *busy_thread(void *arg)
{
	struct busy_arg *a = arg;
	char key[64];

	for (int i = 0; i < 40 && a->rc == 0; i++) {
		snprintf(key, sizeof(key), "registry.npmjs.org/t%u/%d", a->seed, i);
		a->rc = put(a->st, key, 3 * KIB, a->seed * 1000 + (uint32_t)i, i % 2 ? 3 * KIB : 0, NULL);
	}
	return NULL;
}

/* Threads of one process share a handle's flocks: the usage counts still
 * add up when commits run beside the loop thread's own counting. */
static void test_threads_share_usage(void **state)
{
	struct fixture *f = *state;
	struct busy_arg a[2] = { { f->st, 1, 0 }, { f->st, 2, 0 } };
	pthread_t t[2];
	struct cache_stats s;

	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, busy_thread, &a[i]), 0);
	for (int i = 0; i < 3000; i++)
		cache_count(f->st, i % 3 != 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(a[i].rc, 0);
	}
	assert_int_equal(cache_stats(f->st, &s), 0);
	assert_int_equal(s.hits, 2000);
	assert_int_equal(s.misses, 1000);
	assert_int_equal(s.entries, 80);
	assert_int_equal(s.reserved, 0);
	assert_int_equal(s.bytes, 80 * 3 * KIB);
	/* and what DIR/usage counted, which the cap is held to */
	char path[128], text[256] = "";
	unsigned long long bytes = 0, reserved = 1;
	snprintf(path, sizeof(path), "%s/usage", f->dir);
	FILE *u = fopen(path, "r");
	assert_non_null(u);
	assert_true(fread(text, 1, sizeof(text) - 1, u) > 0);
	fclose(u);
	assert_int_equal(sscanf(text, "sluice-usage 1\nbytes %llu\nreserved %llu", &bytes, &reserved), 2);
	assert_int_equal(bytes, 80 * 3 * KIB);
	assert_int_equal(reserved, 0);
}

static void test_abort(void **state)
{
	struct fixture *f = *state;
	struct cache_writer *w;
	struct cache_stats s;
	uint8_t *p = body(20 * KIB, 4);

	assert_int_equal(cache_writer_new(f->st, 300 * KIB, &w), 0);
	assert_int_equal(cache_writer_write(w, p, 20 * KIB), 0);
	assert_int_equal(count(f, "tmp"), 1);
	assert_int_equal(cache_stats(f->st, &s), 0);
	assert_int_equal(s.reserved, 300 * KIB);
	cache_writer_abort(w);
	assert_int_equal(count(f, "tmp") + count(f, "blobs") + count(f, "meta"), 0);
	assert_int_equal(cache_stats(f->st, &s), 0);
	assert_int_equal(s.reserved, 0);
	/* the whole cap is free again */
	assert_int_equal(put(f->st, "crates.io/big", 1 * MIB, 4, 1 * MIB, NULL), 0);
	free(p);
}

/* A child that creates tmp/name, flocks it and waits for a byte on its pipe. */
static pid_t hold_lock(const struct fixture *f, const char *name, int *ctl)
{
	char path[128];
	int go[2], ready[2];
	char c = 0;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	snprintf(path, sizeof(path), "%s/tmp/%s", f->dir, name);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(30); /* never outlive a failed test */
		int fd = open(path, O_RDWR | O_CREAT, 0600);
		_exit(fd < 0 || flock(fd, LOCK_EX) < 0 || write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) < 0);
	}
	close(go[0]);
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	*ctl = go[1];
	return pid;
}

static void test_stray_temp_files(void **state)
{
	struct fixture *f = *state;
	struct cache_store *other;
	struct cache_writer *w;
	char path[128];
	int ctl, status;
	uint8_t *p = body(10 * KIB, 5);

	/* a crashed writer's file (no lock), a live writer in this process, one in a child */
	snprintf(path, sizeof(path), "%s/tmp/w-crashed", f->dir);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, 100), 100);
	close(fd);
	assert_int_equal(cache_writer_new(f->st, 10 * KIB, &w), 0);
	assert_int_equal(cache_writer_write(w, p, 5 * KIB), 0);
	pid_t child = hold_lock(f, "w-child", &ctl);
	assert_int_equal(count(f, "tmp"), 3);

	assert_int_equal(cache_store_open(f->dir, 1 * MIB, &other), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(count(f, "tmp"), 2);
	assert_int_equal(cache_writer_write(w, p + 5 * KIB, 5 * KIB), 0);
	struct cache_entry e = { 0 };
	assert_int_equal(cache_writer_commit(w, "proxy.golang.org/m/@v/v1.zip", &e, NULL), 0);
	assert_hit(other, "proxy.golang.org/m/@v/v1.zip", 10 * KIB, 5);
	cache_store_close(other);

	/* the child goes: its file is a crashed writer's now */
	assert_int_equal(write(ctl, "g", 1), 1);
	close(ctl);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(status, 0);
	assert_int_equal(count(f, "tmp"), 1);
	assert_int_equal(cache_store_open(f->dir, 1 * MIB, &other), 0);
	assert_int_equal(count(f, "tmp"), 0);
	cache_store_close(other);
	free(p);
}

static void test_lru_eviction(void **state)
{
	struct fixture *f = *state;
	struct cache_stats s;

	assert_int_equal(put(f->st, "a", 400 * KIB, 10, 400 * KIB, NULL), 0);
	assert_int_equal(put(f->st, "b", 400 * KIB, 11, 400 * KIB, NULL), 0);
	assert_hit(f->st, "a", 400 * KIB, 10); /* a is now used more recently than b */
	/* no Content-Length: the reservation grows as the body does */
	assert_int_equal(put(f->st, "c", 400 * KIB, 12, 0, NULL), 0);
	assert_miss(f->st, "b");
	assert_hit(f->st, "a", 400 * KIB, 10);
	assert_hit(f->st, "c", 400 * KIB, 12);
	assert_int_equal(cache_stats(f->st, &s), 0);
	assert_int_equal(s.entries, 2);
	assert_int_equal(s.blobs, 2);
	assert_int_equal(s.bytes, 800 * KIB);
	assert_int_equal(s.max_bytes, 1 * MIB);
	assert_int_equal(s.reserved, 0);

	/* now c is the older one */
	assert_hit(f->st, "a", 400 * KIB, 10);
	assert_int_equal(put(f->st, "d", 400 * KIB, 13, 400 * KIB, NULL), 0);
	assert_miss(f->st, "c");
	assert_hit(f->st, "a", 400 * KIB, 10);
}

static void test_over_the_cap(void **state)
{
	struct fixture *f = *state;
	struct cache_writer *w, *w2;
	uint8_t *p = body(64 * KIB, 6);
	struct cache_stats s;
	int rc = 0;

	assert_int_equal(cache_writer_new(f->st, 1 * MIB + 1, &w), -ENOSPC);
	assert_int_equal(count(f, "tmp"), 0);

	/* growing past the cap fails, and the writer stays failed */
	assert_int_equal(cache_writer_new(f->st, 0, &w), 0);
	for (int i = 0; i < 32 && rc == 0; i++)
		rc = cache_writer_write(w, p, 64 * KIB);
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(cache_writer_size(w), 1 * MIB);
	assert_int_equal(cache_writer_write(w, p, 1), -ENOSPC);
	struct cache_entry e = { 0 };
	assert_int_equal(cache_writer_commit(w, "too/big", &e, NULL), -ENOSPC);
	assert_miss(f->st, "too/big");
	assert_int_equal(count(f, "tmp") + count(f, "blobs"), 0);

	/* a writer in progress cannot be evicted */
	assert_int_equal(cache_writer_new(f->st, 800 * KIB, &w), 0);
	assert_int_equal(cache_writer_new(f->st, 400 * KIB, &w2), -ENOSPC);
	cache_writer_abort(w);
	assert_int_equal(cache_stats(f->st, &s), 0);
	assert_int_equal(s.reserved, 0);
	free(p);
}

static void test_two_handles(void **state)
{
	struct fixture *f = *state;
	struct cache_store *b;
	struct cache_writer *w, *w2;
	struct cache_stats s;
	uint8_t *p = body(600 * KIB, 7);

	assert_int_equal(cache_store_open(f->dir, 1 * MIB, &b), 0);
	assert_int_equal(cache_writer_new(f->st, 600 * KIB, &w), 0);
	/* b sees a's reservation */
	assert_int_equal(cache_writer_new(b, 600 * KIB, &w2), -ENOSPC);
	assert_int_equal(cache_writer_write(w, p, 600 * KIB), 0);
	struct cache_entry e = { 0 };
	assert_int_equal(cache_writer_commit(w, "one", &e, NULL), 0);
	assert_int_equal(put(b, "two", 300 * KIB, 8, 300 * KIB, NULL), 0);
	assert_hit(f->st, "two", 300 * KIB, 8);
	assert_hit(b, "one", 600 * KIB, 7);
	/* 600 + 300 + 200 KiB: b must evict what a stored, a's lookup made "one" newest */
	assert_hit(f->st, "one", 600 * KIB, 7);
	assert_int_equal(put(b, "three", 200 * KIB, 9, 200 * KIB, NULL), 0);
	assert_miss(f->st, "two");
	cache_count(f->st, true);
	cache_count(b, true);
	cache_count(b, false);
	assert_int_equal(cache_stats(f->st, &s), 0);
	assert_int_equal(s.bytes, 800 * KIB);
	assert_int_equal(s.hits, 2);
	assert_int_equal(s.misses, 1);
	assert_int_equal(s.reserved, 0);
	cache_store_close(b);
	free(p);
}

/* The bytes DIR/usage counts (what writers reserve against). */
static unsigned long long usage_bytes(const struct fixture *f, unsigned long long *reserved)
{
	char path[128], text[512];
	unsigned long long bytes = 0;

	snprintf(path, sizeof(path), "%s/usage", f->dir);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n > 0);
	text[n] = '\0';
	assert_int_equal(sscanf(text, "sluice-usage 1\nbytes %llu\nreserved %llu", &bytes, reserved), 2);
	return bytes;
}

static void test_processes_share_usage(void **state)
{
	struct fixture *f = *state;
	struct cache_stats s;
	unsigned long long reserved;
	pid_t pids[4];
	int status;

	/* four processes, each with its own handle, fill and evict the same 1 MiB store */
	for (int i = 0; i < 4; i++) {
		assert_true((pids[i] = fork()) >= 0);
		if (pids[i] == 0) {
			struct cache_store *st;
			char key[32];
			int bad = cache_store_open(f->dir, 1 * MIB, &st) != 0;
			for (int j = 0; j < 12 && !bad; j++) {
				snprintf(key, sizeof(key), "p%d/%d", i, j);
				bad = put(st, key, (size_t)(60 + 10 * j) * KIB, (uint32_t)(100 + 16 * i + j), 0, NULL) != 0;
			}
			cache_store_close(st);
			_exit(bad);
		}
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_int_equal(status, 0);
	}
	assert_int_equal(cache_stats(f->st, &s), 0);
	assert_true(s.bytes <= 1 * MIB);
	assert_true(s.entries > 0);
	assert_int_equal(s.entries, s.blobs);
	assert_int_equal(usage_bytes(f, &reserved), s.bytes);
	assert_int_equal(reserved, 0);
	assert_int_equal(count(f, "tmp"), 0);
}

/* Flip one byte in key's blob. */
static void corrupt(const struct fixture *f, const char *key)
{
	struct cache_entry e;
	char path[256];
	int fd;
	uint8_t c;

	assert_int_equal(cache_lookup(f->st, key, &e, &fd), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%s", f->dir, e.blob, e.blob);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, 17), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, 17), 1);
	close(fd);
}

static void test_verify(void **state)
{
	struct fixture *f = *state;
	uint64_t checked, bad;

	assert_int_equal(put(f->st, "ok", 50 * KIB, 20, 0, NULL), 0);
	assert_int_equal(put(f->st, "bad", 50 * KIB, 21, 0, NULL), 0);
	assert_int_equal(cache_verify(f->st, &checked, &bad), 0);
	assert_int_equal(checked, 2);
	assert_int_equal(bad, 0);
	corrupt(f, "bad");
	assert_int_equal(cache_verify(f->st, &checked, &bad), 0);
	assert_int_equal(checked, 2);
	assert_int_equal(bad, 1);
	assert_miss(f->st, "bad");
	assert_hit(f->st, "ok", 50 * KIB, 20);
	assert_int_equal(count(f, "blobs"), 1);
	assert_int_equal(count(f, "meta"), 1);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_gc(void **state)
{
	struct fixture *f = *state;
	struct cache_writer *w;
	char path[256], usage[128];
	struct cache_entry e;
	uint64_t freed;
	int fd;

	assert_int_equal(put(f->st, "kept", 100 * KIB, 30, 0, NULL), 0);
	assert_int_equal(put(f->st, "orphan", 200 * KIB, 31, 0, NULL), 0);
	assert_int_equal(put(f->st, "young", 10 * KIB, 32, 0, NULL), 0);
	/* orphan's record goes by hand: its blob is named by nothing, and old */
	assert_int_equal(cache_lookup(f->st, "orphan", &e, &fd), 0);
	close(fd);
	record_path(f, "orphan", path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	record_path(f, "young", path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%s", f->dir, e.blob, e.blob);
	struct timespec old[2] = { { .tv_sec = time(NULL) - 3600 }, { .tv_sec = time(NULL) - 3600 } };
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);

	assert_int_equal(cache_gc(f->st, 1 * MIB, &freed), 0);
	assert_int_equal(freed, 200 * KIB);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(count(f, "blobs"), 2); /* kept's, and young's: it may be a commit in flight */
	assert_hit(f->st, "kept", 100 * KIB, 30);

	/* gc to a smaller cap evicts */
	assert_int_equal(cache_gc(f->st, 50 * KIB, &freed), 0);
	assert_int_equal(freed, 100 * KIB);
	assert_miss(f->st, "kept");

	/* a usage file that lies (bytes no blob holds) blocks writers until gc recounts */
	snprintf(usage, sizeof(usage), "%s/usage", f->dir);
	write_file(usage, "sluice-usage 1\nbytes 1000000\nreserved 0\nhits 0\nmisses 0\ncap 1048576\n");
	assert_int_equal(cache_writer_new(f->st, 200 * KIB, &w), -ENOSPC);
	assert_int_equal(cache_gc(f->st, 1 * MIB, &freed), 0);
	assert_int_equal(cache_writer_new(f->st, 200 * KIB, &w), 0);
	cache_writer_abort(w);
}

static void test_purge(void **state)
{
	struct fixture *f = *state;
	struct cache_stats s;
	struct stat sb;

	assert_int_equal(put(f->st, "x", 10 * KIB, 40, 0, NULL), 0);
	assert_int_equal(put(f->st, "y", 10 * KIB, 41, 0, NULL), 0);
	cache_count(f->st, true);
	assert_int_equal(cache_purge(f->st), 0);
	assert_int_equal(count(f, "blobs") + count(f, "meta") + count(f, "tmp"), 0);
	assert_int_equal(stat(f->dir, &sb), 0);
	assert_miss(f->st, "x");
	assert_int_equal(cache_stats(f->st, &s), 0);
	assert_int_equal(s.entries + s.blobs + s.bytes + s.hits + s.misses + s.reserved, 0);
	assert_int_equal(put(f->st, "x", 10 * KIB, 42, 0, NULL), 0);
	assert_hit(f->st, "x", 10 * KIB, 42);
}

static void test_bad_records(void **state)
{
	struct fixture *f = *state;
	char a[256], b[256], text[4096];

	assert_int_equal(put(f->st, "a", 1000, 50, 0, NULL), 0);
	assert_int_equal(put(f->st, "b", 1000, 51, 0, NULL), 0);
	record_path(f, "a", a, sizeof(a));
	record_path(f, "b", b, sizeof(b));
	/* garbage JSON is a miss, and is dropped */
	write_file(a, "{\"v\":1,\"key\":\"a\",\"blob\":");
	assert_miss(f->st, "a");
	assert_int_equal(access(a, F_OK), -1);
	/* another key's record under this name is a miss */
	int fd = open(b, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, text, sizeof(text) - 1);
	assert_true(n > 0);
	text[n] = '\0';
	close(fd);
	write_file(a, text);
	assert_miss(f->st, "a");
	assert_hit(f->st, "b", 1000, 51);
	/* a record whose blob is the wrong size, or gone */
	struct cache_entry e;
	assert_int_equal(cache_lookup(f->st, "b", &e, &fd), 0);
	close(fd);
	snprintf(text, sizeof(text), "{\"v\":1,\"key\":\"a\",\"blob\":\"%s\",\"size\":999}", e.blob);
	write_file(a, text);
	assert_miss(f->st, "a");
	assert_int_equal(access(a, F_OK), -1);
	snprintf(text, sizeof(text), "{\"v\":1,\"key\":\"a\",\"blob\":\"%s\",\"size\":1000}", e.blob);
	write_file(a, text);
	assert_hit(f->st, "a", 1000, 51); /* the same record, right: served */
	write_file(a, "{\"v\":1,\"key\":\"a\",\"blob\":\"00000000000000000000000000000000"
		      "00000000000000000000000000000000\",\"size\":1000}");
	assert_miss(f->st, "a");
	assert_int_equal(access(a, F_OK), -1);
}

/* Write a's record naming blob (1000 bytes) with field set to value, a
 * JSON string's inside as written. */
static void write_record(const char *path, const char *blob, const char *field, const char *value)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "{\"v\":1,\"key\":\"a\",\"blob\":\"%s\",\"size\":1000,\"stored_ms\":1700000000000,\"%s\":\"%s\"}", blob,
		 field, value);
	write_file(path, text);
}

/* The store is a directory other processes (and users) write: a record
 * whose validators or types hold a CR, LF, NUL or another control byte, or
 * do not fit, or that is cut short, is a miss (and dropped), never the
 * head of an answer. */
static void test_record_controls(void **state)
{
	static const char *const fields[] = { "etag", "last_modified", "content_type", "content_encoding",
					      "package" };
	static const char *const bad[] = { "x\\r\\nSet-Cookie: s=1", "x\\nX: 1", "x\\r", "x\\u0000y", "\\u001b[1m",
					   "x\x7f", "x\\u007f", "a\\tb", "\\u0085\\r\\n" };
	struct fixture *f = *state;
	struct cache_entry e;
	char a[256], blob[65], big[300], text[2048];
	int fd;

	assert_int_equal(put(f->st, "a", 1000, 50, 0, NULL), 0);
	assert_int_equal(cache_lookup(f->st, "a", &e, &fd), 0);
	close(fd);
	memcpy(blob, e.blob, sizeof(blob));
	record_path(f, "a", a, sizeof(a));
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			write_record(a, blob, fields[i], bad[j]);
			assert_miss(f->st, "a");
			assert_int_equal(access(a, F_OK), -1);
		}
	/* 255 bytes of etag fit, 256 do not */
	memset(big, 'e', 255);
	big[255] = '\0';
	write_record(a, blob, "etag", big);
	assert_int_equal(cache_lookup(f->st, "a", &e, &fd), 0);
	close(fd);
	assert_string_equal(e.etag, big);
	strcat(big, "e");
	write_record(a, blob, "etag", big);
	assert_miss(f->st, "a");
	/* cut short, or a size its blob does not have, or a NUL in the key */
	write_record(a, blob, "content_type", "application/x-tar");
	int rfd = open(a, O_RDONLY);
	ssize_t n = read(rfd, text, sizeof(text) - 1);
	close(rfd);
	assert_true(n > 10);
	text[n - 2] = '\0';
	write_file(a, text);
	assert_miss(f->st, "a");
	const char *sizes[] = { "1001", "0", "-1", "9223372036854775807", "1e3", "\"1000\"" };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(text, sizeof(text), "{\"v\":1,\"key\":\"a\",\"blob\":\"%s\",\"size\":%s}", blob, sizes[i]);
		write_file(a, text);
		assert_miss(f->st, "a");
	}
	snprintf(text, sizeof(text), "{\"v\":1,\"key\":\"a\\u0000b\",\"blob\":\"%s\",\"size\":1000}", blob);
	assert_int_equal(cache_record_parse(text, strlen(text), NULL, &e), -EBADMSG);
	/* a plain one is served, its fields as they were */
	write_record(a, blob, "content_type", "application/octet-stream; q=\\\"x\\\"");
	assert_int_equal(cache_lookup(f->st, "a", &e, &fd), 0);
	close(fd);
	assert_string_equal(e.content_type, "application/octet-stream; q=\"x\"");
	/* and what a read would refuse is never written */
	snprintf(e.etag, sizeof(e.etag), "\"v2\"\r\nX: 1");
	assert_int_equal(cache_update(f->st, "a", &e), -EINVAL);
	assert_int_equal(cache_lookup(f->st, "a", &e, &fd), 0);
	close(fd);
	assert_string_equal(e.etag, "");
}

static void test_keys(void **state)
{
	struct fixture *f = *state;
	char *long_key = malloc(CACHE_KEY_MAX + 1);

	assert_non_null(long_key);
	memset(long_key, 'k', CACHE_KEY_MAX);
	long_key[CACHE_KEY_MAX] = '\0';
	assert_int_equal(put(f->st, long_key, 100, 60, 0, NULL), -EINVAL);
	long_key[CACHE_KEY_MAX - 1] = '\0';
	assert_int_equal(put(f->st, long_key, 100, 60, 0, NULL), 0);
	assert_hit(f->st, long_key, 100, 60);
	assert_int_equal(put(f->st, "bad\xff/utf8", 100, 61, 0, NULL), -EINVAL);
	assert_int_equal(put(f->st, "", 100, 61, 0, NULL), -EINVAL);
	/* quotes and backslashes round-trip through the record */
	assert_int_equal(put(f->st, "h/p?q=\"x\\y\"\n", 100, 62, 0, NULL), 0);
	assert_hit(f->st, "h/p?q=\"x\\y\"\n", 100, 62);
	assert_int_equal(count(f, "blobs"), 2);
	assert_int_equal(count(f, "tmp"), 0);
	free(long_key);
}

static void test_default_dir(void **state)
{
	char buf[256];

	(void)state;
	if (geteuid() == 0) {
		assert_int_equal(cache_default_dir(buf, sizeof(buf)), 0);
		assert_string_equal(buf, "/var/cache/sluice");
		return;
	}
	setenv("XDG_CACHE_HOME", "/x/cache", 1);
	assert_int_equal(cache_default_dir(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/x/cache/sluice");
	unsetenv("XDG_CACHE_HOME");
	setenv("HOME", "/home/u", 1);
	assert_int_equal(cache_default_dir(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/home/u/.cache/sluice");
	assert_int_equal(cache_default_dir(buf, 10), -ENAMETOOLONG);
}

static void test_cap_remembered(void **state)
{
	struct fixture *f = *state;
	struct cache_store *st;
	struct cache_stats s;

	/* `sluice cache` opens with 0: the cap the proxy opened with */
	assert_int_equal(cache_store_open(f->dir, 0, &st), 0);
	assert_int_equal(cache_stats(st, &s), 0);
	assert_int_equal(s.max_bytes, 1 * MIB);
	cache_store_close(st);
}

/* Counts made in memory reach the shared counters at a flush, with the
 * handle's next change of DIR/usage (a commit), and at close; never twice. */
static void test_count_later(void **state)
{
	struct fixture *f = *state;
	struct cache_store *other;
	struct cache_stats s;

	assert_int_equal(cache_store_open(f->dir, 1 * MIB, &other), 0);
	cache_count_later(f->st, true);
	cache_count_later(f->st, true);
	cache_count_later(f->st, false);
	assert_int_equal(cache_stats(other, &s), 0);
	assert_int_equal(s.hits + s.misses, 0);
	assert_int_equal(cache_count_flush(f->st), 0);
	assert_int_equal(cache_stats(other, &s), 0);
	assert_int_equal(s.hits, 2);
	assert_int_equal(s.misses, 1);
	assert_int_equal(cache_count_flush(f->st), 0);
	cache_count_later(f->st, true);
	assert_int_equal(put(f->st, "registry.npmjs.org/a/-/a-1.0.0.tgz", 3000, 1, 3000, NULL), 0);
	assert_int_equal(cache_stats(other, &s), 0);
	assert_int_equal(s.hits, 3);
	cache_count_later(f->st, false);
	cache_count(other, true);
	cache_store_close(f->st);
	f->st = NULL;
	assert_int_equal(cache_stats(other, &s), 0);
	assert_int_equal(s.hits, 4);
	assert_int_equal(s.misses, 2);
	cache_store_close(other);
}

/* A large body written on a flusher thread: a reader of the growing file
 * never sees more than is in it, the verdict (a published SHA-512) and the
 * stored bytes are those of a synchronous writer, a mismatch stores
 * nothing, and an abort mid-body (its thread still busy) leaves no file. */
static void test_async_writer(void **state)
{
	struct fixture *f = *state;
	size_t n = 21 * MIB + 5;
	uint8_t *p = body(n, 11), *got = malloc(n);
	struct cache_hash want = digest(CACHE_ALG_SHA512, p, n), bad = digest(CACHE_ALG_SHA512, p, n - 1);
	struct cache_entry e = { 0 };
	struct cache_writer *w;

	assert_non_null(got);
	cache_store_close(f->st); /* a cap that holds it */
	assert_int_equal(cache_store_open(f->dir, 64 * MIB, &f->st), 0);
	for (int round = 0; round < 2; round++) {
		const struct cache_hash *h = round ? &bad : &want;
		assert_int_equal(cache_writer_new(f->st, n, &w), 0);
		assert_int_equal(cache_writer_expect(w, h), 0);
		assert_int_equal(cache_writer_async(w), 0);
		assert_int_equal(cache_writer_async(w), -EINVAL); /* one flusher */
		int fd = dup(cache_writer_fd(w));
		for (size_t off = 0; off < n; off += 300 * KIB + 1) {
			size_t k = n - off < 300 * KIB + 1 ? n - off : 300 * KIB + 1;
			struct iovec v[2] = { { p + off, k / 2 }, { p + off + k / 2, k - k / 2 } };
			assert_int_equal(cache_writer_writev(w, v, 2), 0);
			uint64_t in = cache_writer_written(w), from = in > 64 * KIB ? in - 64 * KIB : 0;
			assert_true(in <= cache_writer_size(w));
			assert_int_equal(pread(fd, got, in - from, (off_t)from), (ssize_t)(in - from));
			assert_memory_equal(got, p + from, in - from);
		}
		assert_int_equal(cache_writer_flush(w), 0);
		assert_int_equal(cache_writer_written(w), n);
		assert_int_equal(cache_writer_check(w, h), round ? -EBADMSG : 0);
		assert_int_equal(cache_writer_commit(w, "registry.npmjs.org/big/-/big-1.tgz", &e, h),
				 round ? -EBADMSG : 0);
		close(fd);
		if (round)
			assert_int_equal(cache_remove(f->st, "registry.npmjs.org/big/-/big-1.tgz"), 0);
		else
			assert_hit(f->st, "registry.npmjs.org/big/-/big-1.tgz", n, 11);
	}
	assert_miss(f->st, "registry.npmjs.org/big/-/big-1.tgz");
	assert_int_equal(cache_writer_new(f->st, n, &w), 0);
	assert_int_equal(cache_writer_async(w), 0);
	assert_int_equal(cache_writer_write(w, p, n), 0);
	cache_writer_abort(w);
	assert_int_equal(count(f, "tmp"), 0);
	struct cache_stats cs;
	assert_int_equal(cache_stats(f->st, &cs), 0);
	assert_int_equal(cs.reserved, 0);
	free(p);
	free(got);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_round_trip), T(test_update_in_place), T(test_other_hashes), T(test_hash_mismatch), T(test_abort),
		T(test_stray_temp_files), T(test_lru_eviction), T(test_over_the_cap), T(test_two_handles),
		T(test_processes_share_usage), T(test_check_before_commit), T(test_threads_share_usage),
		T(test_verify), T(test_gc), T(test_purge), T(test_bad_records), T(test_record_controls),
		T(test_keys), T(test_default_dir), T(test_cap_remembered), T(test_count_later), T(test_async_writer),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
