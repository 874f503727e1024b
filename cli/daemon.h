/* daemon.h: what `sluice proxy` and `sluice dns` share: the loop, the
 * policy, the audit log, the resolver and the stop signals. */
#ifndef SLUICE_DAEMON_H
#define SLUICE_DAEMON_H

#include <stdint.h>

#include "cli.h"

struct event_base;
struct event;
struct policy;
struct audit;
struct rsv;

struct daemon {
	struct event_base *base;
	struct policy *pol;
	struct audit *audit;
	struct rsv *rsv;
	struct event *sigint, *sigterm;
};

/*
 * Load the policy, open the log, start the loop and the resolver (its
 * servers from every value of resolvers, or resolv.conf when there are none)
 * and stop on SIGINT and SIGTERM. Returns 0, or the exit status after a
 * one-line message (2 for usage and policy errors, 1 for the rest).
 */
int daemon_setup(struct daemon *d, const char *policy, struct cli_opt *log, struct cli_opt *resolvers,
		 uint32_t ttl_floor, uint32_t ttl_ceiling);

/* daemon_setup without the policy and the stop signals: d->pol is already
 * loaded (`sluice run` has its own default and passes signals on). */
int daemon_open(struct daemon *d, struct cli_opt *log, struct cli_opt *resolvers, uint32_t ttl_floor,
		uint32_t ttl_ceiling);

void daemon_free(struct daemon *d);

#endif
