/* http.c: strict HTTP/1.x head parser and chunked scanner (RFC 9112). */
#include "http.h"

#include <errno.h>
#include <string.h>

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(struct span s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!is_tchar((unsigned char)s.p[i]))
			return false;
	return true;
}

static int fail(const char **why, const char *msg)
{
	*why = msg;
	return -EINVAL;
}

/*
 * Find the end of the head: "\r\n\r\n". Every LF must follow a CR and every
 * CR precede an LF. Returns the head length, 0 if incomplete, or an error.
 */
static long head_end(struct span b, const char **why)
{
	size_t n = b.len < HTTP_MAX_HEAD ? b.len : HTTP_MAX_HEAD;

	for (size_t i = 0; i < n; i++) {
		char c = b.p[i];
		if (c == '\0')
			return fail(why, "NUL byte in head");
		if (c == '\n' && (i == 0 || b.p[i - 1] != '\r'))
			return fail(why, "bare LF in head");
		if (c == '\r' && i + 1 < b.len && b.p[i + 1] != '\n')
			return fail(why, "bare CR in head");
		if (c == '\n' && i >= 3 && b.p[i - 2] == '\n')
			return (long)(i + 1);
	}
	if (b.len >= HTTP_MAX_HEAD)
		return -E2BIG;
	return 0;
}

/* Split the next CRLF-terminated line off *rest. */
static struct span next_line(struct span *rest)
{
	long lf = span_find(*rest, '\n');
	struct span line = span_sub(*rest, 0, (size_t)lf - 1);

	*rest = span_sub(*rest, (size_t)lf + 1, rest->len);
	return line;
}

static int parse_version(struct span v, unsigned *minor)
{
	if (v.len != 8 || memcmp(v.p, "HTTP/1.", 7) != 0 || (v.p[7] != '0' && v.p[7] != '1'))
		return -EINVAL;
	*minor = (unsigned)(v.p[7] - '0');
	return 0;
}

static struct span trim_ows(struct span s)
{
	while (s.len && (s.p[0] == ' ' || s.p[0] == '\t'))
		s = span_sub(s, 1, s.len);
	while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
		s.len--;
	return s;
}

static int parse_field(struct span line, struct http_header *f, const char **why)
{
	long colon = span_find(line, ':');

	if (line.p[0] == ' ' || line.p[0] == '\t')
		return fail(why, "obsolete line folding");
	if (colon <= 0)
		return fail(why, "header line without a name and ':'");
	f->name = span_sub(line, 0, (size_t)colon);
	if (!is_token(f->name))
		return fail(why, "invalid header name");
	f->value = trim_ows(span_sub(line, (size_t)colon + 1, line.len));
	for (size_t i = 0; i < f->value.len; i++) {
		unsigned char c = (unsigned char)f->value.p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(why, "control character in header value");
	}
	return 0;
}

/* Does the comma-separated list s contain token tok (case-insensitive)? */
static bool list_has(struct span s, const char *tok)
{
	while (s.len) {
		long comma = span_find(s, ',');
		struct span item = trim_ows(comma < 0 ? s : span_sub(s, 0, (size_t)comma));
		if (span_ieq(item, tok))
			return true;
		s = comma < 0 ? span_of(NULL, 0) : span_sub(s, (size_t)comma + 1, s.len);
	}
	return false;
}

