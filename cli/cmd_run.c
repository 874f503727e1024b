/* cmd_run.c: `sluice run`, a command in its own namespaces whose only way
 * out is the supervisor's proxy and DNS stub (see sbx.h for the theory).
 *
 * Exit status: the command's own (128+N when a signal N ended it); 125 with
 * one line on stderr when sluice itself fails; 126/127 when the command
 * cannot be run or is not found, as env(1) and timeout(1) do. sluice never
 * writes to stdout: it belongs to the command.
 */
#include <errno.h>
#include <limits.h>
#include <linux/keyctl.h>
#include <netinet/in.h>
#include <event2/event.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "binding.h"
#include "cli.h"
#include "cmds.h"
#include "daemon.h"
#include "dns.h"
#include "filter.h"
#include "fs.h"
#include "guard.h"
#include "log.h"
#include "nft.h"
#include "policy.h"
#include "proxy.h"
#include "publish.h"
#include "resolve.h"
#include "sbx.h"

#define EXIT_SLUICE 125

struct run {
	struct daemon d; /* policy, audit log, loop, resolver */
	struct guard *guard;        /* the sandbox's listeners, served */
	struct event *sigs[5];
	struct px_cache *cache;     /* --cache: the package cache, or NULL */
	struct sbx_notify *notify;  /* refused system calls, answered and logged */
	struct sbx_fs fs;           /* what the sandbox sees of the host's files */
	struct pub *pub;            /* --publish: host listeners into the sandbox, or NULL */
	struct pub_spec pub_specs[PUB_MAX];
	uint16_t pub_ports[PUB_MAX]; /* the sandbox's ports they reach */
	size_t npub;
	pid_t child;
	int status;
	bool exited;
};

/* ---- the child: build the sandbox, hand the listeners over, exec --------- */

static void fail(const char *what, int err)
{
	log_msg("run: %s: %s", what, strerror(err));
	_exit(EXIT_SLUICE);
}

static volatile pid_t forward_to;

static void forward_sig(int sig)
{
	if (forward_to > 0)
		kill(forward_to, sig);
}

/* Pass INT, TERM, HUP and QUIT on to pid. */
static void forward_signals(pid_t pid)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa = { .sa_handler = forward_sig, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	forward_to = pid;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* The exit code a shell would report for how pid ended. Other children
 * are reaped meanwhile: the --publish connector lives in pid's PID
 * namespace, whose end waits until it is reaped. */
static int wait_code(pid_t pid)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, 0)) != pid)
		if (p < 0 && errno != EINTR)
			return EXIT_SLUICE;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : EXIT_SLUICE;
}

static void exec_command(char **cmd, char **env)
{
	int rc = sbx_close_fds(-1);

	/* a process group of its own: kill(0) from the command reaches its own
	 * processes, not sluice's init and waiter, which share the session */
	if (rc == 0 && setpgid(0, 0) < 0)
		rc = -errno;
	if (rc == 0)
		rc = sbx_drop_caps();
	if (rc < 0)
		fail("cannot drop capabilities", -rc);
	extern char **environ;
	environ = env; /* execvp looks the command up in the scrubbed PATH */
	execvp(cmd[0], cmd);
	int e = errno;
	log_msg("run: cannot run '%s': %s", cmd[0], strerror(e));
	_exit(e == ENOENT ? 127 : 126);
}

/*
 * pid 1 of the sandbox's PID namespace. The command runs as its child (pid 1
 * itself would ignore the signals it has no handler for), signals are passed
 * on, orphans are reaped; when the command ends, init ends with its status,
 * and the kernel ends everything else the command left behind.
 */
static _Noreturn void init_main(char **cmd, char **env)
{
	/* the waiter outside the PID namespace is the parent: with it goes init,
	 * and with init the whole namespace */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail("cannot tie the sandbox to sluice", errno);
	int rc = sbx_fs_proc();

	if (rc < 0)
		fail("cannot mount the sandbox's /proc", -rc);
	pid_t c = fork();
	if (c < 0)
		fail("cannot start the command", errno);
	if (c == 0)
		exec_command(cmd, env);
	forward_signals(c);
	sbx_seal();
	(void)sbx_close_fds(-1);
	(void)sbx_drop_caps();
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p == c)
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : EXIT_SLUICE);
		if (p < 0 && errno != EINTR)
			_exit(EXIT_SLUICE);
	}
}

