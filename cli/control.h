/* control.h: the control socket of `sluice serve`: JSON lines over a unix
 * socket (mode 0600, default /run/sluice/control), one request and one
 * answer per line; requests from another uid are refused.
 *
 *   {"op":"attach","target":"pid|netns|docker|podman","value":"...",
 *    "policy":"/abs/file|preset","name":"...","follow":true}
 *   {"op":"detach","target":"...","value":"..."}
 *   {"op":"ls"}
 * Answers: {"ok":true,...} or {"ok":false,"error":"one line"}.
 */
#ifndef SLUICE_CONTROL_H
#define SLUICE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "attach.h"

#define CTL_DEFAULT_PATH "/run/sluice/control"
#define CTL_MAX_LINE 65536   /* a request longer than this is refused */
#define CTL_MAX_ANSWER (4u << 20)

enum ctl_op { CTL_ATTACH, CTL_DETACH, CTL_LS };

/* A parsed request; its strings point into the request's own copy
 * (ctl_req_free). */
struct ctl_req {
	enum ctl_op op;
	struct sbx_target target; /* attach, detach */
	const char *policy;       /* attach */
	const char *name;         /* attach, or NULL */
	bool follow;
	void *json;               /* owns the strings */
};

/* Parse one request line (no newline). Returns 0, or -EINVAL with a
 * one-line reason in err. Never prints. */
int ctl_parse(const char *line, size_t len, struct ctl_req *req, char *err, size_t errsize);
void ctl_req_free(struct ctl_req *req);

/* Send one request (a JSON object's text) to the serve at path and read its
 * answer into *answer (malloc'd, NUL-terminated). Returns 0 or -errno with a
 * one-line reason in err. */
int ctl_call(const char *path, const char *request, char **answer, char *err, size_t errsize);

#endif
