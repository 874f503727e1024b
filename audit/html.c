/* html.c: the auditor's report as one HTML file: styles, charts (SVG) and
 * the table sorter (a few lines of script) are all inline, so it opens from
 * disk anywhere and prints to PDF as it shows. Every text from the log is
 * escaped. */
#include "html.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"
#include "review.h"

#define TOP_N 10
#define TABLE_MAX 2000 /* host rows per server in the table */
#define CHART_W 720
#define CHART_H 180

static const char *const colors[3] = { "#2e7d32", "#c62828", "#ef6c00" }; /* allow, deny, would_deny */

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++)
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
}

static void head(FILE *f)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<title>sluice audit log report</title>\n<style>\n"
	      "body{font:14px/1.4 sans-serif;margin:24px;color:#222}h1{font-size:22px}h2{font-size:18px;"
	      "border-bottom:1px solid #ccc;margin-top:32px}h3{font-size:15px}table{border-collapse:collapse;"
	      "margin:8px 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;white-space:nowrap}td.n,th.n{text-align:right}"
	      "th{background:#f3f3f3;cursor:pointer}.legend span{display:inline-block;width:10px;height:10px;"
	      "margin:0 4px 0 12px}svg{display:block;margin:8px 0}section{page-break-inside:avoid}"
	      "@media print{th{cursor:auto}h2{page-break-before:auto}}\n</style></head><body>\n",
	      f);
}

static void sorter(FILE *f)
{
	/* click a header to sort by it (again: the other way); numbers (data-v)
	 * sort as numbers; #sort=N in the address sorts every table by column N */
	fputs("<script>\n"
	      "document.querySelectorAll('table.sortable th').forEach(function(th,i){th.onclick=function(){\n"
	      " var t=th.closest('table'),b=t.tBodies[0],r=Array.from(b.rows),d=th.dataset.d=th.dataset.d=='1'?'-1':'1';\n"
	      " r.sort(function(x,y){var a=x.cells[i],c=y.cells[i],p=a.dataset.v,q=c.dataset.v;\n"
	      "  var k=p!==undefined?(p-q):a.textContent.localeCompare(c.textContent);return k*d;});\n"
	      " r.forEach(function(e){b.appendChild(e);});};});\n"
	      "var m=location.hash.match(/^#sort=(\\d+)$/);if(m)document.querySelectorAll('table.sortable').forEach("
	      "function(t){var h=t.tHead.rows[0].cells[m[1]];if(h)h.click();});\n</script>\n",
	      f);
}

/* Requests over time, stacked by decision: one bar per histogram bucket used. */
static void time_chart(FILE *f, const struct alog_server *s)
{
	int lo = ALOG_BUCKETS, hi = -1;
	uint64_t max = 1;
	char a[40], b[40];

	for (int k = 0; k < ALOG_BUCKETS; k++) {
		uint64_t n = s->hist[k][0] + s->hist[k][1] + s->hist[k][2];
		if (n) {
			lo = k < lo ? k : lo;
			hi = k;
			max = n > max ? n : max;
		}
	}
	if (hi < 0) {
		fputs("<p>No requests in the window.</p>\n", f);
		return;
	}
	double w = (double)(CHART_W - 60) / (hi - lo + 1);
	fprintf(f, "<svg class=\"chart time\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
		CHART_W, CHART_H + 30, CHART_W, CHART_H + 30);
	fprintf(f, "<text x=\"0\" y=\"12\" font-size=\"11\">%llu</text><line x1=\"50\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
		   "stroke=\"#999\"/>\n", (unsigned long long)max, CHART_H, CHART_W, CHART_H);
	for (int k = lo; k <= hi; k++) {
		double y = CHART_H;
		for (int d = 0; d < 3; d++) {
			double h = (double)s->hist[k][d] * (CHART_H - 10) / (double)max;
			if (!s->hist[k][d])
				continue;
			y -= h;
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%llu</title></rect>\n",
				55 + (k - lo) * w, y, w > 2 ? w - 1 : w, h, colors[d], (unsigned long long)s->hist[k][d]);
		}
	}
	alog_format_time(s->h_origin + lo * s->h_width, false, a, sizeof(a));
	alog_format_time(s->h_origin + (hi + 1) * s->h_width, false, b, sizeof(b));
	fprintf(f, "<text x=\"55\" y=\"%d\" font-size=\"11\">%s</text><text x=\"%d\" y=\"%d\" font-size=\"11\" "
		   "text-anchor=\"end\">%s</text></svg>\n", CHART_H + 20, a, CHART_W, CHART_H + 20, b);
	fprintf(f, "<div class=\"legend\"><span style=\"background:%s\"></span>allow<span style=\"background:%s\">"
		   "</span>deny<span style=\"background:%s\"></span>would_deny (bucket %lld s)</div>\n",
		colors[0], colors[1], colors[2], (long long)(s->h_width / 1000));
}

