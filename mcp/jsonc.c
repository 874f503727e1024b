/* jsonc.c: the positional JSONC scanner (see jsonc.h). Recursive descent,
 * depth-capped; every node records where its bytes are, nothing is copied. */
#include "jsonc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scan {
	struct mcp_json *j;
	size_t pos;
	struct mcp_perr *err;
};

static int fail(struct scan *s, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct scan *s, size_t off, const char *fmt, ...)
{
	va_list ap;

	s->err->off = off;
	va_start(ap, fmt);
	vsnprintf(s->err->msg, sizeof(s->err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The byte at off for a message: printable, or its hex code. */
static const char *show(const struct scan *s, size_t off, char buf[8])
{
	if (off >= s->j->len)
		return "end of file";
	unsigned char c = (unsigned char)s->j->buf[off];
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "0x%02x", c);
	return buf;
}

/* Skip whitespace and comments. */
static int skip(struct scan *s)
{
	const char *b = s->j->buf;
	size_t n = s->j->len;

	while (s->pos < n) {
		char c = b[s->pos];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			s->pos++;
		} else if (c == '/' && s->pos + 1 < n && b[s->pos + 1] == '/') {
			while (s->pos < n && b[s->pos] != '\n')
				s->pos++;
		} else if (c == '/' && s->pos + 1 < n && b[s->pos + 1] == '*') {
			size_t open = s->pos;
			s->pos += 2;
			while (s->pos + 1 < n && !(b[s->pos] == '*' && b[s->pos + 1] == '/'))
				s->pos++;
			if (s->pos + 1 >= n)
				return fail(s, open, "unterminated /* comment");
			s->pos += 2;
		} else {
			break;
		}
	}
	return 0;
}

static int new_node(struct scan *s, enum mcp_json_type t, int parent)
{
	struct mcp_json *j = s->j;

	if (j->n == j->cap) {
		int cap = j->cap ? j->cap * 2 : 64;
		struct mcp_json_node *v = realloc(j->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		j->v = v;
		j->cap = cap;
	}
	struct mcp_json_node *nd = &j->v[j->n];
	*nd = (struct mcp_json_node){ .type = t, .start = s->pos, .parent = parent, .first = -1, .last = -1,
				      .next = -1 };
	if (parent >= 0) {
		struct mcp_json_node *p = &j->v[parent];
		if (p->last >= 0)
			j->v[p->last].next = j->n;
		else
			p->first = j->n;
		p->last = j->n;
		p->nchild++;
	}
	return j->n++;
}

static size_t hex4(const char *p)
{
	size_t v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return SIZE_MAX;
		v = v * 16 + (size_t)d;
	}
	return v;
}

/* A string token at s->pos; leaves s->pos after the closing quote. */
static int scan_string(struct scan *s)
{
	const char *b = s->j->buf;
	size_t n = s->j->len, open = s->pos;
	char t[8];

	for (s->pos++; s->pos < n; s->pos++) {
		unsigned char c = (unsigned char)b[s->pos];
		if (c == '"') {
			s->pos++;
			return 0;
		}
		if (c < 0x20)
			return fail(s, s->pos, "control character %s in a string (escape it)", show(s, s->pos, t));
		if (c != '\\')
			continue;
		if (++s->pos >= n)
			break;
		c = (unsigned char)b[s->pos];
		if (c == 'u') {
			if (s->pos + 4 >= n || hex4(b + s->pos + 1) == SIZE_MAX)
				return fail(s, s->pos - 1, "bad \\u escape in a string");
			s->pos += 4;
		} else if (!strchr("\"\\/bfnrt", c) || c == 0) {
			return fail(s, s->pos - 1, "bad escape '\\%c' in a string", c > 0x20 && c < 0x7f ? c : '?');
		}
	}
	return fail(s, open, "unterminated string");
}

static int scan_value(struct scan *s, int parent, int depth);

static int scan_members(struct scan *s, int self, int depth, bool object)
{
	const char *b = s->j->buf;
	char close = object ? '}' : ']', t[8];
	int rc;

	for (s->pos++;;) {
		if ((rc = skip(s)) < 0)
			return rc;
		if (s->pos < s->j->len && b[s->pos] == close)
			break;
		size_t kstart = s->pos, kend = 0;
		if (object) {
			if (s->pos >= s->j->len || b[s->pos] != '"')
				return fail(s, s->pos, "expected a member name in quotes, found %s", show(s, s->pos, t));
			if ((rc = scan_string(s)) < 0)
				return rc;
			kend = s->pos;
			if ((rc = skip(s)) < 0)
				return rc;
			if (s->pos >= s->j->len || b[s->pos] != ':')
				return fail(s, s->pos, "expected ':' after a member name, found %s", show(s, s->pos, t));
			s->pos++;
			if ((rc = skip(s)) < 0)
				return rc;
		}
		int child = scan_value(s, self, depth + 1);
		if (child < 0)
			return child;
		if (object) {
			s->j->v[child].key_start = kstart;
			s->j->v[child].key_end = kend;
		}
		if ((rc = skip(s)) < 0)
			return rc;
		if (s->pos < s->j->len && b[s->pos] == ',') {
			s->pos++;
			continue;
		}
		if (s->pos < s->j->len && b[s->pos] == close)
			break;
		return fail(s, s->pos, "expected ',' or '%c', found %s", close, show(s, s->pos, t));
	}
	s->pos++;
	return 0;
}

static int scan_scalar(struct scan *s)
{
	const char *b = s->j->buf;
	size_t n = s->j->len, st = s->pos;
	static const char *const lits[] = { "true", "false", "null" };
	char t[8];

	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(lits[i]);
		if (n - st >= l && memcmp(b + st, lits[i], l) == 0) {
			s->pos += l;
			return MCP_J_LITERAL;
		}
	}
	if (s->pos < n && b[s->pos] == '-')
		s->pos++;
	size_t digits = s->pos;
	while (s->pos < n && b[s->pos] >= '0' && b[s->pos] <= '9')
		s->pos++;
	if (s->pos == digits)
		return fail(s, st, "expected a value, found %s", show(s, st, t));
	if (s->pos < n && b[s->pos] == '.') {
		size_t f = ++s->pos;
		while (s->pos < n && b[s->pos] >= '0' && b[s->pos] <= '9')
			s->pos++;
		if (s->pos == f)
			return fail(s, st, "bad number");
	}
	if (s->pos < n && (b[s->pos] == 'e' || b[s->pos] == 'E')) {
		s->pos++;
		if (s->pos < n && (b[s->pos] == '+' || b[s->pos] == '-'))
			s->pos++;
		size_t e = s->pos;
		while (s->pos < n && b[s->pos] >= '0' && b[s->pos] <= '9')
			s->pos++;
		if (s->pos == e)
			return fail(s, st, "bad number");
	}
	return MCP_J_NUMBER;
}

