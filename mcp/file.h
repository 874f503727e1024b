/* file.h: reading a client config under a lock and replacing it atomically,
 * without losing a concurrent writer's change. */
#ifndef SLUICE_MCP_FILE_H
#define SLUICE_MCP_FILE_H

#include <stddef.h>
#include <sys/stat.h>

#define MCP_LOCK_WAIT_MS 5000

struct mcp_file {
	char *path; /* the real path (a symlinked config is edited where it lives) */
	int fd;     /* open and flock()ed until mcp_file_close */
	struct stat st;
	char *buf;
	size_t len;
};

/*
 * Open path, take an exclusive flock on it (waiting up to MCP_LOCK_WAIT_MS;
 * another sluice holds it, or a writer that locks) and read it. Returns 0,
 * -EWOULDBLOCK when still locked, -E2BIG when too large, or -errno.
 */
int mcp_file_open(const char *path, struct mcp_file *f);

/*
 * Replace f's file by buf: a temporary file in the same directory with the
 * original mode and owner, fsync, then, if the file still has the bytes that
 * were read (else -EAGAIN: someone wrote it meanwhile, nothing is changed),
 * the old bytes go to backup (when not NULL) and the temporary file is
 * renamed over it. -EROFS when the file has no write permission bits.
 * Returns 0 or -errno.
 */
int mcp_file_replace(struct mcp_file *f, const char *buf, size_t len, const char *backup);

/* Whether f's file may be replaced: -EROFS without any write permission
 * bit, -EACCES when the caller may not write it; else 0. */
int mcp_file_writable(const struct mcp_file *f);

/* Write path atomically (temporary file, fsync, rename) with mode and
 * owner. Returns 0 or -errno. */
int mcp_file_write(const char *path, const char *buf, size_t len, mode_t mode, uid_t uid, gid_t gid);

void mcp_file_close(struct mcp_file *f);

#endif
