/* doc.c: a client config's servers, read from JSONC with the positions the
 * editor needs, and the classification every format shares (stdio, wrapped,
 * remote, already sandboxed). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "jsonc.h"

struct mcp_server *mcp_doc_add(struct mcp_doc *d, const char *scope, const char *key)
{
	if (d->n >= MCP_MAX_SERVERS)
		return NULL;
	struct mcp_server *v = realloc(d->v, (d->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	d->v = v;
	struct mcp_server *s = &v[d->n];
	*s = (struct mcp_server){ .scope = strdup(scope), .key = strdup(key) };
	if (!s->scope || !s->key) {
		free(s->scope);
		free(s->key);
		return NULL;
	}
	d->n++;
	return s;
}

int mcp_strv_add(char ***v, size_t *n, size_t max, const char *s)
{
	if (*n >= max)
		return -E2BIG;
	char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

void mcp_server_unusable(struct mcp_server *s, const char *why)
{
	s->state = MCP_UNUSABLE;
	snprintf(s->why, sizeof(s->why), "%s", why);
}

static const char *base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int mcp_server_classify(struct mcp_server *s, const char *type, bool sandbox_enabled)
{
	const char *b = s->command ? base(s->command) : "";
	bool run = s->nargs > 0 && strcmp(s->args[0], "run") == 0;

	if (!(s->transport = strdup(type ? type : s->url ? "http" : "stdio")))
		return -ENOMEM;
	if (s->state == MCP_UNUSABLE)
		return 0;
	if (s->url || (type && strcmp(type, "stdio") != 0)) {
		s->state = MCP_REMOTE;
		snprintf(s->why, sizeof(s->why), "remote server (%s): nothing runs here to wrap", s->transport);
	} else if (!s->command) {
		mcp_server_unusable(s, "no command");
	} else if (strcmp(b, "sluice") == 0 && run) {
		s->state = MCP_WRAPPED;
	} else if ((strcmp(b, "docker") == 0 || strcmp(b, "podman") == 0) && run) {
		s->state = MCP_SANDBOXED;
		snprintf(s->why, sizeof(s->why), "runs in a container (%s run): confine the container with "
			 "'sluice attach --%s NAME' instead", b, b);
	} else if (strcmp(b, "srt") == 0) {
		s->state = MCP_SANDBOXED;
		snprintf(s->why, sizeof(s->why), "already in a sandbox (srt)");
	} else if (sandbox_enabled) {
		s->state = MCP_SANDBOXED;
		snprintf(s->why, sizeof(s->why), "already in VS Code's sandbox (sandboxEnabled)");
	} else {
		s->state = MCP_STDIO;
	}
	return 0;
}

static bool all_space(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t')
			return false;
	return true;
}

char *mcp_line_indent(const char *buf, size_t off)
{
	size_t ls = off;

	while (ls > 0 && buf[ls - 1] != '\n')
		ls--;
	if (!all_space(buf + ls, off - ls) || ls == 0)
		return NULL;
	return strndup(buf + ls, off - ls);
}

int mcp_array_layout(struct mcp_server *s, const char *buf, size_t open, size_t close, size_t first)
{
	if (!memchr(buf + open, '\n', close - open) || first >= close)
		return 0;
	char *in = mcp_line_indent(buf, first), *cl = mcp_line_indent(buf, close);
	if (!in || !cl) {
		free(in);
		free(cl);
		return 0; /* irregular: the wrapped array goes on one line */
	}
	s->args_indent = in;
	s->args_close = cl;
	return 0;
}

/* ---- JSON */

