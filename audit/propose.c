/* propose.c: from the log to a policy and back. The proposal takes only the
 * evidence: exact names with their ports, a "*.domain" only where several
 * names of one registrable domain (libpsl) were seen and no other name below
 * it was refused; the decisions are always the policy matcher's (pol_decide),
 * never a second copy of it. */
#include "propose.h"

#include <errno.h>
#include <libpsl.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "log.h"
#include "policy.h"
#include "review.h"

#define BIT(r) (1u << (r))
#define NAMES_SHOWN 6
#define NOTES_MAX 500 /* reviewer lines at most */

struct cand {
	const struct alog_row *row;
	const char *reg;  /* registrable domain, or NULL */
	size_t group;     /* first candidate of its *.reg group, or SIZE_MAX */
};

struct proposal {
	const struct alog_tally *t;
	const struct alog_row **rows;
	size_t nrows;
	struct cand *c;
	size_t nc;
	FILE *out;
};


/* Why a host row is never proposed, or NULL when it may be. */
static const char *excluded(const struct alog_row *r)
{
	struct host h;
	const char *why;
	uint32_t seen = r->deny_reasons | r->would_reasons;

	if (host_canonicalize(span_str(r->text), &h, &why) < 0)
		return "not a valid host name";
	if (h.kind == HOST_IP)
		return r->count && !r->allow && !r->would ? "IP literal (kernel or proxy denial)" : "IP literal";
	if (pol_is_metadata_name(h.text) || (seen & BIT(POL_METADATA_HOST)))
		return "cloud metadata name";
	if (seen & BIT(POL_DENIED_BY_RULE))
		return "denied by a deny entry";
	return NULL;
}

static bool candidate(const struct alog_row *r)
{
	const uint32_t ok = BIT(POL_NOT_ALLOWED) | BIT(POL_PORT_NOT_ALLOWED);

	return (r->flags & ALOG_F_CONNECT) && r->port && !excluded(r) &&
	       (r->allow || (r->would && (r->would_reasons & ok)));
}

static bool below(const char *name, const char *reg)
{
	size_t n = strlen(name), k = strlen(reg);

	return n > k + 1 && name[n - k - 1] == '.' && strcmp(name + n - k, reg) == 0;
}

/* Whether a row of the server under *.reg would be admitted by grouping
 * without being a candidate on that port: then the group is not made. */
static bool group_blocked(const struct proposal *p, const char *reg, uint16_t port)
{
	for (size_t i = 0; i < p->nrows; i++) {
		const struct alog_row *r = p->rows[i];
		if (!below(r->text, reg) || (r->port && r->port != port))
			continue; /* the group admits port only */
		if (!r->port) { /* DNS: a refused lookup below reg blocks the group */
			if (r->dns_deny)
				return true;
			continue;
		}
		if (!candidate(r))
			return true;
	}
	return false;
}

static void make_groups(struct proposal *p)
{
	for (size_t i = 0; i < p->nc; i++) {
		struct cand *a = &p->c[i];
		if (!a->reg || strcmp(a->reg, a->row->text) == 0 || a->group != SIZE_MAX)
			continue;
		size_t members = 0;
		for (size_t k = i; k < p->nc; k++)
			if (p->c[k].reg && p->c[k].row->port == a->row->port && strcmp(p->c[k].reg, a->reg) == 0 &&
			    strcmp(p->c[k].reg, p->c[k].row->text) != 0)
				members++;
		if (members < 2 || group_blocked(p, a->reg, a->row->port))
			continue;
		for (size_t k = i; k < p->nc; k++)
			if (p->c[k].reg && p->c[k].row->port == a->row->port && strcmp(p->c[k].reg, a->reg) == 0 &&
			    strcmp(p->c[k].reg, p->c[k].row->text) != 0)
				p->c[k].group = i;
	}
}

static void when(FILE *f, int64_t first, int64_t last)
{
	char a[40], b[40];

	alog_format_time(first, false, a, sizeof(a));
	alog_format_time(last, false, b, sizeof(b));
	fprintf(f, "first %s, last %s", a, b);
}

static void entry(const struct proposal *p, size_t i)
{
	const struct cand *a = &p->c[i];
	uint64_t n = 0, allow = 0, would = 0;
	int64_t first = INT64_MAX, last = INT64_MIN;
	size_t names = 0;

	for (size_t k = i; k < p->nc; k++) {
		const struct alog_row *r = p->c[k].row;
		if (k != i && (a->group == SIZE_MAX || p->c[k].group != i))
			continue;
		n += r->allow + r->would, allow += r->allow, would += r->would, names++;
		first = r->first < first ? r->first : first;
		last = r->last > last ? r->last : last;
	}
	fprintf(p->out, "  # %llu requests (allow %llu, would_deny %llu), ", (unsigned long long)n,
		(unsigned long long)allow, (unsigned long long)would);
	when(p->out, first, last);
	if (a->group != SIZE_MAX) {
		fprintf(p->out, "\n  # %zu names seen:", names);
		size_t shown = 0;
		for (size_t k = i; k < p->nc; k++)
			if (p->c[k].group == i && shown++ < NAMES_SHOWN)
				fprintf(p->out, " %s", p->c[k].row->text);
		if (names > NAMES_SHOWN)
			fprintf(p->out, " and %zu more", names - NAMES_SHOWN);
		fprintf(p->out, "\n  - \"*.%s:%u\"\n", a->reg, a->row->port);
	} else {
		fprintf(p->out, "\n  - \"%s:%u\"\n", a->row->text, a->row->port);
	}
}

