/* store.c: the package cache's store on disk: opening it, the shared usage
 * file and the temporary files (see store.h for the layout). Records and
 * lookups are in store_record.c, writers in store_writer.c, stats, verify,
 * gc and purge in store_admin.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_priv.h"

#define USAGE_TEXT_MAX 256

static const char *const dirs[] = { "blobs", "meta", "tmp" };

int cache_default_dir(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	if (geteuid() == 0)
		n = snprintf(buf, size, "/var/cache/sluice");
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, size, "%s/sluice", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, size, "%s/.cache/sluice", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

void cache_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

bool cache_is_hex(const char *name)
{
	size_t i = 0;

	for (; name[i] && i <= CACHE_HEX_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return i == CACHE_HEX_LEN;
}

void cache_sub_path(const char *hex, char out[CACHE_SUB_PATH])
{
	snprintf(out, CACHE_SUB_PATH, "%.2s/%s", hex, hex);
}

int cache_make_sub(int base, const char *hex)
{
	char sub[3] = { hex[0], hex[1], '\0' };

	if (mkdirat(base, sub, 0700) == 0)
		return fsync(base) < 0 ? -errno : 0; /* the new directory's own entry */
	return errno == EEXIST ? 0 : -errno;
}

void cache_touch(int fd)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[1] = ts[0];
	futimens(fd, ts);
}

/* mkdir -p for dir, new directories mode 0700. */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

