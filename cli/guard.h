/* guard.h: serving one sandbox's listeners from the host namespace: the
 * explicit proxy, the transparent port and the DNS stub, the bound sets the
 * stub fills, and the audit records of the packets the kernel rejected.
 * `sluice run`, `sluice attach` and every attachment of `sluice serve` are
 * one guard each; the listeners and netlink sockets were made inside the
 * sandbox's network namespace and handed over (sbx.h). */
#ifndef SLUICE_GUARD_H
#define SLUICE_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbx.h"

struct event_base;
struct policy;
struct audit;
struct rsv;
struct px_cache;
struct guard;

struct guard_conf {
	struct event_base *base;
	const struct policy *pol;
	struct audit *audit;
	struct rsv *rsv;          /* shared: one resolver cache for every guard of a process */
	struct px_cache *cache;   /* the package cache, or NULL */
	const char *who;          /* "run", "attach": the start of its stderr lines */
};

/* Serve fds (as sbx_recv_fds left them; fds[SBX_SECCOMP] is not a guard's
 * and is left alone; fds[SBX_ENGINE_DNS], when there, is the client of
 * the container's DNS that the stub and the proxy ask for single-label
 * names, with fds[SBX_ENGINE_RT] to check its answers' addresses). The guard owns the others from here, also on failure.
 * A missing IPv6 listener (a namespace without ::1) is skipped. Returns 0
 * or -errno. */
int guard_new(const struct guard_conf *c, int fds[SBX_NFDS], struct guard **out);

/* Write the records of rejected packets the kernel has queued. */
void guard_drain(struct guard *g);

/* Decide new connections and queries under pol from now on (open ones
 * keep theirs); the caller keeps pol alive as long as the guard. */
void guard_set_policy(struct guard *g, const struct policy *pol);

/* Client connections open now (a metrics_add_active source; g may be NULL). */
size_t guard_active(const void *g);

/* How many rejected packets the guard has logged (0 for NULL). */
uint64_t guard_packets(const struct guard *g);

void guard_free(struct guard *g);

#endif
