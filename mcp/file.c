/* file.c: locked read and atomic replace of a client config (see file.h).
 * Clients do not lock their configs, so the lock only orders sluice against
 * sluice; against everyone else the file is compared with what was read just
 * before the rename, and a difference refuses the write. The environment
 * variable SLUICE_MCP_TEST_DELAY_MS (tests only) widens the window between
 * the read and that comparison so a test can write into it. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "jsonc.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int read_all(int fd, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);

	while (b) {
		if (n + 1 >= cap) {
			if (cap > MCP_JSON_MAX_SIZE) {
				free(b);
				return -E2BIG;
			}
			char *nb = realloc(b, cap * 2);
			if (!nb)
				break;
			b = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, b + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(b);
			return -e;
		}
		if (r == 0) {
			b[n] = '\0';
			*out = b;
			*len = n;
			return 0;
		}
		n += (size_t)r;
	}
	free(b);
	return -ENOMEM;
}

/* Open and lock; -EAGAIN when the path was replaced while waiting. */
static int open_locked(struct mcp_file *f)
{
	struct stat now;
	int waited = 0;

	if ((f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return -errno;
	while (flock(f->fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (waited >= MCP_LOCK_WAIT_MS)
			return -EWOULDBLOCK;
		sleep_ms(100);
		waited += 100;
	}
	if (fstat(f->fd, &f->st) < 0 || stat(f->path, &now) < 0)
		return -errno;
	if (now.st_ino != f->st.st_ino || now.st_dev != f->st.st_dev)
		return -EAGAIN;
	return S_ISREG(f->st.st_mode) ? 0 : -EINVAL;
}

int mcp_file_open(const char *path, struct mcp_file *f)
{
	int rc;

	*f = (struct mcp_file){ .fd = -1, .path = realpath(path, NULL) };
	if (!f->path)
		return -errno;
	for (int tries = 0; tries < 5; tries++) {
		if ((rc = open_locked(f)) != -EAGAIN)
			break;
		close(f->fd);
		f->fd = -1;
	}
	return rc < 0 ? rc : read_all(f->fd, &f->buf, &f->len);
}

void mcp_file_close(struct mcp_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f->buf);
	*f = (struct mcp_file){ .fd = -1 };
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* A temporary file beside path holding buf; its name in tmp. */
static int temp_beside(const char *path, const char *buf, size_t len, mode_t mode, uid_t uid, gid_t gid,
		       char tmp[PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	int dl = slash ? (int)(slash - path) : 1, fd, rc;

	if ((size_t)snprintf(tmp, PATH_MAX, "%.*s/.%s.sluice-XXXXXX", dl, slash ? path : ".",
			     slash ? slash + 1 : path) >= PATH_MAX)
		return -ENAMETOOLONG;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return -errno;
	rc = write_all(fd, buf, len);
	if (rc == 0 && fchown(fd, uid, gid) < 0 && (getuid() == 0 || errno != EPERM || uid != getuid()))
		rc = -errno;
	if (rc == 0 && fchmod(fd, mode & 07777) < 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static void sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	snprintf(dir, sizeof(dir), "%.*s", slash && slash != path ? (int)(slash - path) : 1, slash ? path : ".");
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int mcp_file_write(const char *path, const char *buf, size_t len, mode_t mode, uid_t uid, gid_t gid)
{
	char tmp[PATH_MAX];
	int rc = temp_beside(path, buf, len, mode, uid, gid, tmp);

	if (rc == 0 && rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
	}
	if (rc == 0)
		sync_dir(path);
	return rc;
}

/* Whether the file at f->path is still what f read. */
static int unchanged(const struct mcp_file *f)
{
	struct stat now;
	char *b = NULL;
	size_t n = 0;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc;

	if (fd < 0)
		return -EAGAIN;
	rc = fstat(fd, &now) < 0 ? -errno : read_all(fd, &b, &n);
	close(fd);
	if (rc == 0 && (now.st_ino != f->st.st_ino || now.st_dev != f->st.st_dev || n != f->len ||
			memcmp(b, f->buf, n) != 0 || now.st_mtim.tv_sec != f->st.st_mtim.tv_sec ||
			now.st_mtim.tv_nsec != f->st.st_mtim.tv_nsec))
		rc = -EAGAIN;
	free(b);
	return rc;
}

int mcp_file_writable(const struct mcp_file *f)
{
	if (!(f->st.st_mode & 0222))
		return -EROFS;
	return access(f->path, W_OK) < 0 ? -errno : 0;
}

int mcp_file_replace(struct mcp_file *f, const char *buf, size_t len, const char *backup)
{
	char tmp[PATH_MAX];
	const char *delay = getenv("SLUICE_MCP_TEST_DELAY_MS");
	int rc;

	if ((rc = mcp_file_writable(f)) < 0)
		return rc;
	if ((rc = temp_beside(f->path, buf, len, f->st.st_mode, f->st.st_uid, f->st.st_gid, tmp)) < 0)
		return rc;
	if (delay)
		sleep_ms(atol(delay));
	if ((rc = unchanged(f)) == 0 && backup)
		rc = mcp_file_write(backup, f->buf, f->len, f->st.st_mode, f->st.st_uid, f->st.st_gid);
	if (rc == 0 && rename(tmp, f->path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	sync_dir(f->path);
	return 0;
}
