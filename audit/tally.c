/* tally.c: the counting pass. Rows live in one array with an open-addressing
 * index; names are copied once into chunks. Both are bounded: a key that
 * does not fit is dropped and counted, and the command says so at the end. */
#include "tally.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "policy.h"

#define CHUNK_BYTES (1u << 20)
#define MAX_CHUNKS (ALOG_TEXT_MAX / CHUNK_BYTES)

int alog_tally_init(struct alog_tally *t)
{
	memset(t, 0, sizeof(*t));
	t->cap = 1024;
	t->index = calloc(t->cap, sizeof(*t->index));
	t->rows = malloc(t->cap / 2 * sizeof(*t->rows));
	t->chunks = calloc(MAX_CHUNKS, sizeof(*t->chunks));
	return t->index && t->rows && t->chunks ? 0 : -ENOMEM;
}

void alog_tally_free(struct alog_tally *t)
{
	for (size_t i = 0; i < t->nchunks; i++)
		free(t->chunks[i]);
	free(t->chunks);
	free(t->index);
	free(t->rows);
}

/* Eight bytes a step, multiply and fold: the keys are short names. */
static bool is(const char *s, size_t len, struct span v)
{
	return len == v.len && alog_eq_bytes(s, v.p, v.len);
}

static uint32_t hash(struct span s, uint32_t seed)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ seed ^ s.len;
	size_t i = 0;

	for (; i + 8 <= s.len; i += 8) {
		uint64_t w;
		memcpy(&w, s.p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	uint64_t w = 0;
	memcpy(&w, s.p + i, s.len - i);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	return (uint32_t)h ? (uint32_t)h : 1;
}

static const char *intern(struct alog_tally *t, struct span s)
{
	if (s.len + 1 > CHUNK_BYTES)
		return NULL;
	if (!t->nchunks || t->chunk_used + s.len + 1 > CHUNK_BYTES) {
		if (t->nchunks == MAX_CHUNKS || !(t->chunks[t->nchunks] = malloc(CHUNK_BYTES)))
			return NULL;
		t->nchunks++;
		t->chunk_used = 0;
	}
	char *p = t->chunks[t->nchunks - 1] + t->chunk_used;
	memcpy(p, s.p, s.len);
	p[s.len] = '\0';
	t->chunk_used += s.len + 1;
	return p;
}

static int grow(struct alog_tally *t)
{
	size_t cap = t->cap * 2;
	uint64_t *idx = calloc(cap, sizeof(*idx));
	struct alog_row *rows = idx ? realloc(t->rows, cap / 2 * sizeof(*rows)) : NULL;

	if (!rows) {
		free(idx);
		return -ENOMEM;
	}
	t->rows = rows;
	for (size_t i = 0; i < t->nrows; i++) {
		size_t k = rows[i].hash & (cap - 1);
		while (idx[k])
			k = (k + 1) & (cap - 1);
		idx[k] = (uint64_t)rows[i].hash << 32 | ((uint32_t)i + 1);
	}
	free(t->index);
	t->index = idx;
	t->cap = cap;
	return 0;
}

static bool same(const struct alog_row *r, unsigned kind, unsigned srv, unsigned port, unsigned dec, struct span s)
{
	size_t head = s.len < ALOG_ROW_PREFIX ? s.len : ALOG_ROW_PREFIX;

	if (r->kind != kind || r->server != srv || r->port != port || r->decision != dec || r->tlen != s.len)
		return false;
	/* short names never leave the row's first line */
	return alog_eq_bytes(r->prefix, s.p, head) && (s.len == head || memcmp(r->text + head, s.p + head, s.len - head) == 0);
}

static struct alog_row *new_row(struct alog_tally *t, size_t slot, uint32_t h, struct span s)
{
	const char *text;

	if (t->nrows >= ALOG_ROWS_MAX || s.len > HOST_NAME_LEN * 4 || !(text = intern(t, s)))
		return NULL;
	struct alog_row *r = &t->rows[t->nrows];
	memset(r, 0, sizeof(*r));
	r->hash = h;
	r->text = text;
	r->tlen = (uint16_t)s.len;
	memcpy(r->prefix, s.p, s.len < ALOG_ROW_PREFIX ? s.len : ALOG_ROW_PREFIX);
	r->first = INT64_MAX;
	r->last = INT64_MIN;
	t->index[slot] = (uint64_t)h << 32 | (uint32_t)++t->nrows;
	return r;
}

/* The row for a key, made when new; NULL when the table is full. */
static struct alog_row *row(struct alog_tally *t, unsigned kind, unsigned srv, unsigned port, unsigned dec,
			    struct span s)
{
	if (t->nrows + 1 > t->cap / 2 && t->cap / 2 < ALOG_ROWS_MAX && grow(t) < 0)
		return NULL;
	uint32_t h = hash(s, kind << 24 ^ srv << 16 ^ port ^ dec << 20);
	size_t k = h & (t->cap - 1);
	for (; t->index[k]; k = (k + 1) & (t->cap - 1)) {
		if (t->index[k] >> 32 != h)
			continue; /* another key: its row is not touched */
		struct alog_row *r = &t->rows[(uint32_t)t->index[k] - 1];
		if (same(r, kind, srv, port, dec, s))
			return r;
	}
	struct alog_row *r = new_row(t, k, h, s);
	if (r) {
		r->kind = (uint8_t)kind;
		r->server = (uint16_t)srv;
		r->port = (uint16_t)port;
		r->decision = (uint8_t)dec;
	}
	return r;
}

static int server_of(struct alog_tally *t, struct span name)
{
	const struct alog_server *last = t->nservers ? &t->servers[t->last_server] : NULL;

	if (last && is(last->name, last->name_len, name)) /* runs of one server's records */
		return (int)t->last_server;
	for (size_t i = t->nservers; i > 0; i--)
		if (is(t->servers[i - 1].name, t->servers[i - 1].name_len, name))
			return (int)i - 1;
	if (t->nservers == ALOG_SERVERS_MAX)
		return -1;
	struct alog_server *s = &t->servers[t->nservers];
	if (!(s->name = intern(t, name)))
		return -1;
	s->name_len = name.len;
	s->first = INT64_MAX;
	s->last = INT64_MIN;
	return (int)t->nservers++;
}

/* Widen the histogram (doubling bucket width) until ts fits. */
static void hist_fit(struct alog_server *s, int64_t ts)
{
	if (!s->h_width) {
		s->h_width = 60000;
		s->h_origin = ts - ts % s->h_width;
	}
	while (ts < s->h_origin || ts >= s->h_origin + ALOG_BUCKETS * s->h_width) {
		int64_t w = s->h_width * 2, lo = ts < s->h_origin ? ts : s->h_origin;
		int64_t origin = lo - ((lo % w) + w) % w;
		uint64_t old[ALOG_BUCKETS][3];
		memcpy(old, s->hist, sizeof(old));
		memset(s->hist, 0, sizeof(s->hist));
		for (int k = 0; k < ALOG_BUCKETS; k++) {
			int64_t at = (s->h_origin + k * s->h_width - origin) / w;
			if (at >= 0 && at < ALOG_BUCKETS)
				for (int d = 0; d < 3; d++)
					s->hist[at][d] += old[k][d];
		}
		s->h_origin = origin;
		s->h_width = w;
	}
}

static void hist_add(struct alog_server *s, int64_t ts, enum alog_decision d)
{
	if (d < ALOG_DEC_ALLOW || d > ALOG_DEC_WOULD_DENY)
		return;
	if (!s->h_width || ts < s->h_origin || ts >= s->h_origin + ALOG_BUCKETS * s->h_width)
		hist_fit(s, ts);
	s->hist[(ts - s->h_origin) / s->h_width][d - ALOG_DEC_ALLOW]++;
}

unsigned alog_reason_index(struct span reason)
{
	if (reason.len == 7 && alog_eq_bytes(reason.p, "allowed", 7)) /* the most of a log */
		return POL_ALLOWED;
	if (reason.len == 11 && alog_eq_bytes(reason.p, "not_allowed", 11))
		return POL_NOT_ALLOWED;
	for (unsigned i = 0; i <= POL_LIMIT && i < ALOG_REASONS - 1; i++) {
		const char *k = pol_reason_key((enum pol_reason)i);
		if (k[0] == (reason.len ? reason.p[0] : 0) && is(k, strlen(k), reason))
			return i;
	}
	return ALOG_REASONS - 1;
}

const char *alog_reason_name(unsigned i)
{
	return i < ALOG_REASONS - 1 && i <= POL_LIMIT ? pol_reason_key((enum pol_reason)i) : "other";
}

static void span_time(struct alog_row *h, int64_t ts)
{
	if (ts < h->first)
		h->first = ts;
	if (ts > h->last)
		h->last = ts;
}

/* A blocked-range address among an allowed record's addrs. */
static void note_private(struct alog_tally *t, struct alog_row *h, const struct alog_rec *r)
{
	uint64_t n = h->allow + h->would;

	/* the first answers of a host, then one in 64: a name's addresses rarely move */
	if (h->priv || (n > 8 && (n & 63) != 0))
		return;
	for (size_t i = 0; i < r->naddrs && i < ALOG_ADDRS_MAX && !h->priv; i++) {
		struct addr a;
		if (addr_parse(r->addrs[i], &a) == 0 && addr_blocked_range(&a)) {
			h->flags |= ALOG_F_PRIVATE;
			h->priv = intern(t, r->addrs[i]);
		}
	}
}

static void host_decision(struct alog_tally *t, struct alog_row *h, const struct alog_rec *r, unsigned reason)
{
	uint32_t bit = 1u << reason;

	if (r->event == ALOG_EV_DNS) {
		h->dns++;
		h->dns_deny += r->decision == ALOG_DEC_DENY;
	} else {
		h->count++;
		h->flags |= ALOG_F_CONNECT;
	}
	if (r->decision == ALOG_DEC_ALLOW) {
		h->allow++;
		note_private(t, h, r);
	} else if (r->decision == ALOG_DEC_DENY) {
		h->deny++;
		h->deny_reasons |= bit;
	} else if (r->decision == ALOG_DEC_WOULD_DENY) {
		h->would++;
		h->would_reasons |= bit;
		note_private(t, h, r);
	}
	if (r->rule.len && (!h->rule || !is(h->rule, h->rule_len, r->rule))) {
		h->rule = intern(t, r->rule);
		h->rule_len = h->rule ? (uint16_t)r->rule.len : 0;
	}
}

static bool is_request(const struct alog_rec *r)
{
	return r->event == ALOG_EV_CONNECT || r->event == ALOG_EV_HTTP || r->event == ALOG_EV_TRANSPARENT;
}

static int side_rows(struct alog_tally *t, int srv, const struct alog_rec *r)
{
	struct alog_row *x;

	if (r->event == ALOG_EV_PACKET) {
		if (!(x = row(t, ALOG_ROW_PACKET, (unsigned)srv, r->port, 0, r->protocol)))
			return -1;
		x->count++;
		span_time(x, r->ts_ms);
	}
	if (r->package.len) {
		if (!(x = row(t, ALOG_ROW_PACKAGE, (unsigned)srv, 0, 0, r->package)))
			return -1;
		x->count++;
		span_time(x, r->ts_ms);
	}
	return 0;
}

static void server_add(struct alog_server *s, const struct alog_rec *r, unsigned reason)
{
	s->records++;
	if (r->ts_ms < s->first)
		s->first = r->ts_ms;
	if (r->ts_ms > s->last)
		s->last = r->ts_ms;
	s->bytes_up += r->bytes_up;
	s->bytes_down += r->bytes_down;
	if (r->phase == ALOG_PH_CLOSE)
		return;
	if (is_request(r)) {
		s->requests++;
		s->by_decision[r->decision]++;
		hist_add(s, r->ts_ms, r->decision);
		if (r->reason.len) {
			unsigned k = reason;
			uint64_t n = s->reasons[r->decision][k]++;
			if (!n || r->ts_ms < s->reason_first[r->decision][k])
				s->reason_first[r->decision][k] = r->ts_ms;
			if (!n || r->ts_ms > s->reason_last[r->decision][k])
				s->reason_last[r->decision][k] = r->ts_ms;
		}
	} else if (r->event == ALOG_EV_DNS) {
		s->dns++;
		s->dns_denied += r->decision == ALOG_DEC_DENY;
	} else if (r->event == ALOG_EV_PACKET) {
		s->packets++;
	}
}

int alog_tally_add(struct alog_tally *t, const struct alog_rec *r)
{
	int srv = server_of(t, r->server);

	if (srv >= 0)
		t->last_server = (size_t)srv;
	if (srv < 0) {
		t->dropped++;
		return 0;
	}
	unsigned reason = alog_reason_index(r->reason); /* once: the server's count and the host's bits */
	server_add(&t->servers[srv], r, reason);
	bool keyed = r->host.len && r->event != ALOG_EV_OTHER;
	if (side_rows(t, srv, r) < 0) {
		t->dropped++;
		return 0;
	}
	/* last: a new row may move the array */
	struct alog_row *h = keyed ? row(t, ALOG_ROW_HOST, (unsigned)srv, r->event == ALOG_EV_DNS ? 0 : r->port, 0,
					 r->host)
				   : NULL;
	if (keyed && !h) {
		t->dropped++;
		return 0;
	}
	if (!h)
		return 0;
	span_time(h, r->ts_ms);
	h->bytes_up += r->bytes_up;
	h->bytes_down += r->bytes_down;
	if (r->phase != ALOG_PH_CLOSE)
		host_decision(t, h, r, reason);
	return 0;
}

void alog_tally_report(const struct alog_tally *t)
{
	if (t->dropped)
		log_msg("log: the table is full (%u rows of server x host, %u servers, %u MiB of names): "
			"%llu records of further keys were not counted; narrow the window with --server, --since, "
			"--until or --host",
			ALOG_ROWS_MAX, ALOG_SERVERS_MAX, ALOG_TEXT_MAX >> 20, (unsigned long long)t->dropped);
}
