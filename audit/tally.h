/* tally.h: what the reviews count, gathered in one pass over the records:
 * per server totals and a time histogram, and one bounded table of rows
 * keyed by server × kind × text × port (hosts, reasons, rejected packets,
 * packages). Memory grows with distinct keys only, up to ALOG_ROWS_MAX. */
#ifndef SLUICE_TALLY_H
#define SLUICE_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define ALOG_ROWS_MAX 200000       /* server × host rows (all kinds) */
#define ALOG_TEXT_MAX (64u << 20)  /* bytes of interned names */
#define ALOG_SERVERS_MAX 256
#define ALOG_BUCKETS 96            /* histogram buckets per server */
#define ALOG_REASONS 16            /* the reason keys, and one slot for others */

enum alog_kind { ALOG_ROW_HOST, ALOG_ROW_PACKET, ALOG_ROW_PACKAGE };

/* Host row flags. */
#define ALOG_F_PRIVATE 1u   /* allowed to an address in a blocked range (allow_private) */
#define ALOG_F_CONNECT 2u   /* a connect, http, transparent or packet record */

#define ALOG_ROW_PREFIX 24 /* bytes of text kept in the row for lookups */

struct alog_row {
	/* the key, and the text's first bytes, in the first cache line */
	uint32_t hash;
	uint8_t kind;      /* enum alog_kind */
	uint8_t decision;  /* unused: 0 */
	uint16_t server;   /* index into servers */
	uint16_t port;     /* HOST/PACKET rows; 0 for DNS-only */
	uint16_t tlen, rule_len;
	char prefix[ALOG_ROW_PREFIX];
	const char *text;  /* host, protocol or package (interned) */
	const char *rule;  /* HOST: the last rule that decided (interned), or NULL */
	const char *priv;  /* HOST: a blocked-range address it was reached at */
	uint64_t count;    /* decision records (requests, queries, packets) */
	uint64_t allow, deny, would, dns, dns_deny;
	uint32_t deny_reasons, would_reasons; /* bits of enum pol_reason */
	uint32_t flags;
	uint64_t bytes_up, bytes_down;
	int64_t first, last;
};

struct alog_server {
	const char *name;
	size_t name_len;
	uint64_t records, requests, by_decision[5];
	uint64_t dns, dns_denied, packets;
	uint64_t bytes_up, bytes_down;
	int64_t first, last;
	int64_t h_origin, h_width; /* histogram: bucket k covers origin + k*width */
	uint64_t hist[ALOG_BUCKETS][3]; /* allow, deny, would_deny */
	/* requests by decision and reason (enum pol_reason; the last: others) */
	uint64_t reasons[5][ALOG_REASONS];
	int64_t reason_first[5][ALOG_REASONS], reason_last[5][ALOG_REASONS];
};

struct alog_tally {
	struct alog_row *rows;
	size_t nrows, cap;      /* cap: power of two, index size */
	uint64_t *index;        /* open addressing: hash << 32 | row number + 1; 0 empty */
	struct alog_server servers[ALOG_SERVERS_MAX];
	size_t nservers, last_server;
	uint64_t dropped;       /* records whose key did not fit any more */
	char **chunks;          /* interned text */
	size_t nchunks, chunk_used, text_bytes;
};

/* An empty tally; returns 0 or -ENOMEM. Free with alog_tally_free. */
int alog_tally_init(struct alog_tally *t);
void alog_tally_free(struct alog_tally *t);

/* Count one record. Returns 0 (a full table drops the record's key and
 * counts it in t->dropped). */
int alog_tally_add(struct alog_tally *t, const struct alog_rec *r);

/* One line to stderr when records were dropped because the table was full. */
void alog_tally_report(const struct alog_tally *t);

/* The index of a reason key (enum pol_reason), ALOG_REASONS - 1 when unknown. */
unsigned alog_reason_index(struct span reason);

/* The reason key of an index ("other" for the last). */
const char *alog_reason_name(unsigned i);

#endif
