/* store_priv.h: what the store's own files (store.c, store_writer.c,
 * store_admin.c) share; nothing outside cache/ includes it. */
#ifndef SLUICE_CACHE_STORE_PRIV_H
#define SLUICE_CACHE_STORE_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "store.h"

#define CACHE_HEX_LEN 64
#define CACHE_ASYNC_MAX 16 /* flusher threads per store at once; more writers write on the caller's thread */
#define CACHE_SUB_PATH 68   /* "ab/" + 64 hex + NUL */
#define CACHE_TMP_NAME 24   /* "w-" + 16 hex + NUL, with room */
#define CACHE_RECORD_MAX (16 * 1024) /* a key of CACHE_KEY_MAX escaped, plus the fields */

struct cache_store {
	int dir, blobs, meta, tmp; /* directory descriptors */
	int usage;                 /* DIR/usage, flock'd around every change */
	pid_t pid;                 /* who opened usage and tmp (flock is per open file) */
	pthread_mutex_t usage_mu;  /* ... so threads of one process take this too */
	/* counted, not yet in DIR/usage: atomics, so that counting takes no
	 * lock a commit may hold while it waits for another process's flock */
	_Atomic uint64_t later_hits, later_misses;
	uint64_t max_bytes;
	_Atomic unsigned nasync;   /* writers with a flusher thread (CACHE_ASYNC_MAX) */
};

/* DIR/usage: blob bytes, bytes reserved by live writers, shared counters. */
struct cache_usage {
	uint64_t bytes, reserved, hits, misses, cap;
	size_t text_len; /* of the text begin read: end truncates only when its own differs */
};

/* Lock DIR/usage and read it into *u. 0 or -errno. */
int cache_usage_begin(struct cache_store *st, struct cache_usage *u);
/* Write *u back (unless u is NULL) and unlock. 0 or -errno. */
int cache_usage_end(struct cache_store *st, const struct cache_usage *u);
/* Add signed deltas to bytes and reserved, clamping at 0. 0 or -errno. */
int cache_usage_add(struct cache_store *st, int64_t bytes, int64_t reserved);

/* store_flusher.c: a writer's bytes written on a thread of their own. The
 * sink hashes and writes n bytes (on that thread); 0 or -errno. */
typedef int (*cache_flush_sink)(void *arg, const uint8_t *p, size_t n);
struct cache_flusher;
/* Start the thread. 0 or -errno. */
int cache_flusher_new(cache_flush_sink sink, void *arg, struct cache_flusher **out);
/* Copy the pieces of iov in; waits while FLUSH_BLOCKS are queued. 0 or the
 * sink's first error. */
int cache_flusher_put(struct cache_flusher *fl, const struct iovec *iov, int n);
/* Wait until every byte put is through the sink. 0 or its first error. */
int cache_flusher_drain(struct cache_flusher *fl);
/* Bytes through the sink so far (from any thread). */
uint64_t cache_flusher_done(const struct cache_flusher *fl);
/* Stop the thread, dropping what is queued (NULL is fine). */
void cache_flusher_free(struct cache_flusher *fl);

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void cache_hex(const uint8_t *p, size_t n, char *out);
/* Whether name is 64 lowercase hex digits. */
bool cache_is_hex(const char *name);
/* "ab/abcdef..." for a hex name. */
void cache_sub_path(const char *hex, char out[CACHE_SUB_PATH]);

/* The record name for key (SHA-256, hex). 0, or -EINVAL for a key that is
 * empty, CACHE_KEY_MAX long or not UTF-8. */
int cache_key_hex(const char *key, char out[CACHE_HEX_LEN + 1]);
/*
 * Read the record named hex (in meta/). When key is not NULL it must match.
 * Returns 0 with *e filled (and *fd, when fd is not NULL, the open record),
 * -ENOENT when there is none, -EBADMSG when it is garbage or another key's.
 */
int cache_record_read(struct cache_store *st, const char *hex, const char *key, struct cache_entry *e,
		      int *fd);
/* Unlink record hex if it is still the file open as fd (-1: whatever is there). */
void cache_record_drop(struct cache_store *st, const char *hex, int fd);
/* Unlink blob hex and uncount its bytes. Returns the bytes freed (0 if gone). */
uint64_t cache_blob_drop(struct cache_store *st, const char *hex);

/* Write key's record from *e (e->blob must be hex); the blob the old record
 * named, when another, is dropped. 0, -EINVAL for a bad key, or -errno. */
int cache_record_write(struct cache_store *st, const char *key, const struct cache_entry *e);
/* write(2) all of p; a full disk or quota is -ENOSPC. 0 or -errno. */
int cache_write_all(int fd, const void *p, size_t n);
/* fsync the "ab" directory holding path ("ab/...") under base. 0 or -errno. */
int cache_sync_sub(int base, const char *path);

/* Create and flock a file in DIR/tmp. name gets its name. Returns fd or -errno. */
int cache_tmp_create(struct cache_store *st, char name[CACHE_TMP_NAME]);
/* Remove temporary files whose writer is gone. 0 or -errno. */
int cache_tmp_sweep(struct cache_store *st);
/* Create base's "ab" directory for hex if needed (fsyncing base). 0 or -errno. */
int cache_make_sub(int base, const char *hex);
/* Set fd's mtime to now, with the clock's full resolution (the LRU order). */
void cache_touch(int fd);

/*
 * Evict least recently used entries (record and blob) until target bytes
 * are freed or nothing is left. *freed gets the bytes freed. 0 or -errno.
 */
int cache_evict(struct cache_store *st, uint64_t target, uint64_t *freed);

#endif
