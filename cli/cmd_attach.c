/* cmd_attach.c: `sluice attach` puts a running container or process under a
 * policy, in the foreground; `sluice detach` takes table inet sluice out of
 * its namespace again (see attach.h for how).
 *
 * Exit status of attach: 125 with one line on stderr when the attach
 * itself fails; 0 after SIGINT/SIGTERM; 1 when the target went away (or
 * restarted) without --follow. The table stays when attach ends: the target
 * has no network until `sluice detach` or a new attach.
 */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "attachment.h"
#include "audit.h"
#include "cli.h"
#include "cmds.h"
#include "control.h"
#include "daemon.h"
#include "log.h"
#include "policy.h"
#include "proxy.h"

#define EXIT_SLUICE 125
#define WATCH_MS 1000

struct attach {
	struct daemon d;            /* the loop and the resolver */
	struct sbx_target t;
	char label[300];
	struct attachment *att;
	struct px_cache *cache;
	struct event *watch, *sigs[3];
	bool follow;
	int status;
};

/* Every second: is the target still the namespace served? */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct attach *a = arg;

	(void)fd;
	(void)what;
	if (att_check(a->att) == ATT_LOST && !a->follow) {
		a->status = 1;
		event_base_loopexit(a->d.base, NULL);
	}
}

static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct attach *a = arg;

	(void)sig, (void)what;
	att_reload(a->att);
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct attach *a = arg;

	(void)what;
	log_msg("attach: signal %d: stopping; table inet sluice stays in %s and rejects everything "
		"until `sluice detach`", (int)sig, a->label);
	event_base_loopexit(a->d.base, NULL);
}

static const char *const target_opts[] = { "--pid", "--netns", "--docker", "--podman" };

/* The one target the options name; -1 after a message. */
static int pick_target(struct cli_opt *opts, const char *cmd, struct sbx_target *t)
{
	int found = 0;

	for (size_t i = 0; i < 4; i++) {
		struct cli_opt *o = cli_get(opts, target_opts[i]);
		if (o->n) {
			found++;
			*t = (struct sbx_target){ (enum sbx_target_kind)i, o->values[0] };
		}
	}
	if (found != 1) {
		log_msg("%s: give exactly one of --pid PID, --netns PATH, --docker NAME, --podman NAME", cmd);
		return -1;
	}
	return 0;
}

/* The attachment's own policy (--name applied) and audit stream. */
static int open_policy(struct cli_opt *opts, struct policy **pol, struct audit **audit)
{
	struct cli_opt *name = cli_get(opts, "--name"), *log = cli_get(opts, "--log");
	int rc;

	if (!(*pol = cmd_load_policy(cli_get(opts, "--policy")->values[0])))
		return 2;
	if (name->n) {
		free((*pol)->name);
		if (!((*pol)->name = strdup(name->values[0])))
			return EXIT_SLUICE;
	}
	if ((rc = audit_open(log->n ? log->values[0] : NULL, (*pol)->name, audit)) < 0) {
		log_msg("attach: cannot open log '%s': %s", log->values[0], strerror(-rc));
		return EXIT_SLUICE;
	}
	return 0;
}

static int start(struct attach *a, struct cli_opt *opts)
{
	signal(SIGHUP, SIG_IGN); /* until the loop's handler is armed */
	struct policy *pol = NULL;
	struct audit *audit = NULL;
	char err[512];
	int rc = open_policy(opts, &pol, &audit);

	if (rc || daemon_open(&a->d, cli_get(opts, "--log"), cli_get(opts, "--resolver"), 0, 0) ||
	    audit_use_loop(audit, a->d.base) < 0 || cmd_cache_open(opts, a->d.base, pol, &a->cache)) {
		pol_free(pol);
		audit_close(audit);
		return rc == 2 ? 2 : EXIT_SLUICE;
	}
	static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
	for (size_t i = 0; i < 3; i++)
		if (!(a->sigs[i] = evsignal_new(a->d.base, sigs[i], i < 2 ? stop_cb : hup_cb, a)) ||
		    event_add(a->sigs[i], NULL) < 0)
			rc = EXIT_SLUICE;
	struct timeval tv = { WATCH_MS / 1000, (WATCH_MS % 1000) * 1000 };
	a->watch = event_new(a->d.base, -1, EV_PERSIST, watch_cb, a);
	if (rc || !a->watch || event_add(a->watch, &tv) < 0) {
		pol_free(pol);
		audit_close(audit);
		return EXIT_SLUICE;
	}
	const char *spec = cli_get(opts, "--policy")->values[0];
	struct cli_opt *name = cli_get(opts, "--name");
	struct att_conf ac = { .base = a->d.base, .rsv = a->d.rsv, .cache = a->cache,
			       .name = name->n ? name->values[0] : NULL, .follow = a->follow };
	if (att_new(&ac, &a->t, spec, pol, audit, &a->att, err, sizeof(err)) < 0) {
		log_msg("attach: %s", err);
		return EXIT_SLUICE;
	}
	return 0;
}

