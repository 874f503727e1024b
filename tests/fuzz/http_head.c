/* http_head.c: libFuzzer harness for the HTTP head parser and chunked scanner. */
#include <stddef.h>
#include <stdint.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_head h;
	const char *why;
	struct span s = span_of((const char *)data, size);
	long n = http_parse_request(s, &h, &why);

	if (n > 0) {
		for (size_t i = 0; i < h.nh; i++)
			(void)http_is_hop_by_hop(&h, h.h[i].name);
		(void)http_header_value(&h, "host");
		/* the body after the head, through the chunked scanner in 7-byte steps */
		struct http_chunked c = { 0 };
		bool done = false;
		for (size_t off = (size_t)n; off < size && !done;) {
			size_t take = size - off < 7 ? size - off : 7;
			long used = http_chunked_scan(&c, (const char *)data + off, take, &done);
			if (used < 0)
				break;
			off += (size_t)used;
		}
	}
	(void)http_parse_response(s, span_str("GET"), &h, &why);
	return 0;
}
