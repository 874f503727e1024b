/* review.c: summary and hosts, built as tables from the tally and sorted by
 * count (ties by name) so the busiest server and host come first. */
#include "review.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int by_server_text(const void *a, const void *b)
{
	const struct alog_row *x = *(const struct alog_row *const *)a, *y = *(const struct alog_row *const *)b;

	if (x->server != y->server)
		return x->server < y->server ? -1 : 1;
	int c = strcmp(x->text, y->text);
	return c ? c : (x->port > y->port) - (x->port < y->port);
}

static const struct alog_row **rows_of(const struct alog_tally *t, unsigned kind, int srv, size_t *n)
{
	const struct alog_row **v = malloc((t->nrows + 1) * sizeof(*v));

	*n = 0;
	for (size_t i = 0; v && i < t->nrows; i++)
		if (t->rows[i].kind == kind && (srv < 0 || t->rows[i].server == srv))
			v[(*n)++] = &t->rows[i];
	if (v)
		qsort(v, *n, sizeof(*v), by_server_text);
	return v;
}

const struct alog_row **alog_host_rows(const struct alog_tally *t, int srv, size_t *n)
{
	return rows_of(t, ALOG_ROW_HOST, srv, n);
}

bool alog_dns_only(const struct alog_row *const *rows, size_t n, size_t i)
{
	const struct alog_row *r = rows[i];

	if (r->port || !r->dns)
		return false;
	for (size_t k = i + 1; k < n && rows[k]->server == r->server && strcmp(rows[k]->text, r->text) == 0; k++)
		if (rows[k]->flags & ALOG_F_CONNECT)
			return false;
	return !(r->flags & ALOG_F_CONNECT);
}

/* Sort by count descending, then the sort above. */
static int by_count(const void *a, const void *b)
{
	const struct alog_row *x = *(const struct alog_row *const *)a, *y = *(const struct alog_row *const *)b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->dns != y->dns)
		return x->dns > y->dns ? -1 : 1;
	return by_server_text(a, b);
}

void alog_sort_by_count(const struct alog_row **rows, size_t n)
{
	qsort(rows, n, sizeof(*rows), by_count);
}

static uint64_t distinct_hosts(const struct alog_row *const *v, size_t n, unsigned srv)
{
	uint64_t d = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i]->server == srv && (v[i]->flags & ALOG_F_CONNECT) &&
		    (i == 0 || v[i - 1]->server != srv || strcmp(v[i - 1]->text, v[i]->text) != 0 ||
		     !(v[i - 1]->flags & ALOG_F_CONNECT)))
			d++;
	return d;
}

static void server_rows(const struct alog_tally *t, struct alog_table *tb)
{
	size_t n = 0;
	const struct alog_row **hosts = rows_of(t, ALOG_ROW_HOST, -1, &n);
	size_t order[ALOG_SERVERS_MAX];

	for (size_t i = 0; i < t->nservers; i++)
		order[i] = i;
	for (size_t i = 1; i < t->nservers; i++) /* few servers: insertion sort by requests */
		for (size_t k = i; k > 0 && t->servers[order[k]].requests > t->servers[order[k - 1]].requests; k--) {
			size_t x = order[k];
			order[k] = order[k - 1];
			order[k - 1] = x;
		}
	for (size_t i = 0; i < t->nservers; i++) {
		const struct alog_server *s = &t->servers[order[i]];
		int64_t v[] = { (int64_t)s->requests, (int64_t)s->by_decision[ALOG_DEC_ALLOW],
				(int64_t)s->by_decision[ALOG_DEC_DENY], (int64_t)s->by_decision[ALOG_DEC_WOULD_DENY],
				hosts ? (int64_t)distinct_hosts(hosts, n, (unsigned)order[i]) : 0,
				(int64_t)s->bytes_up, (int64_t)s->bytes_down, (int64_t)s->dns, (int64_t)s->dns_denied,
				(int64_t)s->packets, s->first, s->last };
		alog_row_start(tb);
		alog_put_text(tb, 0, s->name);
		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			alog_put_num(tb, k + 1, v[k]);
	}
	free(hosts);
}

static void side_table(const struct alog_tally *t, unsigned kind, struct alog_table *tb)
{
	size_t n = 0;
	const struct alog_row **v = rows_of(t, kind, -1, &n);

	if (!v) {
		tb->err = -ENOMEM;
		return;
	}
	qsort(v, n, sizeof(*v), by_count);
	for (size_t i = 0; i < n; i++) {
		size_t c = 0;
		alog_row_start(tb);
		alog_put_text(tb, c++, t->servers[v[i]->server].name);
		alog_put_text(tb, c++, v[i]->text);
		if (kind == ALOG_ROW_PACKET)
			alog_put_num(tb, c++, v[i]->port);
		alog_put_num(tb, c++, (int64_t)v[i]->count);
		alog_put_num(tb, c++, v[i]->first);
		alog_put_num(tb, c++, v[i]->last);
	}
	free(v);
}

