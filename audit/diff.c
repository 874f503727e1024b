/* diff.c: a policy against the log. Every host of the window is decided
 * again by the policy matcher (pol_decide, pol_decide_name,
 * pol_private_allowed); entries no decision named are unused. Entries that
 * can never match are found by asking the same matcher about them. */
#include "diff.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "policy.h"
#include "review.h"

struct diff {
	const struct policy *pol;
	bool *used;              /* by entry: allow, then deny, then allow_private */
	struct alog_table unused, denied, never;
};

static size_t slot(const struct diff *d, const struct pol_entry *e)
{
	const struct pol_list *l[] = { &d->pol->allow, &d->pol->deny, &d->pol->allow_private };
	size_t base = 0;

	for (size_t i = 0; i < 3; base += l[i]->n, i++)
		if (e >= l[i]->v && e < l[i]->v + l[i]->n)
			return base + (size_t)(e - l[i]->v);
	return SIZE_MAX; /* a preset's entry */
}

static void mark(struct diff *d, const struct pol_entry *e)
{
	size_t k = e ? slot(d, e) : SIZE_MAX;

	if (k != SIZE_MAX)
		d->used[k] = true;
}

static void decided(struct diff *d, const struct alog_tally *t, const struct alog_row *r)
{
	struct host h;
	const char *why;
	struct pol_verdict v;
	char hint[400], port[8];

	if (host_canonicalize(span_str(r->text), &h, &why) < 0)
		return;
	if (r->flags & ALOG_F_CONNECT)
		pol_decide(d->pol, &h, r->port, &v);
	else
		pol_decide_name(d->pol, &h, &v);
	mark(d, v.rule);
	struct addr a;
	const struct pol_entry *pe = NULL;
	if (r->priv && addr_parse(span_str(r->priv), &a) == 0 && pol_private_allowed(d->pol, &a, r->port, &pe))
		mark(d, pe);
	if (!(r->flags & ALOG_F_CONNECT) || !(r->deny + r->would))
		return;
	pol_hint(&v, h.text, r->port, NULL, hint, sizeof(hint));
	snprintf(port, sizeof(port), "%u", r->port);
	alog_row_start(&d->denied);
	alog_put_text(&d->denied, 0, t->servers[r->server].name);
	alog_put_text(&d->denied, 1, r->text);
	alog_put_text(&d->denied, 2, r->port ? port : NULL);
	alog_put_num(&d->denied, 3, (int64_t)r->deny);
	alog_put_num(&d->denied, 4, (int64_t)r->would);
	alog_put_text(&d->denied, 5, v.allow ? "allow" : pol_reason_key(v.reason));
	alog_put_text(&d->denied, 6, hint);
}

static void never(struct diff *d, const char *list, const struct pol_entry *e, const char *why)
{
	alog_row_start(&d->never);
	alog_put_text(&d->never, 0, list);
	alog_put_text(&d->never, 1, e->text);
	alog_put_text(&d->never, 2, why);
}

/* A host that stands for an allow entry when the matcher is asked about it. */
static int probe(const struct pol_entry *e, struct host *h)
{
	char name[HOST_NAME_LEN + 1];
	const char *why;

	if (e->kind == POL_CIDR) {
		memset(h, 0, sizeof(*h));
		h->kind = HOST_IP;
		h->ip = e->cidr.base;
		addr_format(&h->ip, h->text, sizeof(h->text));
		return 0;
	}
	if (e->kind == POL_ANY)
		return -EINVAL;
	snprintf(name, sizeof(name), e->kind == POL_SUFFIX ? "sluice-probe.%s" : "%s", e->name);
	return host_canonicalize(span_str(name), h, &why);
}

/* Whether every port the entry covers is refused by deny or the metadata list. */
static bool shadowed(const struct policy *pol, const struct pol_entry *e, const char **by)
{
	struct host h;
	struct pol_verdict v = { 0 };
	size_t n = e->port ? 1 : pol->nports;

	if (probe(e, &h) < 0 || n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		pol_decide(pol, &h, e->port ? e->port : pol->ports[i], &v);
		if (v.reason != POL_DENIED_BY_RULE && v.reason != POL_METADATA_HOST)
			return false;
	}
	*by = v.reason == POL_METADATA_HOST ? "a cloud metadata name: always denied" : "the host is also in deny";
	return true;
}

static bool port_listed(const struct policy *pol, uint16_t port)
{
	for (size_t i = 0; i < pol->nports; i++)
		if (pol->ports[i] == port)
			return true;
	for (size_t i = 0; i < pol->allow.n; i++)
		if (pol->allow.v[i].port == port)
			return true;
	return false;
}

static void never_matching(struct diff *d)
{
	const struct policy *pol = d->pol;
	const char *why;

	for (size_t i = 0; i < pol->allow.n; i++) {
		const struct pol_entry *e = &pol->allow.v[i];
		if (shadowed(pol, e, &why))
			never(d, "allow", e, why);
		else if (e->kind == POL_CIDR && addr_blocked_range(&e->cidr.base) &&
			 !pol_private_allowed(pol, &e->cidr.base, e->port, NULL))
			never(d, "allow", e, "a private address without allow_private");
	}
	for (size_t i = 0; i < pol->allow_private.n; i++) {
		const struct pol_entry *e = &pol->allow_private.v[i];
		if (e->port && !port_listed(pol, e->port))
			never(d, "allow_private", e, "its port is not in ports and no allow entry names it");
	}
}

static void unused_rows(struct diff *d)
{
	const struct pol_list *l[] = { &d->pol->allow, &d->pol->deny, &d->pol->allow_private };
	static const char *const names[] = { "allow", "deny", "allow_private" };
	size_t k = 0;

	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < l[i]->n; j++, k++)
			if (!d->used[k]) {
				alog_row_start(&d->unused);
				alog_put_text(&d->unused, 0, names[i]);
				alog_put_text(&d->unused, 1, l[i]->v[j].text);
			}
}

int alog_diff(const struct alog_tally *t, int srv, const struct policy *pol, enum alog_format fmt, FILE *out)
{
	struct diff d = { .pol = pol };
	size_t n = 0;
	const struct alog_row **rows = alog_host_rows(t, srv, &n);
	struct alog_table *all[] = { &d.unused, &d.denied, &d.never };

	d.used = calloc(pol->allow.n + pol->deny.n + pol->allow_private.n + 1, sizeof(*d.used));
	if (!rows || !d.used) {
		free(rows);
		free(d.used);
		return -ENOMEM;
	}
	alog_table_init(&d.unused, "unused", "list,entry");
	alog_table_init(&d.denied, "denied", "server,host,port,deny:n,would_deny:n,this_policy,would_admit");
	alog_table_init(&d.never, "never_matching", "list,entry,why");
	for (size_t i = 0; i < n; i++)
		decided(&d, t, rows[i]);
	unused_rows(&d);
	never_matching(&d);
	int rc = alog_print(out, fmt, all, 3);
	for (size_t i = 0; i < 3; i++)
		alog_table_free(all[i]);
	free(rows);
	free(d.used);
	return rc;
}