static int json_args(struct mcp_server *s, const struct mcp_json *j, int node)
{
	const struct mcp_json_node *a = &j->v[node];
	size_t k = 0;
	int rc;

	if (a->type != MCP_J_ARRAY || a->nchild > MCP_MAX_ARGS) {
		mcp_server_unusable(s, "args is not a list of strings");
		return 0;
	}
	s->has_args = true;
	s->args_tok = (struct mcp_span){ a->start, a->end - a->start };
	if (!(s->arg_tok = calloc((size_t)a->nchild + 1, sizeof(*s->arg_tok))))
		return -ENOMEM;
	for (int c = a->first; c >= 0; c = j->v[c].next, k++) {
		char *t = NULL;
		if (j->v[c].type != MCP_J_STRING || mcp_json_str(j, c, false, &t) < 0) {
			free(t);
			mcp_server_unusable(s, "args is not a list of strings");
			return 0;
		}
		rc = mcp_strv_add(&s->args, &s->nargs, MCP_MAX_ARGS, t);
		free(t);
		if (rc < 0)
			return rc;
		s->arg_tok[k] = (struct mcp_span){ j->v[c].start, j->v[c].end - j->v[c].start };
	}
	return a->first >= 0 ? mcp_array_layout(s, j->buf, a->start, a->end - 1, j->v[a->first].start) : 0;
}

static int json_env(struct mcp_server *s, const struct mcp_json *j, int node)
{
	if (node < 0 || j->v[node].type != MCP_J_OBJECT)
		return 0;
	for (int c = j->v[node].first; c >= 0; c = j->v[c].next) {
		char *k = NULL;
		int rc = mcp_json_str(j, c, true, &k);
		if (rc == 0)
			rc = mcp_strv_add(&s->env, &s->nenv, MCP_MAX_ARGS, k);
		free(k);
		if (rc == -ENOMEM)
			return rc;
	}
	return 0;
}

static int json_str_member(const struct mcp_json *j, int obj, const char *key, char **out, int *node)
{
	int c = mcp_json_get(j, obj, key);

	*out = NULL;
	if (node)
		*node = c;
	if (c < 0 || j->v[c].type != MCP_J_STRING)
		return c < 0 ? 0 : -EINVAL;
	return mcp_json_str(j, c, false, out);
}

/* The command member: its token and where an args member would go. */
static int json_command(struct mcp_server *s, const struct mcp_json *j, int c)
{
	const struct mcp_json_node *nd = &j->v[c];
	char *in = mcp_line_indent(j->buf, nd->key_start);

	s->command_tok = (struct mcp_span){ nd->start, nd->end - nd->start };
	s->insert_off = nd->end;
	if (in) {
		s->insert_prefix = malloc(strlen(in) + 3);
		if (s->insert_prefix)
			sprintf(s->insert_prefix, ",\n%s", in);
		free(in);
	} else {
		s->insert_prefix = strdup(", ");
	}
	return s->insert_prefix ? 0 : -ENOMEM;
}

static int json_server(struct mcp_doc *d, const struct mcp_json *j, const char *scope, int node)
{
	char *key = NULL, *type = NULL;
	int rc = mcp_json_str(j, node, true, &key), cmd;

	if (rc < 0)
		return rc == -EINVAL ? 0 : rc;
	struct mcp_server *s = mcp_doc_add(d, scope, key);
	free(key);
	if (!s)
		return -ENOMEM;
	if (j->v[node].type != MCP_J_OBJECT) {
		mcp_server_unusable(s, "not an object");
		return mcp_server_classify(s, NULL, false);
	}
	if (json_str_member(j, node, "command", &s->command, &cmd) < 0)
		mcp_server_unusable(s, "command is not a string");
	else if (s->command && (rc = json_command(s, j, cmd)) < 0)
		return rc;
	int a = mcp_json_get(j, node, "args"), sb = mcp_json_get(j, node, "sandboxEnabled");
	if ((a >= 0 && (rc = json_args(s, j, a)) < 0) || (rc = json_env(s, j, mcp_json_get(j, node, "env"))) < 0)
		return rc;
	if (json_str_member(j, node, "url", &s->url, NULL) == -ENOMEM ||
	    (!s->url && json_str_member(j, node, "serverUrl", &s->url, NULL) == -ENOMEM) ||
	    json_str_member(j, node, "type", &type, NULL) == -ENOMEM)
		return -ENOMEM;
	bool sandboxed = sb >= 0 && j->v[sb].type == MCP_J_LITERAL && j->buf[j->v[sb].start] == 't';
	rc = mcp_server_classify(s, type, sandboxed);
	free(type);
	return rc;
}