struct bar {
	const char *label;
	uint16_t port; /* printed after the label when not 0 */
	uint64_t v;
};

static int by_v(const void *a, const void *b)
{
	const struct bar *x = a, *y = b;
	return x->v != y->v ? (x->v > y->v ? -1 : 1) : strcmp(x->label, y->label);
}

/* Horizontal bars, biggest first, at most TOP_N. */
static void bar_chart(FILE *f, const char *cls, struct bar *v, size_t n, bool bytes)
{
	char num[32];

	qsort(v, n, sizeof(*v), by_v);
	while (n && !v[n - 1].v)
		n--;
	n = n > TOP_N ? TOP_N : n;
	if (!n) {
		fputs("<p>None.</p>\n", f);
		return;
	}
	fprintf(f, "<svg class=\"chart %s\" width=\"%d\" height=\"%zu\" role=\"img\">\n", cls, CHART_W, n * 20 + 4);
	for (size_t i = 0; i < n; i++) {
		double w = (double)v[i].v * 330 / (double)v[0].v;
		if (bytes)
			alog_format_bytes(v[i].v, num, sizeof(num));
		else
			snprintf(num, sizeof(num), "%llu", (unsigned long long)v[i].v);
		fprintf(f, "<text x=\"0\" y=\"%zu\" font-size=\"12\">", i * 20 + 15);
		esc(f, v[i].label);
		if (v[i].port)
			fprintf(f, ":%u", v[i].port);
		fprintf(f, "</text><rect x=\"300\" y=\"%zu\" width=\"%.1f\" height=\"14\" fill=\"#1565c0\"/>"
			   "<text x=\"%.1f\" y=\"%zu\" font-size=\"12\">%s</text>\n",
			i * 20 + 3, w < 1 ? 1 : w, 306 + w, i * 20 + 15, num);
	}
	fputs("</svg>\n", f);
}

static void top_hosts(FILE *f, const struct alog_row *const *rows, size_t n, bool bytes)
{
	struct bar *v = calloc(n + 1, sizeof(*v));
	size_t m = 0;

	for (size_t i = 0; v && i < n; i++)
		if (rows[i]->flags & ALOG_F_CONNECT)
			v[m++] = (struct bar){ rows[i]->text, rows[i]->port,
					       bytes ? rows[i]->bytes_up + rows[i]->bytes_down : rows[i]->count };
	bar_chart(f, bytes ? "bytes" : "requests", v, m, bytes);
	free(v);
}

static void reasons(FILE *f, const struct alog_server *s)
{
	struct bar v[2 * ALOG_REASONS];
	char labels[2 * ALOG_REASONS][48];
	size_t n = 0;

	for (unsigned d = ALOG_DEC_DENY; d <= ALOG_DEC_WOULD_DENY; d++)
		for (unsigned k = 0; k < ALOG_REASONS; k++)
			if (s->reasons[d][k]) {
				snprintf(labels[n], sizeof(labels[n]), "%s %s", alog_decision_key((enum alog_decision)d),
					 alog_reason_name(k));
				v[n] = (struct bar){ labels[n], 0, s->reasons[d][k] };
				n++;
			}
	bar_chart(f, "reasons", v, n, false);
}

static void td_num(FILE *f, uint64_t v, bool bytes)
{
	char b[32];

	if (bytes)
		alog_format_bytes(v, b, sizeof(b));
	else
		snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	fprintf(f, "<td class=\"n\" data-v=\"%llu\">%s</td>", (unsigned long long)v, b);
}

