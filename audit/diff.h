/* diff.h: `sluice log diff POLICY`, a policy held against the log. */
#ifndef SLUICE_DIFF_H
#define SLUICE_DIFF_H

#include <stdio.h>

#include "out.h"
#include "tally.h"

struct policy;

/*
 * Compare pol with the log's rows of server srv (all servers when srv < 0):
 * entries never used, hosts denied or would_deny with the entry that would
 * admit them, and entries that can never match. Returns 0 or -errno.
 */
int alog_diff(const struct alog_tally *t, int srv, const struct policy *pol, enum alog_format fmt, FILE *out);

#endif