static void header(const struct proposal *p, unsigned srv, const char *name)
{
	const struct alog_server *s = &p->t->servers[srv];

	fprintf(p->out, "# Proposed by `sluice log policy` for server '%s' from %llu requests, ", s->name,
		(unsigned long long)s->requests);
	when(p->out, s->first, s->last);
	fputs(".\n# It allows exactly the names and ports that were allowed or would_deny; review it before use.\n",
	      p->out);
	fprintf(p->out, "version: 1\nname: %s\nmode: enforce\n", name);
}

/* Why a row that is not proposed is listed, or NULL when it is not worth a line. */
static const char *note(const struct proposal *p, size_t i)
{
	const struct alog_row *r = p->rows[i];
	const char *why = excluded(r);

	if (candidate(r))
		return NULL;
	if (!(r->flags & ALOG_F_CONNECT)) /* DNS records only */
		return alog_dns_only(p->rows, p->nrows, i) ? why ? why : "resolved only, never connected" : NULL;
	if (why)
		return why;
	if ((r->deny_reasons | r->would_reasons) & BIT(POL_BLOCKED_ADDRESS))
		return "resolved to blocked addresses";
	if (!r->port)
		return "no port in the log";
	return r->deny + r->would ? "denied" : NULL;
}

static void reviewer_notes(const struct proposal *p)
{
	bool head = false, priv = false;
	size_t shown = 0;

	for (size_t i = 0; i < p->nrows; i++) {
		const struct alog_row *r = p->rows[i];
		const char *why = note(p, i);
		if (!why)
			continue;
		if (shown++ == NOTES_MAX) {
			fputs("#   (more rows not shown: see `sluice log hosts`)\n", p->out);
			break;
		}
		if (!head)
			fputs("# Not proposed, for the reviewer:\n", p->out);
		head = true;
		fprintf(p->out, "#   %s%s%.0u  %s: %llu requests (allow %llu, deny %llu, would_deny %llu), %llu queries, ",
			r->text, r->port ? ":" : "", r->port, why, (unsigned long long)r->count,
			(unsigned long long)r->allow, (unsigned long long)r->deny, (unsigned long long)r->would,
			(unsigned long long)r->dns);
		when(p->out, r->first, r->last);
		fputc('\n', p->out);
	}
	for (size_t i = 0; i < p->nc; i++)
		if (p->c[i].row->priv) {
			if (!priv)
				fputs("# Reached at addresses in blocked ranges (the log's allow_private let them through;\n"
				      "# add allow_private entries yourself if that is intended):\n",
				      p->out);
			priv = true;
			fprintf(p->out, "#   %s:%u -> %s\n", p->c[i].row->text, p->c[i].row->port, p->c[i].row->priv);
		}
}

static void write_policy(struct proposal *p, unsigned srv, const char *name)
{
	header(p, srv, name);
	fputs(p->nc ? "allow:\n" : "allow: []\n", p->out);
	for (size_t i = 0; i < p->nc; i++)
		if (p->c[i].group == SIZE_MAX || p->c[i].group == i)
			entry(p, i);
	reviewer_notes(p);
}

/* Load the text back with the policy loader: the proposal must pass `policy check`. */
static int check_loads(const char *text, size_t len)
{
	struct policy *pol = NULL;
	struct pol_errors errs = { 0 };
	int rc = pol_load_buffer(text, len, "proposal", &pol, &errs);

	for (size_t i = 0; i < errs.n; i++)
		log_msg("log policy: the proposal does not load: %s", errs.v[i]);
	pol_errors_free(&errs);
	pol_free(pol);
	return rc;
}

int alog_propose(const struct alog_tally *t, unsigned srv, const char *name, FILE *out)
{
	struct proposal p = { .t = t };
	char *text = NULL;
	size_t len = 0;
	int rc = -ENOMEM;

	p.rows = alog_host_rows(t, (int)srv, &p.nrows);
	p.c = calloc(p.nrows + 1, sizeof(*p.c));
	p.out = open_memstream(&text, &len);
	if (p.rows && p.c && p.out) {
		for (size_t i = 0; i < p.nrows; i++)
			if (candidate(p.rows[i]))
				p.c[p.nc++] = (struct cand){ p.rows[i], psl_registrable_domain(pol_psl(), p.rows[i]->text),
							     SIZE_MAX };
		make_groups(&p);
		write_policy(&p, srv, name);
		rc = fclose(p.out) == 0 ? 0 : -EIO;
		p.out = NULL;
	}
	if (p.out)
		fclose(p.out);
	if (rc == 0 && (rc = check_loads(text, len)) == 0)
		fwrite(text, 1, len, out);
	free(text);
	free(p.c);
	free(p.rows);
	return rc;
}