static int scan_value(struct scan *s, int parent, int depth)
{
	char c = s->pos < s->j->len ? s->j->buf[s->pos] : 0;
	int self, rc;

	if (depth > MCP_JSON_MAX_DEPTH)
		return fail(s, s->pos, "nested deeper than %d levels", MCP_JSON_MAX_DEPTH);
	enum mcp_json_type t = c == '{' ? MCP_J_OBJECT : c == '[' ? MCP_J_ARRAY : c == '"' ? MCP_J_STRING : MCP_J_NUMBER;
	if ((self = new_node(s, t, parent)) < 0)
		return self;
	if (t == MCP_J_OBJECT || t == MCP_J_ARRAY)
		rc = scan_members(s, self, depth, t == MCP_J_OBJECT);
	else if (t == MCP_J_STRING)
		rc = scan_string(s);
	else if ((rc = scan_scalar(s)) >= 0)
		s->j->v[self].type = (enum mcp_json_type)rc;
	if (rc < 0)
		return rc;
	s->j->v[self].end = s->pos;
	return self;
}

int mcp_json_parse(const char *buf, size_t len, struct mcp_json *out, struct mcp_perr *err)
{
	struct scan s = { .j = out, .err = err };
	char t[8];
	int rc;

	*out = (struct mcp_json){ .buf = buf, .len = len };
	*err = (struct mcp_perr){ 0 };
	if (len > MCP_JSON_MAX_SIZE)
		return -E2BIG;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		s.pos = 3;
	if ((rc = skip(&s)) < 0 || (rc = scan_value(&s, -1, 0)) < 0 || (rc = skip(&s)) < 0)
		goto out;
	if (s.pos < len)
		rc = fail(&s, s.pos, "unexpected %s after the top-level value", show(&s, s.pos, t));
out:
	if (rc == -EINVAL)
		mcp_perr_locate(err, buf, len);
	return rc < 0 ? rc : 0;
}

