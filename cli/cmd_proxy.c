/* cmd_proxy.c: `sluice proxy`, the proxy on its own for build servers and
 * containers.
 *
 * With --workers N (N > 1) the first process loads the policy once to check
 * it, then starts N workers and only waits. Each worker is a whole proxy:
 * its own loop, resolver, log descriptor and descriptor limit, listening on
 * sockets of its own with SO_REUSEPORT, among which the kernel spreads new
 * connections. INT and TERM are passed on; when one worker ends without
 * being asked, the others are stopped and its status is the exit status.
 * HUP is passed on too: each worker reopens its log and reloads the policy
 * (each writes its own reload record). --metrics takes one process: a
 * worker would count only the connections the kernel gave it, so it is
 * refused with --workers above 1.
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmds.h"
#include "daemon.h"
#include "audit.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "proxy.h"
#include "span.h"

#define MAX_WORKERS 64

static int listen_all(struct px_server *srv, struct cli_opt *listen)
{
	for (size_t i = 0; i < listen->n; i++) {
		int rc = px_server_listen(srv, listen->values[i]);
		if (rc < 0) {
			log_msg("cannot listen on '%s': %s", listen->values[i],
				rc == -EINVAL ? "want IP:PORT or [IPv6]:PORT" : strerror(-rc));
			return rc == -EINVAL ? 2 : 1;
		}
	}
	return 0;
}

static void reloaded(void *arg, const struct policy *pol)
{
	px_server_set_policy(arg, pol);
}

static size_t active(const void *arg)
{
	return px_server_active(arg);
}

/* The server's policy follows SIGHUP; its connections show in /metrics. */
static int watch(struct daemon *d, struct px_server *srv)
{
	daemon_on_reload(d, reloaded, srv);
	if (d->metrics && metrics_add_active(d->metrics, audit_server(d->audit), active, srv) < 0)
		return 1;
	return 0;
}

/* One proxy process; worker is 0 when it is the only one. */
static int serve(struct cli_opt *opts, unsigned worker, unsigned nworkers)
{
	struct daemon d = { 0 };
	struct px_server *srv = NULL;
	struct px_cache *cache = NULL;
	struct cli_opt *listen = cli_get(opts, "--listen");
	int rc = daemon_setup(&d, cli_get(opts, "--policy")->values[0], cli_get(opts, "--log"),
			      cli_get(opts, "--resolver"), 0, 0);

	if (rc == 0)
		rc = cmd_cache_open(opts, d.base, d.pol, &cache);
	if (rc == 0)
		rc = daemon_metrics(&d, cli_get(opts, "--metrics"));
	if (rc == 0) {
		struct px_config cfg = { .pol = d.pol, .audit = d.audit, .rsv = d.rsv, .reuseport = worker > 0,
					 .cache = cache };
		px_config_defaults(&cfg);
		rc = px_server_new(d.base, &cfg, &srv) < 0 ? 1 : listen_all(srv, listen);
	}
	if (rc == 0)
		rc = watch(&d, srv);
	if (rc == 0) {
		char who[32] = "";
		if (worker)
			snprintf(who, sizeof(who), " worker %u/%u:", worker, nworkers);
		log_msg("proxy:%s policy '%s' (%s), listening on %zu address(es)", who, d.pol->name,
			d.pol->mode == POL_REPORT ? "report" : "enforce", listen->n);
		event_base_dispatch(d.base);
	}
	if (d.metrics)
		metrics_remove_active(d.metrics, srv);
	px_server_free(srv);
	px_cache_free(cache);
	daemon_free(&d);
	return rc;
}

static int status_code(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void stop_all(const pid_t *pid, unsigned n, int sig)
{
	for (unsigned i = 0; i < n; i++)
		if (pid[i] > 0)
			kill(pid[i], sig);
}

static int run_workers(struct cli_opt *opts, unsigned n)
{
	struct policy *pol = cmd_load_policy(cli_get(opts, "--policy")->values[0]);
	struct px_cache *cache = NULL;
	if (!pol)
		return 2;
	/* the store and the CA are made once, before the workers share them */
	int crc = cmd_cache_open(opts, NULL, pol, &cache);
	px_cache_free(cache);
	pol_free(pol);
	if (crc)
		return crc;

	sigset_t wait_for, old;
	sigemptyset(&wait_for);
	sigaddset(&wait_for, SIGINT);
	sigaddset(&wait_for, SIGTERM);
	sigaddset(&wait_for, SIGHUP);
	sigaddset(&wait_for, SIGCHLD);
	sigprocmask(SIG_BLOCK, &wait_for, &old);

	pid_t pid[MAX_WORKERS] = { 0 }, self = getpid();
	unsigned alive = 0;
	int result = 0;
	bool stopping = false;
	for (unsigned i = 0; i < n && !stopping; i++) {
		pid_t p = fork();
		if (p == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM); /* the first process went: so do the workers */
			if (getppid() != self)
				_exit(1);
			signal(SIGHUP, SIG_IGN); /* until the worker's loop handles it */
			sigprocmask(SIG_SETMASK, &old, NULL);
			_exit(serve(opts, i + 1, n));
		}
		if (p < 0) {
			log_msg("proxy: cannot start worker %u: %s", i + 1, strerror(errno));
			result = 1;
			stopping = true;
			break;
		}
		pid[i] = p;
		alive++;
	}
	if (stopping)
		stop_all(pid, n, SIGTERM);
	while (alive > 0) {
		int sig = 0;
		if (sigwait(&wait_for, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			stop_all(pid, n, SIGHUP); /* reload and reopen: nobody stops */
			continue;
		}
		if (sig != SIGCHLD) {
			stopping = true;
			stop_all(pid, n, sig);
			continue;
		}
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			for (unsigned i = 0; i < n; i++)
				if (pid[i] == p)
					pid[i] = 0;
			alive--;
			int code = status_code(st);
			if (!stopping) {
				log_msg("proxy: a worker ended (status %d); stopping the others", code);
				stopping = true;
				result = code ? code : 1;
				stop_all(pid, n, SIGTERM);
			} else if (code > result) {
				result = code;
			}
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return result;
}

int cmd_proxy(int argc, char **argv)
{
	struct cli_opt opts[CLI_MAX_OPTS];
	unsigned long n = 1;

	cli_table(opts, "proxy", NULL);
	struct cli_opt *workers = cli_get(opts, "--workers");
	int first = cli_parse(argc, argv, 2, opts);
	if (first < 0)
		return cli_usage("proxy");
	if (first < argc || cli_get(opts, "--listen")->n == 0 || cli_get(opts, "--policy")->n == 0)
		return cli_usage("proxy");
	if (cmd_policy_opts(opts))
		return 2;
	if (workers->n && span_to_uint(span_str(workers->values[0]), 1, MAX_WORKERS, &n) < 0) {
		log_msg("invalid --workers '%s': want a number from 1 to %d", workers->values[0], MAX_WORKERS);
		return 2;
	}
	if (n > 1 && cli_get(opts, "--metrics")->n) {
		log_msg("--metrics takes one process: with --workers %lu each would count only its own "
			"connections (leave out --workers, or run one proxy per metrics port)", n);
		return 2;
	}
	return n > 1 ? run_workers(opts, (unsigned)n) : serve(opts, 0, 1);
}
