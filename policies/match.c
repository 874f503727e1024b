/* match.c: the one policy matcher. deny wins, then allow, then presets; an IP
 * literal is admitted only by an IP/CIDR entry. Within a list the first
 * matching entry decides; the compiled index (index.c) only narrows which
 * entries are looked at. */
#include <stdio.h>
#include <string.h>

#include "index.h"
#include "policy.h"

static const char *const metadata_names[] = {
	"metadata.google.internal", "metadata.goog",        "metadata",
	"instance-data",            "metadata.aws.internal", "host.docker.internal",
	"gateway.docker.internal",
};

static const char *const reason_keys[] = {
	[POL_ALLOWED] = "allowed",
	[POL_NOT_ALLOWED] = "not_allowed",
	[POL_DENIED_BY_RULE] = "denied_by_rule",
	[POL_BLOCKED_ADDRESS] = "blocked_address",
	[POL_METADATA_HOST] = "metadata_host",
	[POL_PORT_NOT_ALLOWED] = "port_not_allowed",
	[POL_IP_LITERAL] = "ip_literal",
	[POL_BAD_REQUEST] = "bad_request",
	[POL_RESOLVE_FAILED] = "resolve_failed",
	[POL_CONNECT_FAILED] = "connect_failed",
	[POL_NO_NAME] = "no_name",
	[POL_LIMIT] = "limit",
};

const char *pol_reason_key(enum pol_reason r)
{
	return (unsigned)r < sizeof(reason_keys) / sizeof(reason_keys[0]) ? reason_keys[r] : "unknown";
}

bool pol_is_metadata_name(const char *name)
{
	for (size_t i = 0; i < sizeof(metadata_names) / sizeof(metadata_names[0]); i++)
		if (strcmp(name, metadata_names[i]) == 0)
			return true;
	return false;
}

bool pol_is_localhost_name(const char *name)
{
	size_t n = strlen(name);

	return strcmp(name, "localhost") == 0 || (n > 10 && strcmp(name + n - 10, ".localhost") == 0);
}

static bool entry_matches_host(const struct pol_entry *e, const struct host *h)
{
	switch (e->kind) {
	case POL_EXACT:
		return h->kind == HOST_NAME && strcmp(h->text, e->name) == 0;
	case POL_SUFFIX: {
		if (h->kind != HOST_NAME)
			return false;
		size_t hl = strlen(h->text), sl = strlen(e->name);
		return hl > sl + 1 && h->text[hl - sl - 1] == '.' && strcmp(h->text + hl - sl, e->name) == 0;
	}
	case POL_ANY:
		return h->kind == HOST_NAME;
	case POL_CIDR:
		return h->kind == HOST_IP && addr_in_cidr(&h->ip, &e->cidr);
	}
	return false;
}

static bool allow_port_ok(const struct policy *p, const struct pol_entry *e, uint16_t port)
{
	if (e->port)
		return e->port == port;
	for (size_t i = 0; i < p->nports; i++)
		if (p->ports[i] == port)
			return true;
	return false;
}

/* How an entry's port is judged while looking for the first match. */
enum port_rule {
	PORT_ALLOW, /* the entry's port, else the policy's ports */
	PORT_DENY,  /* the entry's port, else any port */
	PORT_ANY,   /* any port (a DNS name) */
	PORT_NONE,  /* entries with a port never match (DNS names against deny) */
};

struct search {
	const struct policy *p;
	const struct pol_list *l;
	const struct host *h;
	uint16_t port;
	enum port_rule rule;
	size_t hit, near; /* lowest matching index, and lowest host-only match */
};

static bool port_ok(const struct search *q, const struct pol_entry *e)
{
	switch (q->rule) {
	case PORT_ALLOW:
		return allow_port_ok(q->p, e, q->port);
	case PORT_DENY:
		return !e->port || e->port == q->port;
	case PORT_ANY:
		return true;
	case PORT_NONE:
		return !e->port;
	}
	return false;
}

