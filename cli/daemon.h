/* daemon.h: what `sluice proxy` and `sluice dns` share: the loop, the
 * policy, the audit log, the resolver, the stop signals, SIGHUP (policy
 * reload and log reopen) and the /metrics endpoint. */
#ifndef SLUICE_DAEMON_H
#define SLUICE_DAEMON_H

#include <stdint.h>

#include "cli.h"

struct event_base;
struct event;
struct policy;
struct audit;
struct rsv;
struct metrics;
struct metrics_http;

/* Hands a reloaded policy to the servers (px_server_set_policy, ...). */
typedef void daemon_reload_fn(void *arg, const struct policy *pol);

struct daemon {
	struct event_base *base;
	struct policy *pol;
	struct audit *audit;
	struct rsv *rsv;
	struct event *sigint, *sigterm, *sighup;
	const char *spec;            /* --policy as given: re-read on SIGHUP */
	daemon_reload_fn *reloaded;  /* NULL: nothing to tell */
	void *reload_arg;
	struct metrics *metrics;     /* with --metrics, else NULL */
	struct metrics_http *metrics_http;
};

/*
 * Load the policy, open the log, start the loop and the resolver (its
 * servers from every value of resolvers, or resolv.conf when there are none)
 * and stop on SIGINT and SIGTERM. Returns 0, or the exit status after a
 * one-line message (2 for usage and policy errors, 1 for the rest).
 */
int daemon_setup(struct daemon *d, const char *policy, struct cli_opt *log, struct cli_opt *resolvers,
		 uint32_t ttl_floor, uint32_t ttl_ceiling);

/*
 * SIGHUP (daemon_setup arms it): reopen the log (audit_reopen), then re-read
 * d->spec with daemon_reload_policy; a policy that loads replaces d->pol and
 * is handed to fn(arg, pol), which should pass it to every server. The
 * process never stops on SIGHUP.
 */
void daemon_on_reload(struct daemon *d, daemon_reload_fn *fn, void *arg);

/*
 * Re-read the policy spec (a file, or a preset by name). When it loads, *pol
 * is replaced (the old reference dropped: servers and open connections hold
 * their own) and 0 returned; when not, its file:line:col errors (or why it
 * cannot be read) go to stderr, *pol stays, and -EINVAL is returned.
 * Either way one record goes to a: event "reload", decision "allow" with
 * reason "allowed", or "deny" with reason "bad_request". The log's server
 * name stays what it was, even when the new policy names itself otherwise.
 * For `sluice serve`: call once per attachment, with its spec and log.
 */
int daemon_reload_policy(const char *spec, struct policy **pol, struct audit *a);

/*
 * With --metrics ADDR:PORT given (metrics->n), make d->metrics, feed it from
 * d->audit and serve it on the address (a bare PORT is 127.0.0.1:PORT; an
 * address off loopback is said on stderr). Returns 0, or the exit status
 * after a one-line message (2 for a bad address).
 */
int daemon_metrics(struct daemon *d, struct cli_opt *metrics);

/* daemon_setup without the policy and the stop signals: d->pol is already
 * loaded (`sluice run` has its own default and passes signals on). */
int daemon_open(struct daemon *d, struct cli_opt *log, struct cli_opt *resolvers, uint32_t ttl_floor,
		uint32_t ttl_ceiling);

void daemon_free(struct daemon *d);

#endif
