/* format.h: one audit record as one JSON line, written straight into the
 * batch buffer: no object tree, no allocation, the timestamp's seconds
 * formatted once per second. The text is the one jansson's
 * json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) gave
 * for the same record (format_check.c proves it, record by record, in the
 * checking builds): keys in DESIGN.md's order, unset fields left out,
 * strings escaped as JSON requires and kept ASCII (\uXXXX, with surrogate
 * pairs), and a string that is not valid UTF-8 kept with each byte outside
 * printable ASCII written as the text \xNN. */
#ifndef SLUICE_AUDIT_FORMAT_H
#define SLUICE_AUDIT_FORMAT_H

#include <stddef.h>
#include <time.h>

#include "audit.h"

#define AUDIT_TS_LEN 24 /* 2026-12-01T16:26:32.123Z */

/* The last second formatted, so a record costs a strftime only when the
 * second changes. */
struct audit_clock {
	time_t sec;
	char text[AUDIT_TS_LEN + 1];
};

/* now as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) in c->text. */
void audit_clock_format(struct audit_clock *c, const struct timespec *now);

/* The record's line (no newline) into buf when it fits in size; returns the
 * length it has either way (more than size: nothing usable was written). */
size_t audit_format(char *buf, size_t size, const char *ts, const char *server, const struct audit_rec *r);

#ifdef SLUICE_AUDIT_CHECK
/* The same line built with jansson, as the writer did before (malloc'd). */
char *audit_format_jansson(const char *ts, const char *server, const struct audit_rec *r);
#endif

#endif
