/* metrics.c: the registry behind /metrics. Counters are keyed by family and
 * label values, held in one bounded table (insertion order, for a stable
 * exposition) with an open-addressing index over it; they are fed from the
 * audit log's records, so they count exactly what the log says. */
#include "metrics.h"

#include <errno.h>
#include <event2/buffer.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "log.h"

#define MAX_LABELS 4
#define INDEX_SLOTS (METRICS_MAX_SERIES * 2) /* a power of two, at most half full */

enum family {
	F_REQUESTS,
	F_BYTES,
	F_DNS,
	F_PACKETS,
	F_RELOADS,
	F_COUNT,
};

static const struct {
	const char *name, *help;
	const char *labels[MAX_LABELS];
} families[F_COUNT] = {
	[F_REQUESTS] = { "sluice_requests_total",
			 "Proxy decisions (audit records of event connect, http, transparent, phase decision).",
			 { "server", "event", "decision", "reason" } },
	[F_BYTES] = { "sluice_bytes_total", "Bytes relayed, as the audit log's close records count them.",
		      { "server", "direction" } },
	[F_DNS] = { "sluice_dns_queries_total", "DNS stub queries (audit records of event dns).",
		    { "server", "decision" } },
	[F_PACKETS] = { "sluice_packets_rejected_total", "Packets the nft table rejected (audit records of event packet).",
			{ "server", "protocol" } },
	[F_RELOADS] = { "sluice_reloads_total", "Policy reloads (SIGHUP), by result ok or failed.", { "result" } },
};

struct series {
	enum family fam;
	char *values[MAX_LABELS]; /* escaped */
	uint64_t v;
};

struct source {
	char *server; /* escaped */
	size_t (*fn)(const void *arg);
	const void *arg;
};

struct metrics {
	struct series *s;
	size_t n;
	uint32_t index[INDEX_SLOTS]; /* series number + 1; 0: empty */
	uint64_t dropped;
	bool warned;
	struct source src[METRICS_MAX_SOURCES];
	size_t nsrc;
};

size_t metrics_escape_label(const char *in, char *out, size_t size)
{
	size_t w = 0;

	for (; *in; in++) {
		const char *rep = *in == '\\' ? "\\\\" : *in == '"' ? "\\\"" : *in == '\n' ? "\\n" : NULL;
		size_t k = rep ? 2 : 1;
		if (w + k + 1 > size)
			break;
		if (rep)
			memcpy(out + w, rep, 2);
		else
			out[w] = *in;
		w += k;
	}
	out[w] = '\0';
	return w;
}

int metrics_new(struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m || !(m->s = calloc(METRICS_MAX_SERIES, sizeof(*m->s)))) {
		free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		for (size_t k = 0; k < MAX_LABELS; k++)
			free(m->s[i].values[k]);
	for (size_t i = 0; i < m->nsrc; i++)
		free(m->src[i].server);
	free(m->s);
	free(m);
}

static uint32_t hash(enum family f, char vals[][METRICS_LABEL_MAX * 2 + 1], size_t nv)
{
	uint32_t h = 2166136261u ^ (uint32_t)f;

	for (size_t k = 0; k < nv; k++) {
		for (const unsigned char *p = (const unsigned char *)vals[k]; *p; p++)
			h = (h ^ *p) * 16777619u;
		h = (h ^ 0xff) * 16777619u; /* a separator no escaped value holds */
	}
	return h;
}

static bool same(const struct series *s, enum family f, char vals[][METRICS_LABEL_MAX * 2 + 1], size_t nv)
{
	if (s->fam != f)
		return false;
	for (size_t k = 0; k < nv; k++)
		if (strcmp(s->values[k], vals[k]) != 0)
			return false;
	return true;
}

static struct series *add_series(struct metrics *m, enum family f, char vals[][METRICS_LABEL_MAX * 2 + 1],
				 size_t nv)
{
	struct series *s = &m->s[m->n];

	s->fam = f;
	for (size_t k = 0; k < nv; k++) {
		if (!(s->values[k] = strdup(vals[k]))) {
			for (size_t j = 0; j < k; j++)
				free(s->values[j]);
			return NULL;
		}
	}
	s->v = 0;
	m->n++;
	return s;
}

/* The series for f and raw label values, made when new; NULL when the
 * table is full (counted as dropped). */
static struct series *find(struct metrics *m, enum family f, const char *const *raw)
{
	char vals[MAX_LABELS][METRICS_LABEL_MAX * 2 + 1];
	size_t nv = 0;

	for (; nv < MAX_LABELS && families[f].labels[nv]; nv++) {
		char cut[METRICS_LABEL_MAX + 1];
		snprintf(cut, sizeof(cut), "%s", raw[nv] ? raw[nv] : "");
		metrics_escape_label(cut, vals[nv], sizeof(vals[nv]));
	}
	uint32_t slot = hash(f, vals, nv) & (INDEX_SLOTS - 1);
	for (; m->index[slot]; slot = (slot + 1) & (INDEX_SLOTS - 1))
		if (same(&m->s[m->index[slot] - 1], f, vals, nv))
			return &m->s[m->index[slot] - 1];
	struct series *s = m->n < METRICS_MAX_SERIES ? add_series(m, f, vals, nv) : NULL;
	if (!s) {
		m->dropped++;
		if (!m->warned)
			log_msg("metrics: the table of %d label sets is full: new ones are counted as dropped",
				METRICS_MAX_SERIES);
		m->warned = true;
		return NULL;
	}
	m->index[slot] = (uint32_t)m->n;
	return s;
}

