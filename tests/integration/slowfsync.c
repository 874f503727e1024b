/* slowfsync.c: an LD_PRELOAD library for the cache tests: it makes the
 * store's commit slow (or fail) on demand, with sluice itself unchanged.
 *
 * fsync of a regular file of at least SLOWFSYNC_MIN bytes (default 64 KiB:
 * a body, not a record) waits while the file named by SLOWFSYNC_GATE
 * exists, with GATE.waiting present meanwhile; once the gate is gone, it
 * fails with EIO when GATE.fail exists, and is the real fsync otherwise.
 * Nothing else is touched: every other call goes straight to libc. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int fsync(int fd)
{
	static int (*real)(int);
	const char *gate = getenv("SLOWFSYNC_GATE");
	const char *min = getenv("SLOWFSYNC_MIN");
	char mark[4096], fail[4096];
	struct stat sb;

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (!gate || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size < (min ? strtoll(min, NULL, 10) : 65536) || access(gate, F_OK) < 0)
		return real(fd);
	snprintf(mark, sizeof(mark), "%s.waiting", gate);
	snprintf(fail, sizeof(fail), "%s.fail", gate);
	int m = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (m >= 0)
		close(m);
	while (access(gate, F_OK) == 0)
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	unlink(mark);
	if (access(fail, F_OK) == 0) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}