static int open_dir_at(int base, const char *name, bool create)
{
	if (create && mkdirat(base, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(base, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

/* (Re)open the descriptors whose flocks must belong to this process. */
static int open_locks(struct cache_store *st)
{
	int tmp = open_dir_at(st->dir, "tmp", false);
	if (tmp < 0)
		return tmp;
	int usage = openat(st->dir, "usage", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (usage < 0) {
		int rc = -errno;
		close(tmp);
		return rc;
	}
	if (st->tmp >= 0)
		close(st->tmp);
	if (st->usage >= 0)
		close(st->usage);
	st->tmp = tmp;
	st->usage = usage;
	st->pid = getpid();
	return 0;
}

/* A handle inherited over fork would share its parent's locks: reopen. */
static int own_locks(struct cache_store *st)
{
	return st->pid == getpid() ? 0 : open_locks(st);
}

int cache_store_open(const char *dir, uint64_t max_bytes, struct cache_store **out)
{
	struct cache_store *st = calloc(1, sizeof(*st));
	int rc = st ? make_dirs(dir) : -ENOMEM;

	if (!st)
		return rc;
	st->blobs = st->meta = st->tmp = st->usage = -1;
	pthread_mutex_init(&st->usage_mu, NULL);
	st->dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rc == 0 && st->dir < 0)
		rc = -errno;
	int *fds[] = { &st->blobs, &st->meta, &st->tmp };
	for (size_t i = 0; rc == 0 && i < 3; i++) {
		*fds[i] = open_dir_at(st->dir, dirs[i], true);
		rc = *fds[i] < 0 ? *fds[i] : 0;
	}
	if (rc == 0)
		rc = open_locks(st);
	if (rc == 0)
		rc = cache_tmp_sweep(st);
	if (rc < 0)
		goto err;
	struct cache_usage u;
	if ((rc = cache_usage_begin(st, &u)) < 0)
		goto err;
	if (max_bytes == 0)
		max_bytes = u.cap ? u.cap : CACHE_DEFAULT_MAX;
	bool record = u.cap != max_bytes;
	u.cap = max_bytes;
	if ((rc = cache_usage_end(st, record ? &u : NULL)) < 0)
		goto err;
	st->max_bytes = max_bytes;
	*out = st;
	return 0;
err:
	cache_store_close(st);
	return rc;
}

static void count_flush_wait(struct cache_store *st);

void cache_store_close(struct cache_store *st)
{
	if (!st)
		return;
	if (st->usage >= 0)
		count_flush_wait(st);
	int fds[] = { st->dir, st->blobs, st->meta, st->tmp, st->usage };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pthread_mutex_destroy(&st->usage_mu);
	free(st);
}

uint64_t cache_store_cap(const struct cache_store *st)
{
	return st->max_bytes;
}

static int lock(int fd, int op)
{
	while (flock(fd, op) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* Garbage (a crash while writing, or another program) reads as zeros; gc recounts. */
static void usage_parse(const char *text, struct cache_usage *u)
{
	unsigned long long v[5];

	memset(u, 0, sizeof(*u));
	if (sscanf(text, "sluice-usage 1\nbytes %llu\nreserved %llu\nhits %llu\nmisses %llu\ncap %llu\n", &v[0],
		   &v[1], &v[2], &v[3], &v[4]) != 5)
		return;
	*u = (struct cache_usage){ .bytes = v[0], .reserved = v[1], .hits = v[2], .misses = v[3], .cap = v[4] };
}

/* Read DIR/usage into *u, both locks held; on failure both are let go. */
static int usage_read(struct cache_store *st, struct cache_usage *u)
{
	char text[USAGE_TEXT_MAX];
	ssize_t n = pread(st->usage, text, sizeof(text) - 1, 0);

	if (n < 0) {
		int rc = -errno;
		lock(st->usage, LOCK_UN);
		pthread_mutex_unlock(&st->usage_mu);
		return rc;
	}
	text[n] = '\0';
	usage_parse(text, u);
	u->text_len = (size_t)n;
	return 0;
}

int cache_usage_begin(struct cache_store *st, struct cache_usage *u)
{
	int rc;

	pthread_mutex_lock(&st->usage_mu); /* a commit on a worker thread shares st */
	if ((rc = own_locks(st)) < 0 || (rc = lock(st->usage, LOCK_EX)) < 0) {
		pthread_mutex_unlock(&st->usage_mu);
		return rc;
	}
	return usage_read(st, u);
}

static uint64_t add_clamped(uint64_t v, int64_t d);

int cache_usage_end(struct cache_store *st, const struct cache_usage *u)
{
	char text[USAGE_TEXT_MAX];
	int rc = 0;

	if (u) {
		errno = 0;
		/* the counts made with cache_count_later go with this write (and
		 * back to memory when it fails) */
		uint64_t lh = atomic_exchange(&st->later_hits, 0), lm = atomic_exchange(&st->later_misses, 0);
		uint64_t hits = add_clamped(u->hits, (int64_t)lh);
		uint64_t misses = add_clamped(u->misses, (int64_t)lm);
		/* fixed width, so an update never leaves a longer old tail behind
		 * (and the file is truncated only when it was not this text's width) */
		int n = snprintf(text, sizeof(text),
				 "sluice-usage 1\nbytes %020" PRIu64 "\nreserved %020" PRIu64 "\nhits %020" PRIu64
				 "\nmisses %020" PRIu64 "\ncap %020" PRIu64 "\n",
				 u->bytes, u->reserved, hits, misses, u->cap);
		if (pwrite(st->usage, text, (size_t)n, 0) != n ||
		    ((size_t)n != u->text_len && ftruncate(st->usage, n) < 0))
			rc = errno ? -errno : -EIO;
		if (rc < 0) {
			atomic_fetch_add(&st->later_hits, lh);
			atomic_fetch_add(&st->later_misses, lm);
		}
	}
	lock(st->usage, LOCK_UN);
	pthread_mutex_unlock(&st->usage_mu);
	return rc;
}

static uint64_t add_clamped(uint64_t v, int64_t d)
{
	if (d < 0)
		return (uint64_t)-d > v ? 0 : v - (uint64_t)-d;
	return UINT64_MAX - v < (uint64_t)d ? UINT64_MAX : v + (uint64_t)d;
}

int cache_usage_add(struct cache_store *st, int64_t bytes, int64_t reserved)
{
	struct cache_usage u;
	int rc = cache_usage_begin(st, &u);

	if (rc < 0)
		return rc;
	u.bytes = add_clamped(u.bytes, bytes);
	u.reserved = add_clamped(u.reserved, reserved);
	return cache_usage_end(st, &u);
}

void cache_count(struct cache_store *st, bool hit)
{
	struct cache_usage u;

	if (cache_usage_begin(st, &u) < 0)
		return;
	if (hit)
		u.hits++;
	else
		u.misses++;
	cache_usage_end(st, &u);
}

void cache_count_later(struct cache_store *st, bool hit)
{
	atomic_fetch_add(hit ? &st->later_hits : &st->later_misses, 1);
}

/* cache_usage_begin that waits for no one: -EAGAIN when another thread
 * (a commit, which may itself wait for another process) or another
 * process holds DIR/usage. */
static int usage_try_begin(struct cache_store *st, struct cache_usage *u)
{
	int rc;

	if (pthread_mutex_trylock(&st->usage_mu) != 0)
		return -EAGAIN;
	if ((rc = own_locks(st)) == 0 && flock(st->usage, LOCK_EX | LOCK_NB) < 0)
		rc = errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
	if (rc < 0) {
		pthread_mutex_unlock(&st->usage_mu);
		return rc;
	}
	return usage_read(st, u);
}

static bool counts_none(struct cache_store *st)
{
	return atomic_load(&st->later_hits) == 0 && atomic_load(&st->later_misses) == 0;
}

int cache_count_flush(struct cache_store *st)
{
	struct cache_usage u;

	if (counts_none(st))
		return 0;
	int rc = usage_try_begin(st, &u);
	return rc < 0 ? rc : cache_usage_end(st, &u);
}

/* At close: the counts are written, waiting for the lock if need be. */
static void count_flush_wait(struct cache_store *st)
{
	struct cache_usage u;

	if (!counts_none(st) && cache_usage_begin(st, &u) == 0)
		cache_usage_end(st, &u);
}

int cache_tmp_create(struct cache_store *st, char name[CACHE_TMP_NAME])
{
	uint8_t r[8];
	int fd = -EEXIST, rc = own_locks(st);

	/* the sweep takes tmp/ exclusively: it never sees a file before its flock */
	if (rc < 0 || (rc = lock(st->tmp, LOCK_SH)) < 0)
		return rc;
	for (int i = 0; i < 8 && fd == -EEXIST; i++) {
		if (RAND_bytes(r, sizeof(r)) != 1) {
			fd = -EIO;
			break;
		}
		snprintf(name, CACHE_TMP_NAME, "w-");
		cache_hex(r, sizeof(r), name + 2);
		fd = openat(st->tmp, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			fd = -errno;
	}
	if (fd >= 0 && (rc = lock(fd, LOCK_EX | LOCK_NB)) < 0) {
		unlinkat(st->tmp, name, 0);
		close(fd);
		fd = rc;
	}
	lock(st->tmp, LOCK_UN);
	return fd;
}

/* Remove name from tmp/ unless a writer holds it. Returns 1 when it is live. */
static int sweep_one(struct cache_store *st, const char *name)
{
	int fd = openat(st->tmp, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0) {
		if (errno == ELOOP) /* a symlink: never ours */
			unlinkat(st->tmp, name, 0);
		return 0;
	}
	int live = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	if (!live)
		unlinkat(st->tmp, name, 0);
	close(fd);
	return live;
}

int cache_tmp_sweep(struct cache_store *st)
{
	int rc = own_locks(st), fd;
	size_t live = 0;

	if (rc < 0 || (rc = lock(st->tmp, LOCK_EX)) < 0)
		return rc;
	DIR *d = (fd = openat(st->tmp, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ? NULL : fdopendir(fd);
	if (!d) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	for (struct dirent *de; (de = readdir(d));)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			live += (size_t)sweep_one(st, de->d_name);
	closedir(d);
	/* no live writer: any reservation left is a crashed writer's */
	struct cache_usage u;
	if (live == 0 && (rc = cache_usage_begin(st, &u)) == 0) {
		bool stale = u.reserved != 0;
		u.reserved = 0;
		rc = cache_usage_end(st, stale ? &u : NULL);
	}
out:
	lock(st->tmp, LOCK_UN);
	return rc;
}
