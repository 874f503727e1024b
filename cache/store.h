/* store.h: the package cache's store on disk.
 *
 * DOC: Layout (DIR is --cache DIR)
 *   DIR/blobs/ab/abcdef...   bodies, named by the SHA-256 of their bytes (hex)
 *   DIR/meta/ab/abcdef...    one small JSON record per key, named by SHA-256(key)
 *   DIR/tmp/                 bodies being written (flock'd by their writer)
 *   DIR/usage                total bytes of blobs, updated under flock
 * A body is written to DIR/tmp, hashed as it is written, checked against the
 * hash the ecosystem publishes (when the caller knows one), fsynced, and
 * renamed into blobs/; the record is written to a temporary file and renamed
 * over the old one. A crash leaves the old entry or the new one, never a
 * partial file that is served; temporary files whose writer is gone (no
 * flock held) are removed when a store is opened. Many processes may share
 * one store: renames are atomic and usage is counted under flock. A handle
 * belongs to one thread at a time; one inherited over fork reopens its lock
 * files on first use, so each process's locks are its own.
 *
 * A record's blob goes with it (replaced, removed or evicted), even when
 * another key names the same bytes: that key then misses and is fetched
 * again. Races between processes can cost a miss, never a wrong answer.
 * cache_gc recounts DIR/usage from the files (after a crash, or files removed
 * by hand).
 *
 * Keys are "host/path?query" plus a variant (see cache_key); they never
 * hold credentials (requests with Authorization or cookies are never stored).
 * A key is UTF-8 text without NUL, shorter than CACHE_KEY_MAX; others get
 * -EINVAL. It is kept inside its record and compared on lookup.
 */
#ifndef SLUICE_CACHE_STORE_H
#define SLUICE_CACHE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define CACHE_KEY_MAX 2048
#define CACHE_IOV_MAX 64 /* pieces one cache_writer_writev takes */
#define CACHE_DEFAULT_MAX (10ULL << 30) /* --cache-max when not given */

struct cache_store;
struct cache_writer;

enum cache_alg { CACHE_ALG_NONE, CACHE_ALG_SHA1, CACHE_ALG_SHA256, CACHE_ALG_SHA512 };

/* A digest an ecosystem publishes for an object (npm dist.integrity, Debian
 * by-hash names and Packages, PyPI #sha256=). */
struct cache_hash {
	enum cache_alg alg;
	uint8_t d[64];
};

/* What is kept about one stored response. */
struct cache_entry {
	char blob[65];              /* SHA-256 of the body, hex (filled by commit) */
	uint64_t size;              /* body bytes */
	int64_t stored_ms;          /* wall clock (ms) when fetched or last revalidated */
	char etag[256];             /* validators, "" when upstream sent none */
	char last_modified[64];
	char content_type[256];     /* kept so the answer is the upstream's own */
	char content_encoding[64];
	char package[256];          /* "npm:express@4.21.2", "" when not known */
};

/*
 * The default --cache DIR: /var/cache/sluice for root, else
 * $XDG_CACHE_HOME/sluice or $HOME/.cache/sluice. Writes into buf; 0,
 * -ENOENT (no home) or -ENAMETOOLONG.
 */
int cache_default_dir(char *buf, size_t size);

/*
 * Open (creating as needed, mode 0700 directories) the store at dir with a
 * cap of max_bytes, removing stray temporary files. The cap is recorded in
 * DIR/usage; max_bytes 0 takes the one recorded last (CACHE_DEFAULT_MAX when
 * none), for `sluice cache`. Returns 0 or -errno.
 */
int cache_store_open(const char *dir, uint64_t max_bytes, struct cache_store **out);
/* The cap the store was opened with (or took from DIR/usage). */
uint64_t cache_store_cap(const struct cache_store *st);
/* Close the store (NULL is fine). Writers must be committed or aborted first. */
void cache_store_close(struct cache_store *st);

/*
 * Look key up. Returns 0 with *e filled and *fd an O_RDONLY descriptor of the
 * blob (the caller closes it), and marks the entry used (LRU); -ENOENT when
 * there is no entry or its blob is gone (the stale record is dropped).
 */
int cache_lookup(struct cache_store *st, const char *key, struct cache_entry *e, int *fd);

/*
 * Parse a record's bytes (what DIR/meta holds) into *e; when key is not
 * NULL the record must be key's. Returns 0, or -EBADMSG for anything else:
 * not a record, another key's, a field too long for *e, or a text field
 * holding a control byte (CR, LF, NUL, ...), which must never reach an
 * answer's head. Lookups go through it; exposed for tests and fuzzing.
 */
int cache_record_parse(const char *buf, size_t len, const char *key, struct cache_entry *e);

/* Rewrite key's record (after a 304: new stored_ms and validators), not
 * fsynced: a crash may keep the old record, or drop it (a miss), never
 * serve a wrong one. 0 or -errno. */
int cache_update(struct cache_store *st, const char *key, const struct cache_entry *e);

/* Drop key's record and its blob (descriptors already open stay readable).
 * 0 or -ENOENT. */
int cache_remove(struct cache_store *st, const char *key);

