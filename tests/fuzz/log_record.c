/* log_record.c: libFuzzer harness for the audit log's line scanner
 * (audit/record.c): any bytes as one line; an accepted record's spans lie
 * inside the line or the scratch buffer, and its time prints and reads back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(struct span s, const char *lo, size_t n)
{
	return s.len == 0 || (s.p >= lo && s.p + s.len <= lo + n);
}

static void check_spans(const struct alog_rec *r, const char *line, size_t n, const char *scr, size_t sn)
{
	const struct span *all[] = { &r->server, &r->session, &r->host, &r->sni, &r->method, &r->remote,
				     &r->reason, &r->rule, &r->qtype, &r->rcode, &r->protocol, &r->cache,
				     &r->package };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!inside(*all[i], line, n) && !inside(*all[i], scr, sn))
			__builtin_trap();
	for (size_t i = 0; i < r->naddrs && i < ALOG_ADDRS_MAX; i++)
		if (!inside(r->addrs[i], line, n) && !inside(r->addrs[i], scr, sn))
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size ? size : 1), *scr = malloc(size ? size : 1);
	struct alog_rec r;
	size_t pos;
	const char *why;

	memcpy(line, data, size);
	if (alog_parse(span_of(line, size), &r, scr, size, &pos, &why) == 0) {
		check_spans(&r, line, size, scr, size);
		/* years 0000-9999 print as RFC 3339 and read back to the same ms */
		if (r.ts_ms >= -62167219200000LL && r.ts_ms < 253402300800000LL) {
			char t[64];
			int64_t back;
			alog_format_time(r.ts_ms, true, t, sizeof(t));
			if (alog_parse_time(span_str(t), &back) != 0 || back != r.ts_ms)
				__builtin_trap();
		}
	} else if (pos > size || !why) {
		__builtin_trap();
	}
	free(line);
	free(scr);
	return 0;
}
