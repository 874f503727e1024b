/* attachment.c: one running target under one policy (see attachment.h). */
#include "attachment.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "daemon.h"
#include "metrics.h"
#include "guard.h"
#include "log.h"
#include "policy.h"

/* One record for the target's state: attached, or lost (unprotected). */
static void note(struct attachment *a, bool attached)
{
	struct audit_rec r = audit_rec_init("attach", attached ? "decision" : "close");

	r.host = a->label;
	r.decision = attached ? "allow" : "deny";
	r.reason = attached ? "allowed" : "unprotected";
	audit_write(a->audit, &r);
}

static void drop_guard(struct attachment *a)
{
	if (a->metrics && a->guard)
		metrics_remove_active(a->metrics, a->guard);
	guard_free(a->guard);
	a->guard = NULL;
}

/* Attach to the namespace opened in ns (which a takes). */
static int attach_ns(struct attachment *a, struct sbx_ns *ns, char *err, size_t errsize)
{
	int fds[SBX_NFDS];
	const char *what;
	struct guard_conf gc = { .base = a->base, .pol = a->pol, .audit = a->audit, .rsv = a->rsv,
				 .cache = a->cache, .who = "attach" };
	int rc = sbx_attach(ns, SBX_LOG_GROUP, fds, &what);

	if (rc < 0) {
		snprintf(err, errsize, "%s: cannot %s: %s", a->label, what, strerror(-rc));
		sbx_ns_close(ns);
		return rc;
	}
	drop_guard(a);
	sbx_ns_close(&a->ns);
	a->ns = *ns;
	if ((rc = guard_new(&gc, fds, &a->guard)) < 0) {
		snprintf(err, errsize, "%s: cannot serve its listeners: %s", a->label, strerror(-rc));
		return rc;
	}
	if (a->metrics)
		(void)metrics_add_active(a->metrics, audit_server(a->audit), guard_active, a->guard);
	a->attaches++;
	a->lost = false;
	note(a, true);
	return 0;
}

int att_new(const struct att_conf *c, const struct sbx_target *t, const char *policy_spec, struct policy *pol,
	    struct audit *audit, struct attachment **out, char *err, size_t errsize)
{
	struct attachment *a = calloc(1, sizeof(*a));
	struct sbx_ns ns;
	int rc = -ENOMEM;

	*out = NULL;
	if (!a || !(a->target.value = strdup(t->value)) || !(a->policy_spec = strdup(policy_spec)) ||
	    (c->name && !(a->name = strdup(c->name)))) {
		snprintf(err, errsize, "out of memory");
		goto err;
	}
	a->target.kind = t->kind;
	a->pol = pol, a->audit = audit, pol = NULL, audit = NULL;
	a->base = c->base, a->rsv = c->rsv, a->cache = c->cache, a->follow = c->follow, a->metrics = c->metrics;
	a->ns = (struct sbx_ns){ .netns = -1, .userns = -1 };
	sbx_target_label(&a->target, a->label, sizeof(a->label));
	if (a->metrics)
		metrics_watch(a->metrics, a->audit);
	if ((rc = sbx_target_open(&a->target, &ns, err, errsize)) < 0 || (rc = attach_ns(a, &ns, err, errsize)) < 0)
		goto err;
	*out = a;
	return 0;
err:
	pol_free(pol);
	audit_close(audit);
	att_free(a);
	return rc;
}

void att_reload(struct attachment *a)
{
	audit_reopen(a->audit); /* first: the reload's record goes to the new file */
	if (daemon_reload_policy(a->policy_spec, &a->pol, a->audit) < 0)
		return;
	char *name = a->name ? strdup(a->name) : NULL;
	if (name) {
		free(a->pol->name); /* still only ours: no server holds it yet */
		a->pol->name = name;
	}
	guard_set_policy(a->guard, a->pol);
}

enum att_state att_check(struct attachment *a)
{
	struct sbx_ns now;
	char err[512];

	int rc = sbx_target_open(&a->target, &now, err, sizeof(err));
	if (rc == 0 && !a->lost && sbx_ns_same(&now, &a->ns)) {
		sbx_ns_close(&now);
		return ATT_SAME;
	}
	if (!a->lost) {
		a->lost = true;
		log_msg("attach: %s: %s; it is not protected by sluice%s", a->label,
			rc < 0 ? err : "its network namespace changed (a restart?)",
			a->follow ? " until it is attached again" : " (--follow attaches again)");
		note(a, false);
		drop_guard(a); /* nothing left to serve in the old namespace */
		sbx_ns_close(&a->ns);
	}
	if (rc < 0)
		return ATT_LOST;
	if (!a->follow || attach_ns(a, &now, err, sizeof(err)) < 0) {
		if (a->follow)
			log_msg("attach: %s", err);
		else
			sbx_ns_close(&now);
		return ATT_LOST;
	}
	log_msg("attach: %s: attached again", a->label);
	return ATT_REATTACHED;
}

void att_free(struct attachment *a)
{
	if (!a)
		return;
	drop_guard(a);
	sbx_ns_close(&a->ns);
	pol_free(a->pol);
	audit_close(a->audit);
	free((char *)a->target.value);
	free(a->policy_spec);
	free(a->name);
	free(a);
}