/* Everything that needs privilege in the new namespaces, before any of the
 * command's code runs: network, listeners, nft, the filesystem view, the
 * seccomp filter; then the hand-off, and init. */
static int build(int sock, const struct sbx_fs *fs, const char **what)
{
	int fds[SBX_NFDS], rc;
	struct nft_sock *nft;
	struct nft_conf nc = { SBX_DNS_PORT, SBX_TRANSPARENT_PORT, SBX_LOG_GROUP, false, false, 0 }; /* a fresh namespace */

	if ((rc = sbx_net_up()) < 0)
		return *what = "cannot bring up the sandbox's loopback", rc;
	if ((rc = sbx_listeners(fds, false)) < 0)
		return *what = "cannot create the sandbox's listeners", rc;
	if ((rc = nft_open(&nft)) < 0 || (rc = nft_install(nft, &nc)) < 0)
		return *what = "cannot load table inet sluice", rc;
	fds[SBX_NFT] = nft_fd(nft); /* the supervisor fills bound4/bound6 through it */
	if ((rc = nft_log_open(SBX_LOG_GROUP, &fds[SBX_NFLOG])) < 0)
		return *what = "cannot join the NFLOG group of rejected packets", rc;
	const char *step;
	if ((rc = sbx_fs_apply(fs, &step)) < 0) {
		log_msg("run: cannot %s: %s", step, strerror(-rc));
		_exit(EXIT_SLUICE);
	}
	if ((fds[SBX_SECCOMP] = sbx_seccomp_install()) == SBX_SECCOMP_NO_LISTENER)
		fds[SBX_SECCOMP] = -1; /* refused calls still fail, without a line on stderr */
	else if (fds[SBX_SECCOMP] < 0)
		return *what = "cannot install the seccomp filter", fds[SBX_SECCOMP];
	if ((rc = sbx_send_fds(sock, fds, SBX_NFDS)) < 0)
		return *what = "cannot hand the listeners to the supervisor", rc;
	for (size_t i = 0; i < SBX_NFDS; i++)
		if (i != SBX_NFT && fds[i] >= 0)
			close(fds[i]);
	nft_close(nft);
	return 0;
}

/* --publish: the connector (after init: it must not be the PID
 * namespace's pid 1), its socket handed to the supervisor. */
static void start_connector(int sock, const struct run *r, pid_t init)
{
	int conn, rc;

	if (!r->npub)
		return;
	if ((rc = sbx_connector_start(r->pub_ports, r->npub, &conn)) == 0) {
		rc = sbx_send_fds(sock, &conn, 1);
		close(conn);
	}
	if (rc < 0) {
		kill(init, SIGKILL);
		fail("cannot start the --publish connector", -rc);
	}
}

static void child_main(int sock, char **cmd, char *const *keep, size_t nkeep, const struct run *r,
		       pid_t supervisor)
{
	const struct policy *pol = r->d.pol;
	const struct sbx_fs *fs = &r->fs;
	const char *what = NULL;
	int rc;

	/* the supervisor's descriptors (its log, its loop, whatever sluice
	 * itself inherited) stay with the supervisor */
	if ((rc = sbx_close_fds(sock)) < 0)
		fail("cannot close inherited descriptors", -rc);
	/* a session and process group of its own, so kill(0) and the
	 * terminal's signals from inside reach only the sandbox; and gone with
	 * the supervisor, even when something kills it with SIGKILL */
	if (setsid() < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != supervisor)
		fail("cannot detach from the caller's session", errno ? errno : ESRCH);
	/* a session keyring of its own: the caller's keys (tickets, tokens)
	 * are possessed by whatever shares the caller's (the filter then
	 * refuses keyctl, so the caller's keyrings cannot be linked back in) */
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0)
		fail("cannot make the sandbox's session keyring", errno);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC) < 0)
		fail("the kernel refuses to create user and network namespaces "
		     "(check /proc/sys/user/max_user_namespaces and kernel.unprivileged_userns_clone)",
		     errno);
	if ((rc = sbx_map_ids(fs->uid, fs->gid)) < 0)
		fail("cannot map user and group ids into the sandbox", -rc);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* after the id maps: /proc/self files turn root's */
	if ((rc = build(sock, fs, &what)) < 0)
		fail(what, -rc);
	char **env = sbx_env(pol, keep, nkeep, fs->trust != NULL);
	if (!env)
		fail("cannot build the environment", ENOMEM);
	pid_t init = fork(); /* pid 1 of the sandbox's PID namespace */
	if (init < 0)
		fail("cannot start the sandbox's init", errno);
	if (init == 0)
		init_main(cmd, env); /* closes sock with every other descriptor */
	start_connector(sock, r, init);
	close(sock);
	forward_signals(init);
	sbx_seal();
	(void)sbx_drop_caps(); /* this waiter needs nothing either */
	_exit(wait_code(init));
}

