/* toml.c: the part of TOML that Codex's ~/.codex/config.toml uses, read with
 * positions. Every TOML value is scanned (so other tables are skipped
 * correctly), but only [mcp_servers.NAME] tables are kept: their command,
 * args, env (inline or [mcp_servers.NAME.env]) and url. Forms the editor does
 * not handle there (dotted keys for mcp_servers, [[mcp_servers]], multi-line
 * strings in command or args) are refused with a clear message. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "jsonc.h"

#define MAX_PATH 8
#define MAX_DEPTH 32

enum tkind { T_STRING, T_MLSTRING, T_ARRAY, T_TABLE, T_OTHER };

struct tval {
	enum tkind kind;
	size_t start, end;
	size_t n;              /* top-level items: array elements or inline-table keys */
	struct mcp_span *spans;
	char **texts;          /* decoded strings (NULL for non-strings) or keys */
	bool all_strings;      /* every array element a one-line string */
};

struct tscan {
	const char *b;
	size_t n, pos;
	struct mcp_perr *err;
	struct mcp_doc *d;
	char *table[MAX_PATH];
	size_t ntable;
	bool header_seen[MCP_MAX_SERVERS];
};

static int fail(struct tscan *s, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct tscan *s, size_t off, const char *fmt, ...)
{
	va_list ap;

	if (s->err->msg[0])
		return -EINVAL; /* keep the first */
	s->err->off = off;
	va_start(ap, fmt);
	vsnprintf(s->err->msg, sizeof(s->err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static char at(const struct tscan *s, size_t i)
{
	return i < s->n ? s->b[i] : '\0';
}

/* The byte at i for a message: quoted when printable, else its code. */
static const char *show(const struct tscan *s, size_t i, char buf[8])
{
	unsigned char c = (unsigned char)at(s, i);

	if (i >= s->n)
		return "end of file";
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "0x%02x", c);
	return buf;
}

static void skip_ws(struct tscan *s)
{
	while (at(s, s->pos) == ' ' || at(s, s->pos) == '\t')
		s->pos++;
}

/* Whitespace, comments and (with nl) newlines. */
static void skip_all(struct tscan *s, bool nl)
{
	for (;;) {
		skip_ws(s);
		char c = at(s, s->pos);
		if (c == '#') {
			while (s->pos < s->n && s->b[s->pos] != '\n')
				s->pos++;
		} else if (nl && (c == '\n' || (c == '\r' && at(s, s->pos + 1) == '\n'))) {
			s->pos += c == '\r' ? 2 : 1;
		} else {
			return;
		}
	}
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One escape after the backslash at s->pos; appends to *w. */
static int escape(struct tscan *s, char **w)
{
	static const char from[] = "btnfr\"\\e", to[] = "\b\t\n\f\r\"\\\x1b";
	char c = at(s, s->pos);
	const char *hit = c ? strchr(from, c) : NULL;

	if (hit) {
		*(*w)++ = to[hit - from];
		s->pos++;
		return 0;
	}
	int digits = c == 'u' ? 4 : c == 'U' ? 8 : 0;
	uint32_t cp = 0;
	for (int i = 1; digits && i <= digits; i++) {
		int h = hexval(at(s, s->pos + (size_t)i));
		if (h < 0)
			return fail(s, s->pos - 1, "bad \\%c escape in a string", c);
		cp = cp * 16 + (uint32_t)h;
	}
	if (!digits || cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
		return fail(s, s->pos - 1, "bad escape in a string");
	*w += mcp_utf8_put(*w, cp);
	s->pos += (size_t)digits + 1;
	return 0;
}

/* A one-line basic or literal string at s->pos into a fresh *out. */
static int scan_string(struct tscan *s, char **out)
{
	char q = at(s, s->pos);
	size_t open = s->pos++;
	char *o = malloc(s->n - open + 1), *w = o;
	int rc = 0;

	if (!o)
		return -ENOMEM;
	for (;;) {
		unsigned char c = (unsigned char)at(s, s->pos);
		if (s->pos >= s->n || c == '\n') {
			rc = fail(s, open, "unterminated string");
			break;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			rc = fail(s, s->pos, "control character 0x%02x in a string", c);
			break;
		}
		s->pos++;
		if (c == (unsigned char)q)
			break;
		if (c == '\\' && q == '"') {
			if ((rc = escape(s, &w)) < 0)
				break;
			continue;
		}
		*w++ = (char)c;
	}
	*w = '\0';
	if (rc < 0)
		free(o);
	else
		*out = o;
	return rc;
}

static int scan_mlstring(struct tscan *s)
{
	char q = at(s, s->pos);
	size_t open = s->pos;

	for (s->pos += 3; s->pos + 2 < s->n; s->pos++) {
		if (q == '"' && s->b[s->pos] == '\\') {
			s->pos++;
			continue;
		}
		if (s->b[s->pos] == q && s->b[s->pos + 1] == q && s->b[s->pos + 2] == q) {
			s->pos += 3;
			while (at(s, s->pos) == q && s->pos - open < s->n) /* up to two quotes end the content */
				s->pos++;
			return 0;
		}
	}
	return fail(s, open, "unterminated multi-line string");
}

static bool bare_key_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* A dotted key into path (fresh strings); *np components. */
static int scan_key(struct tscan *s, char **path, size_t *np)
{
	*np = 0;
	for (;;) {
		skip_ws(s);
		char c = at(s, s->pos), *part = NULL, t[8];
		size_t st = s->pos;
		int rc;
		if (*np >= MAX_PATH)
			return fail(s, st, "key with more than %d parts", MAX_PATH);
		if (c == '"' || c == '\'') {
			if (at(s, s->pos + 1) == c && at(s, s->pos + 2) == c)
				return fail(s, st, "a multi-line string cannot be a key");
			if ((rc = scan_string(s, &part)) < 0)
				return rc;
		} else {
			while (bare_key_char(at(s, s->pos)))
				s->pos++;
			if (s->pos == st)
				return fail(s, st, "expected a key, found %s", show(s, st, t));
			if (!(part = strndup(s->b + st, s->pos - st)))
				return -ENOMEM;
		}
		path[(*np)++] = part;
		skip_ws(s);
		if (at(s, s->pos) != '.')
			return 0;
		s->pos++;
	}
}

static void path_free(char **path, size_t *np)
{
	for (size_t i = 0; i < *np; i++)
		free(path[i]);
	*np = 0;
}

static void tval_free(struct tval *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->texts[i]);
	free(v->texts);
	free(v->spans);
	memset(v, 0, sizeof(*v));
}

static int item_add(struct tval *v, size_t st, size_t end, char *text)
{
	if (v->n >= MCP_MAX_ARGS) {
		free(text);
		return 0; /* long arrays elsewhere are fine; an args this long is refused later */
	}
	struct mcp_span *sp = realloc(v->spans, (v->n + 1) * sizeof(*sp));
	char **t = sp ? realloc(v->texts, (v->n + 1) * sizeof(*t)) : NULL;
	if (sp)
		v->spans = sp;
	if (!t) {
		free(text);
		return -ENOMEM;
	}
	v->texts = t;
	v->spans[v->n] = (struct mcp_span){ st, end - st };
	v->texts[v->n++] = text;
	return 0;
}

static int scan_value(struct tscan *s, struct tval *v, int depth);

static int scan_array(struct tscan *s, struct tval *v, int depth)
{
	int rc;

	v->all_strings = true;
	for (s->pos++;;) {
		skip_all(s, true);
		if (at(s, s->pos) == ']')
			break;
		struct tval e = { 0 };
		size_t st = s->pos;
		char *text = NULL;
		if ((rc = scan_value(s, &e, depth + 1)) < 0) {
			tval_free(&e);
			return rc;
		}
		if (e.kind == T_STRING)
			text = e.texts ? e.texts[0] : NULL, e.n = 0;
		else
			v->all_strings = false;
		tval_free(&e);
		if ((rc = item_add(v, st, s->pos, text)) < 0)
			return rc;
		skip_all(s, true);
		if (at(s, s->pos) == ',') {
			s->pos++;
			continue;
		}
		if (at(s, s->pos) != ']')
			return fail(s, s->pos, "expected ',' or ']' in an array");
		break;
	}
	s->pos++;
	return 0;
}

static int scan_inline_table(struct tscan *s, struct tval *v, int depth)
{
	char *path[MAX_PATH];
	size_t np = 0;
	int rc;

	for (s->pos++;;) {
		skip_all(s, true);
		if (at(s, s->pos) == '}' && v->n == 0)
			break;
		size_t st = s->pos;
		if ((rc = scan_key(s, path, &np)) < 0)
			goto out;
		char *first = np == 1 ? strdup(path[0]) : NULL; /* dotted keys in an inline table: not a name */
		path_free(path, &np);
		if ((rc = item_add(v, st, s->pos, first)) < 0)
			return rc;
		if (at(s, s->pos) != '=')
			return fail(s, s->pos, "expected '=' after a key");
		s->pos++;
		skip_ws(s);
		struct tval e = { 0 };
		rc = scan_value(s, &e, depth + 1);
		tval_free(&e);
		if (rc < 0)
			return rc;
		skip_all(s, true);
		if (at(s, s->pos) == ',') {
			s->pos++;
			continue;
		}
		if (at(s, s->pos) != '}')
			return fail(s, s->pos, "expected ',' or '}' in an inline table");
		break;
	}
	s->pos++;
	return 0;
out:
	path_free(path, &np);
	return rc;
}

static bool bare_value_char(char c)
{
	return bare_key_char(c) || c == '+' || c == '.' || c == ':';
}

static int scan_bare(struct tscan *s)
{
	size_t st = s->pos;

	while (bare_value_char(at(s, s->pos)))
		s->pos++;
	/* a date and a time separated by one space: 1979-05-27 07:32:00 */
	if (s->pos - st == 10 && s->b[st + 4] == '-' && at(s, s->pos) == ' ' && at(s, s->pos + 1) >= '0' &&
	    at(s, s->pos + 1) <= '9')
		for (s->pos++; bare_value_char(at(s, s->pos));)
			s->pos++;
	size_t n = s->pos - st;
	char c = at(s, st), t[8];
	bool word = (n == 4 && memcmp(s->b + st, "true", 4) == 0) || (n == 5 && memcmp(s->b + st, "false", 5) == 0) ||
		    (n == 3 && (memcmp(s->b + st, "inf", 3) == 0 || memcmp(s->b + st, "nan", 3) == 0));
	if (!n || !(word || (c >= '0' && c <= '9') || c == '+' || c == '-'))
		return fail(s, st, "expected a value, found %s", show(s, st, t));
	return 0;
}

static int scan_value(struct tscan *s, struct tval *v, int depth)
{
	char c = at(s, s->pos);
	int rc;

	v->start = s->pos;
	if (depth > MAX_DEPTH)
		return fail(s, s->pos, "nested deeper than %d levels", MAX_DEPTH);
	if ((c == '"' || c == '\'') && at(s, s->pos + 1) == c && at(s, s->pos + 2) == c) {
		v->kind = T_MLSTRING;
		rc = scan_mlstring(s);
	} else if (c == '"' || c == '\'') {
		char *text = NULL;
		v->kind = T_STRING;
		if ((rc = scan_string(s, &text)) == 0)
			rc = item_add(v, v->start, s->pos, text);
	} else if (c == '[') {
		v->kind = T_ARRAY;
		rc = scan_array(s, v, depth);
	} else if (c == '{') {
		v->kind = T_TABLE;
		rc = scan_inline_table(s, v, depth);
	} else {
		v->kind = T_OTHER;
		rc = scan_bare(s);
	}
	v->end = s->pos;
	return rc;
}

/* ---- what the mcp_servers tables say */

static struct mcp_server *server(struct tscan *s, const char *name)
{
	for (size_t i = 0; i < s->d->n; i++)
		if (strcmp(s->d->v[i].key, name) == 0)
			return &s->d->v[i];
	return mcp_doc_add(s->d, "mcp_servers", name);
}

static int set_command(struct tscan *s, struct mcp_server *sv, const struct tval *v)
{
	if (v->kind != T_STRING) {
		mcp_server_unusable(sv, "command is not a one-line string (a form the editor does not handle)");
		return 0;
	}
	if (sv->command)
		return fail(s, v->start, "mcp_servers.%s: command given twice", sv->key);
	if (!(sv->command = strdup(v->texts[0])))
		return -ENOMEM;
	sv->command_tok = (struct mcp_span){ v->start, v->end - v->start };
	/* an args line goes after the command's line, indented like it */
	size_t eol = v->end;
	while (eol < s->n && s->b[eol] != '\n')
		eol++;
	size_t ls = sv->command_tok.off, il = 0;
	while (ls > 0 && s->b[ls - 1] != '\n')
		ls--;
	while (s->b[ls + il] == ' ' || s->b[ls + il] == '\t')
		il++;
	bool at_end = eol >= s->n;
	sv->insert_off = at_end ? s->n : eol + 1;
	sv->insert_prefix = malloc(il + 2);
	sv->insert_suffix = strdup(at_end ? "" : "\n");
	if (!sv->insert_prefix || !sv->insert_suffix)
		return -ENOMEM;
	sprintf(sv->insert_prefix, "%s%.*s", at_end ? "\n" : "", (int)il, s->b + ls);
	return 0;
}

static int set_args(struct tscan *s, struct mcp_server *sv, struct tval *v)
{
	if (v->kind != T_ARRAY || !v->all_strings || v->n >= MCP_MAX_ARGS) {
		mcp_server_unusable(sv, "args is not a list of one-line strings (a form the editor does not handle)");
		return 0;
	}
	if (sv->has_args)
		return fail(s, v->start, "mcp_servers.%s: args given twice", sv->key);
	sv->has_args = true;
	sv->args_tok = (struct mcp_span){ v->start, v->end - v->start };
	sv->arg_tok = v->spans;
	sv->args = v->texts;
	sv->nargs = v->n;
	v->spans = NULL;
	v->texts = NULL;
	v->n = 0;
	return sv->nargs ? mcp_array_layout(sv, s->b, sv->args_tok.off, v->end - 1, sv->arg_tok[0].off) : 0;
}

static int add_env(struct mcp_server *sv, const char *name)
{
	int rc = name ? mcp_strv_add(&sv->env, &sv->nenv, MCP_MAX_ARGS, name) : 0;

	return rc == -E2BIG ? 0 : rc;
}

/* key = value inside [mcp_servers.NAME]. */
static int server_kv(struct tscan *s, struct mcp_server *sv, char **key, size_t nkey, struct tval *v)
{
	int rc = 0;

	if (nkey == 2 && strcmp(key[0], "env") == 0)
		return add_env(sv, key[1]);
	if (nkey > 1) {
		if (strcmp(key[0], "command") == 0 || strcmp(key[0], "args") == 0)
			return fail(s, v->start, "mcp_servers.%s: dotted key '%s.%s' is a form the editor does not handle",
				    sv->key, key[0], key[1]);
		return 0;
	}
	if (strcmp(key[0], "command") == 0)
		return set_command(s, sv, v);
	if (strcmp(key[0], "args") == 0)
		return set_args(s, sv, v);
	if (strcmp(key[0], "url") == 0 && v->kind == T_STRING && !sv->url)
		return (sv->url = strdup(v->texts[0])) ? 0 : -ENOMEM;
	if (strcmp(key[0], "env") == 0 && v->kind == T_TABLE)
		for (size_t i = 0; rc == 0 && i < v->n; i++)
			rc = add_env(sv, v->texts[i]);
	return rc;
}

static int assignment(struct tscan *s, char **key, size_t nkey, struct tval *v)
{
	char **t = s->table;
	size_t nt = s->ntable;
	bool under = (nt >= 1 && strcmp(t[0], "mcp_servers") == 0) || (nt == 0 && strcmp(key[0], "mcp_servers") == 0);

	if (!under || nt >= 4 || (nt == 3 && strcmp(t[2], "env") != 0))
		return 0;
	if (nt < 2)
		return fail(s, v->start, "mcp_servers given with dotted keys or inline tables; the editor handles "
			    "only [mcp_servers.NAME] tables");
	struct mcp_server *sv = server(s, t[1]);
	if (!sv)
		return -ENOMEM;
	if (nt == 3)
		return nkey == 1 ? add_env(sv, key[0]) : 0;
	return server_kv(s, sv, key, nkey, v);
}

static int header(struct tscan *s)
{
	size_t st = s->pos;
	bool arr = at(s, s->pos + 1) == '[';
	int rc;

	s->pos += arr ? 2 : 1;
	path_free(s->table, &s->ntable);
	if ((rc = scan_key(s, s->table, &s->ntable)) < 0)
		return rc;
	if (at(s, s->pos) != ']' || (arr && at(s, s->pos + 1) != ']'))
		return fail(s, s->pos, "expected ']' to close a table header");
	s->pos += arr ? 2 : 1;
	if (strcmp(s->table[0], "mcp_servers") != 0)
		return 0;
	if (arr)
		return fail(s, st, "[[mcp_servers...]] is a form the editor does not handle; use [mcp_servers.NAME]");
	if (s->ntable != 2)
		return 0;
	struct mcp_server *sv = server(s, s->table[1]);
	if (!sv)
		return -ENOMEM;
	size_t i = (size_t)(sv - s->d->v);
	if (s->header_seen[i])
		return fail(s, st, "table [mcp_servers.%s] given twice", sv->key);
	s->header_seen[i] = true;
	return 0;
}

static int statement(struct tscan *s)
{
	char *key[MAX_PATH];
	size_t nkey = 0;
	struct tval v = { 0 };
	int rc;

	if (at(s, s->pos) == '[') {
		rc = header(s);
	} else if ((rc = scan_key(s, key, &nkey)) == 0) {
		if (at(s, s->pos) != '=')
			rc = fail(s, s->pos, "expected '=' after a key");
		s->pos++;
		skip_ws(s);
		if (rc == 0 && (rc = scan_value(s, &v, 0)) == 0)
			rc = assignment(s, key, nkey, &v);
	}
	path_free(key, &nkey);
	tval_free(&v);
	if (rc < 0)
		return rc;
	skip_all(s, false);
	char c = at(s, s->pos), t[8];
	if (s->pos < s->n && c != '\n' && !(c == '\r' && at(s, s->pos + 1) == '\n'))
		return fail(s, s->pos, "expected the end of the line, found %s", show(s, s->pos, t));
	return 0;
}

int mcp_toml_doc(const char *buf, size_t len, struct mcp_doc *d, struct mcp_perr *err)
{
	struct tscan *s = calloc(1, sizeof(*s));
	int rc = 0;

	if (!s)
		return -ENOMEM;
	*s = (struct tscan){ .b = buf, .n = len, .err = err, .d = d };
	if (len > MCP_JSON_MAX_SIZE)
		rc = -E2BIG;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		s->pos = 3;
	while (rc == 0) {
		skip_all(s, true);
		if (s->pos >= s->n)
			break;
		rc = statement(s);
	}
	for (size_t i = 0; rc == 0 && i < d->n; i++)
		rc = mcp_server_classify(&d->v[i], NULL, false);
	if (rc == -EINVAL)
		mcp_perr_locate(err, buf, len);
	path_free(s->table, &s->ntable);
	free(s);
	return rc;
}
