/* cmd_proxy.c: `sluice proxy`, the proxy on its own for build servers and
 * containers. */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "cmds.h"
#include "log.h"
#include "policy.h"
#include "proxy.h"
#include "resolve.h"

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_msg("signal %d: stopping", (int)sig);
	event_base_loopexit(arg, NULL);
}

struct proxy_ctx {
	struct event_base *base;
	struct policy *pol;
	struct audit *audit;
	struct rsv *rsv;
	struct px_server *srv;
	struct event *sigint, *sigterm;
};

static void ctx_free(struct proxy_ctx *c)
{
	px_server_free(c->srv);
	rsv_free(c->rsv);
	audit_close(c->audit);
	pol_free(c->pol);
	if (c->sigint)
		event_free(c->sigint);
	if (c->sigterm)
		event_free(c->sigterm);
	if (c->base)
		event_base_free(c->base);
}

static int setup(struct proxy_ctx *c, struct cli_opt *opts)
{
	struct cli_opt *listen = cli_get(opts, "--listen"), *log = cli_get(opts, "--log");
	struct cli_opt *res = cli_get(opts, "--resolver");
	char servers[128];
	int rc;

	c->pol = cmd_load_policy(cli_get(opts, "--policy")->values[0]);
	if (!c->pol)
		return 2;
	if (res->n && cmd_resolver(res->values[0], servers, sizeof(servers)) < 0)
		return 2;
	if ((rc = audit_open(log->n ? log->values[0] : NULL, c->pol->name, &c->audit)) < 0) {
		log_msg("cannot open log '%s': %s", log->values[0], strerror(-rc));
		return 1;
	}
	c->base = event_base_new();
	struct rsv_opts ro = { .servers = res->n ? servers : NULL };
	if (!c->base || (rc = rsv_new(c->base, &ro, &c->rsv)) < 0) {
		log_msg("cannot start the resolver");
		return 1;
	}
	struct px_config cfg = { .pol = c->pol, .audit = c->audit, .rsv = c->rsv };
	px_config_defaults(&cfg);
	if (px_server_new(c->base, &cfg, &c->srv) < 0)
		return 1;
	for (size_t i = 0; i < listen->n; i++) {
		rc = px_server_listen(c->srv, listen->values[i]);
		if (rc < 0) {
			log_msg("cannot listen on '%s': %s", listen->values[i],
				rc == -EINVAL ? "want IP:PORT or [IPv6]:PORT" : strerror(-rc));
			return rc == -EINVAL ? 2 : 1;
		}
	}
	c->sigint = evsignal_new(c->base, SIGINT, stop_cb, c->base);
	c->sigterm = evsignal_new(c->base, SIGTERM, stop_cb, c->base);
	if (!c->sigint || !c->sigterm || event_add(c->sigint, NULL) < 0 || event_add(c->sigterm, NULL) < 0)
		return 1;
	return 0;
}

int cmd_proxy(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ .name = "--listen", .has_arg = true, .repeat = true },
		{ .name = "--policy", .has_arg = true },
		{ .name = "--log", .has_arg = true },
		{ .name = "--resolver", .has_arg = true },
		{ .name = NULL },
	};
	struct proxy_ctx c = { 0 };

	int first = cli_parse(argc, argv, 2, opts);
	if (first < 0)
		return 2;
	if (first < argc || cli_get(opts, "--listen")->n == 0 || cli_get(opts, "--policy")->n == 0) {
		log_msg("usage: sluice proxy --listen ADDR:PORT... --policy FILE [--log PATH] [--resolver IP[:PORT]]");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int rc = setup(&c, opts);
	if (rc == 0) {
		log_msg("proxy: policy '%s' (%s), listening on %zu address(es)", c.pol->name,
			c.pol->mode == POL_REPORT ? "report" : "enforce", cli_get(opts, "--listen")->n);
		event_base_dispatch(c.base);
	}
	ctx_free(&c);
	return rc;
}
