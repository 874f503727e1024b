/* out.c: printing the reviews' tables. Text sizes each column to its widest
 * cell and right-aligns numbers; JSON keeps numbers as numbers and times as
 * RFC 3339; CSV quotes as RFC 4180 says, one block per table. */
#include "out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

void alog_table_init(struct alog_table *t, const char *name, const char *spec)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	char *copy = strdup(spec), *save = NULL;
	for (char *c = copy ? strtok_r(copy, ",", &save) : NULL; c && t->ncols < ALOG_COLS_MAX;
	     c = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(c, ':');
		char type = colon ? colon[1] : 't';
		if (colon)
			*colon = '\0';
		snprintf(t->cols[t->ncols], sizeof(t->cols[0]), "%s", c);
		t->types[t->ncols] = type == 'n' ? ALOG_C_COUNT : type == 'b' ? ALOG_C_BYTES
				     : type == 'd' ? ALOG_C_TIME : ALOG_C_TEXT;
		t->ncols++;
	}
	free(copy);
	if (!copy)
		t->err = -ENOMEM;
}

void alog_table_free(struct alog_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i].s);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

void alog_row_start(struct alog_table *t)
{
	if (t->err)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct alog_cell *c = realloc(t->cells, cap * t->ncols * sizeof(*c));
		if (!c) {
			t->err = -ENOMEM;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof(*t->cells));
	for (size_t k = 0; k < t->ncols; k++)
		if (t->types[k] == ALOG_C_TIME)
			t->cells[t->nrows * t->ncols + k].v = INT64_MIN;
	t->nrows++;
}

static struct alog_cell *cell(struct alog_table *t, size_t col)
{
	return t->err || !t->nrows || col >= t->ncols ? NULL : &t->cells[(t->nrows - 1) * t->ncols + col];
}

void alog_put_text(struct alog_table *t, size_t col, const char *s)
{
	struct alog_cell *c = cell(t, col);

	if (c && s && !(c->s = strdup(s)))
		t->err = -ENOMEM;
}

void alog_put_num(struct alog_table *t, size_t col, int64_t v)
{
	struct alog_cell *c = cell(t, col);

	if (c)
		c->v = v;
}

void alog_format_bytes(uint64_t v, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double x = (double)v;
	size_t u = 0;

	if (v < 1024) {
		snprintf(buf, size, "%llu B", (unsigned long long)v);
		return;
	}
	while (x >= 1024 && u < 5) {
		x /= 1024;
		u++;
	}
	snprintf(buf, size, x < 10 ? "%.1f %s" : "%.0f %s", x, units[u]);
}

/* v in decimal (as "%lld" prints it) without printf: a table prints many. */
static const char *decimal(int64_t v, char *buf, size_t size)
{
	char tmp[24], *w = tmp + sizeof(tmp);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	*--w = '\0';
	do
		*--w = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--w = '-';
	size_t n = (size_t)(tmp + sizeof(tmp) - 1 - w);
	if (size == 0)
		return "";
	n = n < size ? n : size - 1; /* cut as snprintf would */
	memcpy(buf, w, n);
	buf[n] = '\0';
	return buf;
}

/* A cell as text: for the text format (human) or CSV (raw). */
static const char *cell_text(const struct alog_table *t, size_t row, size_t col, bool human, char *buf,
			     size_t size)
{
	const struct alog_cell *c = &t->cells[row * t->ncols + col];

	switch (t->types[col]) {
	case ALOG_C_TEXT: return c->s ? c->s : human ? "-" : "";
	case ALOG_C_BYTES:
		if (human) {
			alog_format_bytes((uint64_t)c->v, buf, size);
			return buf;
		}
		break;
	case ALOG_C_TIME:
		if (c->v == INT64_MIN)
			return human ? "-" : "";
		alog_format_time(c->v, !human, buf, size);
		return buf;
	case ALOG_C_COUNT: break;
	}
	return decimal(c->v, buf, size);
}

static void print_text(FILE *f, const struct alog_table *t, bool title)
{
	size_t w[ALOG_COLS_MAX];
	char buf[64];

	if (title)
		fprintf(f, "%s:\n", t->name);
	for (size_t k = 0; k < t->ncols; k++)
		w[k] = strlen(t->cols[k]);
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t k = 0; k < t->ncols; k++) {
			size_t n = strlen(cell_text(t, r, k, true, buf, sizeof(buf)));
			w[k] = n > w[k] ? n : w[k];
		}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t k = 0; k < t->ncols; k++) {
			const char *s = r ? cell_text(t, r - 1, k, true, buf, sizeof(buf)) : t->cols[k];
			bool right = t->types[k] == ALOG_C_COUNT || t->types[k] == ALOG_C_BYTES;
			bool last = k + 1 == t->ncols;
			if (right)
				fprintf(f, "%*s", (int)w[k], s);
			else
				fprintf(f, "%-*s", last ? 0 : (int)w[k], s);
			if (!last)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
}

void alog_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void print_json(FILE *f, const struct alog_table *t)
{
	char buf[64];

	alog_json_string(f, t->name);
	fputs(":[", f);
	for (size_t r = 0; r < t->nrows; r++) {
		fputs(r ? ",\n{" : "\n{", f);
		for (size_t k = 0; k < t->ncols; k++) {
			const struct alog_cell *c = &t->cells[r * t->ncols + k];
			fprintf(f, "%s\"%s\":", k ? "," : "", t->cols[k]);
			if (t->types[k] == ALOG_C_TEXT && !c->s)
				fputs("null", f);
			else if (t->types[k] == ALOG_C_TEXT)
				alog_json_string(f, c->s);
			else if (t->types[k] == ALOG_C_TIME && c->v == INT64_MIN)
				fputs("null", f);
			else if (t->types[k] == ALOG_C_TIME)
				alog_json_string(f, cell_text(t, r, k, false, buf, sizeof(buf)));
			else
				fprintf(f, "%lld", (long long)c->v);
		}
		fputc('}', f);
	}
	fputs("]", f);
}

static void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void print_csv(FILE *f, const struct alog_table *t)
{
	char buf[64];

	for (size_t r = 0; r <= t->nrows; r++)
		for (size_t k = 0; k < t->ncols; k++) {
			csv_field(f, r ? cell_text(t, r - 1, k, false, buf, sizeof(buf)) : t->cols[k]);
			fputs(k + 1 == t->ncols ? "\r\n" : ",", f);
		}
}

int alog_print(FILE *f, enum alog_format fmt, struct alog_table *const *tables, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tables[i]->err)
			return tables[i]->err;
	if (fmt == ALOG_JSON)
		fputc('{', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(fmt == ALOG_JSON ? ",\n" : "\n", f);
		if (fmt == ALOG_TEXT)
			print_text(f, tables[i], n > 1);
		else if (fmt == ALOG_JSON)
			print_json(f, tables[i]);
		else
			print_csv(f, tables[i]);
	}
	if (fmt == ALOG_JSON)
		fputs("}\n", f);
	return 0;
}