static void consider(size_t i, void *arg)
{
	struct search *q = arg;
	const struct pol_entry *e = &q->l->v[i];

	if (i >= q->hit || !entry_matches_host(e, q->h))
		return;
	if (port_ok(q, e))
		q->hit = i;
	else if (i < q->near)
		q->near = i;
}

/* The first entry of l (in list order) matching h under rule; *near gets
 * the first that matches the host but not the port. */
static const struct pol_entry *first_match(const struct policy *p, const struct pol_list *l, const struct host *h,
					   uint16_t port, enum port_rule rule, const struct pol_entry **near)
{
	struct search q = { p, l, h, port, rule, SIZE_MAX, SIZE_MAX };

	pol_index_visit(l, h, consider, &q);
	if (near && !*near && q.near != SIZE_MAX && q.near < q.hit)
		*near = &l->v[q.near];
	return q.hit == SIZE_MAX ? NULL : &l->v[q.hit];
}

static void set(struct pol_verdict *v, bool allow, enum pol_reason r, const struct pol_entry *e, bool preset)
{
	v->allow = allow;
	v->reason = r;
	v->rule = e;
	v->rule_is_preset = preset;
}

/* Metadata names, then localhost (RFC 6761: always the loopback, which is
 * blocked, and allow_private must not reach the host's own loopback
 * through a name): decided before any entry. */
static bool decided_by_name(const struct host *h, struct pol_verdict *v)
{
	if (h->kind == HOST_NAME && pol_is_metadata_name(h->text)) {
		set(v, false, POL_METADATA_HOST, NULL, false);
		return true;
	}
	if (h->kind == HOST_NAME && pol_is_localhost_name(h->text)) {
		set(v, false, POL_BLOCKED_ADDRESS, NULL, false);
		return true;
	}
	return false;
}

void pol_decide(const struct policy *p, const struct host *h, uint16_t port, struct pol_verdict *v)
{
	const struct pol_entry *near = NULL, *e;

	if (decided_by_name(h, v))
		return;
	if ((e = first_match(p, &p->deny, h, port, PORT_DENY, NULL))) {
		set(v, false, POL_DENIED_BY_RULE, e, false);
		return;
	}
	if ((e = first_match(p, &p->allow, h, port, PORT_ALLOW, &near))) {
		set(v, true, POL_ALLOWED, e, false);
		return;
	}
	if ((e = first_match(p, &p->preset, h, port, PORT_ALLOW, &near))) {
		set(v, true, POL_ALLOWED, e, true);
		return;
	}
	if (near)
		set(v, false, POL_PORT_NOT_ALLOWED, near, false);
	else
		set(v, false, h->kind == HOST_IP ? POL_IP_LITERAL : POL_NOT_ALLOWED, NULL, false);
}

void pol_decide_name(const struct policy *p, const struct host *h, struct pol_verdict *v)
{
	const struct pol_entry *e;

	if (decided_by_name(h, v))
		return;
	if ((e = first_match(p, &p->deny, h, 0, PORT_NONE, NULL))) {
		set(v, false, POL_DENIED_BY_RULE, e, false);
		return;
	}
	if ((e = first_match(p, &p->allow, h, 0, PORT_ANY, NULL)))
		set(v, true, POL_ALLOWED, e, false);
	else if ((e = first_match(p, &p->preset, h, 0, PORT_ANY, NULL)))
		set(v, true, POL_ALLOWED, e, true);
	else
		set(v, false, h->kind == HOST_IP ? POL_IP_LITERAL : POL_NOT_ALLOWED, NULL, false);
}

struct ports {
	const struct policy *p;
	const struct pol_list *l;
	const struct host *h;
	uint16_t *out;
	size_t n, max;
};

