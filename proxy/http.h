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
	struct span upgrade;        /* HTTP/1.1, one Upgrade field, "upgrade" in Connection: its value */
};

/*
 * Parse a request head at the start of buf. Returns the head's length (> 0),
 * 0 when more bytes are needed, -E2BIG past HTTP_MAX_HEAD or
 * HTTP_MAX_HEADERS, or -EINVAL with *why set. An HTTP/1.1 request other
 * than CONNECT must carry Host (RFC 9112 3.2).
 */
long http_parse_request(struct span buf, struct http_head *h, const char **why);

/* As http_parse_request, for a response to a request with method req_method. */
long http_parse_response(struct span buf, struct span req_method, struct http_head *h, const char **why);

/* Whether header name must not be forwarded (hop-by-hop, or listed in the
 * head's Connection header). */
bool http_is_hop_by_hop(const struct http_head *h, struct span name);

/* Value of the only header called name, or an empty span with p == NULL. */
struct span http_header_value(const struct http_head *h, const char *name);

/*
 * Whether buf (a connection's first bytes) starts an HTTP/1.x request, as a
 * lenient server would read it: after any empty lines, a known method and a
 * space, or a token starting a first line of printable ASCII that names an
 * HTTP version. Returns 1 for HTTP, 0 when it cannot be (the HTTP/2 preface
 * included), -EAGAIN when more bytes could tell. Says nothing about the
 * request being well formed: http_parse_request decides that.
 */
int http_sniff_request(struct span buf);

/* Scanner for a chunked body, fed the bytes as they arrive. Zero it to start.
 * Sizes are 1 to 15 hex digits with nothing before, inside or after them
 * but ";ext" and CRLF; every line ends in CRLF. */
struct http_chunked {
	int state;
	uint64_t left;   /* bytes left in the current chunk's data */
	unsigned digits; /* hex digits read for the current size */
	size_t line;     /* bytes in the current extension or trailer line */
	size_t trailer;  /* bytes of trailers */
	uint64_t pos;    /* bytes of the body consumed so far */
	/* after -EINVAL: what is wrong, the offending byte and its offset */
	const char *why;
	uint64_t at;
	unsigned char byte;
};

/* Consume up to n bytes of p. Returns how many were consumed (the body's
 * last byte ends the scan and sets *done), or -EINVAL on bad framing, with
 * why, at and byte set; once it has failed, every later call fails. */
long http_chunked_scan(struct http_chunked *c, const char *p, size_t n, bool *done);
/* Whether the scanner is inside a chunk's data (c->left bytes of it left);
 * outside it, c->left may hold a chunk size still being read. */
bool http_chunked_in_data(const struct http_chunked *c);

#endif
