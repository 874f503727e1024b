/* reader.c: lines from a log file through zlib (which passes plain files
 * through), split in a fixed buffer: memory stays the same whatever the
 * log's size. A line longer than ALOG_LINE_MAX is skipped to its end. */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"

#define CHUNK (1u << 20)

struct rd {
	gzFile gz;
	char *buf, *scratch;
	size_t len;      /* bytes waiting in buf */
	bool skipping;   /* inside a line that was too long */
	uint64_t line;   /* line number in this file */
	const char *name;
	alog_rec_cb cb;
	void *arg;
	struct alog_stats *st;
};

static void bad(struct rd *d, size_t pos, const char *why)
{
	struct alog_stats *st = d->st;

	if (st->invalid++ == 0) {
		st->bad_line = d->line;
		st->bad_pos = pos;
		st->bad_why = why;
		snprintf(st->bad_file, sizeof(st->bad_file), "%s", d->name);
	}
}

static int one_line(struct rd *d, struct span line)
{
	struct alog_rec r;
	size_t pos;
	const char *why;

	d->line++;
	d->st->lines++;
	if (line.len && line.p[line.len - 1] == '\r')
		line.len--;
	if (alog_parse(line, &r, d->scratch, ALOG_LINE_MAX, &pos, &why) < 0) {
		bad(d, pos, why);
		return 0;
	}
	d->st->records++;
	return d->cb(&r, d->arg);
}

/* Every whole line in buf; the partial one is moved to the front. */
static int lines(struct rd *d, bool eof)
{
	size_t at = 0;
	int rc = 0;

	while (rc == 0 && at < d->len) {
		char *nl = memchr(d->buf + at, '\n', d->len - at);
		if (!nl && !eof)
			break;
		size_t end = nl ? (size_t)(nl - d->buf) : d->len;
		if (d->skipping) {
			d->skipping = false; /* the rest of a long line: counted already */
		} else {
			rc = one_line(d, span_of(d->buf + at, end - at));
		}
		at = nl ? end + 1 : d->len;
	}
	d->len -= at;
	memmove(d->buf, d->buf + at, d->len);
	if (d->len >= ALOG_LINE_MAX) { /* no newline in a full line's room */
		if (!d->skipping) {
			d->line++;
			d->st->lines++;
			bad(d, ALOG_LINE_MAX, "line too long");
		}
		d->skipping = true;
		d->len = 0;
	}
	return rc;
}

static int pump(struct rd *d)
{
	int rc = 0;

	for (;;) {
		int n = gzread(d->gz, d->buf + d->len, CHUNK);
		if (n < 0) {
			int err;
			log_msg("log: %s: %s", d->name, gzerror(d->gz, &err));
			d->st->read_errors++;
			return -EIO;
		}
		d->len += (size_t)n;
		d->st->bytes += (uint64_t)n;
		if ((rc = lines(d, n == 0)) != 0 || n == 0)
			return rc;
	}
}

static int open_gz(const char *path, gzFile *out)
{
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : dup(STDIN_FILENO);

	if (fd < 0)
		return -errno;
	*out = gzdopen(fd, "rb");
	if (!*out) {
		close(fd);
		return -ENOMEM;
	}
	gzbuffer(*out, 256 * 1024);
	return 0;
}

int alog_read(const char *path, alog_rec_cb cb, void *arg, struct alog_stats *st)
{
	bool in = !path || strcmp(path, "-") == 0;
	struct rd d = { .name = in ? "stdin" : path, .cb = cb, .arg = arg, .st = st };
	int rc = open_gz(in ? NULL : path, &d.gz);

	if (rc < 0) {
		log_msg("log: cannot open %s: %s", d.name, strerror(-rc));
		st->read_errors++;
		return rc;
	}
	d.buf = malloc(ALOG_LINE_MAX + CHUNK);
	d.scratch = malloc(ALOG_LINE_MAX);
	rc = d.buf && d.scratch ? pump(&d) : -ENOMEM;
	free(d.buf);
	free(d.scratch);
	gzclose(d.gz);
	return rc;
}

void alog_stats_report(const struct alog_stats *st)
{
	if (!st->invalid)
		return;
	log_msg("log: %llu of %llu lines were not valid records and were skipped (first: %s:%llu, byte %zu: %s)",
		(unsigned long long)st->invalid, (unsigned long long)st->lines, st->bad_file,
		(unsigned long long)st->bad_line, st->bad_pos, st->bad_why);
}