static int json_scope(struct mcp_doc *d, const struct mcp_json *j, const char *scope, int obj)
{
	if (obj < 0 || j->v[obj].type != MCP_J_OBJECT)
		return 0;
	for (int c = j->v[obj].first; c >= 0; c = j->v[c].next) {
		int rc = json_server(d, j, scope, c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int json_projects(struct mcp_doc *d, const struct mcp_json *j, int obj)
{
	if (obj < 0 || j->v[obj].type != MCP_J_OBJECT)
		return 0;
	for (int c = j->v[obj].first; c >= 0; c = j->v[c].next) {
		char *path = NULL, *scope;
		if (mcp_json_str(j, c, true, &path) < 0)
			continue;
		scope = malloc(strlen(path) + 32);
		if (scope)
			sprintf(scope, "projects[\"%s\"].mcpServers", path);
		free(path);
		int rc = scope ? json_scope(d, j, scope, mcp_json_get(j, c, "mcpServers")) : -ENOMEM;
		free(scope);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int json_doc(struct mcp_doc *d, unsigned scopes, struct mcp_perr *err)
{
	struct mcp_json j;
	int rc = mcp_json_parse(d->buf, d->len, &j, err);

	if (rc == 0 && j.v[0].type != MCP_J_OBJECT) {
		snprintf(err->msg, sizeof(err->msg), "the top-level value is not an object");
		err->off = j.v[0].start;
		mcp_perr_locate(err, d->buf, d->len);
		rc = -EINVAL;
	}
	if (rc == 0 && (scopes & MCP_SCOPE_MCPSERVERS))
		rc = json_scope(d, &j, "mcpServers", mcp_json_get(&j, 0, "mcpServers"));
	if (rc == 0 && (scopes & MCP_SCOPE_SERVERS))
		rc = json_scope(d, &j, "servers", mcp_json_get(&j, 0, "servers"));
	if (rc == 0 && (scopes & MCP_SCOPE_PROJECTS))
		rc = json_projects(d, &j, mcp_json_get(&j, 0, "projects"));
	mcp_json_free(&j);
	return rc;
}

/* A name given twice in one scope (JSON allows it; clients take the last):
 * neither entry is edited, as unwrap could not tell them apart. */
static void mark_duplicates(struct mcp_doc *d)
{
	for (size_t i = 0; i < d->n; i++)
		for (size_t k = i + 1; k < d->n; k++) {
			struct mcp_server *a = &d->v[i], *b = &d->v[k];
			if (strcmp(a->key, b->key) != 0 || strcmp(a->scope, b->scope) != 0)
				continue;
			mcp_server_unusable(a, "its name appears twice in the same object");
			mcp_server_unusable(b, "its name appears twice in the same object");
		}
}

int mcp_doc_parse(const char *buf, size_t len, enum mcp_format fmt, unsigned scopes, struct mcp_doc *out,
		  struct mcp_perr *err)
{
	*out = (struct mcp_doc){ .fmt = fmt, .buf = buf, .len = len };
	*err = (struct mcp_perr){ 0 };
	const char *nul = memchr(buf, '\0', len);
	if (nul) {
		/* neither JSON nor TOML has a NUL byte anywhere, comments included;
		 * a text editor's file never does */
		err->off = (size_t)(nul - buf);
		snprintf(err->msg, sizeof(err->msg), "a NUL byte (this is not a text file)");
		mcp_perr_locate(err, buf, len);
		return -EINVAL;
	}
	int rc = fmt == MCP_TOML ? mcp_toml_doc(buf, len, out, err) : json_doc(out, scopes, err);
	if (rc < 0)
		mcp_doc_free(out);
	else
		mark_duplicates(out);
	return rc;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void mcp_doc_free(struct mcp_doc *d)
{
	for (size_t i = 0; i < d->n; i++) {
		struct mcp_server *s = &d->v[i];
		free(s->scope);
		free(s->key);
		free(s->transport);
		free(s->command);
		strv_free(s->args, s->nargs);
		strv_free(s->env, s->nenv);
		free(s->url);
		free(s->arg_tok);
		free(s->args_indent);
		free(s->args_close);
		free(s->insert_prefix);
		free(s->insert_suffix);
	}
	free(d->v);
	d->v = NULL;
	d->n = 0;
}