static void add_port(struct ports *q, uint16_t port)
{
	struct pol_verdict v;

	for (size_t i = 0; i < q->n; i++)
		if (q->out[i] == port)
			return;
	pol_decide(q->p, q->h, port, &v);
	if (v.allow && q->n < q->max)
		q->out[q->n++] = port;
}

static void collect_ports(size_t i, void *arg)
{
	struct ports *q = arg;
	const struct pol_entry *e = &q->l->v[i];

	if (!entry_matches_host(e, q->h))
		return;
	if (e->port) {
		add_port(q, e->port);
		return;
	}
	for (size_t k = 0; k < q->p->nports; k++)
		add_port(q, q->p->ports[k]);
}

size_t pol_name_ports(const struct policy *p, const struct host *h, uint16_t *out, size_t max)
{
	struct ports q = { p, &p->allow, h, out, 0, max };

	pol_index_visit(&p->allow, h, collect_ports, &q);
	q.l = &p->preset;
	pol_index_visit(&p->preset, h, collect_ports, &q);
	return q.n;
}

bool pol_private_allowed(const struct policy *p, const struct addr *a, uint16_t port,
			 const struct pol_entry **rule)
{
	for (size_t i = 0; i < p->allow_private.n; i++) {
		const struct pol_entry *e = &p->allow_private.v[i];
		if (addr_in_cidr(a, &e->cidr) && (!e->port || !port || e->port == port)) {
			if (rule)
				*rule = e;
			return true;
		}
	}
	return false;
}

size_t pol_vet(const struct policy *p, const struct addr *in, size_t n, uint16_t port, struct addr *out,
	       const struct addr **first_blocked)
{
	size_t kept = 0;

	if (first_blocked)
		*first_blocked = NULL;
	for (size_t i = 0; i < n; i++) {
		if (addr_blocked_range(&in[i]) && !pol_private_allowed(p, &in[i], port, NULL)) {
			if (first_blocked && !*first_blocked)
				*first_blocked = &in[i];
			continue;
		}
		out[kept++] = in[i];
	}
	return kept;
}

/* Authority text as a policy entry spells it: "[v6]:port" or "host:port". */
static void entry_text(const char *host, uint16_t port, char *buf, size_t size)
{
	if (strchr(host, ':'))
		snprintf(buf, size, "[%s]:%u", host, port);
	else
		snprintf(buf, size, "%s:%u", host, port);
}

void pol_hint(const struct pol_verdict *v, const char *host, uint16_t port, const char *blocked,
	      char *buf, size_t size)
{
	char hp[HOST_NAME_LEN + 16];

	entry_text(host, port, hp, sizeof(hp));
	switch (v->reason) {
	case POL_NOT_ALLOWED:
	case POL_IP_LITERAL:
		snprintf(buf, size, "add \"%s\" (or \"%s\") to allow", host, hp);
		break;
	case POL_PORT_NOT_ALLOWED:
		snprintf(buf, size, "add \"%s\" to allow, or the port to ports", hp);
		break;
	case POL_DENIED_BY_RULE:
		snprintf(buf, size, "remove \"%s\" from deny", v->rule ? v->rule->text : host);
		break;
	case POL_BLOCKED_ADDRESS:
		if (pol_is_localhost_name(host)) {
			snprintf(buf, size, "localhost is always blocked: it is the loopback (127.0.0.1, ::1); a program "
				 "in `sluice run` reaches the sandbox's own loopback directly, without sluice");
			break;
		}
		snprintf(buf, size, "its address %s is in a blocked range; add \"%s\" to allow_private to reach it",
			 blocked ? blocked : "?", blocked ? blocked : "ADDR");
		break;
	case POL_METADATA_HOST:
		snprintf(buf, size, "cloud metadata names are always denied");
		break;
	case POL_ALLOWED:
		snprintf(buf, size, "allowed by \"%s\"", v->rule ? v->rule->text : "?");
		break;
	default:
		snprintf(buf, size, "no policy entry changes this");
		break;
	}
}
