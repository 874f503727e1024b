/* filter.c: the system-call filter on the sandboxed command, and the
 * supervisor that answers what it refuses with EPERM and says so on stderr.
 *
 * DOC: What the filter refuses, and why it holds
 * The sandbox has no interface that leads anywhere; what could still reach
 * out is a socket family that never touches an interface (AF_VSOCK to the
 * hypervisor, AF_BLUETOOTH, AF_CAN...) or a way around this filter: io_uring,
 * whose operations open sockets without socket(2), a new user namespace, in
 * which the command would hold every capability again, and the 32-bit entry
 * points. Everything else is allowed (default action ALLOW).
 *
 * The filter covers x86_64, i386 (int $0x80, even from a 64-bit process,
 * is an i386 call) and x32 (x86_64 calls with bit 30 set). What libseccomp
 * 2.5.4 makes of it (seccomp_export_pfc/_bpf, 74 instructions):
 *  - arch AUDIT_ARCH_X86_64, shared by x86_64 and x32: exact numbers of both,
 *    x32 ones with bit 30 set, so neither can pass for the other; x86_64
 *    socket/socketpair compare all 64 bits of arg0 ("hi32 > 0" is refused,
 *    so high garbage the kernel would cut off is refused, not let through),
 *    x32 compares the low 32 bits, which is all the kernel reads of an int;
 *  - arch AUDIT_ARCH_I386: io_uring_*, socketcall, and direct socket,
 *    socketpair, clone, unshare on the 32 bits of arg0 its wrappers read;
 *  - any other arch: the bad-arch action.
 * The pfc also lists socketcall for x86_64 under a pseudo number; there is
 * no such call there and the bpf has no instruction for it.
 * Families are refused as seven aligned blocks of the complement of {unix 1,
 * inet 2, inet6 10, netlink 16}: libseccomp takes one comparison per argument
 * per rule, so "not any of four" cannot be one rule. socketcall keeps its
 * arguments in memory a filter cannot read, so it is refused whole (a 32-bit
 * libc built for kernels before 4.3 makes every socket call through it, so
 * such programs get no sockets at all).
 * A bad arch (none is left on an x86_64 kernel) gets ERRNO(EPERM): a refusal
 * like the others, and the process lives; KILL would take down a program for
 * an ABI nobody can reach here.
 *
 * The filter refuses with SCMP_ACT_NOTIFY and the supervisor always answers
 * EPERM: the verdict is made in the kernel, the supervisor never reads the
 * caller's memory and never lets a call continue, so there is no
 * time-of-check race to win. Without user notifications (or when an outer
 * sandbox already holds the one listener a filter chain may have) the same
 * rules use ERRNO(EPERM). clone3 gets ENOSYS quietly: its flags live in
 * memory, and glibc then falls back to clone, whose flags are checked.
 */
#include <errno.h>
#include <event2/event.h>
#include <linux/audit.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <seccomp.h>

#include "filter.h"
#include "log.h"

#define X32_SYSCALL_BIT 0x40000000u

/* what about arg0 makes a call refused */
enum refused_arg {
	ARG_ANY,     /* nothing: the call is refused whole */
	ARG_FAMILY,  /* a socket family other than unix, inet, inet6, netlink */
	ARG_NEWUSER, /* CLONE_NEWUSER among the flags (x86: arg0 of clone too) */
	ARG_TTY,     /* arg1 is TIOCSTI or TIOCLINUX: input pushed into a terminal */
};

/* The one table of what the filter refuses and what the log line says. */
static const struct refusal {
	const char *name; /* as libseccomp names it, on every arch */
	enum refused_arg arg;
	const char *why;
} refusals[] = {
	{ "socket", ARG_FAMILY, "only unix, inet, inet6 and netlink sockets are allowed" },
	{ "socketpair", ARG_FAMILY, "only unix, inet, inet6 and netlink sockets are allowed" },
	{ "socketcall", ARG_ANY, "32-bit socketcall hides its arguments and is not allowed" },
	{ "io_uring_setup", ARG_ANY, "io_uring is not allowed" },
	{ "io_uring_enter", ARG_ANY, "io_uring is not allowed" },
	{ "io_uring_register", ARG_ANY, "io_uring is not allowed" },
	{ "unshare", ARG_NEWUSER, "new user namespaces are not allowed" },
	{ "clone", ARG_NEWUSER, "new user namespaces are not allowed" },
	/* a terminal shared with the caller's shell would run what the command
	 * types into it, outside the sandbox, once sluice exits */
	{ "ioctl", ARG_TTY, "pushing input into the terminal is not allowed" },
	/* /proc/keys names the caller's keyrings; KEYCTL_LINK of one into the
	 * sandbox's own session keyring would make its keys readable */
	{ "keyctl", ARG_ANY, "kernel keyrings are not allowed" },
	{ "add_key", ARG_ANY, "kernel keyrings are not allowed" },
	{ "request_key", ARG_ANY, "kernel keyrings are not allowed" },
};
#define NREFUSALS (sizeof(refusals) / sizeof(refusals[0]))

