/* reader.h: the one streaming reader of audit logs: files (plain or .gz) or
 * stdin, line by line in constant memory, every valid record to a callback. */
#ifndef SLUICE_READER_H
#define SLUICE_READER_H

#include <stdint.h>

#include "record.h"

#define ALOG_LINE_MAX (1u << 20) /* a longer line is counted invalid */

/* Counts over every file read; the first invalid line is kept for the message. */
struct alog_stats {
	uint64_t lines, records, invalid, bytes;
	uint64_t bad_line;  /* line number of the first invalid line */
	size_t bad_pos;     /* its byte offset */
	const char *bad_why;
	char bad_file[256];
	int read_errors;    /* files that could not be opened or read */
};

/* Called with each valid record; a nonzero return stops the read. */
typedef int (*alog_rec_cb)(const struct alog_rec *r, void *arg);

/*
 * Read one log: path (zlib reads .gz and plain alike) or NULL / "-" for
 * stdin. Invalid lines are counted in st, never fatal. Returns 0, the
 * callback's nonzero value, or -errno after a message on stderr when the
 * file cannot be opened or read.
 */
int alog_read(const char *path, alog_rec_cb cb, void *arg, struct alog_stats *st);

/* One line to stderr saying how many lines were not valid records (and the
 * first one), or nothing when all were. */
void alog_stats_report(const struct alog_stats *st);

#endif
