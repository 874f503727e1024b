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

#include <stddef.h>
#include <sys/types.h>

#define SBX_PROXY_PORT 3128
#define SBX_TRANSPARENT_PORT 3129
#define SBX_DNS_PORT 53
#define SBX_LOG_GROUP 7

/* The listeners made inside the sandbox, in hand-off order. */
enum sbx_fd {
	SBX_PROXY4, SBX_PROXY6, SBX_DNS_UDP4, SBX_DNS_UDP6, SBX_DNS_TCP4, SBX_DNS_TCP6,
	SBX_TRANS4, SBX_TRANS6,
	SBX_NLISTEN,                /* listeners above; then the nft and NFLOG netlink sockets */
	SBX_NFT = SBX_NLISTEN,
	SBX_NFLOG,
	SBX_NFDS,
};

/* Map uid and gid into the new user namespace (the same ids inside). */
int sbx_map_ids(uid_t uid, gid_t gid);

/* `lo` up; default routes via lo with source 127.0.0.1 and ::1. 0 or -errno. */
int sbx_net_up(void);

/* Create the listeners (fds[0..SBX_NLISTEN)) in this network namespace.
 * 0 or -errno (fds closed). */
int sbx_listeners(int fds[SBX_NFDS]);

/* Pass fds over a unix socket / receive them. 0 or -errno. */
int sbx_send_fds(int sock, const int *fds, size_t n);
int sbx_recv_fds(int sock, int *fds, size_t n);

/* Bind /dev/null over host sockets that would resolve or connect on the
 * sandbox's behalf, except those whose bit (1 << enum pol_host_socket) is in
 * unmask; returns how many were masked, or -errno. */
int sbx_mask_sockets(unsigned unmask);

/* The command's environment: a base set of the current one, the names in
 * keep, and the proxy variables. NULL-terminated, or NULL on ENOMEM. */
char **sbx_env(char *const *keep, size_t nkeep);

/* No capability left, none to regain: bounding and ambient sets cleared,
 * securebits locked, no_new_privs. 0 or -errno. */
int sbx_drop_caps(void);

#endif
