/* daemon.c: start-up and tear-down shared by the long-running subcommands. */
#include "daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "audit.h"
#include "cmds.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "resolve.h"

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_msg("signal %d: stopping", (int)sig);
	event_base_loopexit(arg, NULL);
}

static void log_reload(struct audit *a, bool ok)
{
	struct audit_rec r = audit_rec_init("reload", NULL);

	r.decision = ok ? "allow" : "deny";
	r.reason = ok ? "allowed" : "bad_request";
	audit_write(a, &r);
}

int daemon_reload_policy(const char *spec, struct policy **pol, struct audit *a)
{
	struct policy *fresh = cmd_load_policy(spec); /* its errors go to stderr */

	log_reload(a, fresh != NULL);
	if (!fresh) {
		log_msg("reload: policy '%s' refused; the old one stays", spec);
		return -EINVAL;
	}
	log_msg("reload: policy '%s' (%s) for new connections", fresh->name,
		fresh->mode == POL_REPORT ? "report" : "enforce");
	if (strcmp(audit_server(a), fresh->name) != 0)
		log_msg("reload: the log's server name stays '%s'", audit_server(a));
	pol_free(*pol);
	*pol = fresh;
	return 0;
}

static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)sig;
	(void)what;
	audit_reopen(d->audit); /* first: the reload's record goes to the new file */
	if (daemon_reload_policy(d->spec, &d->pol, d->audit) == 0 && d->reloaded)
		d->reloaded(d->reload_arg, d->pol);
}

void daemon_on_reload(struct daemon *d, daemon_reload_fn *fn, void *arg)
{
	d->reloaded = fn;
	d->reload_arg = arg;
}

int daemon_metrics(struct daemon *d, struct cli_opt *metrics)
{
	struct sockaddr_storage ss;
	bool loopback;
	const char *why;

	if (!metrics->n)
		return 0;
	if (metrics_parse_listen(metrics->values[0], &ss, &loopback, &why) < 0) {
		log_msg("invalid --metrics '%s': %s", metrics->values[0], why);
		return 2;
	}
	if (!loopback)
		log_msg("metrics: '%s' is not a loopback address: whoever reaches it reads the counters",
			metrics->values[0]);
	if (metrics_new(&d->metrics) < 0)
		return 1;
	metrics_watch(d->metrics, d->audit);
	int rc = metrics_http_new(d->base, d->metrics, metrics->values[0], &d->metrics_http);
	if (rc < 0) {
		log_msg("cannot serve metrics on '%s': %s", metrics->values[0], strerror(-rc));
		return 1;
	}
	return 0;
}

/* c-ares' server list from IP[:PORT] values; -1 after a message. */
static int server_list(struct cli_opt *resolvers, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < resolvers->n; i++) {
		char one[96];
		if (cmd_resolver(resolvers->values[i], one, sizeof(one)) < 0)
			return -1;
		int n = snprintf(buf + used, size - used, "%s%s", used ? "," : "", one);
		if (n < 0 || (size_t)n >= size - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

/* Use every descriptor the hard limit grants: each tunnel needs two. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* An epoll loop that applies its descriptor changes once, just before it
 * waits: a read paused and resumed, or a write armed and met, within one pass
 * costs no epoll_ctl. sluice never dup()s a socket it watches, the case where
 * libevent warns the change list can go wrong. */
static struct event_base *new_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	if (!cfg)
		return NULL;
	if (event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0)
		base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

/* --log into a directory that does not exist: make each missing one (mode
 * 0700: the log says who asked for which host) and say so. 0, or -errno
 * with the directory that could not be made in dir. */
static int make_log_dir(const char *path, char *dir, size_t size)
{
	char *slash;
	struct stat st;

	snprintf(dir, size, "%s", path);
	if (!(slash = strrchr(dir, '/')) || slash == dir)
		return 0;
	*slash = '\0';
	if (stat(dir, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))
		return 0; /* there (or unreadable): audit_open says what is wrong */
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			break;
	}
	log_msg("made the log's directory %s (mode 0700)", dir);
	return 0;
}

int daemon_open(struct daemon *d, struct cli_opt *log, struct cli_opt *resolvers, uint32_t ttl_floor,
		uint32_t ttl_ceiling)
{
	char servers[CLI_MAX_REPEAT * 96];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (server_list(resolvers, servers, sizeof(servers)) < 0)
		return 2;
	char dir[4096];
	if (log->n && (rc = make_log_dir(log->values[0], dir, sizeof(dir))) < 0) {
		log_msg("cannot open log '%s': cannot make its directory %s: %s (make it, or give --log a path in a "
			"directory you can write)", log->values[0], dir, strerror(-rc));
		return 1;
	}
	if ((rc = audit_open(log->n ? log->values[0] : NULL, d->pol ? d->pol->name : "sluice", &d->audit)) < 0) {
		log_msg("cannot open log '%s': %s", log->values[0], strerror(-rc));
		return 1;
	}
	d->base = new_base();
	struct rsv_opts ro = { .servers = resolvers->n ? servers : NULL, .ttl_floor = ttl_floor,
			       .ttl_ceiling = ttl_ceiling };
	if (!d->base || audit_use_loop(d->audit, d->base) < 0 || (rc = rsv_new(d->base, &ro, &d->rsv)) < 0) {
		log_msg("cannot start the resolver");
		return 1;
	}
	return 0;
}

int daemon_setup(struct daemon *d, const char *policy, struct cli_opt *log, struct cli_opt *resolvers,
		 uint32_t ttl_floor, uint32_t ttl_ceiling)
{
	/* a SIGHUP before the handler below is armed must not stop the process */
	signal(SIGHUP, SIG_IGN);
	d->spec = policy;
	d->pol = cmd_load_policy(policy);
	if (!d->pol)
		return 2;
	int rc = daemon_open(d, log, resolvers, ttl_floor, ttl_ceiling);
	if (rc)
		return rc;
	d->sigint = evsignal_new(d->base, SIGINT, stop_cb, d->base);
	d->sigterm = evsignal_new(d->base, SIGTERM, stop_cb, d->base);
	d->sighup = evsignal_new(d->base, SIGHUP, hup_cb, d);
	if (!d->sigint || !d->sigterm || !d->sighup || event_add(d->sigint, NULL) < 0 ||
	    event_add(d->sigterm, NULL) < 0 || event_add(d->sighup, NULL) < 0)
		return 1;
	return 0;
}

void daemon_free(struct daemon *d)
{
	metrics_http_free(d->metrics_http);
	rsv_free(d->rsv);
	audit_close(d->audit);
	pol_free(d->pol);
	if (d->sigint)
		event_free(d->sigint);
	if (d->sigterm)
		event_free(d->sigterm);
	if (d->sighup)
		event_free(d->sighup);
	metrics_free(d->metrics);
	if (d->base)
		event_base_free(d->base);
}
