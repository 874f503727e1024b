/* record.h: one audit-log line read back: a bounded scanner for the flat
 * JSON object the writer (audit.c) emits, and the RFC 3339 time reader. */
#ifndef SLUICE_RECORD_H
#define SLUICE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "span.h"

#define ALOG_ADDRS_MAX 8 /* addresses kept per record; more are counted */

enum alog_event { ALOG_EV_OTHER, ALOG_EV_CONNECT, ALOG_EV_HTTP, ALOG_EV_TRANSPARENT, ALOG_EV_DNS, ALOG_EV_PACKET };
enum alog_phase { ALOG_PH_OTHER, ALOG_PH_DECISION, ALOG_PH_CLOSE };
enum alog_decision { ALOG_DEC_NONE, ALOG_DEC_ALLOW, ALOG_DEC_DENY, ALOG_DEC_WOULD_DENY, ALOG_DEC_OTHER };

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
