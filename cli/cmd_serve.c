/* cmd_serve.c: `sluice serve`, one process and one loop for many
 * attachments (one resolver cache, one package cache), driven over the
 * control socket (control.h) by `sluice attach|detach|ls --control`.
 *
 * A request is handled to its end before the next one is read: an attach
 * forks a short-lived child into the target (a few milliseconds; a container
 * engine's inspect, longer), and the loop serves nothing else meanwhile.
 * When serve stops, every table stays in its target and rejects everything.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "attachment.h"
#include "audit.h"
#include "cli.h"
#include "cmds.h"
#include "control.h"
#include "daemon.h"
#include "guard.h"
#include "log.h"
#include "policy.h"
#include "proxy.h"

#define SERVE_MAX 256        /* attachments; one more is refused */
#define SERVE_CLIENTS 32     /* control connections at once; one more is closed */
#define CLIENT_TIMEOUT_S 30
#define WATCH_MS 1000

struct serve {
	struct daemon d;              /* the loop, the resolver, serve's own log stream */
	const char *log_path;         /* NULL: stderr */
	struct px_cache *cache;
	struct evconnlistener *ctl;
	char ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ino_t ctl_ino;
	struct attachment *att[SERVE_MAX];
	size_t n, nclients;
	struct event *watch, *sigs[3];
};

struct client {
	struct serve *s;
	struct bufferevent *bev;
	bool closing;                 /* free once the answer is written */
	bool refused;                 /* another uid: its request is read, then refused */
};

/* ---- answers ------------------------------------------------------------- */

static char *answer_error(const char *why)
{
	json_t *o = json_pack("{s:b,s:s}", "ok", 0, "error", why);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

static char *answer(json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text ? text : answer_error("out of memory");
}

static ssize_t find(struct serve *s, const struct sbx_target *t)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->att[i]->target.kind == t->kind && strcmp(s->att[i]->target.value, t->value) == 0)
			return (ssize_t)i;
	return -1;
}

/* The policy a request names, with every error joined into one line. */
static struct policy *load_policy(const char *spec, const char *name, char *err, size_t size)
{
	struct policy *pol = NULL;
	struct pol_errors errs = { 0 };
	int rc = pol_load(spec, &pol, &errs);

	if (rc == -EINVAL)
		snprintf(err, size, "%s%s", errs.n ? errs.v[0] : "invalid policy", errs.n > 1 ? " (and more)" : "");
	else if (rc < 0)
		snprintf(err, size, "cannot read policy '%s': %s (give a file path or a preset name)", spec,
			 strerror(-rc));
	pol_errors_free(&errs);
	if (rc == 0 && name) {
		free(pol->name);
		if (!(pol->name = strdup(name)))
			snprintf(err, size, "out of memory");
	}
	if (rc == 0 && !pol->name) {
		pol_free(pol);
		return NULL;
	}
	return rc < 0 ? NULL : pol;
}

static char *do_attach(struct serve *s, const struct ctl_req *r)
{
	char err[768];
	struct audit *audit = NULL;
	struct attachment *a;
	int rc;

	if (find(s, &r->target) >= 0)
		return answer_error("already attached: detach it first");
	if (s->n == SERVE_MAX)
		return answer_error("too many attachments (256): detach one first");
	struct policy *pol = load_policy(r->policy, r->name, err, sizeof(err));
	if (!pol)
		return answer_error(err);
	if ((rc = audit_open(s->log_path, pol->name, &audit)) < 0 || (rc = audit_use_loop(audit, s->d.base)) < 0) {
		snprintf(err, sizeof(err), "cannot open the log: %s", strerror(-rc));
		pol_free(pol);
		audit_close(audit);
		return answer_error(err);
	}
	struct att_conf ac = { .base = s->d.base, .rsv = s->d.rsv, .cache = s->cache, .metrics = s->d.metrics,
			       .name = r->name, .follow = r->follow };
	if (att_new(&ac, &r->target, r->policy, pol, audit, &a, err, sizeof(err)) < 0)
		return answer_error(err);
	s->att[s->n++] = a;
	log_msg("serve: attached %s as %s", a->label, a->pol->name);
	return answer(json_pack("{s:b,s:s,s:s}", "ok", 1, "server", a->pol->name, "target", a->label));
}

