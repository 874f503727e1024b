/* cmd_proxy.c: `sluice proxy`, the proxy on its own for build servers and
 * containers. */
#include <errno.h>
#include <event2/event.h>
#include <string.h>

#include "cmds.h"
#include "daemon.h"
#include "log.h"
#include "policy.h"
#include "proxy.h"

static int listen_all(struct px_server *srv, struct cli_opt *listen)
{
	for (size_t i = 0; i < listen->n; i++) {
		int rc = px_server_listen(srv, listen->values[i]);
		if (rc < 0) {
			log_msg("cannot listen on '%s': %s", listen->values[i],
				rc == -EINVAL ? "want IP:PORT or [IPv6]:PORT" : strerror(-rc));
			return rc == -EINVAL ? 2 : 1;
		}
	}
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
	struct daemon d = { 0 };
	struct px_server *srv = NULL;
	struct cli_opt *listen = cli_get(opts, "--listen");

	int first = cli_parse(argc, argv, 2, opts);
	if (first < 0)
		return 2;
	if (first < argc || listen->n == 0 || cli_get(opts, "--policy")->n == 0) {
		log_msg("usage: sluice proxy --listen ADDR:PORT... --policy FILE [--log PATH] [--resolver IP[:PORT]]");
		return 2;
	}
	int rc = daemon_setup(&d, cli_get(opts, "--policy")->values[0], cli_get(opts, "--log"),
			      cli_get(opts, "--resolver"), 0, 0);
	if (rc == 0) {
		struct px_config cfg = { .pol = d.pol, .audit = d.audit, .rsv = d.rsv };
		px_config_defaults(&cfg);
		rc = px_server_new(d.base, &cfg, &srv) < 0 ? 1 : listen_all(srv, listen);
	}
	if (rc == 0) {
		log_msg("proxy: policy '%s' (%s), listening on %zu address(es)", d.pol->name,
			d.pol->mode == POL_REPORT ? "report" : "enforce", listen->n);
		event_base_dispatch(d.base);
	}
	px_server_free(srv);
	daemon_free(&d);
	return rc;
}