_Static_assert(AF_UNIX == 1 && AF_INET == 2 && AF_INET6 == 10 && AF_NETLINK == 16,
	       "family_blocks below is the complement of these values");

/* Every family but AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK, as blocks
 * (arg0 & mask) == value or arg0 >= 17; 64-bit values with any high bit set
 * fall in the last. */
static const struct scmp_arg_cmp family_blocks[] = {
	{ 0, SCMP_CMP_EQ, 0, 0 },                      /* AF_UNSPEC */
	{ 0, SCMP_CMP_EQ, 3, 0 },                      /* 3 */
	{ 0, SCMP_CMP_MASKED_EQ, ~(uint64_t)3, 4 },    /* 4..7 */
	{ 0, SCMP_CMP_MASKED_EQ, ~(uint64_t)1, 8 },    /* 8, 9 */
	{ 0, SCMP_CMP_EQ, 11, 0 },                     /* 11 */
	{ 0, SCMP_CMP_MASKED_EQ, ~(uint64_t)3, 12 },   /* 12..15 */
	{ 0, SCMP_CMP_GE, 17, 0 },                     /* AF_PACKET and up */
};

static int add_refusal(scmp_filter_ctx ctx, uint32_t act, const struct refusal *r)
{
	int nr = seccomp_syscall_resolve_name(r->name);
	int rc = 0;

	if (nr == __NR_SCMP_ERROR)
		return -ENOSYS;
	switch (r->arg) {
	case ARG_ANY:
		return seccomp_rule_add(ctx, act, nr, 0);
	case ARG_NEWUSER:
		return seccomp_rule_add(ctx, act, nr, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
	case ARG_TTY: /* the kernel reads the request as an unsigned int */
		rc = seccomp_rule_add(ctx, act, nr, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
		return rc ? rc : seccomp_rule_add(ctx, act, nr, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));
	case ARG_FAMILY:
		for (size_t i = 0; i < sizeof(family_blocks) / sizeof(family_blocks[0]) && rc == 0; i++)
			rc = seccomp_rule_add_array(ctx, act, nr, 1, &family_blocks[i]);
		return rc;
	}
	return -EINVAL;
}

/* The filter, refusing with act; x86_64 also filters its i386 and x32 ABIs. */
static int build(uint32_t act, scmp_filter_ctx *out)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc;

	if (!ctx)
		return -ENOMEM;
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM));
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (rc == 0 && seccomp_arch_native() == SCMP_ARCH_X86_64) {
		rc = seccomp_arch_add(ctx, SCMP_ARCH_X86);
		if (rc == 0)
			rc = seccomp_arch_add(ctx, SCMP_ARCH_X32);
	}
	for (size_t i = 0; i < NREFUSALS && rc == 0; i++)
		rc = add_refusal(ctx, act, &refusals[i]);
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0) {
		seccomp_release(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

/* Load the filter refusing with act; *listener gets its notification fd. */
static int load(uint32_t act, int *listener)
{
	scmp_filter_ctx ctx;
	int rc = build(act, &ctx);

	if (rc < 0)
		return rc;
	/* libseccomp keeps one listener per process; a second would be lost */
	if (listener && seccomp_notify_fd(ctx) >= 0)
		rc = -EEXIST;
	if (rc == 0)
		rc = seccomp_load(ctx);
	if (rc == 0 && listener) {
		*listener = seccomp_notify_fd(ctx);
		if (*listener < 0)
			rc = -ENOTCONN; /* loaded without a listener: must not happen */
	}
	seccomp_release(ctx);
	return rc;
}

int sbx_seccomp_install(void)
{
	int fd = -1, rc;

	/* API level 5: the kernel and library both do user notifications */
	if (seccomp_api_get() >= 5 && load(SCMP_ACT_NOTIFY, &fd) == 0)
		return fd;
	/* Any failure gets a second try with the same rules, unreported:
	 * libseccomp folds the kernel's EBUSY (an outer filter already holds
	 * the chain's one listener) into EFAULT. A filter that loaded without
	 * its listener stays on; this one, the stricter action, wins over it. */
	rc = load(SCMP_ACT_ERRNO(EPERM), NULL);
	return rc < 0 ? rc : SBX_SECCOMP_NO_LISTENER;
}

/* ---- supervisor side ---- */

#define RATE_MS 1000    /* one line per refusal per this long */
#define RATE_LINES 10   /* and no more than this many per RATE_MS in all */
#define RATE_KEYS 16    /* refusals remembered */
#define NOTIFY_BATCH 32 /* notifications answered per wakeup */

/* At most RATE_LINES keys can have been logged within RATE_MS, so when the
 * table is full its oldest entry is older than that: evicting it never lets
 * a line through early. */
_Static_assert(RATE_KEYS > RATE_LINES, "the key table must outlast the line cap");

/* A refusal that was logged: which table row (or -1: unknown call) and arg. */
struct refusal_seen {
	bool used;
	int what;
	uint64_t arg;
	int64_t at_ms;
};

struct sbx_notify {
	int fd;
	struct event *ev;
	struct refusal_seen seen[RATE_KEYS];
	int64_t lines[RATE_LINES]; /* when the last lines were written, a ring */
	unsigned nlines, next;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* May a line about (what, arg) be written at now? Records it if so. */
static bool rate_allow(struct sbx_notify *n, int what, uint64_t arg, int64_t now)
{
	struct refusal_seen *slot = NULL, *oldest = &n->seen[0];

	if (n->nlines == RATE_LINES && now - n->lines[n->next] < RATE_MS)
		return false;
	for (size_t i = 0; i < RATE_KEYS && !slot; i++) {
		struct refusal_seen *s = &n->seen[i];
		if (s->used && s->what == what && s->arg == arg)
			slot = s;
		else if (oldest->used && (!s->used || s->at_ms < oldest->at_ms))
			oldest = s;
	}
	if (slot && now - slot->at_ms < RATE_MS)
		return false;
	if (!slot)
		slot = oldest; /* free, or full and older than RATE_MS (see above) */
	*slot = (struct refusal_seen){ .used = true, .what = what, .arg = arg, .at_ms = now };
	n->lines[n->next] = now;
	n->next = (n->next + 1) % RATE_LINES;
	if (n->nlines < RATE_LINES)
		n->nlines++;
	return true;
}

#define AF(x) [x] = #x
static const char *const family_names[] = {
	AF(AF_UNSPEC), AF(AF_AX25), AF(AF_IPX), AF(AF_APPLETALK), AF(AF_NETROM), AF(AF_BRIDGE),
	AF(AF_ATMPVC), AF(AF_X25), AF(AF_ROSE), AF(AF_DECnet), AF(AF_NETBEUI), AF(AF_SECURITY),
	AF(AF_KEY), AF(AF_PACKET), AF(AF_ASH), AF(AF_ECONET), AF(AF_ATMSVC), AF(AF_RDS),
	AF(AF_SNA), AF(AF_IRDA), AF(AF_PPPOX), AF(AF_WANPIPE), AF(AF_LLC), AF(AF_IB),
	AF(AF_MPLS), AF(AF_CAN), AF(AF_TIPC), AF(AF_BLUETOOTH), AF(AF_IUCV), AF(AF_RXRPC),
	AF(AF_ISDN), AF(AF_PHONET), AF(AF_IEEE802154), AF(AF_CAIF), AF(AF_ALG), AF(AF_NFC),
	AF(AF_VSOCK), AF(AF_KCM), AF(AF_QIPCRTR), AF(AF_SMC), AF(AF_XDP), AF(AF_MCTP),
};
#undef AF

static void family_name(uint64_t f, char *buf, size_t size)
{
	if (f < sizeof(family_names) / sizeof(family_names[0]) && family_names[f])
		snprintf(buf, size, "%s", family_names[f]);
	else
		snprintf(buf, size, "%#llx", (unsigned long long)f);
}

/* The refusals row for a call, or -1. */
static int refusal_of(uint32_t arch, int nr)
{
	char *name = seccomp_syscall_resolve_num_arch(arch, nr);
	int what = -1;

	for (size_t i = 0; name && i < NREFUSALS && what < 0; i++)
		if (strcmp(name, refusals[i].name) == 0)
			what = (int)i;
	free(name);
	return what;
}

static void report(struct sbx_notify *n, const struct seccomp_data *d)
{
	uint32_t arch = d->arch;
	uint64_t arg = d->args[0];
	char fam[24];

	if (arch == SCMP_ARCH_X86_64 && ((uint32_t)d->nr & X32_SYSCALL_BIT))
		arch = SCMP_ARCH_X32;
	if (!(arch & __AUDIT_ARCH_64BIT))
		arg = (uint32_t)arg; /* all that 32-bit ABIs pass, and all the filter saw */
	int what = refusal_of(arch, d->nr);
	const struct refusal *r = what >= 0 ? &refusals[what] : NULL;
	if (r && r->arg == ARG_TTY)
		arg = (uint32_t)d->args[1];
	else if (!r || r->arg != ARG_FAMILY)
		arg = r ? 0 : (uint32_t)d->nr;
	if (!rate_allow(n, what, arg, now_ms()))
		return;
	if (!r)
		log_msg("run: refused system call %d (arch %#x) in the sandbox", d->nr, d->arch);
	else if (r->arg == ARG_FAMILY) {
		family_name(arg, fam, sizeof(fam));
		log_msg("run: refused %s(%s) in the sandbox: %s", r->name, fam, r->why);
	} else if (r->arg == ARG_TTY)
		log_msg("run: refused ioctl(%s) in the sandbox: %s", arg == TIOCSTI ? "TIOCSTI" : "TIOCLINUX", r->why);
	else
		log_msg("run: refused %s%s in the sandbox: %s", r->name,
			r->arg == ARG_NEWUSER ? "(CLONE_NEWUSER)" : "", r->why);
}

/* Answer one pending notification with EPERM. 0, or -errno if the listener
 * is no use any more. */
static int answer(struct sbx_notify *n)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	int rc;

	/* raw ioctls: libseccomp 2.5.4 turns every error into ECANCELED, so a
	 * caller that died (ENOENT) could not be told from a broken listener */
	memset(&req, 0, sizeof(req)); /* the kernel insists */
	if (ioctl(n->fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		return errno == ENOENT || errno == EINTR ? 0 : -errno; /* ENOENT: it died first */
	memset(&resp, 0, sizeof(resp));
	resp.id = req.id;
	resp.error = -EPERM;
	/* an answer lost to EINTR would leave the caller waiting for good */
	while ((rc = ioctl(n->fd, SECCOMP_IOCTL_NOTIF_SEND, &resp)) < 0 && errno == EINTR)
		;
	if (rc < 0 && errno != ENOENT) /* ENOENT: it died while we decided */
		return -errno;
	report(n, &req.data);
	return 0;
}

/* A listener that fails is closed: refused calls then fail with ENOSYS
 * instead of waiting for an answer that will not come. */
static void notify_stop(struct sbx_notify *n, int err)
{
	event_del(n->ev);
	if (err) {
		log_msg("run: seccomp notifications failed (%s); refused calls now fail unreported",
			strerror(-err));
		close(n->fd);
		n->fd = -1;
	}
}

static void notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sbx_notify *n = arg;

	(void)what;
	for (int i = 0; i < NOTIFY_BATCH; i++) {
		/* RECV blocks unless a notification waits; poll says whether
		 * one does, or whether every filtered process is gone (HUP) */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 0) <= 0)
			return;
		if (!(p.revents & POLLIN)) {
			if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
				notify_stop(n, 0);
			return;
		}
		int rc = answer(n);
		if (rc < 0) {
			notify_stop(n, rc);
			return;
		}
	}
}

int sbx_notify_new(struct event_base *base, int fd, struct sbx_notify **out)
{
	struct sbx_notify *n = calloc(1, sizeof(*n));

	if (!n) {
		close(fd);
		return -ENOMEM;
	}
	n->fd = fd;
	n->ev = event_new(base, fd, EV_READ | EV_PERSIST, notify_cb, n);
	if (!n->ev || event_add(n->ev, NULL) < 0) {
		sbx_notify_free(n);
		return -ENOMEM;
	}
	*out = n;
	return 0;
}

void sbx_notify_free(struct sbx_notify *n)
{
	if (!n)
		return;
	if (n->ev)
		event_free(n->ev);
	if (n->fd >= 0)
		close(n->fd);
	free(n);
}