struct reason_ref {
	const struct alog_server *s;
	unsigned d, k;
};

static int by_reason_count(const void *a, const void *b)
{
	const struct reason_ref *x = a, *y = b;
	uint64_t cx = x->s->reasons[x->d][x->k], cy = y->s->reasons[y->d][y->k];

	if (cx != cy)
		return cx > cy ? -1 : 1;
	int c = strcmp(x->s->name, y->s->name);
	return c ? c : x->d != y->d ? (int)x->d - (int)y->d : (int)x->k - (int)y->k;
}

static void reason_rows(const struct alog_tally *t, struct alog_table *tb)
{
	struct reason_ref *v = malloc(t->nservers * 5 * ALOG_REASONS * sizeof(*v) + 1);
	size_t n = 0;

	if (!v) {
		tb->err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < t->nservers; i++)
		for (unsigned d = 0; d < 5; d++)
			for (unsigned k = 0; k < ALOG_REASONS; k++)
				if (t->servers[i].reasons[d][k])
					v[n++] = (struct reason_ref){ &t->servers[i], d, k };
	qsort(v, n, sizeof(*v), by_reason_count);
	for (size_t i = 0; i < n; i++) {
		alog_row_start(tb);
		alog_put_text(tb, 0, v[i].s->name);
		alog_put_text(tb, 1, alog_decision_key((enum alog_decision)v[i].d));
		alog_put_text(tb, 2, alog_reason_name(v[i].k));
		alog_put_num(tb, 3, (int64_t)v[i].s->reasons[v[i].d][v[i].k]);
		alog_put_num(tb, 4, v[i].s->reason_first[v[i].d][v[i].k]);
		alog_put_num(tb, 5, v[i].s->reason_last[v[i].d][v[i].k]);
	}
	free(v);
}

int alog_summary(const struct alog_tally *t, enum alog_format fmt, FILE *out)
{
	struct alog_table s, r, p, k;
	struct alog_table *all[] = { &s, &r, &p, &k };

	alog_table_init(&s, "servers", "server,requests:n,allow:n,deny:n,would_deny:n,hosts:n,bytes_up:b,"
				       "bytes_down:b,dns:n,dns_denied:n,kernel_rejects:n,first:d,last:d");
	alog_table_init(&r, "reasons", "server,decision,reason,count:n,first:d,last:d");
	alog_table_init(&p, "kernel_rejects", "server,protocol,port:n,count:n,first:d,last:d");
	alog_table_init(&k, "packages", "server,package,count:n,first:d,last:d");
	server_rows(t, &s);
	reason_rows(t, &r);
	side_table(t, ALOG_ROW_PACKET, &p);
	side_table(t, ALOG_ROW_PACKAGE, &k);
	int rc = alog_print(out, fmt, all, 4);
	for (size_t i = 0; i < 4; i++)
		alog_table_free(all[i]);
	return rc;
}

static void host_row(const struct alog_tally *t, struct alog_table *tb, const struct alog_row *h, bool dns_only)
{
	char port[8];

	snprintf(port, sizeof(port), "%u", h->port);
	alog_row_start(tb);
	alog_put_text(tb, 0, t->servers[h->server].name);
	alog_put_text(tb, 1, h->text);
	alog_put_text(tb, 2, h->port ? port : NULL);
	int64_t v[] = { (int64_t)h->count, (int64_t)h->allow, (int64_t)h->deny, (int64_t)h->would,
			(int64_t)h->dns, (int64_t)h->bytes_up, (int64_t)h->bytes_down, h->first, h->last };
	for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
		alog_put_num(tb, 3 + k, v[k]);
	alog_put_text(tb, 12, h->rule);
	alog_put_text(tb, 13, dns_only ? "dns_only" : h->flags & ALOG_F_PRIVATE ? "allow_private" : NULL);
}

int alog_hosts(const struct alog_tally *t, enum alog_format fmt, FILE *out)
{
	size_t n = 0, m = 0;
	const struct alog_row **v = alog_host_rows(t, -1, &n);
	const struct alog_row **keep = malloc((n + 1) * sizeof(*keep));
	struct alog_table tb;
	struct alog_table *all[] = { &tb };

	if (!v || !keep) {
		free(v);
		free(keep);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i]->port || (v[i]->flags & ALOG_F_CONNECT) || alog_dns_only(v, n, i))
			keep[m++] = v[i];
	qsort(keep, m, sizeof(*keep), by_count);
	alog_table_init(&tb, "hosts", "server,host,port,count:n,allow:n,deny:n,would_deny:n,dns:n,bytes_up:b,"
				      "bytes_down:b,first:d,last:d,rule,note");
	for (size_t i = 0; i < m; i++)
		host_row(t, &tb, keep[i], !(keep[i]->flags & ALOG_F_CONNECT));
	int rc = alog_print(out, fmt, all, 1);
	alog_table_free(&tb);
	free(v);
	free(keep);
	return rc;
}
