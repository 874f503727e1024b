/* review.h: the read-only reviews over a tally: `sluice log summary` and
 * `sluice log hosts`, and the row views the other reviews share. */
#ifndef SLUICE_REVIEW_H
#define SLUICE_REVIEW_H

#include <stdbool.h>
#include <stdio.h>

#include "out.h"
#include "tally.h"

/* Per server totals, reasons, kernel rejects and packages. Returns 0 or -errno. */
int alog_summary(const struct alog_tally *t, enum alog_format fmt, FILE *out);

/* One row per server, host and port, and the names only resolved. Returns 0 or -errno. */
int alog_hosts(const struct alog_tally *t, enum alog_format fmt, FILE *out);

/* The HOST rows of server srv (all servers when srv < 0), sorted by server
 * and host; *n gets how many. The caller frees the array. */
const struct alog_row **alog_host_rows(const struct alog_tally *t, int srv, size_t *n);

/* Sort rows by request count, then DNS queries, descending (ties by name). */
void alog_sort_by_count(const struct alog_row **rows, size_t n);

/* Whether the HOST rows of one server name a host only in DNS records. */
bool alog_dns_only(const struct alog_row *const *rows, size_t n, size_t i);

#endif