/*
 * Start writing a body. expect_len is the Content-Length when known (0 when
 * not): that much is reserved at once, evicting least recently used entries
 * as needed. Returns 0, or -ENOSPC when the body cannot fit under the cap,
 * or -errno.
 */
int cache_writer_new(struct cache_store *st, uint64_t expect_len, struct cache_writer **out);

/* The temporary file, for readers that follow a growing body with pread. */
int cache_writer_fd(const struct cache_writer *w);

/* Bytes written so far. */
uint64_t cache_writer_size(const struct cache_writer *w);

/* Append n bytes. Returns 0, or -ENOSPC past the cap or on a full disk
 * (the writer is then only good for abort). */
int cache_writer_write(struct cache_writer *w, const void *p, size_t n);

/*
 * Finish: check the body against want (when want->alg is not NONE), fsync,
 * rename the blob into place and write key's record from *e (blob and size
 * are filled in). Returns 0, -EBADMSG on a hash mismatch (nothing stored), or
 * -errno. The writer is freed in every case.
 */
int cache_writer_commit(struct cache_writer *w, const char *key, struct cache_entry *e,
			const struct cache_hash *want);

/* Hash the body with want's algorithm too as it is written (call before
 * the first write), so checking it needs no second pass over the file.
 * 0, -EINVAL after a write, or -ENOMEM. */
int cache_writer_expect(struct cache_writer *w, const struct cache_hash *want);

/* Append the n pieces of iov (n <= CACHE_IOV_MAX) in one writev. As
 * cache_writer_write. */
int cache_writer_writev(struct cache_writer *w, const struct iovec *iov, int n);

/*
 * The body is complete: finish its hashes and check it against want (NULL
 * or alg NONE: nothing to check). Returns 0, -EBADMSG on a mismatch, or
 * -errno; the verdict is kept, and commit (which checks too) reuses it.
 * Cheap, so a caller can know the verdict before it serves the body, and
 * leave the commit's fsyncs to another thread.
 */
int cache_writer_check(struct cache_writer *w, const struct cache_hash *want);

/* After cache_writer_check: the body's SHA-256 in hex (its blob's name);
 * "" before. */
const char *cache_writer_hex(const struct cache_writer *w);

/* From now on hash and write w's bytes on a thread of its own (call
 * before the first write): cache_writer_writev then only copies them
 * (waiting when 8 MiB are still to be written), and reports a failed
 * write at a later call. For large bodies: the caller's thread is left
 * with its network. 0, -EAGAIN (CACHE_ASYNC_MAX writers have one
 * already), -EINVAL after a write, or -errno; w stays synchronous then. */
int cache_writer_async(struct cache_writer *w);

/* Bytes in the file so far, which a reader may pread (from any thread);
 * behind cache_writer_size while a flusher has some still to write. */
uint64_t cache_writer_written(const struct cache_writer *w);

/* Wait until every byte written so far is in the file. 0, or the error of
 * a write that failed on the flusher (the writer is then only good for
 * abort). */
int cache_writer_flush(struct cache_writer *w);

/* Throw the body away and free the writer. */
void cache_writer_abort(struct cache_writer *w);

/* For `sluice cache`. */
struct cache_stats {
	uint64_t entries, blobs, bytes, max_bytes;
	uint64_t hits, misses; /* counted in DIR/usage by every process using the store */
	uint64_t reserved;     /* bytes held by writers in progress */
};
/* Count records and blobs (bytes: what the blobs hold on disk). 0 or -errno. */
int cache_stats(struct cache_store *st, struct cache_stats *out);
/* Count one hit or miss in the shared counters. */
void cache_count(struct cache_store *st, bool hit);
/* Count one hit or miss in memory (no system call, any thread): it reaches
 * the shared counters with this handle's next change of DIR/usage, at
 * cache_count_flush, or at cache_store_close. */
void cache_count_later(struct cache_store *st, bool hit);
/* Write the counts cache_count_later made to the shared counters, without
 * waiting: -EAGAIN (the counts stay in memory) when a commit or another
 * process holds DIR/usage, so an event loop never waits for another
 * process's lock; call again later. 0 or -errno. */
int cache_count_flush(struct cache_store *st);
/* Re-hash every blob; drop the bad ones and the records pointing at them.
 * *bad gets how many were dropped. 0 or -errno. */
int cache_verify(struct cache_store *st, uint64_t *checked, uint64_t *bad);
/* Evict least recently used entries until bytes <= max_bytes, drop records
 * whose blob is gone and blobs no record names (unless younger than a minute:
 * a commit may be on its way), and recount DIR/usage. *freed gets the bytes
 * freed. 0 or -errno. */
int cache_gc(struct cache_store *st, uint64_t max_bytes, uint64_t *freed);
/* Remove every entry and zero the counters; files of live writers stay
 * (their bodies are committed or aborted by them). 0 or -errno. */
int cache_purge(struct cache_store *st);

/* Parse "10G", "512M", "1048576" (K, M, G, T: powers of 1024). 0 or -EINVAL. */
int cache_parse_size(const char *text, uint64_t *out);

#endif
