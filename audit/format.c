/* format.c: an audit record formatted as one JSON line (see format.h). */
#include "format.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"

/* The output: bytes go in while they fit, len counts them all. */
struct out {
	char *p;
	size_t size, len;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len < o->size) {
		size_t room = o->size - o->len;
		memcpy(o->p + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void put_c(struct out *o, char c)
{
	if (o->len < o->size)
		o->p[o->len] = c;
	o->len++;
}

static const char hex[] = "0123456789ABCDEF";
static const char lhex[] = "0123456789abcdef";

static void put_u(struct out *o, unsigned cp)
{
	char seq[6] = { '\\', 'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15], hex[cp & 15] };

	put(o, seq, 6);
}

/* The length of the UTF-8 sequence at s (n bytes left) and its code point,
 * or 0 when it is not valid the way jansson checks it (no overlongs, no
 * surrogates, nothing past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
	unsigned c = s[0];
	size_t len;

	if (c < 0x80)
		return *cp = c, 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	unsigned v = c & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	return *cp = v, len;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	unsigned cp;

	for (size_t i = 0, k; i < n; i += k)
		if (!(k = utf8_seq(s + i, n - i, &cp)))
			return false;
	return true;
}

static void put_escaped_cp(struct out *o, unsigned cp)
{
	static const char shorts[] = { ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't' };

	if (cp == '"' || cp == '\\') {
		char e[2] = { '\\', (char)cp };
		put(o, e, 2);
	} else if (cp < 0x20 && cp < sizeof(shorts) && shorts[cp]) {
		char e[2] = { '\\', shorts[cp] };
		put(o, e, 2);
	} else if (cp < 0x20 || (cp > 0x7f && cp < 0x10000)) {
		put_u(o, cp);
	} else if (cp >= 0x10000) {
		cp -= 0x10000;
		put_u(o, 0xd800 | (cp >> 10));
		put_u(o, 0xdc00 | (cp & 0x3ff));
	} else {
		put_c(o, (char)cp);
	}
}

/* The bytes a JSON string holds as they are: printable ASCII (and DEL,
 * which JSON allows unescaped) but '"' (0x22) and '\\' (0x5c). Not NUL: it
 * ends a scan. */
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
static const unsigned char plain[256] = {
	R16(0), R16(0),
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' */
	R16(1), R16(1),
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\\' */
	R16(1), R16(1),
};
#undef R16

/* A JSON string of untrusted text. */
static void put_string(struct out *o, const char *v)
{
	const unsigned char *s = (const unsigned char *)v;
	size_t n = 0;
	unsigned cp;

	/* the common case, a name or a reason: plain ASCII, one pass, one copy */
	while (plain[s[n]])
		n++;
	if (!s[n] && o->len + n + 2 <= o->size) {
		char *w = o->p + o->len;
		w[0] = '"';
		memcpy(w + 1, v, n);
		w[n + 1] = '"';
		o->len += n + 2;
		return;
	}
	put_c(o, '"');
	if (!s[n]) {
		put(o, v, n);
		put_c(o, '"');
		return;
	}
	n += strlen(v + n);
	if (utf8_valid(s, n)) {
		for (size_t i = 0, k; i < n; i += k) {
			k = utf8_seq(s + i, n - i, &cp);
			/* a run of plain bytes goes in one copy */
			size_t run = 0;
			while (i + run < n && s[i + run] >= 0x20 && s[i + run] < 0x80 && s[i + run] != '"' &&
			       s[i + run] != '\\')
				run++;
			if (run) {
				put(o, v + i, run);
				k = run;
			} else {
				put_escaped_cp(o, cp);
			}
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			if (s[i] >= 0x20 && s[i] < 0x7f) {
				put_escaped_cp(o, s[i]);
			} else {
				char e[5] = { '\\', '\\', 'x', lhex[s[i] >> 4], lhex[s[i] & 15] };
				put(o, e, 5);
			}
		}
	}
	put_c(o, '"');
}

/* ,"key": (the first opens the object). The keys are literals: their
 * length is known where they are written (the macros below). */
static inline void put_key_n(struct out *o, const char *key, size_t n)
{
	if (o->len + n + 4 <= o->size) {
		char *w = o->p + o->len;
		w[0] = o->len > 1 ? ',' : '{';
		w[1] = '"';
		memcpy(w + 2, key, n);
		w[n + 2] = '"';
		w[n + 3] = ':';
		o->len += n + 4;
		return;
	}
	put_c(o, o->len > 1 ? ',' : '{');
	put_c(o, '"');
	put(o, key, n);
	put(o, "\":", 2);
}
#define put_key(o, key) put_key_n(o, key, sizeof(key) - 1)
#define field_str(o, key, v) field_str_n(o, key, sizeof(key) - 1, v)
#define field_int(o, key, v) field_int_n(o, key, sizeof(key) - 1, v)

static inline void field_str_n(struct out *o, const char *key, size_t kn, const char *v)
{
	if (v) {
		put_key_n(o, key, kn);
		put_string(o, v);
	}
}

static void field_int_n(struct out *o, const char *key, size_t kn, long long v)
{
	char num[24], *e = num + sizeof(num), *p = e;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	put_key_n(o, key, kn);
	put(o, p, (size_t)(e - p));
}

void audit_clock_format(struct audit_clock *c, const struct timespec *now)
{
	if (now->tv_sec != c->sec || !c->text[0]) {
		struct tm tm;
		gmtime_r(&now->tv_sec, &tm);
		strftime(c->text, sizeof(c->text), "%Y-%m-%dT%H:%M:%S", &tm);
		c->sec = now->tv_sec;
	}
	int ms = (int)(now->tv_nsec / 1000000) % 1000;
	char *t = c->text + 19;
	t[0] = '.', t[1] = (char)('0' + ms / 100), t[2] = (char)('0' + ms / 10 % 10), t[3] = (char)('0' + ms % 10);
	t[4] = 'Z', t[5] = '\0';
}

size_t audit_format(char *buf, size_t size, const char *ts, const char *server, const struct audit_rec *r)
{
	struct out o = { buf, size, 0 };

	field_str(&o, "ts", ts); /* put_key opens the object, then separates */
	field_str(&o, "event", r->event);
	field_str(&o, "phase", r->phase);
	field_str(&o, "server", server);
	field_str(&o, "session", r->session);
	field_str(&o, "host", r->host);
	if (r->port)
		field_int(&o, "port", r->port);
	field_str(&o, "sni", r->sni);
	field_str(&o, "method", r->method);
	if (r->addrs) {
		put_key(&o, "addrs");
		put_c(&o, '[');
		for (size_t i = 0; i < r->naddrs; i++) {
			char t[ADDR_TEXT_MAX];
			addr_format(&r->addrs[i], t, sizeof(t));
			if (i)
				put_c(&o, ',');
			put_string(&o, t);
		}
		put_c(&o, ']');
	}
	field_str(&o, "remote", r->remote);
	field_str(&o, "decision", r->decision);
	field_str(&o, "reason", r->reason);
	field_str(&o, "rule", r->rule);
	if (r->has_bytes) {
		field_int(&o, "bytes_up", (long long)(int64_t)r->bytes_up);
		field_int(&o, "bytes_down", (long long)(int64_t)r->bytes_down);
	}
	if (r->duration_ms >= 0)
		field_int(&o, "duration_ms", r->duration_ms);
	if (r->dns_ms >= 0)
		field_int(&o, "dns_ms", r->dns_ms);
	if (r->connect_ms >= 0)
		field_int(&o, "connect_ms", r->connect_ms);
	field_str(&o, "qtype", r->qtype);
	field_str(&o, "rcode", r->rcode);
	field_str(&o, "protocol", r->protocol);
	field_str(&o, "cache", r->cache);
	field_str(&o, "package", r->package);
	if (r->ech) {
		put_key(&o, "ech");
		put(&o, "true", 4);
	}
	if (o.len == 0)
		put_c(&o, '{');
	put_c(&o, '}');
	return o.len;
}
