/* attach.h: putting a namespace that already exists under sluice (a
 * running container or process).
 *
 * DOC: Theory of operation
 * The target names a network namespace: a process (held by a pidfd while its
 * /proc/PID/ns/net is opened, so a reused PID cannot swap it), a namespace
 * file (`ip netns add`), or a container whose PID `docker inspect` / `podman
 * inspect` report. A short-lived child enters it (first the namespace's
 * owning user namespace when the caller is not root, as for rootless
 * podman), makes the same listeners and netlink sockets as `sluice run`,
 * replaces table inet sluice in one batch (the shared form: the
 * namespace's own interfaces and routes stay), forgets every conntrack
 * entry so flows opened before the attach are decided, and cut, by the
 * table, and hands the sockets over. The caller serves them from its own
 * namespace. A target whose resolv.conf names Docker's embedded DNS
 * (127.0.0.11) also gets a marked UDP socket connected to it, which the
 * table lets through: the DNS stub asks the container's single-label
 * names (compose services) there. When it stops, the table stays and rejects everything: only
 * sbx_detach removes it.
 */
#ifndef SLUICE_ATTACH_H
#define SLUICE_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sbx.h"

enum sbx_target_kind { SBX_TARGET_PID, SBX_TARGET_NETNS, SBX_TARGET_DOCKER, SBX_TARGET_PODMAN };

struct sbx_target {
	enum sbx_target_kind kind;
	const char *value;          /* PID, path or name, container name or ID */
};

/* An opened target: its namespace, pinned. */
struct sbx_ns {
	int netns;                  /* the network namespace */
	int userns;                 /* its owning user namespace, to enter first; -1: not needed */
	dev_t dev;                  /* the namespace's identity, to see a restart */
	ino_t ino;
	pid_t pid;                  /* the process it came from, or 0 */
};

/* "pid:123", "netns:/run/netns/x", "docker:web": the target in messages,
 * records and `sluice ls`. */
void sbx_target_label(const struct sbx_target *t, char *buf, size_t size);

/* Open t's network namespace. A name without '/' for --netns is one of
 * `ip netns`' (/run/netns/NAME). Returns 0, or -errno with a one-line
 * reason in err (the target is gone, is not a namespace, the container
 * engine's CLI failed and what it said). */
int sbx_target_open(const struct sbx_target *t, struct sbx_ns *ns, char *err, size_t errsize);

void sbx_ns_close(struct sbx_ns *ns);

/* Whether two opened targets are the same namespace. */
bool sbx_ns_same(const struct sbx_ns *a, const struct sbx_ns *b);

/* Enter ns in a child and set it up (see the theory above); fds as
 * sbx_recv_fds leaves them (fds[SBX_SECCOMP] is -1; fds[SBX_ENGINE_DNS] the
 * socket to Docker's embedded DNS, or -1, and fds[SBX_ENGINE_RT] an
 * rtnetlink socket in the same namespace, or -1). Returns 0, or -errno
 * with what failed in *what; -EINVAL for the namespace this process runs
 * in (a container on the host's network): its table would reject sluice's
 * own upstream connections, and the machine's. */
int sbx_attach(const struct sbx_ns *ns, uint16_t log_group, int fds[SBX_NFDS], const char **what);

/* Remove table inet sluice (and nothing else) from ns. 0 or -errno, with
 * what failed in *what. */
int sbx_detach(const struct sbx_ns *ns, const char **what);

#endif
