/* attachment.h: one running target under one policy, served by a guard:
 * the unit of a foreground `sluice attach` and of each entry of `sluice
 * serve`. It owns its target's copy, its policy and its audit stream (each
 * attachment writes its own server name; several share one log file, whose
 * O_APPEND writes of whole lines never interleave). */
#ifndef SLUICE_ATTACHMENT_H
#define SLUICE_ATTACHMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attach.h"

struct event_base;
struct policy;
struct audit;
struct rsv;
struct px_cache;
struct guard;
struct metrics;

/* What an attachment is made with, besides its target and policy. */
struct att_conf {
	struct event_base *base;
	struct rsv *rsv;
	struct px_cache *cache;     /* or NULL */
	struct metrics *metrics;    /* or NULL: counted there under the server's name */
	const char *name;           /* the server name, over the policy's; or NULL */
	bool follow;
};

struct attachment {
	struct sbx_target target;   /* value owned */
	char label[300];            /* "docker:web" */
	char *policy_spec;          /* as given: a file's absolute path or a preset */
	struct policy *pol;
	struct audit *audit;
	struct sbx_ns ns;           /* the namespace served; netns -1 when lost */
	struct guard *guard;
	bool follow, lost;
	uint64_t attaches;          /* times attached (a restart followed adds one) */
	struct event_base *base;
	struct rsv *rsv;
	struct px_cache *cache;
	struct metrics *metrics;    /* serve's registry, or NULL */
	char *name;                 /* the server name asked for (overrides the policy's), or NULL */
};

enum att_state { ATT_SAME, ATT_REATTACHED, ATT_LOST };

/* Take t (copied), pol and audit (owned from here, also on failure), open
 * the target and attach. Returns 0, or -errno with a one-line reason in err
 * (*out NULL). */
int att_new(const struct att_conf *c, const struct sbx_target *t, const char *policy_spec, struct policy *pol,
	    struct audit *audit, struct attachment **out, char *err, size_t errsize);

/* SIGHUP: reopen the log, re-read the policy (a bad one is refused with its
 * errors on stderr and a reload record, and the old one stays); new
 * connections follow a good one. */
void att_reload(struct attachment *a);

/* Is the target still the namespace served? On a change (a restart makes a
 * new namespace) or when the target is gone: one stderr line and one audit
 * record say it is unprotected, and with follow it is attached again as
 * soon as it can be. */
enum att_state att_check(struct attachment *a);

/* Stop serving; the table stays in the target (fail closed). */
void att_free(struct attachment *a);

#endif
