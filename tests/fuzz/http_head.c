/* http_head.c: libFuzzer harness for the HTTP head parser, the transparent
 * port's request sniffer and the chunked scanner. The scanner must give the
 * same verdict however its input is cut: whole, at one point, in 7-byte steps. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct verdict {
	long rc;        /* -EINVAL, or bytes consumed */
	bool done;
	const char *why;
	uint64_t at;
};

/* Scan p[0..n) as a chunked body in pieces of at most step bytes, the
 * first one cut bytes long. */
static struct verdict scan(const char *p, size_t n, size_t cut, size_t step)
{
	struct http_chunked c;
	struct verdict v = { 0, false, NULL, 0 };
	size_t off = 0;

	memset(&c, 0, sizeof(c));
	while (off < n && !v.done) {
		size_t want = off == 0 && cut ? cut : step;
		size_t take = n - off < want ? n - off : want;
		long used = http_chunked_scan(&c, p + off, take, &v.done);
		if (used < 0) {
			v.rc = used;
			v.why = c.why;
			v.at = c.at;
			return v;
		}
		off += (size_t)used;
	}
	v.rc = (long)off;
	return v;
}

static void same(struct verdict a, struct verdict b)
{
	if (a.rc != b.rc || a.done != b.done || a.why != b.why || a.at != b.at)
		abort();
}

static void chunked(const char *p, size_t n, size_t cut)
{
	struct verdict whole = scan(p, n, 0, n ? n : 1);

	same(whole, scan(p, n, cut, n ? n : 1));
	same(whole, scan(p, n, 0, 7));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_head h;
	const char *why;
	struct span s = span_of((const char *)data, size);
	long n = http_parse_request(s, &h, &why);
	size_t cut = size ? data[0] % (size + 1) : 0;

	(void)http_sniff_request(s);
	if (n > 0) {
		for (size_t i = 0; i < h.nh; i++)
			(void)http_is_hop_by_hop(&h, h.h[i].name);
		(void)http_header_value(&h, "host");
		/* the body after the head */
		chunked((const char *)data + n, size - (size_t)n, cut % (size - (size_t)n + 1));
	}
	/* and the whole input as a body, so the scanner is reached without a head */
	chunked((const char *)data, size, cut);
	(void)http_parse_response(s, span_str("GET"), &h, &why);
	return 0;
}
