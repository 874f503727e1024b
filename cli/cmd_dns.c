/* cmd_dns.c: `sluice dns`, the DNS stub on its own. */
#include <errno.h>
#include <event2/event.h>
#include <string.h>

#include "binding.h"
#include "cmds.h"
#include "daemon.h"
#include "dns.h"
#include "log.h"
#include "policy.h"

static int listen_all(struct dns_server *srv, struct cli_opt *listen)
{
	for (size_t i = 0; i < listen->n; i++) {
		int rc = dns_server_listen(srv, listen->values[i]);
		if (rc < 0) {
			log_msg("cannot listen on '%s' (udp and tcp): %s", listen->values[i],
				rc == -EINVAL ? "want IP:PORT or [IPv6]:PORT" : strerror(-rc));
			return rc == -EINVAL ? 2 : 1;
		}
	}
	return 0;
}

/* --ttl-floor/--ttl-ceiling: seconds, 1 to a day. */
static int ttl_opt(struct cli_opt *o, uint32_t *out)
{
	unsigned long v;

	*out = 0;
	if (!o->n)
		return 0;
	if (span_to_uint(span_str(o->values[0]), 1, 86400, &v) < 0) {
		log_msg("invalid %s '%s': want seconds from 1 to 86400", o->name, o->values[0]);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static void reloaded(void *arg, const struct policy *pol)
{
	dns_server_set_policy(arg, pol);
}

int cmd_dns(int argc, char **argv)
{
	struct cli_opt opts[CLI_MAX_OPTS];
	struct daemon d = { 0 };
	struct dns_server *srv = NULL;
	struct bnd_table *bindings = NULL;
	uint32_t floor, ceiling;

	cli_table(opts, "dns", NULL);
	struct cli_opt *listen = cli_get(opts, "--listen");
	int first = cli_parse(argc, argv, 2, opts);
	if (first < 0 || first < argc || listen->n == 0 || cli_get(opts, "--policy")->n == 0)
		return cli_usage("dns");
	if (cmd_policy_opts(opts))
		return 2;
	if (ttl_opt(cli_get(opts, "--ttl-floor"), &floor) < 0 || ttl_opt(cli_get(opts, "--ttl-ceiling"), &ceiling) < 0)
		return 2;
	if (floor && ceiling && floor > ceiling) {
		log_msg("--ttl-floor %u is above --ttl-ceiling %u", floor, ceiling);
		return 2;
	}
	int rc = daemon_setup(&d, cli_get(opts, "--policy")->values[0], cli_get(opts, "--log"),
			      cli_get(opts, "--upstream"), floor, ceiling);
	if (rc == 0)
		rc = daemon_metrics(&d, cli_get(opts, "--metrics"));
	if (rc == 0) {
		struct dns_config cfg = { .pol = d.pol, .audit = d.audit, .rsv = d.rsv };
		cfg.bindings = bindings = bnd_new(0);
		rc = !bindings || dns_server_new(d.base, &cfg, &srv) < 0 ? 1 : listen_all(srv, listen);
	}
	if (rc == 0)
		daemon_on_reload(&d, reloaded, srv);
	if (rc == 0) {
		log_msg("dns: policy '%s' (%s), listening on %zu address(es)", d.pol->name,
			d.pol->mode == POL_REPORT ? "report" : "enforce", listen->n);
		event_base_dispatch(d.base);
	}
	dns_server_free(srv);
	bnd_free(bindings);
	daemon_free(&d);
	return rc;
}