static void bump(struct metrics *m, enum family f, const char *const *raw, uint64_t by)
{
	struct series *s = find(m, f, raw);

	if (s)
		s->v += by;
}

static bool is(const char *v, const char *want)
{
	return v && strcmp(v, want) == 0;
}

void metrics_observe(struct metrics *m, const char *server, const struct audit_rec *r)
{
	const char *ev = r->event;

	if ((is(ev, "connect") || is(ev, "http") || is(ev, "transparent")) && is(r->phase, "decision"))
		bump(m, F_REQUESTS, (const char *[]){ server, ev, r->decision, r->reason }, 1);
	else if (is(ev, "dns"))
		bump(m, F_DNS, (const char *[]){ server, r->decision }, 1);
	else if (is(ev, "packet"))
		bump(m, F_PACKETS, (const char *[]){ server, r->protocol }, 1);
	else if (is(ev, "reload"))
		bump(m, F_RELOADS, (const char *[]){ is(r->decision, "allow") ? "ok" : "failed" }, 1);
	if (r->has_bytes) {
		bump(m, F_BYTES, (const char *[]){ server, "up" }, r->bytes_up);
		bump(m, F_BYTES, (const char *[]){ server, "down" }, r->bytes_down);
	}
}

static void observe_cb(void *arg, const char *server, const struct audit_rec *r)
{
	metrics_observe(arg, server, r);
}

void metrics_watch(struct metrics *m, struct audit *a)
{
	/* both results show from the start, at 0, as Prometheus prefers */
	find(m, F_RELOADS, (const char *[]){ "ok" });
	find(m, F_RELOADS, (const char *[]){ "failed" });
	audit_set_observer(a, observe_cb, m);
}

int metrics_add_active(struct metrics *m, const char *server, size_t (*fn)(const void *arg), const void *arg)
{
	char esc[METRICS_LABEL_MAX * 2 + 1], cut[METRICS_LABEL_MAX + 1];

	if (m->nsrc >= METRICS_MAX_SOURCES)
		return -ENOSPC;
	snprintf(cut, sizeof(cut), "%s", server ? server : "");
	metrics_escape_label(cut, esc, sizeof(esc));
	struct source *s = &m->src[m->nsrc];
	if (!(s->server = strdup(esc)))
		return -ENOMEM;
	s->fn = fn;
	s->arg = arg;
	m->nsrc++;
	return 0;
}

void metrics_remove_active(struct metrics *m, const void *arg)
{
	for (size_t i = 0; i < m->nsrc;) {
		if (m->src[i].arg != arg) {
			i++;
			continue;
		}
		free(m->src[i].server);
		memmove(&m->src[i], &m->src[i + 1], (m->nsrc - i - 1) * sizeof(m->src[0]));
		m->nsrc--;
	}
}

static int render_family(const struct metrics *m, enum family f, struct evbuffer *out)
{
	int rc = evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n", families[f].name, families[f].help,
				     families[f].name);

	for (size_t i = 0; rc >= 0 && i < m->n; i++) {
		const struct series *s = &m->s[i];
		if (s->fam != f)
			continue;
		rc = evbuffer_add_printf(out, "%s{", families[f].name);
		for (size_t k = 0; rc >= 0 && k < MAX_LABELS && families[f].labels[k]; k++)
			rc = evbuffer_add_printf(out, "%s%s=\"%s\"", k ? "," : "", families[f].labels[k], s->values[k]);
		if (rc >= 0)
			rc = evbuffer_add_printf(out, "} %" PRIu64 "\n", s->v);
	}
	return rc < 0 ? -ENOMEM : 0;
}

/* connections_active: one line per server name, its sources summed. */
static int render_active(const struct metrics *m, struct evbuffer *out)
{
	int rc = evbuffer_add_printf(out, "# HELP sluice_connections_active Client connections open now.\n"
					  "# TYPE sluice_connections_active gauge\n");

	for (size_t i = 0; rc >= 0 && i < m->nsrc; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(m->src[j].server, m->src[i].server) == 0;
		if (seen)
			continue;
		size_t sum = 0;
		for (size_t j = i; j < m->nsrc; j++)
			if (strcmp(m->src[j].server, m->src[i].server) == 0)
				sum += m->src[j].fn(m->src[j].arg);
		rc = evbuffer_add_printf(out, "sluice_connections_active{server=\"%s\"} %zu\n", m->src[i].server, sum);
	}
	return rc < 0 ? -ENOMEM : 0;
}

int metrics_render(const struct metrics *m, struct evbuffer *out)
{
	for (int f = 0; f < F_COUNT; f++)
		if (render_family(m, (enum family)f, out) < 0)
			return -ENOMEM;
	if (render_active(m, out) < 0)
		return -ENOMEM;
	if (evbuffer_add_printf(out,
				"# HELP sluice_metrics_dropped_total Records not counted: the label-set table was full.\n"
				"# TYPE sluice_metrics_dropped_total counter\nsluice_metrics_dropped_total %" PRIu64 "\n",
				m->dropped) < 0)
		return -ENOMEM;
	return 0;
}
