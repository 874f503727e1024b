/* cmd_policy.c: `sluice policy check`, `sluice policy explain` and
 * `sluice policy export --format cilium`. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cilium.h"
#include "cli.h"
#include "cmds.h"
#include "host.h"
#include "log.h"
#include "policy.h"
#include "resolve.h"

static int check(int argc, char **argv)
{
	if (argc != 4)
		return cli_usage("policy");
	struct policy *pol = cmd_load_policy(argv[3]);
	if (!pol)
		return 1;
	printf("%s: ok: policy '%s', mode %s, %zu allow, %zu deny, %zu preset, %zu allow_private entries; "
	       "%zu write, %zu hide, %zu show paths; ech %s\n",
	       argv[3], pol->name, pol->mode == POL_REPORT ? "report" : "enforce", pol->allow.n, pol->deny.n,
	       pol->preset.n, pol->allow_private.n, pol->write.n, pol->hide.n, pol->show.n,
	       pol->ech_allow ? "allow" : "deny");
	struct pol_errors w = { 0 };
	pol_lint(pol, &w);
	for (size_t i = 0; i < w.n; i++)
		fprintf(stderr, "%s: warning: %s\n", argv[3], w.v[i]);
	pol_errors_free(&w);
	pol_free(pol);
	return 0;
}

struct lookup {
	bool done;
	struct rsv_result res;
	struct event_base *base;
};

static void lookup_cb(const struct rsv_result *res, void *arg)
{
	struct lookup *l = arg;

	l->res = *res;
	l->done = true;
	event_base_loopbreak(l->base);
}

/* Resolve name synchronously on a private loop. Returns 0 or -errno. */
static int resolve(const char *name, const char *servers, struct rsv_result *out)
{
	struct lookup l = { .base = event_base_new() };
	struct rsv *r = NULL;
	struct rsv_query *q = NULL;
	struct rsv_opts ro = { .servers = servers };
	int rc = l.base ? rsv_new(l.base, &ro, &r) : -ENOMEM;

	if (rc == 0) {
		rc = rsv_lookup(r, name, &l.res, lookup_cb, &l, &q);
		if (rc == 0)
			event_base_dispatch(l.base);
		rc = rc < 0 ? rc : 0;
	}
	*out = l.res;
	rsv_free(r);
	if (l.base)
		event_base_free(l.base);
	return rc;
}

static void print_addr(const char *label, const struct policy *pol, const struct addr *a, uint16_t port)
{
	char t[ADDR_TEXT_MAX];
	const char *range = addr_blocked_range(a);
	const struct pol_entry *rule = NULL;

	addr_format(a, t, sizeof(t));
	if (!range)
		printf("%s: %s (globally reachable)\n", label, t);
	else if (pol_private_allowed(pol, a, port, &rule))
		printf("%s: %s (blocked range %s, re-allowed by allow_private \"%s\")\n", label, t, range, rule->text);
	else
		printf("%s: %s (blocked range %s)\n", label, t, range);
}

static int report(const struct pol_verdict *v, const char *host, uint16_t port, const char *blocked)
{
	char hint[320];

	pol_hint(v, host, port, blocked, hint, sizeof(hint));
	printf("decision: %s\nreason: %s\nrule: %s\nhint: %s\n", v->allow ? "allow" : "deny",
	       pol_reason_key(v->reason), v->rule ? v->rule->text : "-", hint);
	return v->allow ? 0 : 1;
}

/* Addresses checked: an IP literal, or (with --resolve) the answers. */
static int vet_addrs(const struct policy *pol, struct pol_verdict *v, const struct addr *in, size_t n,
		     uint16_t port, const char *label, const char *host)
{
	struct addr kept[RSV_MAX_ADDRS];
	const struct addr *first_blocked;
	char blocked[ADDR_TEXT_MAX];

	for (size_t i = 0; i < n; i++)
		print_addr(label, pol, &in[i], port);
	if (!v->allow || pol_vet(pol, in, n, port, kept, &first_blocked) > 0)
		return report(v, host, port, NULL);
	addr_format(first_blocked, blocked, sizeof(blocked));
	v->allow = false;
	v->reason = POL_BLOCKED_ADDRESS;
	return report(v, host, port, blocked);
}

static int explain(int argc, char **argv)
{
	struct cli_opt opts[CLI_MAX_OPTS];
	char servers[128];

	cli_table(opts, "policy", "explain");
	int first = cli_parse(argc, argv, 3, opts);
	if (first < 0 || argc - first != 2)
		return cli_usage("policy");
	struct cli_opt *res = cli_get(opts, "--resolver");
	if (res->n && cmd_resolver(res->values[0], servers, sizeof(servers)) < 0)
		return 2;
	char *spec;
	if (cmd_policy_spec(opts, argv[first], &spec))
		return 2;
	struct policy *pol = cmd_load_policy(spec);
	free(spec);
	if (!pol)
		return 2;
	struct host h;
	uint16_t port;
	const char *why = "";
	struct pol_verdict v = { 0 };
	int rc;
	if (host_parse_authority(span_str(argv[first + 1]), 443, &h, &port, &why) < 0) {
		printf("host: %s\ndecision: deny\nreason: bad_request\nrule: -\nhint: %s\n", argv[first + 1], why);
		pol_free(pol);
		return 1;
	}
	printf("host: %s\nport: %u\n", h.text, port);
	pol_decide(pol, &h, port, &v);
	if (h.kind == HOST_IP) {
		rc = vet_addrs(pol, &v, &h.ip, 1, port, "address", h.text);
	} else if (cli_get(opts, "--resolve")->n && v.allow) {
		struct rsv_result r;
		if (resolve(h.text, res->n ? servers : NULL, &r) < 0 || r.status < 0) {
			v.allow = false;
			v.reason = POL_RESOLVE_FAILED;
			rc = report(&v, h.text, port, NULL);
		} else {
			rc = vet_addrs(pol, &v, r.addrs, r.naddrs, port, "answer", h.text);
		}
	} else {
		rc = report(&v, h.text, port, NULL);
	}
	pol_free(pol);
	return rc;
}

static int export_policy(int argc, char **argv)
{
	struct cli_opt opts[CLI_MAX_OPTS];

	cli_table(opts, "policy", "export");
	int first = cli_parse(argc, argv, 3, opts);
	struct cli_opt *fmt = first >= 0 ? cli_get(opts, "--format") : NULL;

	if (first < 0 || argc - first != 1 || !fmt->n || strcmp(fmt->values[0], "cilium") != 0)
		return cli_usage("policy");
	struct policy *pol = cmd_load_policy(argv[first]);
	if (!pol)
		return 1;
	int rc = pol_export_cilium(pol, stdout, stderr);
	pol_free(pol);
	if (fflush(stdout) != 0 || rc < 0) {
		log_msg("policy export: cannot write the output");
		return 1;
	}
	return 0;
}

int cmd_policy(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[2], "check") == 0)
		return check(argc, argv);
	if (argc >= 3 && strcmp(argv[2], "explain") == 0)
		return explain(argc, argv);
	if (argc >= 3 && strcmp(argv[2], "export") == 0)
		return export_policy(argc, argv);
	return cli_usage("policy");
}