void mcp_json_free(struct mcp_json *j)
{
	free(j->v);
	j->v = NULL;
	j->n = j->cap = 0;
}

static bool key_is(const struct mcp_json *j, const struct mcp_json_node *nd, const char *key)
{
	char *k = NULL;
	bool eq = mcp_json_str(j, (int)(nd - j->v), true, &k) == 0 && strcmp(k, key) == 0;

	free(k);
	return eq;
}

int mcp_json_get(const struct mcp_json *j, int obj, const char *key)
{
	int hit = -1;

	if (obj < 0 || obj >= j->n || j->v[obj].type != MCP_J_OBJECT)
		return -1;
	for (int c = j->v[obj].first; c >= 0; c = j->v[c].next)
		if (key_is(j, &j->v[c], key))
			hit = c;
	return hit;
}

size_t mcp_utf8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One escape at p (after the backslash, bounded by end); the code point. */
static size_t unescape(const char *p, const char *end, size_t *used)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit = strchr(from, *p);

	*used = 1;
	if (*p != 'u')
		return hit ? (size_t)(unsigned char)to[hit - from] : '?';
	size_t cp = hex4(p + 1);
	*used = 5;
	if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 11 && p[5] == '\\' && p[6] == 'u') {
		size_t lo = hex4(p + 7);
		if (lo >= 0xdc00 && lo < 0xe000) {
			*used = 11;
			return 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
	}
	return cp >= 0xd800 && cp < 0xe000 ? 0xfffd : cp;
}

int mcp_json_str(const struct mcp_json *j, int node, bool key, char **out)
{
	const struct mcp_json_node *nd = &j->v[node];
	size_t a = key ? nd->key_start : nd->start, b = key ? nd->key_end : nd->end;

	*out = NULL;
	if ((!key && nd->type != MCP_J_STRING) || b < a + 2)
		return -EINVAL;
	const char *p = j->buf + a + 1, *end = j->buf + b - 1;
	char *o = malloc((size_t)(end - p) + 1), *w = o;
	if (!o)
		return -ENOMEM;
	while (p < end) {
		if (*p != '\\') {
			*w++ = *p++;
			continue;
		}
		size_t used, cp = unescape(p + 1, end, &used);
		if (cp == 0) {
			free(o);
			return -EINVAL;
		}
		w += mcp_utf8_put(w, (uint32_t)cp);
		p += 1 + used;
	}
	*w = '\0';
	if (strlen(o) != (size_t)(w - o)) {
		free(o);
		return -EINVAL;
	}
	*out = o;
	return 0;
}

void mcp_perr_locate(struct mcp_perr *err, const char *buf, size_t len)
{
	err->line = 1;
	err->col = 1;
	for (size_t i = 0; i < err->off && i < len; i++) {
		if (buf[i] == '\n') {
			err->line++;
			err->col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			err->col++;
		}
	}
}
