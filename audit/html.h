/* html.h: `sluice log report --html OUT`, one self-contained HTML file. */
#ifndef SLUICE_HTML_H
#define SLUICE_HTML_H

#include <stdio.h>

#include "reader.h"
#include "tally.h"

/*
 * Write the report to out: per server, requests over time by decision, top
 * hosts by requests and by bytes, denials by reason (inline SVG), a sortable
 * host table and the packages fetched. No external resource of any kind.
 * Returns 0 or -errno.
 */
int alog_report_html(const struct alog_tally *t, const struct alog_stats *st, FILE *out);

#endif
