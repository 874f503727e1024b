/* cilium.c: the policy in Cilium's terms. Entries with the same ports share
 * one egress rule. sluice's "*.suffix" matches names any depth below the
 * suffix; Cilium's "*." matches one label, so suffixes are written with
 * Cilium's multi-level prefix "**." (cilium/cilium#43420), and older Cilium
 * releases that read "**." as "*." narrow them: the notes say so. What sluice
 * adds beyond the policy (blocked address ranges, metadata names, deny
 * winning over allow for names) has no Cilium form and is noted. */
#include "cilium.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

struct ports {
	uint16_t v[POL_MAX_PORTS];
	size_t n;
};

struct exporter {
	const struct policy *p;
	FILE *out, *notes;
	int nnotes;
	bool *done; /* by index over allow then preset */
};

__attribute__((format(printf, 2, 3))) static void note(struct exporter *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("sluice: policy export: ", x->notes);
	vfprintf(x->notes, fmt, ap);
	fputc('\n', x->notes);
	va_end(ap);
	x->nnotes++;
}

static const struct pol_entry *entry_at(const struct policy *p, size_t i)
{
	return i < p->allow.n ? &p->allow.v[i] : &p->preset.v[i - p->allow.n];
}

static void ports_of(const struct policy *p, const struct pol_entry *e, struct ports *out)
{
	out->n = 0;
	if (e->port) {
		out->v[out->n++] = e->port;
		return;
	}
	for (size_t i = 0; i < p->nports && i < POL_MAX_PORTS; i++)
		out->v[out->n++] = p->ports[i];
}

static bool same_ports(const struct ports *a, const struct ports *b)
{
	return a->n == b->n && memcmp(a->v, b->v, a->n * sizeof(a->v[0])) == 0;
}

/* A k8s object name: lowercase letters, digits, '-' and '.'. */
static void k8s_name(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (; *in && n + 1 < size; in++)
		out[n++] = *in >= 'A' && *in <= 'Z' ? (char)(*in + 32) : *in == '_' ? '-' : *in;
	out[n] = '\0';
}

static void write_ports(FILE *f, const struct ports *ps)
{
	fputs("    toPorts:\n    - ports:\n", f);
	for (size_t i = 0; i < ps->n; i++)
		fprintf(f, "      - port: \"%u\"\n        protocol: TCP\n", ps->v[i]);
}

static void write_selector(struct exporter *x, const struct pol_entry *e)
{
	char t[ADDR_TEXT_MAX];

	switch (e->kind) {
	case POL_EXACT: fprintf(x->out, "    - matchName: \"%s\"\n", e->name); break;
	case POL_SUFFIX: fprintf(x->out, "    - matchPattern: \"**.%s\"\n", e->name); break;
	case POL_ANY: fputs("    - matchPattern: \"*\"\n", x->out); break;
	case POL_CIDR:
		addr_format(&e->cidr.base, t, sizeof(t));
		fprintf(x->out, "    - \"%s/%u\"\n", t, e->cidr.prefix);
		break;
	}
}

/* One egress rule: entry i and every later one of its class with its ports. */
static void rule(struct exporter *x, size_t i, size_t total)
{
	const struct pol_entry *e = entry_at(x->p, i);
	bool cidr = e->kind == POL_CIDR;
	struct ports ps, other;

	ports_of(x->p, e, &ps);
	fprintf(x->out, "  - %s:\n", cidr ? "toCIDR" : "toFQDNs");
	for (size_t k = i; k < total; k++) {
		const struct pol_entry *o = entry_at(x->p, k);
		ports_of(x->p, o, &other);
		if (x->done[k] || (o->kind == POL_CIDR) != cidr || !same_ports(&ps, &other))
			continue;
		x->done[k] = true;
		write_selector(x, o);
	}
	write_ports(x->out, &ps);
}

static void dns_rule(FILE *f)
{
	/* Cilium learns names from the lookups it proxies: every pod query to kube-dns */
	fputs("  - toEndpoints:\n    - matchLabels:\n        \"k8s:io.kubernetes.pod.namespace\": kube-system\n"
	      "        \"k8s:k8s-app\": kube-dns\n    toPorts:\n    - ports:\n      - port: \"53\"\n"
	      "        protocol: ANY\n      rules:\n        dns:\n        - matchPattern: \"*\"\n",
	      f);
}

static void deny_rules(struct exporter *x)
{
	bool head = false;

	for (size_t i = 0; i < x->p->deny.n; i++) {
		const struct pol_entry *e = &x->p->deny.v[i];
		if (e->kind != POL_CIDR) {
			note(x, "deny \"%s\": Cilium has no FQDN deny; allow entries that cover it widen", e->text);
			continue;
		}
		if (!head)
			fputs("  egressDeny:\n", x->out);
		head = true;
		fputs("  - toCIDR:\n", x->out);
		write_selector(x, e);
		if (e->port) {
			struct ports ps = { { e->port }, 1 };
			write_ports(x->out, &ps);
		}
	}
}

static void notes_for_entries(struct exporter *x, size_t total)
{
	for (size_t i = 0; i < total; i++) {
		const struct pol_entry *e = entry_at(x->p, i);
		if (e->kind == POL_SUFFIX)
			note(x, "\"%s\" is written \"**.%s\" (any depth, as in sluice); a Cilium release without "
				"the \"**.\" prefix reads it as one label: narrower", e->text, e->name);
		if (e->kind == POL_ANY)
			note(x, "\"*\": any name, with no blocked address ranges in Cilium: wider");
		if (e->kind == POL_CIDR && addr_blocked_range(&e->cidr.base) &&
		    !pol_private_allowed(x->p, &e->cidr.base, e->port, NULL))
			note(x, "\"%s\" is in a blocked range: sluice reaches it only where allow_private re-allows it, Cilium always: wider",
			     e->text);
	}
	for (size_t i = 0; i < x->p->allow_private.n; i++)
		note(x, "allow_private \"%s\": Cilium has no blocked ranges to lift; it cannot be expressed",
		     x->p->allow_private.v[i].text);
	if (x->p->cache.n)
		note(x, "%zu cache rules (presets' included): Cilium has no package cache; not expressed", x->p->cache.n);
	if (x->p->mode == POL_REPORT)
		note(x, "mode: report is Cilium's policy audit mode, set per endpoint, not in the policy");
	note(x, "blocked address ranges and metadata names are sluice's own; Cilium admits whatever a name resolves to");
}

int pol_export_cilium(const struct policy *p, FILE *out, FILE *notes)
{
	size_t total = p->allow.n + p->preset.n;
	struct exporter x = { .p = p, .out = out, .notes = notes, .done = calloc(total + 1, sizeof(bool)) };
	char name[80];

	if (!x.done)
		return -ENOMEM;
	k8s_name(p->name, name, sizeof(name));
	fprintf(out, "# sluice policy '%s' as a CiliumNetworkPolicy; select your pods in endpointSelector.\n"
		     "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: %s\nspec:\n"
		     "  endpointSelector:\n    matchLabels:\n      sluice.io/policy: %s\n  egress:\n",
		p->name, name, name);
	dns_rule(out);
	for (size_t i = 0; i < total; i++)
		if (!x.done[i])
			rule(&x, i, total);
	deny_rules(&x);
	notes_for_entries(&x, total);
	free(x.done);
	return ferror(out) ? -EIO : x.nnotes;
}
