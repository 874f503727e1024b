/* wrap.c: wrapping and unwrapping a server as byte edits on its command and
 * args values, applying edits, and showing them as a diff. Array elements
 * are copied token for token, so an escape stays the escape it was. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp.h"

struct buf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* The finished string, or NULL (freed) when memory ran out. */
static char *done(struct buf *b)
{
	if (b->oom || !b->p) {
		free(b->p);
		return b->oom ? NULL : strdup("");
	}
	return b->p;
}

char *mcp_quote(const char *text)
{
	struct buf b = { 0 };
	char esc[8];

	puts_(&b, "\"");
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(&b, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			puts_(&b, esc);
		} else {
			put(&b, (const char *)p, 1);
		}
	}
	puts_(&b, "\"");
	return done(&b);
}

/* Elements (fresh strings) as an array in s's layout. */
static char *array(const struct mcp_server *s, char **el, size_t n)
{
	struct buf b = { 0 };
	bool ml = s->args_indent && n > 0;

	puts_(&b, ml ? "[\n" : "[");
	for (size_t i = 0; i < n; i++) {
		if (ml)
			puts_(&b, s->args_indent);
		puts_(&b, el[i]);
		if (i + 1 < n)
			puts_(&b, ml ? ",\n" : ", ");
	}
	if (ml) {
		puts_(&b, "\n");
		puts_(&b, s->args_close);
	}
	puts_(&b, "]");
	return done(&b);
}

static char *slice(const char *buf, struct mcp_span sp)
{
	return strndup(buf + sp.off, sp.len);
}

