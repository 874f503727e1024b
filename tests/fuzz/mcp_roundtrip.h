/* mcp_roundtrip.h: the property both config-reader harnesses check. Every
 * input the reader accepts must wrap, re-read as wrapped, wrap again to no
 * edit at all, and unwrap (through a dumped and reloaded record file) back to
 * exactly the input bytes. Any failure aborts. */
#ifndef SLUICE_FUZZ_MCP_ROUNDTRIP_H
#define SLUICE_FUZZ_MCP_ROUNDTRIP_H

#include <stdlib.h>
#include <string.h>

#include "mcp.h"

static void rt_check(int ok)
{
	if (!ok)
		abort();
}

/* Wrap every stdio server of d; 0 when there was none. */
static size_t rt_wrap(const struct mcp_doc *d, struct mcp_edits *e, struct mcp_records *r)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].state != MCP_STDIO || d->v[i].nenv > MCP_MAX_ENV)
			continue;
		rt_check(mcp_wrap(d, i, "/usr/bin/sluice", "/etc/sluice/p.yaml", e, r) == 0);
		n++;
	}
	return n;
}

static void rt_unwrap(const char *in, size_t len, const char *w, size_t wlen, enum mcp_format fmt,
		      const struct mcp_records *rec)
{
	struct mcp_doc d;
	struct mcp_perr err;
	struct mcp_edits e = { 0 }, again = { 0 };
	struct mcp_records none = { 0 };
	char *back = NULL;
	size_t blen = 0;

	rt_check(mcp_doc_parse(w, wlen, fmt, MCP_SCOPE_ALL, &d, &err) == 0);
	rt_check(rt_wrap(&d, &again, &none) == 0); /* wrapping twice changes nothing */
	for (size_t i = 0; i < d.n; i++) {
		bool exact;
		if (!mcp_records_find(rec, d.v[i].scope, d.v[i].key))
			continue;
		rt_check(d.v[i].state == MCP_WRAPPED);
		rt_check(mcp_unwrap(&d, i, rec, &e, &exact) == 0 && exact);
	}
	rt_check(mcp_apply(w, wlen, &e, &back, &blen) == 0);
	rt_check(blen == len && memcmp(back, in, len) == 0);
	free(back);
	mcp_edits_free(&e);
	mcp_edits_free(&again);
	mcp_records_free(&none);
	mcp_doc_free(&d);
}

static void rt_roundtrip(const char *in, size_t len, enum mcp_format fmt)
{
	struct mcp_doc d;
	struct mcp_perr err;
	struct mcp_edits e = { 0 };
	struct mcp_records r = { 0 }, loaded;
	char *w = NULL, *text = NULL;
	size_t wlen = 0;

	if (mcp_doc_parse(in, len, fmt, MCP_SCOPE_ALL, &d, &err) < 0) {
		rt_check(err.line >= 1 && err.off <= len && err.msg[0]);
		return;
	}
	if (rt_wrap(&d, &e, &r) > 0) {
		rt_check(mcp_apply(in, len, &e, &w, &wlen) == 0);
		rt_check(mcp_records_dump(&r, &text) == 0);
		rt_check(mcp_records_load(text, strlen(text), &loaded) == 0 && loaded.n == r.n);
		rt_unwrap(in, len, w, wlen, fmt, &loaded);
		mcp_records_free(&loaded);
	}
	free(w);
	free(text);
	mcp_edits_free(&e);
	mcp_records_free(&r);
	mcp_doc_free(&d);
}

#endif
