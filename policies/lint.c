/* lint.c: what `sluice policy check` warns about in a policy that loads:
 * entries that can never take effect or say the same thing twice. Every
 * decision here goes through the one matcher (pol_decide). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define MAX_PAIRS 2000 /* entries of a list compared pairwise for duplicates */


/* The host an allow entry names (a probe name under a wildcard). */
static bool entry_host(const struct pol_entry *e, struct host *h)
{
	char probe[HOST_NAME_LEN + 1];
	const char *why;

	switch (e->kind) {
	case POL_EXACT:
		return host_canonicalize(span_str(e->name), h, &why) == 0;
	case POL_SUFFIX:
		snprintf(probe, sizeof(probe), "sluice-check-probe.%s", e->name);
		return host_canonicalize(span_str(probe), h, &why) == 0;
	case POL_ANY:
		return host_canonicalize(span_str("sluice-check-probe.example"), h, &why) == 0;
	case POL_CIDR:
		h->kind = HOST_IP;
		h->ip = e->cidr.base;
		addr_format(&e->cidr.base, h->text, sizeof(h->text));
		return true;
	}
	return false;
}

/* An allow entry that a deny entry (or the localhost rule) overrides. */
static void shadowed(const struct policy *p, const struct pol_entry *e, struct pol_errors *w)
{
	struct host h;
	struct pol_verdict v = { 0 };
	uint16_t port = e->port ? e->port : p->nports ? p->ports[0] : 443;

	if (!entry_host(e, &h))
		return;
	pol_decide(p, &h, port, &v);
	if (v.reason == POL_DENIED_BY_RULE && v.rule &&
	    (e->kind == POL_EXACT || e->kind == POL_CIDR || v.rule->kind == POL_SUFFIX || v.rule->kind == POL_ANY))
		pol_errors_add(w, "'%s' is both allowed and denied (by deny '%s'): deny wins", e->text, v.rule->text);
	else if (v.reason == POL_BLOCKED_ADDRESS && e->kind == POL_EXACT)
		pol_errors_add(w, "allow '%s' never matches: localhost is always blocked", e->text);
}

/* allow: an IP/CIDR in a blocked range that allow_private does not lift. */
static void private_without(const struct policy *p, const struct pol_entry *e, struct pol_errors *w)
{
	const struct pol_entry *rule;
	const char *range;

	if (e->kind != POL_CIDR || !(range = addr_blocked_range(&e->cidr.base)))
		return;
	if (!pol_private_allowed(p, &e->cidr.base, e->port, &rule))
		pol_errors_add(w, "allow '%s' is in the blocked range %s: it stays blocked unless allow_private lists it too",
		     e->text, range);
}

static bool same_entry(const struct pol_entry *a, const struct pol_entry *b)
{
	if (a->kind != b->kind || a->port != b->port)
		return false;
	if (a->kind == POL_CIDR)
		return a->cidr.prefix == b->cidr.prefix && addr_equal(&a->cidr.base, &b->cidr.base);
	return a->kind == POL_ANY || strcmp(a->name, b->name) == 0;
}

static void duplicates(const struct pol_list *l, const char *key, struct pol_errors *w)
{
	size_t n = l->n < MAX_PAIRS ? l->n : MAX_PAIRS;

	for (size_t i = 1; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (same_entry(&l->v[i], &l->v[j])) {
				pol_errors_add(w, "'%s' is in %s twice (also as '%s')", l->v[i].text, key, l->v[j].text);
				break;
			}
}

int pol_lint(const struct policy *p, struct pol_errors *w)
{
	for (size_t i = 0; i < p->allow.n; i++) {
		shadowed(p, &p->allow.v[i], w);
		private_without(p, &p->allow.v[i], w);
	}
	duplicates(&p->allow, "allow", w);
	duplicates(&p->deny, "deny", w);
	duplicates(&p->allow_private, "allow_private", w);
	return (int)w->n;
}
