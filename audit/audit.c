/* audit.c: the JSON-lines audit log. Records are formatted (record.c) into
 * one buffer and written with a single write(2) on an O_APPEND descriptor,
 * so lines never interleave: at once; between audit_hold and audit_release,
 * as one write for the whole batch; or, for audit_write_soon, as one write at
 * the end of the loop pass that produced them. */
#include "audit.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "format.h"

#define AUDIT_BUF 65536

struct audit {
	int fd;
	bool own_fd;
	bool failed;
	int held;
	size_t piece;       /* largest write that cannot interleave with another writer's */
	struct event *soon; /* audit_write_soon's flush, queued behind the pass's events */
	bool soon_queued;
	size_t len;  /* bytes waiting in buf */
	char *server;
	char *path;  /* NULL: stderr */
	audit_observer_fn *observe;
	void *observe_arg;
	struct audit_clock clock;   /* the last second formatted */
	char buf[AUDIT_BUF];
};

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

/* Appends to a regular file do not interleave; to a pipe, only up to PIPE_BUF. */
static size_t piece_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? AUDIT_BUF : PIPE_BUF;
}

int audit_open(const char *path, const char *server, struct audit **out)
{
	struct audit *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->fd = STDERR_FILENO;
	if (path) {
		a->fd = open_log(path);
		if (a->fd < 0) {
			int err = a->fd;
			free(a);
			return err;
		}
		a->own_fd = true;
	}
	a->piece = piece_of(a->fd);
	a->server = strdup(server ? server : "");
	a->path = path ? strdup(path) : NULL;
	if (!a->server || (path && !a->path)) {
		audit_close(a);
		return -ENOMEM;
	}
	*out = a;
	return 0;
}

static int flush(struct audit *a);

void audit_close(struct audit *a)
{
	if (!a)
		return;
	flush(a);
	if (a->soon)
		event_free(a->soon);
	if (a->own_fd)
		close(a->fd);
	free(a->server);
	free(a->path);
	free(a);
}

int audit_reopen(struct audit *a)
{
	if (!a->path)
		return 0;
	flush(a); /* what is waiting belongs to the file it was written for */
	int fd = open_log(a->path);
	if (fd < 0) {
		log_msg("cannot reopen log '%s': %s; writing on to the old file", a->path, strerror(-fd));
		return fd;
	}
	close(a->fd);
	a->fd = fd;
	a->piece = piece_of(fd);
	return 0;
}

void audit_set_observer(struct audit *a, audit_observer_fn *fn, void *arg)
{
	a->observe = fn;
	a->observe_arg = arg;
}

const char *audit_server(const struct audit *a)
{
	return a->server;
}

bool audit_ok(const struct audit *a)
{
	return !a->failed;
}

struct audit_rec audit_rec_init(const char *event, const char *phase)
{
	struct audit_rec r;

	memset(&r, 0, sizeof(r));
	r.event = event;
	r.phase = phase;
	r.duration_ms = r.dns_ms = r.connect_ms = -1;
	return r;
}

int64_t audit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int report(struct audit *a, int rc)
{
	if (rc < 0 && !a->failed) {
		a->failed = true;
		log_msg("audit log write failed (%s): denying new connections", strerror(-rc));
	}
	return rc;
}

/* Write the waiting lines, whole lines at a time in pieces that other
 * processes writing the same log (proxy workers) cannot split. */
static int flush(struct audit *a)
{
	size_t done = 0;
	int rc = 0;

	while (rc == 0 && done < a->len) {
		size_t n = a->len - done;
		if (n > a->piece) {
			const char *p = a->buf + done, *nl = p + a->piece;
			while (nl > p && nl[-1] != '\n')
				nl--;
			if (nl == p) { /* one line longer than a piece: it goes whole */
				const char *end = memchr(p + a->piece, '\n', n - a->piece);
				nl = end ? end + 1 : p + n;
			}
			n = (size_t)(nl - p);
		}
		rc = write_all(a->fd, a->buf + done, n);
		done += n;
	}
	a->len = 0;
	return report(a, rc);
}

/* A record too big for the buffer (long names in every field): on its own. */
static int write_big(struct audit *a, const char *ts, const struct audit_rec *r, size_t n)
{
	char *line = malloc(n + 1);
	int rc = -ENOMEM;

	if (line) {
		audit_format(line, n, ts, a->server, r);
		line[n] = '\n';
		rc = write_all(a->fd, line, n + 1);
		free(line);
	}
	return report(a, rc);
}

#ifdef SLUICE_AUDIT_CHECK
/* The checking builds: the line must be, byte for byte, jansson's. */
static void check_line(const struct audit *a, const char *line, size_t n, const char *ts, const struct audit_rec *r)
{
	char *want = audit_format_jansson(ts, a->server, r);

	if (want && (strlen(want) != n || memcmp(want, line, n) != 0)) {
		log_msg("audit: the record writer and jansson differ:\n  jansson: %s\n  writer:  %.*s", want, (int)n,
			line);
		abort();
	}
	free(want);
}
#else
#define check_line(a, line, n, ts, r) ((void)0)
#endif

int audit_write(struct audit *a, const struct audit_rec *r)
{
	struct timespec now;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	audit_clock_format(&a->clock, &now);
	const char *ts = a->clock.text;
	size_t n = audit_format(a->buf + a->len, AUDIT_BUF - a->len, ts, a->server, r);
	if (n + 1 > AUDIT_BUF - a->len && a->len) {
		rc = flush(a); /* the batch is full: write it, then retry at the start */
		n = audit_format(a->buf, AUDIT_BUF, ts, a->server, r);
	}
	if (n + 1 > AUDIT_BUF - a->len) {
		rc = write_big(a, ts, r, n);
	} else {
		check_line(a, a->buf + a->len, n, ts, r);
		a->buf[a->len + n] = '\n';
		a->len += n + 1;
		if (!a->held)
			rc = flush(a);
	}
	if (a->observe)
		a->observe(a->observe_arg, a->server, r);
	return rc;
}

static void soon_cb(evutil_socket_t fd, short what, void *arg)
{
	struct audit *a = arg;

	(void)fd;
	(void)what;
	a->soon_queued = false;
	if (!a->held)
		flush(a);
}

int audit_use_loop(struct audit *a, struct event_base *base)
{
	a->soon = event_new(base, -1, 0, soon_cb, a);
	return a->soon ? 0 : -ENOMEM;
}

int audit_write_soon(struct audit *a, const struct audit_rec *r)
{
	if (!a->soon)
		return audit_write(a, r);
	/* The flush is queued after the events this pass already has, so the
	 * records of all of them go out in one write before the loop waits. */
	if (!a->soon_queued) {
		event_active(a->soon, EV_TIMEOUT, 0);
		a->soon_queued = true;
	}
	a->held++;
	int rc = audit_write(a, r);
	a->held--;
	return rc;
}

void audit_hold(struct audit *a)
{
	a->held++;
}

int audit_release(struct audit *a)
{
	if (a->held > 0 && --a->held == 0)
		return flush(a);
	return 0;
}
