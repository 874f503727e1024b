/* control.c: the control socket's requests, parsed (for `sluice serve`) and
 * sent (for attach, detach and ls with --control). */
#include "control.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CALL_TIMEOUT_MS 30000 /* an attach through docker inspect can take a while */

static const char *const kinds[] = { "pid", "netns", "docker", "podman" };

static int bad(char *err, size_t size, const char *why)
{
	snprintf(err, size, "%s", why);
	return -EINVAL;
}

/* A string member, or NULL when absent; false when present and not a
 * non-empty string without NUL. */
static bool member_str(json_t *o, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v)
		return true;
	if (!json_is_string(v) || json_string_length(v) == 0 || strlen(json_string_value(v)) != json_string_length(v))
		return false;
	*out = json_string_value(v);
	return true;
}

static int parse_target(json_t *o, struct ctl_req *req, char *err, size_t size)
{
	const char *kind, *value;

	if (!member_str(o, "target", &kind) || !member_str(o, "value", &value) || !kind || !value)
		return bad(err, size, "\"target\" and \"value\" must be non-empty strings");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i]) == 0) {
			req->target = (struct sbx_target){ (enum sbx_target_kind)i, value };
			return 0;
		}
	return bad(err, size, "\"target\" must be pid, netns, docker or podman");
}

static int parse_fields(json_t *o, struct ctl_req *req, char *err, size_t size)
{
	const char *op;
	json_t *follow = json_object_get(o, "follow");

	if (!member_str(o, "op", &op) || !op)
		return bad(err, size, "\"op\" must be attach, detach or ls");
	if (strcmp(op, "ls") == 0)
		return req->op = CTL_LS, 0;
	req->op = strcmp(op, "attach") == 0 ? CTL_ATTACH : CTL_DETACH;
	if (req->op == CTL_DETACH && strcmp(op, "detach") != 0)
		return bad(err, size, "\"op\" must be attach, detach or ls");
	if (parse_target(o, req, err, size) < 0)
		return -EINVAL;
	if (req->op == CTL_DETACH)
		return 0;
	if (!member_str(o, "policy", &req->policy) || !req->policy || !member_str(o, "name", &req->name))
		return bad(err, size, "attach needs \"policy\" (and a string \"name\", if any)");
	if (follow && !json_is_boolean(follow))
		return bad(err, size, "\"follow\" must be true or false");
	req->follow = json_is_true(follow);
	return 0;
}

int ctl_parse(const char *line, size_t len, struct ctl_req *req, char *err, size_t errsize)
{
	json_error_t je;

	*req = (struct ctl_req){ 0 };
	if (len > CTL_MAX_LINE)
		return bad(err, errsize, "request too long");
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		snprintf(err, errsize, "not JSON: %s at column %d", je.text, je.column);
		for (char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' '; /* jansson quotes the bad token raw: the error stays one line */
		return -EINVAL;
	}
	req->json = o;
	if (!json_is_object(o) || parse_fields(o, req, err, errsize) < 0) {
		if (!json_is_object(o))
			bad(err, errsize, "a request is one JSON object");
		ctl_req_free(req);
		return -EINVAL;
	}
	return 0;
}

void ctl_req_free(struct ctl_req *req)
{
	json_decref(req->json);
	req->json = NULL;
}

/* ---- the client ---------------------------------------------------------- */

static int dial(const char *path, char *err, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, size, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		snprintf(err, size, "cannot reach sluice serve at %s: %s (is it running? --control PATH)", path,
			 strerror(-e));
		if (fd >= 0)
			close(fd);
		return e;
	}
	return fd;
}

/* The request and its newline in one write, as serve reads it. */
static int send_line(int fd, const char *request)
{
	size_t len = strlen(request), off = 0;
	char *line = malloc(len + 1);

	if (!line)
		return -ENOMEM;
	memcpy(line, request, len);
	line[len++] = '\n';
	while (off < len) {
		ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno != EINTR)
			break;
		off += n > 0 ? (size_t)n : 0;
	}
	free(line);
	return off == len ? 0 : -errno;
}

/* Read until the answer's newline. */
static int read_line(int fd, char **answer)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	struct pollfd p = { fd, POLLIN, 0 };

	while (buf) {
		if (poll(&p, 1, CALL_TIMEOUT_MS) <= 0)
			break;
		if (len + 1 >= cap) {
			char *more = cap < CTL_MAX_ANSWER ? realloc(buf, cap * 2) : NULL;
			if (!more)
				break;
			buf = more, cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		char *nl = memchr(buf, '\n', len);
		if (nl) {
			*nl = '\0';
			*answer = buf;
			return 0;
		}
	}
	free(buf);
	return -EPROTO;
}

int ctl_call(const char *path, const char *request, char **answer, char *err, size_t errsize)
{
	int fd = dial(path, err, errsize);

	if (fd < 0)
		return fd;
	int rc = send_line(fd, request);
	if (rc == 0)
		rc = read_line(fd, answer);
	close(fd);
	if (rc < 0)
		snprintf(err, errsize, "sluice serve at %s did not answer", path);
	return rc;
}
