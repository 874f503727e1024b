/* http.h: strict HTTP/1.x head parsing and chunked-body scanning.
 *
 * Parsers never print and never repair: ambiguous framing, bare LF, obs-fold,
 * NUL and over-long heads are errors. Spans point into the caller's buffer.
 */
#ifndef SLUICE_HTTP_H
#define SLUICE_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "span.h"

#define HTTP_MAX_HEAD 16384
#define HTTP_MAX_HEADERS 100

enum http_body {
	HTTP_BODY_NONE,
	HTTP_BODY_LENGTH,
	HTTP_BODY_CHUNKED,
	HTTP_BODY_CLOSE, /* responses only: until the server closes */
};

struct http_header {
	struct span name, value;
};

struct http_head {
	struct span method, target; /* requests */
	unsigned status;            /* responses */
	struct span reason;
	unsigned minor;             /* HTTP/1.minor */
	struct http_header h[HTTP_MAX_HEADERS];
	size_t nh;
	size_t len;                 /* bytes of the head, final CRLF included */
	enum http_body body;
	uint64_t length;            /* HTTP_BODY_LENGTH */
	bool keep_alive;
	bool has_host;
};

/*
 * Parse a request head at the start of buf. Returns the head's length (> 0),
 * 0 when more bytes are needed, -E2BIG past HTTP_MAX_HEAD or
 * HTTP_MAX_HEADERS, or -EINVAL with *why set.
 */
long http_parse_request(struct span buf, struct http_head *h, const char **why);

/* As http_parse_request, for a response to a request with method req_method. */
long http_parse_response(struct span buf, struct span req_method, struct http_head *h, const char **why);

/* Whether header name must not be forwarded (hop-by-hop, or listed in the
 * head's Connection header). */
bool http_is_hop_by_hop(const struct http_head *h, struct span name);

/* Value of the only header called name, or an empty span with p == NULL. */
struct span http_header_value(const struct http_head *h, const char *name);

/* Scanner for a chunked body, fed the bytes as they arrive. */
struct http_chunked {
	int state;
	uint64_t left;   /* bytes left in the current chunk's data */
	unsigned digits; /* hex digits read for the current size */
	size_t line;     /* bytes in the current extension or trailer line */
	size_t trailer;  /* bytes of trailers */
};

/* Consume up to n bytes of p. Returns how many were consumed (the body's
 * last byte ends the scan and sets *done), or -EINVAL on bad framing. */
long http_chunked_scan(struct http_chunked *c, const char *p, size_t n, bool *done);

#endif