static void host_table(FILE *f, const struct alog_row *const *rows, size_t n)
{
	char a[40], b[40];
	size_t shown = 0;

	fputs("<table class=\"sortable hosts\"><thead><tr><th>host</th><th class=\"n\">port</th><th class=\"n\">"
	      "requests</th><th class=\"n\">allow</th><th class=\"n\">deny</th><th class=\"n\">would_deny</th>"
	      "<th class=\"n\">dns</th><th class=\"n\">bytes</th><th>first</th><th>last</th><th>rule</th></tr>"
	      "</thead><tbody>\n", f);
	for (size_t i = 0; i < n && shown < TABLE_MAX; i++) {
		const struct alog_row *r = rows[i];
		shown++;
		fputs("<tr><td>", f);
		esc(f, r->text);
		fputs("</td>", f);
		td_num(f, r->port, false);
		td_num(f, r->count, false);
		td_num(f, r->allow, false);
		td_num(f, r->deny, false);
		td_num(f, r->would, false);
		td_num(f, r->dns, false);
		td_num(f, r->bytes_up + r->bytes_down, true);
		alog_format_time(r->first, false, a, sizeof(a));
		alog_format_time(r->last, false, b, sizeof(b));
		fprintf(f, "<td>%s</td><td>%s</td><td>", a, b);
		esc(f, r->rule ? r->rule : "-");
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
	if (shown == TABLE_MAX)
		fprintf(f, "<p>First %d rows; `sluice log hosts` lists them all.</p>\n", TABLE_MAX);
}

static void packages(FILE *f, const struct alog_tally *t, size_t srv)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nrows; i++)
		if (t->rows[i].kind == ALOG_ROW_PACKAGE && t->rows[i].server == srv) {
			if (!n++)
				fputs("<table class=\"sortable packages\"><thead><tr><th>package</th><th class=\"n\">"
				      "requests</th></tr></thead><tbody>\n", f);
			fputs("<tr><td>", f);
			esc(f, t->rows[i].text);
			fputs("</td>", f);
			td_num(f, t->rows[i].count, false);
			fputs("</tr>\n", f);
		}
	fputs(n ? "</tbody></table>\n" : "<p>None.</p>\n", f);
}

static void server(FILE *f, const struct alog_tally *t, size_t i)
{
	const struct alog_server *s = &t->servers[i];
	size_t n = 0;
	const struct alog_row **rows = alog_host_rows(t, (int)i, &n);
	char up[32], down[32];

	size_t m = 0;

	/* rows to show: connections, and names only ever resolved */
	for (size_t k = 0; rows && k < n; k++)
		if ((rows[k]->flags & ALOG_F_CONNECT) || alog_dns_only(rows, n, k))
			rows[m++] = rows[k];
	n = m;
	if (rows)
		alog_sort_by_count(rows, n);

	alog_format_bytes(s->bytes_up, up, sizeof(up));
	alog_format_bytes(s->bytes_down, down, sizeof(down));
	fputs("<section class=\"server\"><h2>Server ", f);
	esc(f, s->name);
	fprintf(f, "</h2>\n<p>%llu requests: %llu allowed, %llu denied, %llu would_deny; %llu DNS queries (%llu denied); "
		   "%llu kernel rejects; %s up, %s down.</p>\n",
		(unsigned long long)s->requests, (unsigned long long)s->by_decision[ALOG_DEC_ALLOW],
		(unsigned long long)s->by_decision[ALOG_DEC_DENY], (unsigned long long)s->by_decision[ALOG_DEC_WOULD_DENY],
		(unsigned long long)s->dns, (unsigned long long)s->dns_denied, (unsigned long long)s->packets, up, down);
	fputs("<h3>Requests over time</h3>\n", f);
	time_chart(f, s);
	fputs("<h3>Top hosts by requests</h3>\n", f);
	top_hosts(f, rows, n, false);
	fputs("<h3>Top hosts by bytes</h3>\n", f);
	top_hosts(f, rows, n, true);
	fputs("<h3>Denials by reason</h3>\n", f);
	reasons(f, s);
	fputs("<h3>Hosts</h3>\n", f);
	host_table(f, rows, n);
	fputs("<h3>Packages fetched</h3>\n", f);
	packages(f, t, i);
	fputs("</section>\n", f);
	free(rows);
}

int alog_report_html(const struct alog_tally *t, const struct alog_stats *st, FILE *out)
{
	head(out);
	fprintf(out, "<h1>sluice audit log report</h1>\n<p>%llu records in %llu lines read (%llu not valid, skipped); "
		     "%zu servers.</p>\n",
		(unsigned long long)st->records, (unsigned long long)st->lines, (unsigned long long)st->invalid,
		t->nservers);
	for (size_t i = 0; i < t->nservers; i++)
		server(out, t, i);
	sorter(out);
	fputs("</body></html>\n", out);
	return ferror(out) ? -EIO : 0;
}
