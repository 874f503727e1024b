/* record.c: the record file kept beside a wrapped config (CONFIG.sluice.json):
 * for each wrapped server, the exact bytes its command and args had before
 * and after, so unwrap restores the original text even when the client has
 * since edited other parts of the file. And the unified-style diff that
 * --dry-run prints. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp.h"

/* Text that is not UTF-8 (a config in another encoding) is kept as
 * {"hex": "..."}, which jansson can store. */
static char *str_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v), *hex = json_string_value(json_object_get(v, "hex"));

	if (s)
		return strdup(s);
	size_t n = hex ? strlen(hex) : 1;
	char *out = n % 2 == 0 ? malloc(n / 2 + 1) : NULL;
	for (size_t i = 0; out && i < n / 2; i++) {
		unsigned b;
		if (sscanf(hex + 2 * i, "%2x", &b) != 1 || b == 0) {
			free(out);
			return NULL;
		}
		out[i] = (char)b;
	}
	if (out)
		out[n / 2] = '\0';
	return out;
}

static json_t *text_of(const char *s)
{
	json_t *v = s ? json_string(s) : json_null();

	if (v || !s)
		return v;
	size_t n = strlen(s);
	char *hex = malloc(2 * n + 1);
	for (size_t i = 0; hex && i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)s[i]);
	v = hex ? json_pack("{s:s}", "hex", hex) : NULL;
	free(hex);
	return v;
}

static int load_one(json_t *x, struct mcp_record *r)
{
	json_t *c = json_object_get(x, "command"), *a = json_object_get(x, "args");

	*r = (struct mcp_record){ .scope = str_of(x, "scope"), .key = str_of(x, "key"), .cmd_orig = str_of(c, "before"),
				  .cmd_new = str_of(c, "after"), .args_orig = str_of(a, "before"),
				  .args_new = str_of(a, "after"), .args_inserted = json_is_true(json_object_get(a, "inserted")) };
	if (r->scope && r->key && r->cmd_orig && r->cmd_new && r->args_new && (r->args_orig || r->args_inserted))
		return 0;
	mcp_record_free(r);
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
	return json_pack("{s:o, s:o, s:{s:o, s:o}, s:{s:o, s:o, s:b}}", "scope", text_of(r->scope), "key",
			 text_of(r->key), "command", "before", text_of(r->cmd_orig), "after", text_of(r->cmd_new), "args",
			 "before", text_of(r->args_orig), "after", text_of(r->args_new), "inserted", r->args_inserted);
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
	char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
	json_decref(root);
	if (text && asprintf(out, "%s\n", text) < 0)
		*out = NULL;
	free(text);
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

/* A run of edits whose lines touch: old lines [first, last]. */
struct block {
	size_t i, n;        /* edits e[i..i+n) */
	size_t first, last; /* old line numbers, from 0 */
};

static size_t last_line(const char *a, const struct mcp_edit *x)
{
	size_t end = x->off + x->len;

	return line_of(a, end > x->off ? end - 1 : end);
}

/* The block starting at edit i. */
static struct block block_at(const char *a, const struct mcp_edits *e, size_t i)
{
	struct block b = { i, 1, line_of(a, e->v[i].off), last_line(a, &e->v[i]) };

	while (b.i + b.n < e->n && line_of(a, e->v[b.i + b.n].off) <= b.last) {
		size_t l = last_line(a, &e->v[b.i + b.n]);
		b.last = l > b.last ? l : b.last;
		b.n++;
	}
	return b;
}

/* Print one block's old lines as '-' and new lines as '+'; the new line count. */
static size_t print_block(FILE *out, const char *a, size_t alen, const struct mcp_edits *e, const struct block *b)
{
	size_t bs = line_start(a, alen, b->first), be = line_start(a, alen, b->last + 1), nbl = 0;
	struct mcp_edits sub = { calloc(b->n, sizeof(*sub.v)), 0 };
	char *nb = NULL;

	for (size_t k = 0; sub.v && k < b->n; k++) {
		const struct mcp_edit *x = &e->v[b->i + k];
		sub.v[sub.n++] = (struct mcp_edit){ x->off - bs, x->len, x->text };
	}
	if (sub.v && mcp_apply(a + bs, be - bs, &sub, &nb, &nbl) == 0) {
		lines(out, '-', a + bs, be - bs);
		lines(out, '+', nb, nbl);
	}
	free(sub.v);
	size_t n = nb ? nlines(nb, nbl) : 0;
	free(nb);
	return n;
}

void mcp_diff(FILE *out, const char *name, const char *a, size_t alen, const struct mcp_edits *e)
{
	size_t total = nlines(a, alen);
	long delta = 0;
	char *body = NULL;
	size_t bodylen = 0;

	fprintf(out, "--- %s\n+++ %s\n", name, name);
	for (size_t i = 0; i < e->n;) {
		FILE *h = open_memstream(&body, &bodylen);
		if (!h)
			return;
		struct block b = block_at(a, e, i);
		size_t c0 = b.first > CTX ? b.first - CTX : 0, oldn = 0, newn = 0, prev;
		lines(h, ' ', a + line_start(a, alen, c0), line_start(a, alen, b.first) - line_start(a, alen, c0));
		oldn = newn = b.first - c0;
		for (;;) {
			size_t nn = print_block(h, a, alen, e, &b);
			oldn += b.last - b.first + 1;
			newn += nn;
			delta += (long)nn - (long)(b.last - b.first + 1);
			i = b.i + b.n;
			prev = b.last;
			if (i >= e->n || line_of(a, e->v[i].off) > prev + 2 * CTX + 1)
				break;
			b = block_at(a, e, i);
			lines(h, ' ', a + line_start(a, alen, prev + 1), line_start(a, alen, b.first) - line_start(a, alen, prev + 1));
			oldn += b.first - prev - 1;
			newn += b.first - prev - 1;
		}
		size_t c1 = prev + CTX < total ? prev + CTX : (total ? total - 1 : 0);
		size_t cs = line_start(a, alen, prev + 1), ce = line_start(a, alen, c1 + 1);
		lines(h, ' ', a + cs, ce > cs ? ce - cs : 0);
		oldn += c1 > prev ? c1 - prev : 0;
		newn += c1 > prev ? c1 - prev : 0;
		fclose(h);
		long new_start = (long)c0 + 1 + delta - ((long)newn - (long)oldn);
		fprintf(out, "@@ -%zu,%zu +%ld,%zu @@\n%s", c0 + 1, oldn, new_start, newn, body ? body : "");
		free(body);
		body = NULL;
	}
}