/* ---- the supervisor ------------------------------------------------------- */

static void child_cb(evutil_socket_t sig, short what, void *arg)
{
	struct run *r = arg;
	int status;

	(void)sig;
	(void)what;
	if (waitpid(r->child, &status, WNOHANG) == r->child) {
		r->status = status;
		r->exited = true;
		guard_drain(r->guard); /* its last rejects are already queued */
		event_base_loopexit(r->d.base, NULL);
	}
}

static void forward_cb(evutil_socket_t sig, short what, void *arg)
{
	struct run *r = arg;

	(void)what;
	kill(r->child, (int)sig); /* the command decides what a signal means */
}

static int serve_fds(struct run *r, int fds[SBX_NFDS])
{
	struct guard_conf gc = { .base = r->d.base, .pol = r->d.pol, .audit = r->d.audit, .rsv = r->d.rsv,
				 .cache = r->cache, .who = "run" };
	int seccomp = fds[SBX_SECCOMP];

	if (guard_new(&gc, fds, &r->guard) < 0) {
		if (seccomp >= 0)
			close(seccomp);
		return -ENOMEM;
	}
	if (seccomp >= 0 && sbx_notify_new(r->d.base, seccomp, &r->notify) < 0)
		return -ENOMEM;
	return 0;
}

static int watch_signals(struct run *r)
{
	static const int fwd[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

	r->sigs[0] = evsignal_new(r->d.base, SIGCHLD, child_cb, r);
	for (size_t i = 0; i < 4; i++)
		r->sigs[i + 1] = evsignal_new(r->d.base, fwd[i], forward_cb, r);
	for (size_t i = 0; i < 5; i++)
		if (!r->sigs[i] || event_add(r->sigs[i], NULL) < 0)
			return -ENOMEM;
	return 0;
}

/* Wait (at most 10 s) for the child's listeners (and the seccomp
 * listener, when the kernel has one). */
static int receive(int sock, int fds[SBX_NFDS])
{
	struct pollfd p = { sock, POLLIN, 0 };

	if (poll(&p, 1, 10000) <= 0)
		return -ETIMEDOUT;
	int n = sbx_recv_fds(sock, fds, SBX_NFDS);
	if (n < 0)
		return n;
	for (int i = 0; i < SBX_SECCOMP; i++)
		if (fds[i] < 0) {
			sbx_close_received(fds, SBX_NFDS);
			return -EPROTO;
		}
	return 0;
}

static int exit_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : EXIT_SLUICE;
}