/* Headers, framing and persistence common to requests and responses. */
static int parse_fields(struct span rest, struct http_head *h, bool request, const char **why)
{
	int te = 0, cl = 0, up = 0;
	bool conn_close = false, conn_keep = false, conn_upgrade = false;

	while (rest.len > 2) {
		struct span line = next_line(&rest);
		if (h->nh >= HTTP_MAX_HEADERS)
			return -E2BIG;
		struct http_header *f = &h->h[h->nh++];
		if (parse_field(line, f, why) < 0)
			return -EINVAL;
		if (span_ieq(f->name, "transfer-encoding")) {
			te++;
			if (!span_ieq(f->value, "chunked"))
				return fail(why, "unsupported Transfer-Encoding");
		} else if (span_ieq(f->name, "content-length")) {
			unsigned long v;
			if (++cl > 1)
				return fail(why, "duplicate Content-Length");
			if (f->value.len > 15 || span_to_uint(f->value, 0, (1ul << 50), &v) < 0)
				return fail(why, "malformed Content-Length");
			h->length = v;
		} else if (span_ieq(f->name, "connection")) {
			conn_close |= list_has(f->value, "close");
			conn_keep |= list_has(f->value, "keep-alive");
			conn_upgrade |= list_has(f->value, "upgrade");
		} else if (span_ieq(f->name, "upgrade")) {
			up++;
		} else if (span_ieq(f->name, "host")) {
			if (h->has_host)
				return fail(why, "duplicate Host");
			h->has_host = true;
		}
	}
	if (te > 1)
		return fail(why, "duplicate Transfer-Encoding");
	if (te && cl)
		return fail(why, "both Content-Length and Transfer-Encoding");
	if (te && h->minor == 0)
		return fail(why, "Transfer-Encoding in HTTP/1.0");
	h->body = te ? HTTP_BODY_CHUNKED : cl ? HTTP_BODY_LENGTH : request ? HTTP_BODY_NONE : HTTP_BODY_CLOSE;
	if (h->body == HTTP_BODY_LENGTH && h->length == 0)
		h->body = HTTP_BODY_NONE;
	h->keep_alive = h->minor == 1 ? !conn_close : (conn_keep && !conn_close);
	h->upgrade = h->minor == 1 && conn_upgrade && up == 1 ? http_header_value(h, "upgrade") : span_of(NULL, 0);
	return 0;
}

static long parse_common(struct span buf, struct http_head *h, struct span *first, const char **why)
{
	memset(h, 0, sizeof(*h));
	long len = head_end(buf, why);
	if (len <= 0)
		return len;
	struct span rest = span_sub(buf, 0, (size_t)len);
	*first = next_line(&rest);
	h->len = (size_t)len;
	return len;
}

long http_parse_request(struct span buf, struct http_head *h, const char **why)
{
	struct span line, rest;
	long len = parse_common(buf, h, &line, why);

	if (len <= 0)
		return len;
	rest = span_sub(buf, line.len + 2, (size_t)len - line.len - 2);
	long sp1 = span_find(line, ' ');
	if (sp1 <= 0)
		return fail(why, "malformed request line");
	h->method = span_sub(line, 0, (size_t)sp1);
	struct span tail = span_sub(line, (size_t)sp1 + 1, line.len);
	long sp2 = span_find(tail, ' ');
	if (sp2 <= 0)
		return fail(why, "malformed request line");
	h->target = span_sub(tail, 0, (size_t)sp2);
	if (h->method.len > 32 || !is_token(h->method))
		return fail(why, "invalid method");
	for (size_t i = 0; i < h->target.len; i++)
		if ((unsigned char)h->target.p[i] <= 0x20 || (unsigned char)h->target.p[i] >= 0x7f)
			return fail(why, "invalid request target");
	if (parse_version(span_sub(tail, (size_t)sp2 + 1, tail.len), &h->minor) < 0)
		return fail(why, "unsupported HTTP version");
	int rc = parse_fields(rest, h, true, why);
	if (rc < 0)
		return rc;
	/* RFC 9112 3.2; CONNECT names its authority in the target, and clients
	 * that omit Host there are common enough to keep working */
	if (h->minor == 1 && !h->has_host && !(h->method.len == 7 && memcmp(h->method.p, "CONNECT", 7) == 0))
		return fail(why, "HTTP/1.1 request without Host");
	return len;
}

static const char *const known_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};

/* The HTTP/2 connection preface (RFC 9113 3.4): not HTTP/1.x. */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n";