static void attach_free(struct attach *a)
{
	att_free(a->att);
	px_cache_free(a->cache);
	if (a->watch)
		event_free(a->watch);
	for (size_t i = 0; i < 3; i++)
		if (a->sigs[i])
			event_free(a->sigs[i]);
	daemon_free(&a->d);
}

int cmd_attach(int argc, char **argv)
{
	struct cli_opt opts[CLI_MAX_OPTS];
	struct attach a = { 0 };

	cli_table(opts, "attach", NULL);
	int first = cli_parse(argc, argv, 2, opts);
	if (first < 0 || first != argc || pick_target(opts, "attach", &a.t) < 0 || !cli_get(opts, "--policy")->n) {
		return cli_usage("attach");
	}
	if (cmd_policy_opts(opts)) /* --policy is the combination from here on */
		return 2;
	if (cli_get(opts, "--control")->n)
		return cmd_control_attach(opts, &a.t);
	a.follow = cli_get(opts, "--follow")->n > 0;
	sbx_target_label(&a.t, a.label, sizeof(a.label));
	int rc = start(&a, opts);
	if (rc == 0) {
		event_base_dispatch(a.d.base);
		rc = a.status;
	}
	attach_free(&a);
	return rc;
}

int cmd_detach(int argc, char **argv)
{
	struct cli_opt opts[CLI_MAX_OPTS];
	struct sbx_target t;
	struct sbx_ns ns;
	char label[300], err[512];
	const char *what;

	cli_table(opts, "detach", NULL);
	int first = cli_parse(argc, argv, 2, opts);
	if (first < 0 || first != argc || pick_target(opts, "detach", &t) < 0) {
		return cli_usage("detach");
	}
	if (cli_get(opts, "--control")->n)
		return cmd_control_detach(opts, &t);
	sbx_target_label(&t, label, sizeof(label));
	if (sbx_target_open(&t, &ns, err, sizeof(err)) < 0) {
		log_msg("detach: %s", err);
		return 1;
	}
	int rc = sbx_detach(&ns, &what);
	sbx_ns_close(&ns);
	if (rc < 0) {
		log_msg("detach: %s: cannot %s: %s", label, what, strerror(-rc));
		return 1;
	}
	return 0;
}

/* ---- handing the request to `sluice serve` --------------------------------- */

static const char *const kind_names[] = { "pid", "netns", "docker", "podman" };

/* Send req (consumed) to the serve at --control; 0 when it said ok. */
static int call(struct cli_opt *opts, const char *cmd, json_t *req)
{
	char err[512], *text = req ? json_dumps(req, JSON_COMPACT) : NULL, *ans = NULL;
	const char *path = cli_get(opts, "--control")->values[0];
	int rc = 1;

	json_decref(req);
	if (!text) {
		log_msg("%s: out of memory", cmd);
		return 1;
	}
	if (ctl_call(path, text, &ans, err, sizeof(err)) < 0) {
		log_msg("%s: %s", cmd, err);
	} else {
		json_t *o = json_loads(ans, 0, NULL);
		json_t *e = json_object_get(o, "error");
		if (json_is_true(json_object_get(o, "ok")))
			rc = 0;
		else
			log_msg("%s: sluice serve refused: %s", cmd, json_is_string(e) ? json_string_value(e) : ans);
		json_decref(o);
	}
	free(text);
	free(ans);
	return rc;
}

int cmd_control_attach(struct cli_opt *opts, const struct sbx_target *t)
{
	static const char *const serve_own[] = { "--log", "--resolver", "--cache", "--cache-max", "--meta-ttl",
						 "--offline", "--ca", "--upstream-ca" };
	const char *spec = cli_get(opts, "--policy")->values[0];
	char *real = NULL;
	struct cli_opt *name = cli_get(opts, "--name");
	struct policy *pol;

	for (size_t i = 0; i < sizeof(serve_own) / sizeof(serve_own[0]); i++)
		if (cli_get(opts, serve_own[i])->n) {
			log_msg("attach: %s belongs to `sluice serve` when --control is given", serve_own[i]);
			return 2;
		}
	/* errors are reported here, against the caller's files; serve reads
	 * them from its own working directory, so it gets absolute paths */
	if (!(pol = cmd_load_policy(spec)))
		return 2;
	pol_free(pol);
	int rc = pol_spec_absolute(spec, &real);
	if (rc < 0) {
		log_msg("attach: cannot name the policy files for sluice serve: %s", strerror(-rc));
		return EXIT_SLUICE;
	}
	json_t *req = json_pack("{s:s,s:s,s:s,s:s,s:b}", "op", "attach", "target", kind_names[t->kind], "value",
				t->value, "policy", real, "follow", cli_get(opts, "--follow")->n > 0);
	free(real);
	if (req && name->n)
		json_object_set_new(req, "name", json_string(name->values[0]));
	rc = call(opts, "attach", req);
	return rc ? EXIT_SLUICE : 0;
}

int cmd_control_detach(struct cli_opt *opts, const struct sbx_target *t)
{
	return call(opts, "detach",
		    json_pack("{s:s,s:s,s:s}", "op", "detach", "target", kind_names[t->kind], "value", t->value));
}