/* Policy (deny-all when none is given), log, loop and resolver. */
static int setup(struct run *r, struct cli_opt *opts, const char *cmd)
{
	struct cli_opt *pol = cli_get(opts, "--policy"), *name = cli_get(opts, "--name");
	static const char deny_all[] = "version: 1\n";
	struct pol_errors errs = { 0 };
	struct policy *bare = NULL;
	char *spec;

	if (cmd_policy_spec(opts, NULL, &spec))
		return -EINVAL;
	if (spec)
		r->d.pol = cmd_load_policy(spec);
	free(spec);
	/* the name: --name, else the policy's, else (no --policy) the command's */
	if (!pol->n && !name->n && r->d.pol &&
	    pol_load_buffer(deny_all, sizeof(deny_all) - 1, cmd, &bare, &errs) == 0) {
		free(r->d.pol->name);
		r->d.pol->name = bare->name;
		bare->name = NULL;
	}
	if (!spec && !r->d.pol)
		pol_load_buffer(deny_all, sizeof(deny_all) - 1, cmd, &r->d.pol, &errs);
	pol_free(bare);
	pol_errors_free(&errs);
	if (!r->d.pol || !r->d.pol->name)
		return -EINVAL;
	if (name->n) {
		free(r->d.pol->name);
		if (!(r->d.pol->name = strdup(name->values[0])))
			return -ENOMEM;
	}
	if (daemon_open(&r->d, cli_get(opts, "--log"), cli_get(opts, "--resolver"), 0, 0))
		return -EINVAL;
	return cmd_cache_open(opts, r->d.base, r->d.pol, &r->cache) ? -EINVAL : 0;
}

/* --publish: parse each value and listen on the host, before the sandbox
 * exists (a port in use fails at once). */
static int plan_publish(struct run *r, struct cli_opt *opts)
{
	struct cli_opt *o = cli_get(opts, "--publish");
	const struct pub_spec *bad;
	const char *why;

	for (size_t i = 0; i < o->n && i < PUB_MAX; i++) {
		if (pub_parse(o->values[i], &r->pub_specs[i], &why) < 0) {
			log_msg("run: invalid --publish '%s': %s", o->values[i], why);
			return -EINVAL;
		}
		if (!r->pub_specs[i].loopback)
			log_msg("run: --publish %s is not a loopback address: whoever reaches it reaches the server "
				"in the sandbox", r->pub_specs[i].text);
	}
	if (!o->n)
		return 0;
	r->npub = o->n;
	int rc = pub_new(r->pub_specs, r->npub, &r->pub, &bad);
	if (rc < 0) {
		log_msg("run: cannot listen on %s for --publish: %s", bad->text, strerror(-rc));
		return rc;
	}
	pub_inner_ports(r->pub, r->pub_ports);
	return 0;
}

/* With --cache, the sandbox trusts the CA (and sees neither the store nor
 * the CA's key: what it could write there, a host would serve or sign). */
static int plan_trust(struct run *r, struct cli_opt *opts)
{
	const char *path = r->cache ? px_cache_ca_path(r->cache) : NULL;
	char store[PATH_MAX], ca_dir[PATH_MAX];

	if (!path)
		return 0;
	/* absolute, as the mounts that cover them need */
	if (!realpath(cli_get(opts, "--cache")->values[0], store) || !realpath(path, ca_dir)) {
		log_msg("run: cannot resolve the cache's directories: %s", strerror(errno));
		return -errno;
	}
	char *slash = strrchr(ca_dir, '/');
	if (slash && slash != ca_dir)
		*slash = '\0';
	const char *hide[2] = { store, ca_dir };
	int rc = sbx_fs_trust(&r->fs, px_cache_ca_pem(r->cache), hide, 2);
	if (rc < 0)
		log_msg("run: cannot make the sandbox trust %s: %s", path, strerror(-rc));
	return rc;
}

static void run_free(struct run *r)
{
	pub_free(r->pub);
	sbx_notify_free(r->notify);
	sbx_fs_done(&r->fs);
	guard_free(r->guard);
	px_cache_free(r->cache);
	for (size_t i = 0; i < 5; i++)
		if (r->sigs[i])
			event_free(r->sigs[i]);
	daemon_free(&r->d);
}

/* --publish: the connector's socket follows the listeners. */
static int receive_connector(struct run *r, int sock)
{
	struct pollfd p = { sock, POLLIN, 0 };
	int conn, rc;

	if (!r->pub)
		return 0;
	if (poll(&p, 1, 10000) <= 0)
		return -ETIMEDOUT;
	if ((rc = sbx_recv_fds(sock, &conn, 1)) < 0)
		return rc;
	if (conn < 0)
		return -EPROTO;
	if ((rc = pub_start(r->pub, r->d.base, conn)) < 0)
		return rc;
	for (size_t i = 0; i < r->npub; i++)
		log_msg("run: --publish: %s reaches the sandbox's 127.0.0.1:%u", r->pub_specs[i].text,
			r->pub_specs[i].inner);
	return 0;
}

