/* store_record.c: the JSON records in DIR/meta (one per key, named by the
 * SHA-256 of the key, holding the key itself) and lookups through them. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_priv.h"

#define RECORD_VERSION 1

int cache_key_hex(const char *key, char out[CACHE_HEX_LEN + 1])
{
	uint8_t md[32];
	unsigned mdlen = 0;
	size_t len = key ? strnlen(key, CACHE_KEY_MAX) : 0;

	if (len == 0 || len >= CACHE_KEY_MAX)
		return -EINVAL;
	json_t *text = json_stringn(key, len); /* the record keeps it: UTF-8 only */
	if (!text)
		return -EINVAL;
	json_decref(text);
	if (!EVP_Digest(key, len, md, &mdlen, EVP_sha256(), NULL))
		return -ENOMEM;
	cache_hex(md, sizeof(md), out);
	return 0;
}

/* Whether s holds no control byte (CR, LF, NUL, tab, DEL, ...): the
 * validators and types go into answer heads and upstream requests as they
 * are, and the store is a directory other processes write. */
static bool plain_text(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* A string field of at most size - 1 bytes without control bytes; ""
 * when absent. */
static int get_str(json_t *o, const char *name, char *out, size_t size)
{
	json_t *v = json_object_get(o, name);

	if (!v) {
		out[0] = '\0';
		return 0;
	}
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (!s || len >= size || !plain_text(s, len))
		return -EBADMSG;
	memcpy(out, s, len + 1);
	return 0;
}

/* Whether the record's key v is a string without NUL, and key's (unless NULL). */
static bool key_ok(json_t *v, const char *key)
{
	const char *k = json_string_value(v);

	return k && strlen(k) == json_string_length(v) && (!key || strcmp(k, key) == 0);
}

int cache_record_parse(const char *buf, size_t len, const char *key, struct cache_entry *e)
{
	json_error_t jerr;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *size = json_object_get(o, "size"), *ms = json_object_get(o, "stored_ms");
	int rc = -EBADMSG;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(o) || json_integer_value(json_object_get(o, "v")) != RECORD_VERSION ||
	    !key_ok(json_object_get(o, "key"), key) || !json_is_integer(size) || json_integer_value(size) < 0 ||
	    (ms && !json_is_integer(ms)))
		goto out;
	e->size = (uint64_t)json_integer_value(size);
	e->stored_ms = ms ? (int64_t)json_integer_value(ms) : 0;
	if (get_str(o, "blob", e->blob, sizeof(e->blob)) < 0 || !cache_is_hex(e->blob) ||
	    get_str(o, "etag", e->etag, sizeof(e->etag)) < 0 ||
	    get_str(o, "last_modified", e->last_modified, sizeof(e->last_modified)) < 0 ||
	    get_str(o, "content_type", e->content_type, sizeof(e->content_type)) < 0 ||
	    get_str(o, "content_encoding", e->content_encoding, sizeof(e->content_encoding)) < 0 ||
	    get_str(o, "package", e->package, sizeof(e->package)) < 0)
		goto out;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* openat O_RDONLY, without the access-time update a read would journal
 * (LRU goes by the record's mtime, set on use); O_NOATIME needs the file's
 * owner: a store shared with another user opens without it. */
static int open_ro(int dir, const char *path, int flags)
{
	int fd = openat(dir, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOATIME | flags);

	if (fd < 0 && errno == EPERM)
		fd = openat(dir, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | flags);
	return fd;
}

/* Read the record open as fd whole into buf (CACHE_RECORD_MAX + 1 bytes):
 * its length, or -EBADMSG when it is longer than a record may be. */
static ssize_t read_record(int fd, char *buf)
{
	ssize_t n = 0;

	for (ssize_t k = 1; k > 0 && n <= CACHE_RECORD_MAX; n += k)
		if ((k = read(fd, buf + n, (size_t)(CACHE_RECORD_MAX + 1 - n))) < 0)
			break;
	return n > CACHE_RECORD_MAX ? -EBADMSG : n;
}

int cache_record_read(struct cache_store *st, const char *hex, const char *key, struct cache_entry *e,
		      int *fdout)
{
	char path[CACHE_SUB_PATH], *buf = malloc(CACHE_RECORD_MAX + 1);
	ssize_t n = 0;
	int rc = 0;

	cache_sub_path(hex, path);
	int fd = buf ? open_ro(st->meta, path, O_NONBLOCK) : -1;
	if (fd < 0) {
		rc = buf ? -errno : -ENOMEM;
		goto out;
	}
	n = read_record(fd, buf);
	rc = n < 0 ? (int)n : cache_record_parse(buf, (size_t)n, key, e);
	if (rc == 0 && fdout) {
		*fdout = fd;
		fd = -1;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

void cache_record_drop(struct cache_store *st, const char *hex, int fd)
{
	char path[CACHE_SUB_PATH];
	struct stat a, b;

	cache_sub_path(hex, path);
	/* a writer may have renamed a good record in since we read the bad one */
	if (fd >= 0 && (fstat(fd, &a) < 0 || fstatat(st->meta, path, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
			a.st_ino != b.st_ino || a.st_dev != b.st_dev))
		return;
	unlinkat(st->meta, path, 0);
}

uint64_t cache_blob_drop(struct cache_store *st, const char *hex)
{
	char path[CACHE_SUB_PATH];
	struct stat sb;

	cache_sub_path(hex, path);
	if (fstatat(st->blobs, path, &sb, AT_SYMLINK_NOFOLLOW) < 0 || unlinkat(st->blobs, path, 0) < 0)
		return 0;
	cache_usage_add(st, -(int64_t)sb.st_size, 0);
	return (uint64_t)sb.st_size;
}

/* Open record hex for reading without parsing it into an entry (to drop it). */
static int record_fd(struct cache_store *st, const char *hex)
{
	char path[CACHE_SUB_PATH];

	cache_sub_path(hex, path);
	return openat(st->meta, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
}

int cache_lookup(struct cache_store *st, const char *key, struct cache_entry *e, int *fd)
{
	char hex[CACHE_HEX_LEN + 1], path[CACHE_SUB_PATH];
	int rfd = -1, bfd = -1, rc = cache_key_hex(key, hex);
	struct stat sb;

	if (rc == 0)
		rc = cache_record_read(st, hex, key, e, &rfd);
	if (rc == -EBADMSG && (rfd = record_fd(st, hex)) >= 0)
		goto drop;
	if (rc < 0)
		return rc == -EBADMSG ? -ENOENT : rc;
	cache_sub_path(e->blob, path);
	bfd = open_ro(st->blobs, path, 0);
	if (bfd < 0 || fstat(bfd, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != e->size)
		goto drop;
	cache_touch(rfd);
	close(rfd);
	*fd = bfd;
	return 0;
drop:
	cache_record_drop(st, hex, rfd);
	close(rfd);
	if (bfd >= 0)
		close(bfd);
	return -ENOENT;
}

static json_t *record_json(const char *key, const struct cache_entry *e)
{
	return json_pack("{si ss ss sI sI ss ss ss ss ss}", "v", RECORD_VERSION, "key", key, "blob", e->blob,
			 "size", (json_int_t)e->size, "stored_ms", (json_int_t)e->stored_ms, "etag", e->etag,
			 "last_modified", e->last_modified, "content_type", e->content_type,
			 "content_encoding", e->content_encoding, "package", e->package);
}

int cache_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EDQUOT ? -ENOSPC : -errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* fsync the directory that holds path ("ab/...") under base. */
int cache_sync_sub(int base, const char *path)
{
	char sub[3] = { path[0], path[1], '\0' };
	int fd = openat(base, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd < 0 || fsync(fd) < 0 ? -errno : 0;

	if (fd >= 0)
		close(fd);
	return rc;
}

/* Write the record to tmp/, fsync it (durable) and rename it over
 * meta/ab/<hex>. */
static int record_put(struct cache_store *st, const char *hex, const char *text, bool durable)
{
	char name[CACHE_TMP_NAME], path[CACHE_SUB_PATH];
	int fd = cache_tmp_create(st, name), rc = fd < 0 ? fd : 0;

	cache_sub_path(hex, path);
	if (rc == 0)
		rc = cache_write_all(fd, text, strlen(text));
	if (rc == 0 && durable && fsync(fd) < 0)
		rc = -errno;
	if (rc == 0) {
		cache_touch(fd);
		rc = cache_make_sub(st->meta, hex);
	}
	if (rc == 0 && renameat(st->tmp, name, st->meta, path) < 0)
		rc = -errno;
	if (rc == 0 && durable)
		rc = cache_sync_sub(st->meta, path);
	else if (rc < 0 && fd >= 0)
		unlinkat(st->tmp, name, 0);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Whether e's text fields are what a read takes back (no control bytes). */
static bool entry_plain(const struct cache_entry *e)
{
	const char *const f[] = { e->etag, e->last_modified, e->content_type, e->content_encoding, e->package };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!plain_text(f[i], strlen(f[i])))
			return false;
	return true;
}

/* cache_record_write, durable or not. */
static int record_write(struct cache_store *st, const char *key, const struct cache_entry *e, bool durable)
{
	char hex[CACHE_HEX_LEN + 1];
	struct cache_entry old;
	int rc = cache_key_hex(key, hex);

	if (rc < 0 || !cache_is_hex(e->blob) || !entry_plain(e))
		return rc < 0 ? rc : -EINVAL;
	json_t *o = record_json(key, e);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return -EINVAL; /* not UTF-8, or out of memory */
	bool had = cache_record_read(st, hex, key, &old, NULL) == 0;
	rc = record_put(st, hex, text, durable);
	free(text);
	/* the blob the old record named goes with it (else only gc would find it) */
	if (rc == 0 && had && strcmp(old.blob, e->blob) != 0)
		cache_blob_drop(st, old.blob);
	return rc;
}

int cache_record_write(struct cache_store *st, const char *key, const struct cache_entry *e)
{
	return record_write(st, key, e, true);
}

/* A 304's rewrite (the same blob, a new time and validators) is not
 * fsynced: it runs while the client waits, and a crash that loses it
 * leaves the old record (whole: the rename is atomic), which is only
 * revalidated again, or, where the file system did not keep the new
 * bytes, a record that does not parse, which is dropped: a miss. */
static bool same_but_time(const struct cache_entry *a, const struct cache_entry *b)
{
	return a->size == b->size && strcmp(a->blob, b->blob) == 0 && strcmp(a->etag, b->etag) == 0 &&
	       strcmp(a->last_modified, b->last_modified) == 0 && strcmp(a->content_type, b->content_type) == 0 &&
	       strcmp(a->content_encoding, b->content_encoding) == 0 && strcmp(a->package, b->package) == 0;
}

/* Overwrite the digits of stored_ms in buf's record (open as fd) with
 * ms's, when they are as many. A quote inside a JSON string is always
 * escaped, so ,"stored_ms": is only ever the key itself. */
static int put_time(int fd, const char *buf, size_t n, int64_t ms)
{
	static const char tag[] = ",\"stored_ms\":";
	const char *at = memmem(buf, n, tag, sizeof(tag) - 1);
	char digits[24];

	if (!at || ms < 0)
		return -ENOENT;
	size_t off = (size_t)(at - buf) + sizeof(tag) - 1, len = 0;
	while (off + len < n && buf[off + len] >= '0' && buf[off + len] <= '9')
		len++;
	int w = snprintf(digits, sizeof(digits), "%lld", (long long)ms);
	if (len == 0 || (size_t)w != len)
		return -ENOENT;
	if (pwrite(fd, digits, len, (off_t)off) != (ssize_t)len)
		return -errno;
	return 0;
}

/* A 304 changes only stored_ms: its digits are overwritten where they are
 * (the same width, until the year 2286), in place of a new file renamed
 * over the record: ext4's inode allocator took about a millisecond a
 * create here (recently_deleted scans) while the client waited. What a
 * crash or a concurrent reader may see is old digits, new ones, or a mix,
 * every one a record that parses: a time in the future is not fresh (it is
 * revalidated again), one in the past is stale sooner. -ENOENT: the record
 * differs otherwise, or the width changed: it is rewritten whole. */
static int refresh_in_place(struct cache_store *st, const char *key, const struct cache_entry *e)
{
	char hex[CACHE_HEX_LEN + 1], path[CACHE_SUB_PATH], *buf = malloc(CACHE_RECORD_MAX + 1);
	struct cache_entry old;
	int rc = buf ? cache_key_hex(key, hex) : -ENOMEM, fd = -1;

	if (rc == 0) {
		cache_sub_path(hex, path);
		fd = openat(st->meta, path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		rc = fd < 0 ? -ENOENT : 0;
	}
	ssize_t n = rc == 0 ? read_record(fd, buf) : -ENOENT;
	if (rc == 0 && (n < 0 || cache_record_parse(buf, (size_t)n, key, &old) < 0 || !same_but_time(&old, e)))
		rc = -ENOENT;
	if (rc == 0)
		rc = put_time(fd, buf, (size_t)n, e->stored_ms);
	if (rc == 0)
		cache_touch(fd);
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

int cache_update(struct cache_store *st, const char *key, const struct cache_entry *e)
{
	if (refresh_in_place(st, key, e) == 0)
		return 0;
	return record_write(st, key, e, false);
}

int cache_remove(struct cache_store *st, const char *key)
{
	char hex[CACHE_HEX_LEN + 1], path[CACHE_SUB_PATH];
	struct cache_entry old;
	int rc = cache_key_hex(key, hex);

	if (rc < 0)
		return rc;
	bool had = cache_record_read(st, hex, key, &old, NULL) == 0;
	cache_sub_path(hex, path);
	if (unlinkat(st->meta, path, 0) < 0)
		return -errno;
	if (had)
		cache_blob_drop(st, old.blob);
	return 0;
}