int http_sniff_request(struct span b)
{
	size_t pre = sizeof(h2_preface) - 1, m = 0;

	/* servers skip empty lines before a request (RFC 9112 2.2): so does this */
	while (b.len && (b.p[0] == '\r' || b.p[0] == '\n'))
		b = span_sub(b, 1, b.len);
	if (b.len == 0)
		return -EAGAIN;
	if (memcmp(b.p, h2_preface, b.len < pre ? b.len : pre) == 0)
		return b.len < pre ? -EAGAIN : 0;
	if (!is_tchar((unsigned char)b.p[0]))
		return 0;
	while (m < b.len && m <= 32 && is_tchar((unsigned char)b.p[m]))
		m++;
	for (size_t i = 0; m < b.len && b.p[m] == ' ' && i < sizeof(known_methods) / sizeof(known_methods[0]); i++)
		if (strlen(known_methods[i]) == m && memcmp(b.p, known_methods[i], m) == 0)
			return 1;
	/* otherwise: a first line of printable ASCII that names an HTTP version */
	for (size_t i = 0; i < b.len && i < HTTP_MAX_HEAD; i++) {
		unsigned char c = (unsigned char)b.p[i];
		if (c == '\n')
			return 0;
		if ((c < 0x20 && c != '\r' && c != '\t') || c >= 0x7f)
			return 0;
		if (i + 5 <= b.len && memcmp(b.p + i, "HTTP/", 5) == 0)
			return 1;
	}
	return b.len < HTTP_MAX_HEAD ? -EAGAIN : 0;
}

long http_parse_response(struct span buf, struct span req_method, struct http_head *h, const char **why)
{
	struct span line, rest;
	long len = parse_common(buf, h, &line, why);
	unsigned long status;

	if (len <= 0)
		return len;
	rest = span_sub(buf, line.len + 2, (size_t)len - line.len - 2);
	if (line.len < 12 || line.p[8] != ' ' || (line.len > 12 && line.p[12] != ' '))
		return fail(why, "malformed status line");
	if (parse_version(span_sub(line, 0, 8), &h->minor) < 0)
		return fail(why, "unsupported HTTP version");
	if (span_to_uint(span_sub(line, 9, 3), 100, 599, &status) < 0)
		return fail(why, "invalid status code");
	h->status = (unsigned)status;
	h->reason = span_sub(line, 13, line.len);
	for (size_t i = 0; i < h->reason.len; i++) {
		unsigned char c = (unsigned char)h->reason.p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(why, "control character in reason phrase");
	}
	int rc = parse_fields(rest, h, false, why);
	if (rc < 0)
		return rc;
	if (h->status < 200 || h->status == 204 || h->status == 304 || span_ieq(req_method, "HEAD"))
		h->body = HTTP_BODY_NONE;
	if (h->body == HTTP_BODY_CLOSE)
		h->keep_alive = false;
	return len;
}

struct span http_header_value(const struct http_head *h, const char *name)
{
	for (size_t i = 0; i < h->nh; i++)
		if (span_ieq(h->h[i].name, name))
			return h->h[i].value;
	return span_of(NULL, 0);
}

bool http_is_hop_by_hop(const struct http_head *h, struct span name)
{
	static const char *const hop[] = {
		"connection", "keep-alive", "proxy-connection", "proxy-authorization",
		"proxy-authenticate", "te", "trailer", "upgrade",
	};

	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (span_ieq(name, hop[i]))
			return true;
	for (size_t i = 0; i < h->nh; i++) {
		if (!span_ieq(h->h[i].name, "connection"))
			continue;
		struct span s = h->h[i].value;
		char tok[64];
		span_copy(name, tok, sizeof(tok));
		if (name.len < sizeof(tok) && list_has(s, tok))
			return true;
	}
	return false;
}

enum {
	CH_SIZE,      /* hex digits of the chunk size */
	CH_EXT,       /* ";ext" up to CR */
	CH_SIZE_LF,   /* LF after the size line's CR */
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER,   /* start of a trailer line, or the final CRLF */
	CH_TRAILER_NAME,
	CH_TRAILER_LINE,
	CH_TRAILER_LF,
	CH_FINAL_LF,
	CH_DONE,
	CH_BAD,       /* an error was returned: every later call returns it again */
};

#define MAX_CHUNK_LINE 4096
#define MAX_TRAILERS 16384

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* What is wrong with byte b where a chunk size is expected (c->digits read). */
static const char *size_error(const struct http_chunked *c, char b)
{
	if (b == ' ' || b == '\t')
		return "whitespace in chunk size";
	if (b == '\n')
		return "bare LF after chunk size";
	if (c->digits == 0 && (b == '+' || b == '-'))
		return "signed chunk size";
	if (c->digits == 0 && (b == '\r' || b == ';'))
		return "empty chunk size";
	if (c->digits == 1 && c->left == 0 && (b == 'x' || b == 'X'))
		return "0x prefix in chunk size";
	return "chunk size is not hexadecimal";
}