static char *do_detach(struct serve *s, const struct ctl_req *r)
{
	ssize_t i = find(s, &r->target);
	struct sbx_ns ns;
	char err[768];
	const char *what;

	if (i >= 0) {
		att_free(s->att[i]);
		s->att[i] = s->att[--s->n];
	}
	if (sbx_target_open(&r->target, &ns, err, sizeof(err)) < 0)
		return i >= 0 ? answer(json_pack("{s:b}", "ok", 1)) : answer_error(err);
	int rc = sbx_detach(&ns, &what);
	sbx_ns_close(&ns);
	if (rc < 0) {
		snprintf(err, sizeof(err), "cannot %s: %s", what, strerror(-rc));
		return answer_error(err);
	}
	return answer(json_pack("{s:b}", "ok", 1));
}

static char *do_ls(struct serve *s)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < s->n; i++) {
		struct attachment *a = s->att[i];
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "server", audit_server(a->audit),
						      "target", a->label, "policy", a->policy_spec, "state",
						      a->lost ? "unprotected" : "attached", "attaches",
						      (json_int_t)a->attaches, "connections",
						      (json_int_t)guard_active(a->guard), "packets_rejected",
						      (json_int_t)guard_packets(a->guard)));
	}
	return answer(list ? json_pack("{s:b,s:o}", "ok", 1, "attachments", list) : NULL);
}

static char *handle(struct serve *s, const char *line, size_t len)
{
	struct ctl_req r;
	char err[256];

	if (ctl_parse(line, len, &r, err, sizeof(err)) < 0)
		return answer_error(err);
	char *text = r.op == CTL_ATTACH ? do_attach(s, &r) : r.op == CTL_DETACH ? do_detach(s, &r) : do_ls(s);
	ctl_req_free(&r);
	return text;
}

/* ---- control connections ------------------------------------------------- */

static void client_free(struct client *c)
{
	c->s->nclients--;
	bufferevent_free(c->bev);
	free(c);
}

static void reply(struct client *c, char *text)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (!text)
		text = answer_error("out of memory");
	if (text) {
		evbuffer_add(out, text, strlen(text));
		free(text);
	}
	evbuffer_add(out, "\n", 1);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	char *line;

	if (c->refused && (evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF).pos >= 0 ||
			   evbuffer_get_length(in) > CTL_MAX_LINE)) {
		/* answered once its request is in: closing first would fail the
		 * client's write, and it would never read why */
		evbuffer_drain(in, evbuffer_get_length(in));
		reply(c, answer_error("refused: only sluice serve's own user may use it"));
		c->closing = true;
	}
	if (c->refused && !c->closing)
		return;
	while (!c->closing && (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF))) {
		reply(c, len > CTL_MAX_LINE ? answer_error("request too long") : handle(c->s, line, len));
		free(line);
	}
	if (!c->closing && evbuffer_get_length(in) > CTL_MAX_LINE) {
		reply(c, answer_error("request too long (64 KiB at most, one line)"));
		c->closing = true;
	}
	if (c->closing)
		bufferevent_disable(bev, EV_READ);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	(void)bev;
	if (c->closing)
		client_free(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what; /* EOF, an error or the timeout: done with this client */
	client_free(arg);
}

/* Only serve's own uid may steer it. */
static bool same_uid(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == geteuid();
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct serve *s = arg;
	struct client *c = NULL;

	(void)l, (void)sa, (void)salen;
	if (s->nclients >= SERVE_CLIENTS || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->s = s;
	c->refused = !same_uid(fd);
	if (!(c->bev = bufferevent_socket_new(s->d.base, fd, BEV_OPT_CLOSE_ON_FREE))) {
		close(fd);
		free(c);
		return;
	}
	s->nclients++;
	struct timeval tv = { CLIENT_TIMEOUT_S, 0 };
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ);
}

/* ---- the control socket -------------------------------------------------- */

/* A stale socket left by a serve that died is replaced; a live one, or a
 * file that is not a socket, is not. */
static int clear_path(const char *path)
{
	struct stat st;
	char err[256];
	char *answer_text = NULL;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_msg("serve: %s exists and is not a socket; remove it or give --control PATH", path);
		return -EEXIST;
	}
	if (ctl_call(path, "{\"op\":\"ls\"}", &answer_text, err, sizeof(err)) == 0) {
		free(answer_text);
		log_msg("serve: another sluice serve answers on %s", path);
		return -EADDRINUSE;
	}
	return unlink(path) == 0 ? 0 : -errno;
}

