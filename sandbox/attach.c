/* attach.c: open a running target's network namespace and set sluice up
 * inside it (see attach.h for the theory). */
#include "attach.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nft.h"

#define CHILD_TIMEOUT_MS 10000

static const char *const kinds[] = { "pid", "netns", "docker", "podman" };

void sbx_target_label(const struct sbx_target *t, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%s", kinds[t->kind], t->value);
}

/* err gets "<what arg>: <strerror(rc)>"; returns rc. */
static int say(char *err, size_t size, int rc, const char *what, const char *arg)
{
	snprintf(err, size, "%s%s: %s", what, arg, strerror(-rc));
	return rc;
}

/* The PID a container engine's CLI reports for a running container. */
static int engine_pid(const char *engine, const char *name, pid_t *pid, char *err, size_t size)
{
	int out[2];
	char buf[256] = { 0 };
	size_t len = 0;

	if (pipe2(out, O_CLOEXEC) < 0)
		return say(err, size, -errno, "cannot run inspect of ", engine);
	pid_t c = fork();
	if (c == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(out[1], STDERR_FILENO); /* what it says on failure is the reason */
		/* --type container: a network's or image's name is no container */
		execlp(engine, engine, "inspect", "--type", "container", "--format", "{{.State.Pid}}", "--", name,
		       (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	for (ssize_t n = 1; c > 0 && n > 0 && len < sizeof(buf) - 1; len += (size_t)(n > 0 ? n : 0))
		n = read(out[0], buf + len, sizeof(buf) - 1 - len);
	close(out[0]);
	int st = 0;
	if (c < 0 || waitpid(c, &st, 0) < 0)
		return say(err, size, -ECHILD, "cannot run inspect of ", engine);
	/* the first line that says something (docker prints an empty one
	 * for the object it did not find, then the error) */
	char *line = buf + strspn(buf, "\n");
	line[strcspn(line, "\n")] = '\0';
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 127) {
		snprintf(err, size, "cannot run %s (is it installed and on PATH?)", engine);
		return -ENOENT;
	}
	char *end;
	long v = strtol(line, &end, 10);
	if (WEXITSTATUS(st) != 0 || end == line || *end) {
		snprintf(err, size, "%s inspect %s: %.200s", engine, name, line[0] ? line : "failed");
		return -ENOENT;
	}
	if (v <= 0) {
		snprintf(err, size, "%s container %s is not running", engine, name);
		return -ESRCH;
	}
	*pid = (pid_t)v;
	return 0;
}

/* /proc/PID/ns/net, opened while a pidfd shows the PID is still the same
 * process (where the kernel has pidfds). */
static int pid_netns(pid_t pid, char *err, size_t size)
{
	char path[64], arg[24];
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	snprintf(arg, sizeof(arg), "%d", (int)pid);
	if (pidfd < 0 && errno != ENOSYS)
		return say(err, size, -errno, "no process ", arg);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int e = -errno;
	if (fd >= 0 && pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0) {
		close(fd); /* it ended in between: the namespace may be another's */
		fd = -1, e = -ESRCH;
	}
	if (pidfd >= 0)
		close(pidfd);
	if (fd < 0)
		return say(err, size, e, "cannot open the network namespace of process ", arg);
	return fd;
}

static int open_netns(const struct sbx_target *t, pid_t *pid, char *err, size_t size)
{
	char path[4096];
	char *end;
	int rc;

	switch (t->kind) {
	case SBX_TARGET_PID: {
		long v = strtol(t->value, &end, 10);
		if (end == t->value || *end || v <= 0 || v > 0x3fffffff) {
			snprintf(err, size, "--pid %.64s: not a process ID", t->value);
			return -EINVAL;
		}
		*pid = (pid_t)v;
		return pid_netns(*pid, err, size);
	}
	case SBX_TARGET_NETNS:
		snprintf(path, sizeof(path), strchr(t->value, '/') ? "%s" : "/run/netns/%s", t->value);
		rc = open(path, O_RDONLY | O_CLOEXEC);
		return rc >= 0 ? rc : say(err, size, -errno, "cannot open network namespace ", path);
	default:
		if ((rc = engine_pid(kinds[t->kind], t->value, pid, err, size)) < 0)
			return rc;
		return pid_netns(*pid, err, size);
	}
}

/* The namespace's owning user namespace, when this process must enter it
 * to hold capabilities there (not root: rootless podman, a user's own
 * `unshare -Urn`). -1 when not needed. */
static int owner_userns(int netns)
{
	struct stat mine, theirs;
	int fd;

	if (geteuid() == 0)
		return -1; /* root in the first user namespace may act in every namespace */
	if ((fd = ioctl(netns, NS_GET_USERNS)) < 0)
		return -1;
	if (stat("/proc/self/ns/user", &mine) == 0 && fstat(fd, &theirs) == 0 && mine.st_ino == theirs.st_ino &&
	    mine.st_dev == theirs.st_dev) {
		close(fd);
		return -1;
	}
	return fd;
}

int sbx_target_open(const struct sbx_target *t, struct sbx_ns *ns, char *err, size_t errsize)
{
	struct stat st;

	*ns = (struct sbx_ns){ .netns = -1, .userns = -1 };
	int fd = open_netns(t, &ns->pid, err, errsize);
	if (fd < 0)
		return fd;
	/* a namespace file is a nsfs inode; anything else is not one */
	if (fstat(fd, &st) < 0 || ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		close(fd);
		snprintf(err, errsize, "%s is not a network namespace", t->value);
		return -EINVAL;
	}
	ns->netns = fd;
	ns->dev = st.st_dev;
	ns->ino = st.st_ino;
	ns->userns = owner_userns(fd);
	return 0;
}

void sbx_ns_close(struct sbx_ns *ns)
{
	if (ns->netns >= 0)
		close(ns->netns);
	if (ns->userns >= 0)
		close(ns->userns);
	ns->netns = ns->userns = -1;
}

bool sbx_ns_same(const struct sbx_ns *a, const struct sbx_ns *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/* ---- in the target's namespace (a child) ------------------------------- */

enum step {
	ST_SELF, ST_USERNS, ST_NETNS, ST_LO, ST_LISTEN, ST_NFT, ST_NFLOG, ST_CT, ST_HANDOFF, ST_REMOVE, ST_DONE,
};

static const char *const steps[] = {
	[ST_SELF] = ("attach to the network namespace sluice itself runs in (a container on the host's "
		     "network?): its table would cut sluice's own connections and the machine's"),
	[ST_USERNS] = "enter the target's user namespace",
	[ST_NETNS] = "enter the target's network namespace",
	[ST_LO] = "bring up the target's loopback",
	[ST_LISTEN] = ("create the listeners on the target's 127.0.0.1:3128, :3129 and :53 "
		       "(is another sluice attached, or something else listening there?)"),
	[ST_NFT] = "load table inet sluice in the target's namespace",
	[ST_NFLOG] = "join the NFLOG group of rejected packets",
	[ST_CT] = "forget the target's conntrack entries (connections opened before the attach)",
	[ST_HANDOFF] = "hand the listeners over",
	[ST_REMOVE] = "remove table inet sluice from the target's namespace",
	[ST_DONE] = "finish",
};

struct outcome {
	int step; /* enum step; ST_DONE when all went well */
	int err;  /* -errno */
};

static enum step enter(const struct sbx_ns *ns, int *rc)
{
	*rc = 0;
	if (ns->userns >= 0 && setns(ns->userns, CLONE_NEWUSER) < 0)
		return *rc = -errno, ST_USERNS;
	if (setns(ns->netns, CLONE_NEWNET) < 0)
		return *rc = -errno, ST_NETNS;
	return ST_DONE;
}

/* The stub's way to Docker's embedded DNS: UDP from this namespace to
 * 127.0.0.11:53, marked so table inet sluice lets it reach Docker's own
 * redirect (and nothing else does). -1 when it cannot be made: the
 * container's service names then fail to resolve, as before. */
static int engine_socket(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(53),
				  .sin_addr.s_addr = htonl(0x7f00000b) };
	uint32_t mark = SBX_ENGINE_MARK;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ||
			connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* An rtnetlink socket in this namespace: the engine client reads the
 * container's networks through it (engine.h). -1 when it cannot be made:
 * then no engine answer is taken. */
static int route_socket(void)
{
	struct sockaddr_nl me = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static enum step build(const struct sbx_ns *ns, uint16_t group, int sock, bool engine_dns, int *rc)
{
	int fds[SBX_NFDS];
	struct nft_sock *nft = NULL;
	struct nft_conf nc = { SBX_DNS_PORT, SBX_TRANSPARENT_PORT, group, true, true, 0 };
	enum step s = enter(ns, rc);

	if (s != ST_DONE)
		return s;
	for (int i = 0; i < SBX_NFDS; i++)
		fds[i] = -1;
	if ((*rc = sbx_lo_up()) < 0)
		return ST_LO;
	if ((*rc = sbx_listeners(fds, true)) < 0)
		return ST_LISTEN;
	if (engine_dns && (fds[SBX_ENGINE_DNS] = engine_socket()) >= 0) {
		nc.engine_mark = SBX_ENGINE_MARK;
		fds[SBX_ENGINE_RT] = route_socket();
	}
	if ((*rc = nft_open(&nft)) < 0 || (*rc = nft_install(nft, &nc)) < 0)
		return ST_NFT;
	fds[SBX_NFT] = nft_fd(nft);
	if ((*rc = nft_log_open(group, &fds[SBX_NFLOG])) < 0)
		return ST_NFLOG;
	if ((*rc = nft_ct_flush()) < 0 && *rc != -ENOENT)
		return ST_CT;
	if ((*rc = sbx_send_fds(sock, fds, SBX_NFDS)) < 0)
		return ST_HANDOFF;
	return ST_DONE; /* the child exits: its copies close with it */
}

/* Run the child's part (attach when sock >= 0, detach otherwise) and
 * wait for its outcome. */
static int in_target(const struct sbx_ns *ns, uint16_t group, int sock, bool engine_dns, const char **what)
{
	int p[2];
	struct outcome o = { ST_DONE, -EPIPE };

	if (pipe2(p, O_CLOEXEC) < 0)
		return *what = steps[ST_NETNS], -errno;
	pid_t c = fork();
	if (c == 0) {
		close(p[0]);
		int rc = 0;
		struct nft_sock *nft = NULL;
		if (sock >= 0)
			o.step = build(ns, group, sock, engine_dns, &rc);
		else if ((o.step = enter(ns, &rc)) == ST_DONE && ((rc = nft_open(&nft)) < 0 || (rc = nft_remove(nft)) < 0))
			o.step = ST_REMOVE;
		o.err = rc;
		_exit(write(p[1], &o, sizeof(o)) == sizeof(o) ? 0 : 1);
	}
	close(p[1]);
	struct pollfd pf = { p[0], POLLIN, 0 };
	if (c > 0 && (poll(&pf, 1, CHILD_TIMEOUT_MS) <= 0 || read(p[0], &o, sizeof(o)) != sizeof(o))) {
		kill(c, SIGKILL);
		o = (struct outcome){ ST_NETNS, -ETIMEDOUT };
	}
	close(p[0]);
	if (c < 0)
		return *what = steps[ST_NETNS], -errno;
	while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
		;
	*what = steps[o.step < 0 || o.step > ST_DONE ? ST_NETNS : o.step];
	return o.step == ST_DONE ? 0 : (o.err < 0 ? o.err : -EIO);
}

/* Whether ns is the namespace this process runs in. */
static bool is_own(const struct sbx_ns *ns)
{
	struct stat self;

	return stat("/proc/self/ns/net", &self) == 0 && self.st_dev == ns->dev && self.st_ino == ns->ino;
}

/* The target's /etc/resolv.conf, opened as a regular file inside its own
 * root: the container owns that path, so a symlink out of its root (to
 * the host's files, a FIFO, a device whose open does something) must not
 * be followed by sluice. Resolved in the target's root, opened O_PATH,
 * reopened for reading only once it is a regular file. NULL otherwise. */
static FILE *open_resolv_conf(pid_t pid)
{
	char path[64];
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	int root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = root < 0 ? -1 : (int)syscall(SYS_openat2, root, "etc/resolv.conf", &how, sizeof(how));
	if (root >= 0)
		close(root);
	if (fd < 0)
		return NULL;
	FILE *f = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		f = fopen(path, "re");
	}
	close(fd);
	return f;
}

/* Whether the target resolves through Docker's embedded DNS: its
 * resolv.conf names 127.0.0.11 (a container on a user-defined network;
 * the default bridge's containers have the host's servers). Only a target
 * known by a process has a resolv.conf to read. */
static bool uses_engine_dns(const struct sbx_ns *ns)
{
	char line[256];
	bool yes = false;
	FILE *f = ns->pid > 0 ? open_resolv_conf(ns->pid) : NULL;

	if (!f)
		return false;
	for (int n = 0; !yes && n < 200 && fgets(line, sizeof(line), f); n++) {
		char word[16], server[64];
		yes = sscanf(line, " %15s %63s", word, server) == 2 && strcmp(word, "nameserver") == 0 &&
		      strcmp(server, "127.0.0.11") == 0;
	}
	fclose(f);
	return yes;
}

int sbx_attach(const struct sbx_ns *ns, uint16_t log_group, int fds[SBX_NFDS], const char **what)
{
	int sv[2];

	if (is_own(ns))
		return *what = steps[ST_SELF], -EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return *what = steps[ST_HANDOFF], -errno;
	int rc = in_target(ns, log_group, sv[1], uses_engine_dns(ns), what);
	close(sv[1]);
	if (rc == 0) {
		/* sent before the child ended: the descriptors wait in the socket */
		int n = sbx_recv_fds(sv[0], fds, SBX_NFDS);
		if (n < 0 || fds[SBX_NFT] < 0 || fds[SBX_NFLOG] < 0 || fds[SBX_TRANS4] < 0 || fds[SBX_DNS_UDP4] < 0) {
			if (n >= 0)
				sbx_close_received(fds, SBX_NFDS);
			*what = steps[ST_HANDOFF];
			rc = n < 0 ? n : -EPROTO;
		}
	}
	close(sv[0]);
	return rc;
}

int sbx_detach(const struct sbx_ns *ns, const char **what)
{
	return in_target(ns, 0, -1, false, what);
}