static int supervise(struct run *r, int sock)
{
	int fds[SBX_NFDS], rc = receive(sock, fds);

	if (rc == 0 && (rc = receive_connector(r, sock)) < 0) {
		sbx_close_received(fds, SBX_NFDS);
		kill(r->child, SIGKILL); /* it may be running the command already */
	}
	close(sock);
	if (rc < 0) {
		int status;
		if (rc == -ETIMEDOUT)
			kill(r->child, SIGKILL);
		if (waitpid(r->child, &status, 0) == r->child && WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SLUICE)
			return EXIT_SLUICE; /* the child said why */
		log_msg("run: the sandbox did not come up: %s", strerror(-rc));
		return EXIT_SLUICE;
	}
	if (serve_fds(r, fds) < 0 || watch_signals(r) < 0) {
		log_msg("run: cannot serve the sandbox's listeners");
		kill(r->child, SIGKILL);
		waitpid(r->child, NULL, 0);
		return EXIT_SLUICE;
	}
	child_cb(SIGCHLD, 0, r); /* it may already have exited */
	if (!r->exited)
		event_base_dispatch(r->d.base);
	return exit_status(r->status);
}

int cmd_run(int argc, char **argv)
{
	struct cli_opt opts[CLI_MAX_OPTS];
	struct run r = { 0 };
	int sv[2];
	struct timespec started;

	clock_gettime(CLOCK_REALTIME, &started);
	cli_table(opts, "run", NULL);
	int first = cli_parse(argc, argv, 2, opts);
	bool learn = first >= 0 && cli_get(opts, "--learn")->n;
	if (first < 0 || first >= argc || (learn && !cli_get(opts, "--log")->n)) {
		if (learn && first >= 0)
			log_msg("run: --learn writes its proposal beside the log: give --log PATH");
		cli_usage("run");
		return first < 0 || learn ? 2 : EXIT_SLUICE;
	}
	if (setup(&r, opts, argv[first]) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		run_free(&r);
		return EXIT_SLUICE;
	}
	if (learn)
		r.d.pol->mode = POL_REPORT; /* allow, and log what would be denied */
	char *server = learn ? strdup(r.d.pol->name) : NULL;
	struct cli_opt *env = cli_get(opts, "--env");
	size_t nkeep = r.d.pol->nenv + env->n;
	char **keep = calloc(nkeep + 1, sizeof(*keep));
	for (size_t i = 0; keep && i < r.d.pol->nenv; i++)
		keep[i] = r.d.pol->env[i];
	for (size_t i = 0; keep && i < env->n; i++)
		keep[r.d.pol->nenv + i] = (char *)env->values[i];
	struct cli_opt *pol = cli_get(opts, "--policy"), *log = cli_get(opts, "--log");
	const char *protect[CLI_MAX_REPEAT + 1] = { log->n ? log->values[0] : NULL };
	for (size_t i = 0; i < pol->n; i++)
		protect[i + 1] = pol->values[i]; /* a preset's name is no path: nothing to protect */
	if (sbx_fs_plan(r.d.pol, protect, pol->n + 1, &r.fs) < 0 || plan_trust(&r, opts) < 0 ||
	    plan_publish(&r, opts) < 0) {
		free(keep);
		close(sv[0]);
		close(sv[1]);
		run_free(&r);
		return EXIT_SLUICE;
	}
	pid_t supervisor = getpid();
	r.child = keep ? fork() : -1;
	if (r.child == 0)
		child_main(sv[1], argv + first, keep, nkeep, &r, supervisor);
	/* the supervisor is out of the command's reach too (after the fork:
	 * the child writes its id maps as the caller) */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	close(sv[1]);
	int rc = EXIT_SLUICE;
	if (r.child < 0)
		log_msg("run: cannot start the sandbox: %s", strerror(errno));
	else
		rc = supervise(&r, sv[0]);
	free(keep);
	run_free(&r); /* closes the log: every record is in the file */
	if (server)
		cmd_log_learn(cli_get(opts, "--log")->values[0], server,
			      (int64_t)started.tv_sec * 1000 + started.tv_nsec / 1000000);
	free(server);
	return rc;
}
