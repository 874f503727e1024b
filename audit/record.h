/* record.h: one audit-log line read back: a bounded scanner for the flat
 * JSON object the writer (audit.c) emits, and the RFC 3339 time reader. */
#ifndef SLUICE_RECORD_H
#define SLUICE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <string.h>

#include "span.h"

#define ALOG_ADDRS_MAX 8 /* addresses kept per record; more are counted */

enum alog_event { ALOG_EV_OTHER, ALOG_EV_CONNECT, ALOG_EV_HTTP, ALOG_EV_TRANSPARENT, ALOG_EV_DNS, ALOG_EV_PACKET };
enum alog_phase { ALOG_PH_OTHER, ALOG_PH_DECISION, ALOG_PH_CLOSE };
enum alog_decision { ALOG_DEC_NONE, ALOG_DEC_ALLOW, ALOG_DEC_DENY, ALOG_DEC_WOULD_DENY, ALOG_DEC_OTHER };

/* Whether n bytes at a and at b are alike (both hold n): short names in a
 * word or two, without a call. */
static inline bool alog_eq_bytes(const char *a, const char *b, size_t n)
{
	uint64_t x, y, u, v;
	uint32_t x4, y4, u4, v4;

	if (n > 32)
		return memcmp(a, b, n) == 0;
	if (n > 16)
		return alog_eq_bytes(a, b, 16) && alog_eq_bytes(a + n - 16, b + n - 16, 16);
	if (n >= 8) { /* the first eight and the last eight, overlapping */
		memcpy(&x, a, 8), memcpy(&y, b, 8), memcpy(&u, a + n - 8, 8), memcpy(&v, b + n - 8, 8);
		return x == y && u == v;
	}
	if (n >= 4) {
		memcpy(&x4, a, 4), memcpy(&y4, b, 4), memcpy(&u4, a + n - 4, 4), memcpy(&v4, b + n - 4, 4);
		return x4 == y4 && u4 == v4;
	}
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* A record's fields as spans into the line (or, for strings with escapes,
 * into the caller's scratch buffer). Empty span: key absent. */
struct alog_rec {
	int64_t ts_ms; /* milliseconds since the epoch, UTC */
	enum alog_event event;
	enum alog_phase phase;
	enum alog_decision decision;
	struct span server, session, host, sni, method, remote, reason, rule;
	struct span qtype, rcode, protocol, cache, package;
	uint16_t port; /* 0: absent */
	bool has_bytes, ech;
	uint64_t bytes_up, bytes_down;
	int64_t duration_ms, dns_ms, connect_ms; /* -1: absent */
	size_t naddrs;                           /* in the record; at most ALOG_ADDRS_MAX kept */
	struct span addrs[ALOG_ADDRS_MAX];
};

/*
 * Read one line (without its newline) as a record. Unknown keys are skipped
 * whatever their value; known keys must have their type, appear once, and ts
 * and event must be present. Decoded strings go to scratch (at least
 * line.len bytes). Returns 0, or -EINVAL with *pos at the offending byte and
 * *why a static message.
 */
int alog_parse(struct span line, struct alog_rec *r, char *scratch, size_t scratch_size, size_t *pos,
	       const char **why);

/* RFC 3339 date-time ("2025-01-01T00:00:00.123Z", "...+02:00") to
 * milliseconds since the epoch. Returns 0 or -EINVAL. */
int alog_parse_time(struct span s, int64_t *ms);

/* Milliseconds as "2025-01-01T00:00:00.123Z" (ms true) or without them. */
void alog_format_time(int64_t ms, bool with_ms, char *buf, size_t size);

/* The keys of the enums ("connect", "would_deny"), "" for OTHER/NONE. */
const char *alog_event_key(enum alog_event e);
const char *alog_decision_key(enum alog_decision d);

/* Enum values for keys; -1 when unknown. */
int alog_event_of(struct span s);
int alog_decision_of(struct span s);

#endif
