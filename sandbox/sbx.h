/* sbx.h: the pieces of `sluice run` that shape the sandbox.
 *
 * DOC: Theory of operation
 * The child unshares user, network and mount namespaces, brings `lo` up and
 * points the default routes at it, creates every listener inside (explicit
 * proxy, DNS stub), loads table inet sluice, masks host sockets, and hands
 * the listeners to the supervisor with SCM_RIGHTS. It then drops every
 * capability, scrubs its environment and execs the command. The supervisor
 * stays in the host namespaces and serves the listeners: the sandbox has no
 * interface that leads anywhere, so when the supervisor goes, so does all
 * network access.
 */
#ifndef SLUICE_SBX_H
#define SLUICE_SBX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct policy;

#define SBX_PROXY_PORT 3128
#define SBX_TRANSPARENT_PORT 3129
#define SBX_DNS_PORT 53
#define SBX_LOG_GROUP 7
/* SO_MARK of the stub's socket to a container's Docker DNS (nft lets it by) */
#define SBX_ENGINE_MARK 0x51ce0011u

/* The listeners made inside the sandbox, in hand-off order. */
enum sbx_fd {
	SBX_PROXY4, SBX_PROXY6, SBX_DNS_UDP4, SBX_DNS_UDP6, SBX_DNS_TCP4, SBX_DNS_TCP6,
	SBX_TRANS4, SBX_TRANS6,
	SBX_NLISTEN,                /* listeners above; then the nft and NFLOG netlink sockets */
	SBX_NFT = SBX_NLISTEN,
	SBX_NFLOG,
	SBX_SECCOMP,                /* the filter's notifications; absent without kernel support */
	SBX_ENGINE_DNS,             /* attach: UDP connected to the container's 127.0.0.11:53, or absent */
	SBX_ENGINE_RT,              /* attach: rtnetlink in the container's namespace, with SBX_ENGINE_DNS */
	SBX_NFDS,
};

/* Map uid and gid into the new user namespace (the same ids inside). */
int sbx_map_ids(uid_t uid, gid_t gid);

/* `lo` up; default routes via lo with source 127.0.0.1 and ::1. 0 or -errno. */
int sbx_net_up(void);

/* `lo` up (it may be down in a namespace made by someone else). 0 or -errno. */
int sbx_lo_up(void);

/* Create the listeners (fds[0..SBX_NLISTEN)) in this network namespace,
 * the other slots -1; with v6_optional, an IPv6 listener the namespace has
 * no ::1 for is left at -1. 0 or -errno (fds closed). */
int sbx_listeners(int fds[SBX_NFDS], bool v6_optional);

/* Pass fds[0..n) over a unix socket, leaving out those < 0 (a listener the
 * namespace cannot have, a kernel without seccomp notifications); receive
 * them into the same places, -1 where none was sent. 0 (send) or the number
 * received, or -errno. */
int sbx_send_fds(int sock, const int *fds, size_t n);
int sbx_recv_fds(int sock, int *fds, size_t n);

/* Close each of fds[0..n) that is open, and mark it -1. */
void sbx_close_received(int *fds, size_t n);

/* The command's environment: a base set of the current one and the names
 * in keep (less the variables that name a host socket pol leaves masked,
 * each with a line on stderr), and the proxy variables; with trust, the
 * variables that point TLS clients at the package cache's bundle
 * (SBX_TRUST_FILE). NULL-terminated, or NULL on ENOMEM. */
char **sbx_env(const struct policy *pol, char *const *keep, size_t nkeep, bool trust);

/* Close every descriptor above stderr except keep (-1: none). 0 or -errno. */
int sbx_close_fds(int keep);

/* For sluice's own processes that stay in the sandbox (its init and the
 * waiter): not dumpable, so the command (same uid) cannot trace them, read
 * their memory, take their descriptors or read their /proc files; and the
 * environment they were started with wiped from memory. */
void sbx_seal(void);

/*
 * `sluice run --publish`: fork, from sluice's waiter (after init), the
 * connector that makes connections to the sandbox's 127.0.0.1:ports[i] on
 * request (see connector.c for why); *out gets the supervisor's end: write
 * one byte i, read the connected socket with sbx_recv_fds(fd, &s, 1) (-1
 * when nothing listens there). 0 or -errno.
 */
int sbx_connector_start(const uint16_t *ports, size_t n, int *out);

/* No capability left, none to regain: bounding and ambient sets cleared,
 * securebits locked, no_new_privs. 0 or -errno. */
int sbx_drop_caps(void);

#endif
