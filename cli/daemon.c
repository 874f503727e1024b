/* daemon.c: start-up and tear-down shared by the long-running subcommands. */
#include "daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "audit.h"
#include "cmds.h"
#include "log.h"
#include "policy.h"
#include "resolve.h"

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_msg("signal %d: stopping", (int)sig);
	event_base_loopexit(arg, NULL);
}

/* c-ares' server list from IP[:PORT] values; -1 after a message. */
static int server_list(struct cli_opt *resolvers, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < resolvers->n; i++) {
		char one[96];
		if (cmd_resolver(resolvers->values[i], one, sizeof(one)) < 0)
			return -1;
		int n = snprintf(buf + used, size - used, "%s%s", used ? "," : "", one);
		if (n < 0 || (size_t)n >= size - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

/* Use every descriptor the hard limit grants: each tunnel needs two. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* An epoll loop that applies its descriptor changes once, just before it
 * waits: a read paused and resumed, or a write armed and met, within one pass
 * costs no epoll_ctl. sluice never dup()s a socket it watches, the case where
 * libevent warns the change list can go wrong. */
static struct event_base *new_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	if (!cfg)
		return NULL;
	if (event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0)
		base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

int daemon_open(struct daemon *d, struct cli_opt *log, struct cli_opt *resolvers, uint32_t ttl_floor,
		uint32_t ttl_ceiling)
{
	char servers[CLI_MAX_REPEAT * 96];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (server_list(resolvers, servers, sizeof(servers)) < 0)
		return 2;
	if ((rc = audit_open(log->n ? log->values[0] : NULL, d->pol ? d->pol->name : "sluice", &d->audit)) < 0) {
		log_msg("cannot open log '%s': %s", log->values[0], strerror(-rc));
		return 1;
	}
	d->base = new_base();
	struct rsv_opts ro = { .servers = resolvers->n ? servers : NULL, .ttl_floor = ttl_floor,
			       .ttl_ceiling = ttl_ceiling };
	if (!d->base || audit_use_loop(d->audit, d->base) < 0 || (rc = rsv_new(d->base, &ro, &d->rsv)) < 0) {
		log_msg("cannot start the resolver");
		return 1;
	}
	return 0;
}

int daemon_setup(struct daemon *d, const char *policy, struct cli_opt *log, struct cli_opt *resolvers,
		 uint32_t ttl_floor, uint32_t ttl_ceiling)
{
	d->pol = cmd_load_policy(policy);
	if (!d->pol)
		return 2;
	int rc = daemon_open(d, log, resolvers, ttl_floor, ttl_ceiling);
	if (rc)
		return rc;
	d->sigint = evsignal_new(d->base, SIGINT, stop_cb, d->base);
	d->sigterm = evsignal_new(d->base, SIGTERM, stop_cb, d->base);
	if (!d->sigint || !d->sigterm || event_add(d->sigint, NULL) < 0 || event_add(d->sigterm, NULL) < 0)
		return 1;
	return 0;
}

void daemon_free(struct daemon *d)
{
	rsv_free(d->rsv);
	audit_close(d->audit);
	pol_free(d->pol);
	if (d->sigint)
		event_free(d->sigint);
	if (d->sigterm)
		event_free(d->sigterm);
	if (d->base)
		event_base_free(d->base);
}