/* One byte outside chunk data; returns NULL, or what is wrong with it. */
static const char *chunk_byte(struct http_chunked *c, char b)
{
	int v;

	switch (c->state) {
	case CH_SIZE:
		if ((v = hexval(b)) >= 0) {
			if (++c->digits > 15)
				return "chunk size too large";
			c->left = c->left * 16 + (uint64_t)v;
			return NULL;
		}
		if (c->digits == 0 || (b != ';' && b != '\r'))
			return size_error(c, b);
		c->state = b == ';' ? CH_EXT : CH_SIZE_LF;
		c->line = 0;
		return NULL;
	case CH_EXT:
		if (b == '\r') {
			c->state = CH_SIZE_LF;
			return NULL;
		}
		if (b == '\n')
			return "bare LF in chunk extension";
		if (((unsigned char)b < 0x20 && b != '\t') || b == 0x7f)
			return "control character in chunk extension";
		return ++c->line > MAX_CHUNK_LINE ? "chunk extension too long" : NULL;
	case CH_SIZE_LF:
		if (b != '\n')
			return "bare CR in chunk size line";
		c->state = c->left ? CH_DATA : CH_TRAILER;
		return NULL;
	case CH_DATA_CR:
		if (b == '\n')
			return "bare LF after chunk data";
		if (b != '\r')
			return "chunk data longer than its size, or no CRLF after it";
		c->state = CH_DATA_LF;
		return NULL;
	case CH_DATA_LF:
		if (b != '\n')
			return "bare CR after chunk data";
		c->state = CH_SIZE;
		c->digits = 0;
		c->left = 0;
		return NULL;
	case CH_TRAILER:
		if (b == '\r') {
			c->state = CH_FINAL_LF;
			return NULL;
		}
		if (!is_tchar((unsigned char)b))
			return b == '\n' ? "bare LF after the last chunk" : "invalid trailer field name";
		c->state = CH_TRAILER_NAME;
		return ++c->trailer > MAX_TRAILERS ? "trailers too large" : NULL;
	case CH_TRAILER_NAME:
		if (b == ':')
			c->state = CH_TRAILER_LINE;
		else if (!is_tchar((unsigned char)b))
			return "invalid trailer field name";
		return ++c->trailer > MAX_TRAILERS ? "trailers too large" : NULL;
	case CH_TRAILER_LINE:
		if (b == '\r') {
			c->state = CH_TRAILER_LF;
			return NULL;
		}
		if (((unsigned char)b < 0x20 && b != '\t') || b == 0x7f)
			return b == '\n' ? "bare LF in trailer" : "control character in trailer";
		return ++c->trailer > MAX_TRAILERS ? "trailers too large" : NULL;
	case CH_TRAILER_LF:
		if (b != '\n')
			return "bare CR in trailer";
		c->state = CH_TRAILER;
		return NULL;
	case CH_FINAL_LF:
		if (b != '\n')
			return "bare CR after the last chunk";
		c->state = CH_DONE;
		return NULL;
	}
	return "bytes after the last chunk";
}

bool http_chunked_in_data(const struct http_chunked *c)
{
	return c->state == CH_DATA;
}

long http_chunked_scan(struct http_chunked *c, const char *p, size_t n, bool *done)
{
	size_t i = 0;

	*done = false;
	if (c->state == CH_BAD)
		return -EINVAL;
	while (i < n && c->state != CH_DONE) {
		if (c->state == CH_DATA) {
			size_t take = n - i < c->left ? n - i : (size_t)c->left;
			i += take;
			c->left -= take;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		const char *bad = chunk_byte(c, p[i]);
		if (bad) {
			c->why = bad;
			c->at = c->pos + i;
			c->byte = (unsigned char)p[i];
			c->state = CH_BAD;
			return -EINVAL;
		}
		i++;
	}
	c->pos += i;
	*done = c->state == CH_DONE;
	return (long)i;
}