static int edit_add(struct mcp_edits *e, size_t off, size_t len, const char *text)
{
	struct mcp_edit *v = realloc(e->v, (e->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	e->v = v;
	if (!(v[e->n].text = strdup(text)))
		return -ENOMEM;
	v[e->n].off = off;
	v[e->n++].len = len;
	return 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* The wrapped args array's text. */
static char *wrapped_args(const struct mcp_doc *d, const struct mcp_server *s, const char *policy)
{
	size_t n = 0, cap = 7 + 2 * s->nenv + s->nargs;
	char **el = calloc(cap, sizeof(*el)), *out = NULL;
	const char *head[] = { "run", "--name", s->key, "--policy", policy };

	if (!el)
		return NULL;
	for (size_t i = 0; i < 5; i++)
		el[n++] = mcp_quote(head[i]);
	for (size_t i = 0; i < s->nenv; i++) {
		el[n++] = mcp_quote("--env");
		el[n++] = mcp_quote(s->env[i]);
	}
	el[n++] = mcp_quote("--");
	el[n++] = slice(d->buf, s->command_tok);
	for (size_t i = 0; i < s->nargs; i++)
		el[n++] = slice(d->buf, s->arg_tok[i]);
	bool ok = true;
	for (size_t i = 0; i < n; i++)
		ok = ok && el[i];
	if (ok)
		out = array(s, el, n);
	strv_free(el, n);
	return out;
}

void mcp_record_free(struct mcp_record *r)
{
	free(r->scope);
	free(r->key);
	free(r->cmd_orig);
	free(r->cmd_new);
	free(r->args_orig);
	free(r->args_new);
}

static int record_put(struct mcp_records *r, struct mcp_record *rec)
{
	mcp_records_drop(r, rec->scope, rec->key);
	struct mcp_record *v = realloc(r->v, (r->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->v = v;
	v[r->n++] = *rec;
	return 0;
}

int mcp_wrap(const struct mcp_doc *d, size_t i, const char *sluice, const char *policy, struct mcp_edits *e,
	     struct mcp_records *r)
{
	const struct mcp_server *s = &d->v[i];
	struct mcp_record rec = { .args_inserted = !s->has_args };
	struct buf ins = { 0 };
	int rc = -ENOMEM;

	if (s->state != MCP_STDIO || s->nenv > MCP_MAX_ENV)
		return -EINVAL;
	char *arr = wrapped_args(d, s, policy);
	rec.scope = strdup(s->scope);
	rec.key = strdup(s->key);
	rec.cmd_orig = slice(d->buf, s->command_tok);
	rec.cmd_new = mcp_quote(sluice);
	if (s->has_args) {
		rec.args_orig = slice(d->buf, s->args_tok);
		rec.args_new = arr;
	} else if (arr) {
		puts_(&ins, s->insert_prefix);
		puts_(&ins, d->fmt == MCP_JSON ? "\"args\": " : "args = ");
		puts_(&ins, arr);
		puts_(&ins, s->insert_suffix ? s->insert_suffix : "");
		rec.args_new = done(&ins);
		free(arr);
	}
	if (!rec.scope || !rec.key || !rec.cmd_orig || !rec.cmd_new || !rec.args_new || (s->has_args && !rec.args_orig))
		goto err;
	if ((rc = edit_add(e, s->command_tok.off, s->command_tok.len, rec.cmd_new)) < 0 ||
	    (rc = s->has_args ? edit_add(e, s->args_tok.off, s->args_tok.len, rec.args_new)
			      : edit_add(e, s->insert_off, 0, rec.args_new)) < 0 ||
	    (rc = record_put(r, &rec)) < 0)
		goto err;
	return 0;
err:
	mcp_record_free(&rec);
	return rc;
}

static bool bytes_at(const struct mcp_doc *d, size_t off, const char *text)
{
	size_t n = strlen(text);

	return off <= d->len && d->len - off >= n && memcmp(d->buf + off, text, n) == 0;
}

/* The exact restore from rec, when the wrapped bytes are still there. */
static int unwrap_exact(const struct mcp_doc *d, const struct mcp_server *s, const struct mcp_record *rec,
			struct mcp_edits *e)
{
	size_t at = s->insert_off;

	if (!bytes_at(d, s->command_tok.off, rec->cmd_new) || strlen(rec->cmd_new) != s->command_tok.len)
		return -ESTALE;
	if (rec->args_inserted) {
		/* TOML: an args line inserted at the end of the file made the newline before it */
		if (d->fmt == MCP_TOML && !bytes_at(d, at, rec->args_new) && at > 0)
			at--;
		if (!bytes_at(d, at, rec->args_new))
			return -ESTALE;
	} else if (!s->has_args || !bytes_at(d, s->args_tok.off, rec->args_new) ||
		   strlen(rec->args_new) != s->args_tok.len || !rec->args_orig) {
		return -ESTALE;
	}
	int rc = edit_add(e, s->command_tok.off, s->command_tok.len, rec->cmd_orig);
	if (rc == 0 && rec->args_inserted)
		rc = edit_add(e, at, strlen(rec->args_new), "");
	else if (rc == 0)
		rc = edit_add(e, s->args_tok.off, s->args_tok.len, rec->args_orig);
	return rc;
}

/* The command and args rebuilt from the tokens after "--". */
static int unwrap_rebuild(const struct mcp_doc *d, const struct mcp_server *s, struct mcp_edits *e)
{
	size_t k = 1;

	while (k < s->nargs && strcmp(s->args[k], "--") != 0)
		k++;
	if (k + 1 >= s->nargs)
		return -EINVAL;
	size_t n = s->nargs - k - 2;
	char **el = calloc(n + 1, sizeof(*el)), *cmd = slice(d->buf, s->arg_tok[k + 1]), *arr = NULL;
	bool ok = el && cmd;
	for (size_t i = 0; ok && i < n; i++)
		ok = (el[i] = slice(d->buf, s->arg_tok[k + 2 + i])) != NULL;
	if (ok)
		arr = array(s, el, n);
	strv_free(el, n);
	int rc = arr ? edit_add(e, s->command_tok.off, s->command_tok.len, cmd) : -ENOMEM;
	if (rc == 0)
		rc = edit_add(e, s->args_tok.off, s->args_tok.len, arr);
	free(cmd);
	free(arr);
	return rc;
}

int mcp_unwrap(const struct mcp_doc *d, size_t i, const struct mcp_records *r, struct mcp_edits *e, bool *exact)
{
	const struct mcp_server *s = &d->v[i];
	const struct mcp_record *rec = mcp_records_find(r, s->scope, s->key);
	size_t before = e->n;

	*exact = false;
	if (s->state != MCP_WRAPPED || !s->has_args)
		return -EINVAL;
	if (rec) {
		int rc = unwrap_exact(d, s, rec, e);
		if (rc == 0) {
			*exact = true;
			return 0;
		}
		while (e->n > before)
			free(e->v[--e->n].text);
		if (rc != -ESTALE)
			return rc;
	}
	return unwrap_rebuild(d, s, e);
}

static int by_offset(const void *a, const void *b)
{
	const struct mcp_edit *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->len < y->len ? -1 : x->len > y->len;
}

int mcp_apply(const char *buf, size_t len, struct mcp_edits *e, char **out, size_t *outlen)
{
	struct buf b = { 0 };
	size_t at = 0;

	if (e->n)
		qsort(e->v, e->n, sizeof(*e->v), by_offset);
	for (size_t i = 0; i < e->n; i++) {
		const struct mcp_edit *x = &e->v[i];
		if (x->off < at || x->off > len || len - x->off < x->len) {
			free(b.p);
			return -EINVAL;
		}
		put(&b, buf + at, x->off - at);
		puts_(&b, x->text);
		at = x->off + x->len;
	}
	put(&b, buf + at, len - at);
	*outlen = b.n;
	return (*out = done(&b)) ? 0 : -ENOMEM;
}

void mcp_edits_free(struct mcp_edits *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].text);
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

const struct mcp_record *mcp_records_find(const struct mcp_records *r, const char *scope, const char *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].scope, scope) == 0 && strcmp(r->v[i].key, key) == 0)
			return &r->v[i];
	return NULL;
}

void mcp_records_drop(struct mcp_records *r, const char *scope, const char *key)
{
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->v[i].scope, scope) != 0 || strcmp(r->v[i].key, key) != 0)
			continue;
		mcp_record_free(&r->v[i]);
		memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof(r->v[0]));
		r->n--;
		return;
	}
}

void mcp_records_free(struct mcp_records *r)
{
	for (size_t i = 0; i < r->n; i++)
		mcp_record_free(&r->v[i]);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}
