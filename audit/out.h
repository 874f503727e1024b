/* out.h: the reviews' tables, printed as aligned text (columns sized to the
 * data, bytes with units), JSON or CSV. A table holds its cells until printed. */
#ifndef SLUICE_OUT_H
#define SLUICE_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum alog_format { ALOG_TEXT, ALOG_JSON, ALOG_CSV };
enum alog_col { ALOG_C_TEXT, ALOG_C_COUNT, ALOG_C_BYTES, ALOG_C_TIME };

#define ALOG_COLS_MAX 16

struct alog_cell {
	char *s;   /* ALOG_C_TEXT (owned; NULL prints "-") */
	int64_t v; /* the other types; ALOG_C_TIME: ms since the epoch, INT64_MIN unset */
};

struct alog_table {
	const char *name;                  /* key in JSON, title in text */
	size_t ncols;
	char cols[ALOG_COLS_MAX][32];      /* snake_case column names */
	enum alog_col types[ALOG_COLS_MAX];
	struct alog_cell *cells;
	size_t nrows, cap;
	int err;
};

/* A table named name with columns "name:type,..." (type t, n, b or d for
 * text, count, bytes, date). */
void alog_table_init(struct alog_table *t, const char *name, const char *spec);
void alog_table_free(struct alog_table *t);

/* Start a row; the next alog_put_* calls fill its cells in column order. */
void alog_row_start(struct alog_table *t);
void alog_put_text(struct alog_table *t, size_t col, const char *s);
void alog_put_num(struct alog_table *t, size_t col, int64_t v);

/* Print several tables to f as one document in format fmt (JSON: an object
 * with one array per table). Returns 0, or -ENOMEM when a table ran out. */
int alog_print(FILE *f, enum alog_format fmt, struct alog_table *const *tables, size_t n);

/* Bytes with a binary unit: "12.4 MiB", "512 B". */
void alog_format_bytes(uint64_t v, char *buf, size_t size);

/* s as a JSON string (with quotes) to f. */
void alog_json_string(FILE *f, const char *s);

#endif
