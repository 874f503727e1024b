/* record.c: the record file kept beside a wrapped config (CONFIG.sluice.json):
 * for each wrapped server, the exact bytes its command and args had before
 * and after, so unwrap restores the original text even when the client has
 * since edited other parts of the file. And the unified-style diff that
 * --dry-run prints. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "mcp.h"

static char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? strdup(s) : NULL;
}

static int load_one(json_t *x, struct mcp_record *r)
{
	json_t *c = json_object_get(x, "command"), *a = json_object_get(x, "args");

	*r = (struct mcp_record){ .scope = str_of(x, "scope"), .key = str_of(x, "key"), .cmd_orig = str_of(c, "before"),
				  .cmd_new = str_of(c, "after"), .args_orig = str_of(a, "before"),
				  .args_new = str_of(a, "after"), .args_inserted = json_is_true(json_object_get(a, "inserted")) };
	if (r->scope && r->key && r->cmd_orig && r->cmd_new && r->args_new && (r->args_orig || r->args_inserted))
		return 0;
	free(r->scope);
	free(r->key);
	free(r->cmd_orig);
	free(r->cmd_new);
	free(r->args_orig);
	free(r->args_new);
	return -EINVAL;
}

int mcp_records_load(const char *text, size_t len, struct mcp_records *r)
{
	json_error_t err;
	json_t *root = json_loadb(text, len, 0, &err), *v = json_object_get(root, "entries");
	size_t i, n = json_array_size(v);
	int rc = 0;

	*r = (struct mcp_records){ 0 };
	if (!json_is_array(v) || json_integer_value(json_object_get(root, "version")) != 1)
		rc = -EINVAL;
	if (rc == 0 && n && !(r->v = calloc(n, sizeof(*r->v))))
		rc = -ENOMEM;
	for (i = 0; rc == 0 && i < n; i++)
		if ((rc = load_one(json_array_get(v, i), &r->v[r->n])) == 0)
			r->n++;
	json_decref(root);
	if (rc < 0)
		mcp_records_free(r);
	return rc;
}

static json_t *dump_one(const struct mcp_record *r)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s?, s:s, s:b}}", "scope", r->scope, "key", r->key, "command",
			 "before", r->cmd_orig, "after", r->cmd_new, "args", "before", r->args_orig, "after",
			 r->args_new, "inserted", r->args_inserted);
}

int mcp_records_dump(const struct mcp_records *r, char **out)
{
	json_t *v = json_array(), *root;

	for (size_t i = 0; v && i < r->n; i++)
		if (json_array_append_new(v, dump_one(&r->v[i])) < 0) {
			json_decref(v);
			return -ENOMEM;
		}
	root = json_pack("{s:i, s:s, s:o}", "version", 1, "written_by",
			 "sluice mcp wrap: the bytes each wrapped server had, for sluice mcp unwrap", "entries", v);
	*out = root ? json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
	json_decref(root);
	return *out ? 0 : -ENOMEM;
}

/* ---- the diff */

#define CTX 2

static size_t line_of(const char *a, size_t off)
{
	size_t n = 0;

	for (size_t i = 0; i < off; i++)
		n += a[i] == '\n';
	return n;
}

static size_t line_start(const char *a, size_t alen, size_t line)
{
	size_t i = 0;

	for (; i < alen && line; i++)
		line -= a[i] == '\n';
	return i;
}

static size_t nlines(const char *p, size_t n)
{
	size_t k = line_of(p, n);

	return k + (n && p[n - 1] != '\n');
}

/* Print p[0..n) as lines, each after mark. */
static void lines(FILE *out, char mark, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t l = nl ? (size_t)(nl - p) + 1 : n;
		fprintf(out, "%c%.*s%s", mark, (int)l, p, nl ? "" : "\n");
		p += l;
		n -= l;
	}
}

static void hunk(FILE *out, const char *a, size_t alen, const struct mcp_edit *e, size_t n, long *delta)
{
	size_t end = e[n - 1].off + e[n - 1].len;
	size_t first = line_of(a, e[0].off), last = line_of(a, end > e[n - 1].off ? end - 1 : end);
	size_t total = nlines(a, alen), c0 = first > CTX ? first - CTX : 0;
	size_t c1 = last + CTX < total ? last + CTX : (total ? total - 1 : 0);
	size_t bs = line_start(a, alen, first), be = line_start(a, alen, last + 1);
	struct mcp_edits sub = { 0 };
	char *nb = NULL;
	size_t nbl = 0;

	/* the changed lines, rewritten */
	sub.v = calloc(n, sizeof(*sub.v));
	for (size_t i = 0; sub.v && i < n; i++)
		sub.v[sub.n++] = (struct mcp_edit){ e[i].off - bs, e[i].len, e[i].text };
	if (!sub.v || mcp_apply(a + bs, be - bs, &sub, &nb, &nbl) < 0) {
		free(sub.v);
		return;
	}
	free(sub.v);
	size_t oldn = c1 - c0 + 1, newn = oldn - nlines(a + bs, be - bs) + nlines(nb, nbl);
	fprintf(out, "@@ -%zu,%zu +%ld,%zu @@\n", c0 + 1, oldn, (long)c0 + 1 + *delta, newn);
	size_t cs = line_start(a, alen, c0), ce = line_start(a, alen, c1 + 1);
	lines(out, ' ', a + cs, bs - cs);
	lines(out, '-', a + bs, be - bs);
	lines(out, '+', nb, nbl);
	lines(out, ' ', a + be, ce > be ? ce - be : 0);
	*delta += (long)nlines(nb, nbl) - (long)nlines(a + bs, be - bs);
	free(nb);
}

void mcp_diff(FILE *out, const char *name, const char *a, size_t alen, const struct mcp_edits *e)
{
	long delta = 0;

	fprintf(out, "--- %s\n+++ %s\n", name, name);
	for (size_t i = 0; i < e->n;) {
		size_t j = i + 1;
		size_t last = line_of(a, e->v[i].off + e->v[i].len);
		while (j < e->n && line_of(a, e->v[j].off) <= last + 2 * CTX + 1) {
			last = line_of(a, e->v[j].off + e->v[j].len);
			j++;
		}
		hunk(out, a, alen, &e->v[i], j - i, &delta);
		i = j;
	}
}