static int control_listen(struct serve *s, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	struct stat st;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_msg("serve: control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	memcpy(dir, path, strlen(path) + 1);
	if (mkdir(dirname(dir), 0700) < 0 && errno != EEXIST) {
		log_msg("serve: cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	if ((rc = clear_path(path)) < 0)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	mode_t old = umask(0177); /* born 0600: no moment when another user could connect */
	rc = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 64) == 0 ? 0 : -errno;
	umask(old);
	if (rc == 0 && (chmod(path, 0600) < 0 || stat(path, &st) < 0))
		rc = -errno;
	if (rc == 0 && !(s->ctl = evconnlistener_new(s->d.base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE, -1, fd)))
		rc = -ENOMEM;
	if (rc < 0) {
		log_msg("serve: cannot listen on %s: %s", path, strerror(-rc));
		if (fd >= 0 && !s->ctl)
			close(fd);
		return rc;
	}
	memcpy(s->ctl_path, path, strlen(path) + 1);
	s->ctl_ino = st.st_ino;
	return 0;
}

/* ---- the loop ------------------------------------------------------------ */

/* Every second: each target still the namespace served? One that is gone
 * or restarted without --follow is dropped (its record and stderr line say
 * so), so stopped containers do not fill the table. */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct serve *s = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < s->n;) {
		struct attachment *a = s->att[i];
		if (att_check(a) == ATT_LOST && !a->follow) {
			log_msg("serve: %s dropped (attach it again, or use --follow)", a->label);
			att_free(a);
			s->att[i] = s->att[--s->n];
			continue;
		}
		i++;
	}
}

/* SIGHUP: serve's own log reopened, then each attachment's log and policy. */
static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct serve *s = arg;

	(void)sig, (void)what;
	audit_reopen(s->d.audit);
	for (size_t i = 0; i < s->n; i++)
		att_reload(s->att[i]);
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct serve *s = arg;

	(void)what;
	log_msg("serve: signal %d: stopping; the %zu attached targets keep table inet sluice and have no network "
		"until they are attached again or detached", (int)sig, s->n);
	event_base_loopexit(s->d.base, NULL);
}

static int start(struct serve *s, struct cli_opt *opts)
{
	struct cli_opt *ctl = cli_get(opts, "--control"), *log = cli_get(opts, "--log");
	static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
	struct timeval tv = { WATCH_MS / 1000, (WATCH_MS % 1000) * 1000 };
	int rc;

	signal(SIGHUP, SIG_IGN); /* until the loop's handler is armed */
	s->log_path = log->n ? log->values[0] : NULL;
	if (daemon_open(&s->d, log, cli_get(opts, "--resolver"), 0, 0))
		return 1;
	if ((rc = daemon_metrics(&s->d, cli_get(opts, "--metrics"))))
		return rc;
	/* the cache's rules are per policy; serve's store and CA are shared */
	if (cmd_cache_open(opts, s->d.base, NULL, &s->cache))
		return 1;
	for (size_t i = 0; i < 3; i++)
		if (!(s->sigs[i] = evsignal_new(s->d.base, sigs[i], i < 2 ? stop_cb : hup_cb, s)) ||
		    event_add(s->sigs[i], NULL) < 0)
			return 1;
	s->watch = event_new(s->d.base, -1, EV_PERSIST, watch_cb, s);
	if (!s->watch || event_add(s->watch, &tv) < 0)
		return 1;
	return control_listen(s, ctl->n ? ctl->values[0] : CTL_DEFAULT_PATH) < 0 ? 1 : 0;
}

static void serve_free(struct serve *s)
{
	struct stat st;

	for (size_t i = 0; i < s->n; i++)
		att_free(s->att[i]);
	if (s->ctl) {
		evconnlistener_free(s->ctl);
		if (stat(s->ctl_path, &st) == 0 && st.st_ino == s->ctl_ino)
			unlink(s->ctl_path); /* ours, not a successor's */
	}
	if (s->watch)
		event_free(s->watch);
	for (size_t i = 0; i < 3; i++)
		if (s->sigs[i])
			event_free(s->sigs[i]);
	px_cache_free(s->cache);
	daemon_free(&s->d);
}

int cmd_serve(int argc, char **argv)
{
	struct cli_opt opts[CLI_MAX_OPTS];
	static struct serve s; /* 256 attachment slots: off the stack */

	cli_table(opts, "serve", NULL);
	int first = cli_parse(argc, argv, 2, opts);
	if (first < 0 || first != argc) {
		return cli_usage("serve");
	}
	int rc = start(&s, opts);
	if (rc == 0) {
		log_msg("serve: listening on %s", s.ctl_path);
		event_base_dispatch(s.d.base);
	}
	serve_free(&s);
	return rc;
}
