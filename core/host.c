/* host.c: host canonicalization, used by the proxy, the DNS stub, the policy
 * loader and the command line alike, so that all of them see one spelling. */
#include "host.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A label that an IPv4 parser anywhere might read as a number. */
static bool label_is_numeric(struct span l)
{
	size_t i = 0;

	if (l.len >= 2 && l.p[0] == '0' && (l.p[1] == 'x' || l.p[1] == 'X')) {
		for (i = 2; i < l.len; i++)
			if (!is_hex(l.p[i]))
				return false;
		return true;
	}
	for (; i < l.len; i++)
		if (!is_digit(l.p[i]))
			return false;
	return l.len > 0;
}

static int fail(const char **why, const char *msg)
{
	*why = msg;
	return -EINVAL;
}

static int canon_ip(struct span in, struct host *out)
{
	if (addr_parse(in, &out->ip) < 0)
		return -EINVAL;
	out->kind = HOST_IP;
	addr_format(&out->ip, out->text, sizeof(out->text));
	return 0;
}

static int canon_name(struct span in, struct host *out, const char **why)
{
	size_t label = 0, last_start = 0;

	if (in.len > 0 && in.p[in.len - 1] == '.')
		in.len--;
	if (in.len == 0)
		return fail(why, "empty host");
	if (in.len > HOST_NAME_LEN)
		return fail(why, "host name longer than 253");
	for (size_t i = 0; i < in.len; i++) {
		unsigned char c = (unsigned char)in.p[i];
		if (c >= 0x80)
			return fail(why, "non-ASCII host name (use the IDNA xn-- form)");
		if (c == '.') {
			if (label == 0)
				return fail(why, "empty label in host name");
			label = 0;
			last_start = i + 1;
			out->text[i] = '.';
			continue;
		}
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit((char)c) ||
			  c == '-' || c == '_';
		if (!ok)
			return fail(why, "invalid character in host name");
		if (++label > 63)
			return fail(why, "label longer than 63 in host name");
		out->text[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
	}
	if (label == 0)
		return fail(why, "empty label in host name");
	if (label_is_numeric(span_sub(in, last_start, in.len)))
		return fail(why, "not a canonical IPv4 address");
	out->text[in.len] = '\0';
	out->kind = HOST_NAME;
	return 0;
}

int host_canonicalize(struct span in, struct host *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	if (in.len >= 2 && in.p[0] == '[' && in.p[in.len - 1] == ']') {
		struct span inner = span_sub(in, 1, in.len - 2);
		if (span_find(inner, ':') < 0)
			return fail(why, "brackets around a name");
		/* an IPv4-mapped literal is folded to its IPv4 address */
		if (canon_ip(inner, out) < 0)
			return fail(why, "invalid IPv6 literal");
		return 0;
	}
	if (span_find(in, '[') >= 0 || span_find(in, ']') >= 0)
		return fail(why, "stray bracket in host");
	if (span_find(in, ':') >= 0) {
		if (canon_ip(in, out) < 0)
			return fail(why, "invalid IPv6 literal");
		return 0;
	}
	if (canon_ip(in, out) == 0)
		return 0;
	return canon_name(in, out, why);
}

int host_parse_authority(struct span in, uint16_t default_port, struct host *h, uint16_t *port,
			 const char **why)
{
	struct span hostpart = in, portpart = { NULL, 0 };
	bool has_port = false;

	if (in.len > 0 && in.p[0] == '[') {
		long close = span_find(in, ']');
		if (close < 0)
			return fail(why, "unterminated '[' in authority");
		hostpart = span_sub(in, 0, (size_t)close + 1);
		if ((size_t)close + 1 < in.len) {
			if (in.p[close + 1] != ':')
				return fail(why, "junk after ']' in authority");
			portpart = span_sub(in, (size_t)close + 2, in.len);
			has_port = true;
		}
	} else {
		long colon = span_find(in, ':');
		if (colon >= 0 && colon != span_rfind(in, ':'))
			return fail(why, "IPv6 literal needs brackets");
		if (colon >= 0) {
			hostpart = span_sub(in, 0, (size_t)colon);
			portpart = span_sub(in, (size_t)colon + 1, in.len);
			has_port = true;
		}
	}
	unsigned long p = default_port;
	if (has_port) {
		if (span_to_uint(portpart, 1, 65535, &p) < 0)
			return fail(why, "invalid port");
	} else if (default_port == 0) {
		return fail(why, "missing port");
	}
	int rc = host_canonicalize(hostpart, h, why);
	if (rc < 0)
		return rc;
	*port = (uint16_t)p;
	return 0;
}

bool host_single_label(const struct host *h)
{
	return h->kind == HOST_NAME && h->text[0] && !strchr(h->text, '.');
}
