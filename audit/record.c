/* record.c: the audit log's reader of one line. The writer emits one flat,
 * compact JSON object per line; this scanner reads exactly that grammar
 * (any JSON value under an unknown key is skipped, nesting bounded) through
 * a bounds-checked cursor, ten times faster than building a jansson tree.
 * A line in the writer's own form (no escapes, no whitespace, known keys)
 * takes a fast path first, which reads the same records or gives way. */
#include "record.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define SKIP_DEPTH 16

struct scan {
	struct span in;
	size_t i;
	char *scr;
	size_t scr_size, scr_used;
	const char *why;
};

enum ktype { K_STR, K_UINT, K_MS, K_PORT, K_ADDRS, K_BOOL, K_TS, K_EVENT, K_PHASE, K_DECISION };

struct key {
	const char *name;
	unsigned char len;
	enum ktype type;
	size_t off;
};

#define KEY(n, t, f) { n, sizeof(n) - 1, t, offsetof(struct alog_rec, f) }
static const struct key keys[] = {
	KEY("ts", K_TS, ts_ms),          KEY("event", K_EVENT, event),
	KEY("phase", K_PHASE, phase),    KEY("server", K_STR, server),
	KEY("session", K_STR, session),  KEY("host", K_STR, host),
	KEY("port", K_PORT, port),       KEY("sni", K_STR, sni),
	KEY("method", K_STR, method),    KEY("addrs", K_ADDRS, addrs),
	KEY("remote", K_STR, remote),    KEY("decision", K_DECISION, decision),
	KEY("reason", K_STR, reason),    KEY("rule", K_STR, rule),
	KEY("bytes_up", K_UINT, bytes_up), KEY("bytes_down", K_UINT, bytes_down),
	KEY("duration_ms", K_MS, duration_ms), KEY("dns_ms", K_MS, dns_ms),
	KEY("connect_ms", K_MS, connect_ms), KEY("qtype", K_STR, qtype),
	KEY("rcode", K_STR, rcode),      KEY("protocol", K_STR, protocol),
	KEY("cache", K_STR, cache),      KEY("package", K_STR, package),
	KEY("ech", K_BOOL, ech),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct lit {
	const char *s;
	size_t len;
};
#define LIT(s) { s, sizeof(s) - 1 }
static const struct lit event_keys[] = { LIT(""), LIT("connect"), LIT("http"), LIT("transparent"), LIT("dns"),
					 LIT("packet") };
static const struct lit phase_keys[] = { LIT(""), LIT("decision"), LIT("close") };
static const struct lit decision_keys[] = { LIT(""), LIT("allow"), LIT("deny"), LIT("would_deny"), LIT("") };

static int fail(struct scan *s, const char *why)
{
	s->why = why;
	return -EINVAL;
}

static int peek(const struct scan *s)
{
	return s->i < s->in.len ? (unsigned char)s->in.p[s->i] : -1;
}

static inline void ws(struct scan *s)
{
	if (s->i < s->in.len && (unsigned char)s->in.p[s->i] > ' ') /* the writer's compact form */
		return;
	while (s->i < s->in.len) {
		char c = s->in.p[s->i];
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			return;
		s->i++;
	}
}

static int expect(struct scan *s, char c, const char *why)
{
	ws(s);
	if (peek(s) != (unsigned char)c)
		return fail(s, why);
	s->i++;
	return 0;
}

static int hex4(struct scan *s, unsigned *out)
{
	unsigned v = 0;

	if (s->in.len - s->i < 4)
		return fail(s, "short \\u escape");
	for (int k = 0; k < 4; k++) {
		char c = s->in.p[s->i++];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			   : (c | 32) >= 'a' && (c | 32) <= 'f' ? (unsigned)((c | 32) - 'a' + 10) : 16;
		if (d > 15)
			return fail(s, "bad \\u escape");
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

static void put_utf8(char *w, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		w[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		w[(*n)++] = (char)(0xc0 | cp >> 6);
		w[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		w[(*n)++] = (char)(0xe0 | cp >> 12);
		w[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		w[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		w[(*n)++] = (char)(0xf0 | cp >> 18);
		w[(*n)++] = (char)(0x80 | (cp >> 12 & 0x3f));
		w[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		w[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* One escape after the backslash; the decoded bytes go to w[*n]. */
static int unescape(struct scan *s, char *w, size_t *n)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	unsigned cp, lo;

	if (s->i >= s->in.len)
		return fail(s, "unterminated string");
	char c = s->in.p[s->i++];
	const char *k = c ? strchr(from, c) : NULL;
	if (k) {
		w[(*n)++] = to[k - from];
		return 0;
	}
	if (c != 'u' || hex4(s, &cp) < 0)
		return fail(s, s->why ? s->why : "bad escape");
	if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair */
		if (s->in.len - s->i < 6 || s->in.p[s->i] != '\\' || s->in.p[s->i + 1] != 'u')
			return fail(s, "lone surrogate");
		s->i += 2;
		if (hex4(s, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return fail(s, "lone surrogate");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	} else if (cp >= 0xdc00 && cp < 0xe000) {
		return fail(s, "lone surrogate");
	}
	put_utf8(w, n, cp);
	return 0;
}

/* A string with escapes, decoded into scratch from its opening quote at start. */
static int slow_string(struct scan *s, size_t start, struct span *out)
{
	char *w = s->scr + s->scr_used;
	size_t n = 0;

	s->i = start + 1;
	while (s->i < s->in.len) {
		unsigned char c = (unsigned char)s->in.p[s->i++];
		if (s->scr_used + n + 4 > s->scr_size)
			return fail(s, "strings too long");
		if (c == '"') {
			*out = span_of(w, n);
			s->scr_used += n;
			return 0;
		}
		if (c < 0x20)
			return fail(s, "control byte in string");
		if (c != '\\')
			w[n++] = (char)c;
		else if (unescape(s, w, &n) < 0)
			return -EINVAL;
	}
	return fail(s, "unterminated string");
}

/* Past the bytes from i that need no care in a string (no quote, backslash
 * or control byte), eight at a time while eight remain. */
static size_t plain_run(struct span in, size_t i)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;

#ifdef __SSE2__
	/* sixteen at a time: a byte is special when it is '"', '\\' or below 0x20
	 * (unsigned: bytes >= 0x80 are plain, so compare after flipping the sign) */
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
	const __m128i flip = _mm_set1_epi8((char)0x80), limit = _mm_set1_epi8((char)(0x20 ^ 0x80));
	while (in.len - i >= 16) {
		__m128i w = _mm_loadu_si128((const __m128i *)(const void *)(in.p + i));
		__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, bslash)),
					   _mm_cmplt_epi8(_mm_xor_si128(w, flip), limit));
		unsigned m = (unsigned)_mm_movemask_epi8(hit);
		if (m)
			return i + (size_t)__builtin_ctz(m);
		i += 16;
	}
#endif
	while (in.len - i >= 8) {
		uint64_t w;
		memcpy(&w, in.p + i, 8);
		uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
		uint64_t hit = ((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w);
		if ((hit & high) != 0) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			/* the lowest flagged byte is exact: borrows only reach bytes above it */
			return i + (size_t)__builtin_ctzll(hit & high) / 8;
#else
			break;
#endif
		}
		i += 8;
	}
	return i;
}

#define X4 1, 1, 1, 1
#define X32 X4, X4, X4, X4, X4, X4, X4, X4
/* Bytes a string's fast path stops at: controls, '"' and '\\'. */
static const unsigned char special[256] = { X32, ['"'] = 1, ['\\'] = 1 };

static __attribute__((noinline)) int string_tail(struct scan *s, size_t start, struct span *out)
{
	if (s->i < s->in.len && s->in.p[s->i] == '\\')
		return slow_string(s, start, out);
	return fail(s, s->i < s->in.len ? "control byte in string" : "unterminated string");
}

/* The common case inline: a string with no escapes, read in place. */
static inline int get_string(struct scan *s, struct span *out)
{
	ws(s);
	if (peek(s) != '"')
		return fail(s, "expected a string");
	size_t start = ++s->i, i = plain_run(s->in, start), n = s->in.len;
	const char *p = s->in.p;
	while (i < n && !special[(unsigned char)p[i]])
		i++;
	s->i = i;
	if (i < n && p[i] == '"') {
		*out = span_of(p + start, i - start);
		s->i++;
		return 0;
	}
	return string_tail(s, start - 1, out);
}

static bool digit(int c)
{
	return c >= '0' && c <= '9';
}

/* A JSON number; *v gets its value when it is a plain non-negative integer. */
static int get_number(struct scan *s, uint64_t *v, bool *plain)
{
	uint64_t x = 0;
	bool ok = true;

	ws(s);
	if (peek(s) == '-') {
		s->i++;
		ok = false;
	}
	if (!digit(peek(s)))
		return fail(s, "expected a number");
	if (peek(s) == '0' && (s->i++, digit(peek(s))))
		return fail(s, "leading zero");
	while (digit(peek(s))) {
		unsigned d = (unsigned)(s->in.p[s->i++] - '0');
		if (x > (UINT64_MAX - d) / 10)
			ok = false;
		x = x * 10 + d;
	}
	if (peek(s) == '.') {
		s->i++;
		ok = false;
		if (!digit(peek(s)))
			return fail(s, "bad fraction");
		while (digit(peek(s)))
			s->i++;
	}
	if (peek(s) == 'e' || peek(s) == 'E') {
		s->i++;
		ok = false;
		if (peek(s) == '+' || peek(s) == '-')
			s->i++;
		if (!digit(peek(s)))
			return fail(s, "bad exponent");
		while (digit(peek(s)))
			s->i++;
	}
	*v = x;
	*plain = ok;
	return 0;
}

static int literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if (s->in.len - s->i < n || memcmp(s->in.p + s->i, word, n) != 0)
		return fail(s, "bad literal");
	s->i += n;
	return 0;
}

static int skip_value(struct scan *s, int depth);

/* The members (or elements) of a nested value under an unknown key. */
static int skip_members(struct scan *s, int depth, char close, bool object)
{
	ws(s);
	if (peek(s) == (unsigned char)close) {
		s->i++;
		return 0;
	}
	for (;;) {
		struct span k;
		if (object && (get_string(s, &k) < 0 || expect(s, ':', "expected ':'") < 0))
			return -EINVAL;
		if (skip_value(s, depth + 1) < 0)
			return -EINVAL;
		ws(s);
		int c = peek(s);
		s->i++;
		if (c == (unsigned char)close)
			return 0;
		if (c != ',')
			return fail(s, "expected ',' or a close");
	}
}

static int skip_value(struct scan *s, int depth)
{
	struct span str;
	uint64_t v;
	bool plain;

	if (depth > SKIP_DEPTH)
		return fail(s, "nested too deep");
	ws(s);
	switch (peek(s)) {
	case '"': return get_string(s, &str);
	case '{': s->i++; return skip_members(s, depth, '}', true);
	case '[': s->i++; return skip_members(s, depth, ']', false);
	case 't': return literal(s, "true");
	case 'f': return literal(s, "false");
	case 'n': return literal(s, "null");
	default: return get_number(s, &v, &plain);
	}
}

static int get_addrs(struct scan *s, struct alog_rec *r)
{
	if (expect(s, '[', "addrs: expected an array") < 0)
		return -EINVAL;
	ws(s);
	if (peek(s) == ']') {
		s->i++;
		return 0;
	}
	for (;;) {
		struct span a;
		if (get_string(s, &a) < 0)
			return -EINVAL;
		if (r->naddrs < ALOG_ADDRS_MAX)
			r->addrs[r->naddrs] = a;
		r->naddrs++;
		ws(s);
		int c = peek(s);
		s->i++;
		if (c == ']')
			return 0;
		if (c != ',')
			return fail(s, "addrs: expected ',' or ']'");
	}
}

static inline int index_of(struct span v, const struct lit *names, size_t n)
{
	for (size_t k = 1; k < n; k++)
		if (v.len && names[k].len == v.len && alog_eq_bytes(names[k].s, v.p, v.len))
			return (int)k;
	return 0;
}

static int get_enum(struct scan *s, void *field, const struct lit *names, size_t n)
{
	struct span v;

	if (get_string(s, &v) < 0)
		return -EINVAL;
	*(int *)field = index_of(v, names, n);
	return 0;
}

static int get_value(struct scan *s, const struct key *k, struct alog_rec *r)
{
	char *f = (char *)r + k->off;
	uint64_t v;
	bool plain;
	struct span t;

	switch (k->type) {
	case K_STR: return get_string(s, (struct span *)f);
	case K_EVENT: return get_enum(s, f, event_keys, 6);
	case K_PHASE: return get_enum(s, f, phase_keys, 3);
	case K_DECISION:
		if (get_enum(s, f, decision_keys, 4) < 0)
			return -EINVAL;
		if (r->decision == ALOG_DEC_NONE)
			r->decision = ALOG_DEC_OTHER;
		return 0;
	case K_ADDRS: return get_addrs(s, r);
	case K_TS:
		if (get_string(s, &t) < 0)
			return -EINVAL;
		return alog_parse_time(t, &r->ts_ms) < 0 ? fail(s, "ts: not an RFC 3339 time") : 0;
	case K_BOOL:
		ws(s);
		*(bool *)f = peek(s) == 't';
		return literal(s, peek(s) == 't' ? "true" : "false");
	default:
		break;
	}
	if (get_number(s, &v, &plain) < 0)
		return -EINVAL;
	if (!plain || (k->type == K_PORT && (v == 0 || v > 65535)) || (k->type == K_MS && v > INT64_MAX))
		return fail(s, "number out of range");
	if (k->type == K_PORT)
		r->port = (uint16_t)v;
	else if (k->type == K_MS)
		*(int64_t *)f = (int64_t)v;
	else
		*(uint64_t *)f = v, r->has_bytes = true;
	return 0;
}

static inline unsigned key_slot(const char *p, size_t len)
{
	/* no two of the keys share a slot (checked when the key list changes) */
	return (unsigned)(len + (unsigned char)p[0] * 5 + (unsigned char)p[len - 1] * 16) & 63;
}

/* Key number + 1 by key_slot (-1: shared), built on first use. */
static const signed char *key_slots(void)
{
	static signed char slot[64];
	static bool built;

	if (!built) {
		for (size_t k = NKEYS; k > 0; k--) {
			unsigned h = key_slot(keys[k - 1].name, keys[k - 1].len);
			slot[h] = slot[h] ? -1 : (signed char)k;
		}
		built = true;
	}
	return slot;
}

/* The key of a name; collisions go to the scan. */
static inline const struct key *key_in(const signed char *slot, struct span name)
{
	if (name.len == 0 || name.len > 16)
		return NULL;
	int k = slot[key_slot(name.p, name.len)];
	if (k > 0)
		return keys[k - 1].len == name.len && alog_eq_bytes(keys[k - 1].name, name.p, name.len) ? &keys[k - 1] : NULL;
	for (size_t i = 0; k < 0 && i < NKEYS; i++)
		if (keys[i].len == name.len && memcmp(keys[i].name, name.p, name.len) == 0)
			return &keys[i];
	return NULL;
}

static const struct key *find_key(struct span name)
{
	return key_in(key_slots(), name);
}

/* The writer's shape: keys in keys[]' order, compact. The member at s->i is
 * tried as "KEY": for the keys after the one read last, before the general
 * path reads and looks up its name; NULL when it is not one of them. */
static const struct key *writer_key(struct scan *s, size_t *next)
{
	const char *p = s->in.p + s->i;
	size_t left = s->in.len - s->i;

	if (left < 4 || p[0] != '"')
		return NULL;
	for (size_t k = *next; k < NKEYS; k++) {
		size_t n = keys[k].len;
		if (p[1] != keys[k].name[0] || left < n + 3 || p[n + 1] != '"' || p[n + 2] != ':' ||
		    !alog_eq_bytes(keys[k].name, p + 1, n))
			continue;
		s->i += n + 3;
		*next = k + 1;
		return &keys[k];
	}
	return NULL;
}

static int member(struct scan *s, struct alog_rec *r, uint32_t *seen, size_t *next)
{
	struct span name;
	const struct key *k = writer_key(s, next);

	if (!k) {
		if (get_string(s, &name) < 0 || expect(s, ':', "expected ':'") < 0)
			return -EINVAL;
		k = find_key(name);
	}
	if (!k)
		return skip_value(s, 1);
	uint32_t bit = 1u << (k - keys);
	if (*seen & bit)
		return fail(s, "a key given twice");
	*seen |= bit;
	return get_value(s, k, r);
}

static int members(struct scan *s, struct alog_rec *r)
{
	uint32_t seen = 0;
	size_t next = 0;

	if (expect(s, '{', "not a JSON object") < 0)
		return -EINVAL;
	ws(s);
	if (peek(s) != '}')
		for (;;) {
			if (member(s, r, &seen, &next) < 0)
				return -EINVAL;
			ws(s);
			int c = peek(s);
			s->i++;
			if (c == '}')
				break;
			if (c != ',')
				return fail(s, c < 0 ? "truncated record" : "expected ',' or '}'");
		}
	else
		s->i++;
	ws(s);
	if (s->i < s->in.len)
		return fail(s, "bytes after the record");
	if (!(seen & 1) || !(seen & 2))
		return fail(s, "no ts or no event");
	return 0;
}


/*
 * The fast path, for a line with no backslash and no control byte, which is
 * every line the writer emits: one pass over the line, sixteen bytes at a
 * time, finds neither; then a string ends at its next quote, found sixteen
 * bytes at a time, and every member is read in place. Anything else
 * (whitespace, nesting, unknown keys, a value not in the writer's form, any
 * error) gives up, and the general path above reads the line from its start,
 * so the two accept the same lines with the same fields. The checking builds
 * (SLUICE_AUDIT_CHECK) read every accepted line both ways and compare.
 */
struct fast {
	const char *p;
	size_t n;
};

#ifdef __SSE2__
static inline __m128i fast_load(const char *p)
{
	return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* The bytes of w that are a backslash or a control byte (unsigned: bytes
 * >= 0x80 are plain, so compare after flipping the sign). */
static inline __m128i fast_odd(__m128i w)
{
	const __m128i bslash = _mm_set1_epi8('\\'), flip = _mm_set1_epi8((char)0x80);
	const __m128i limit = _mm_set1_epi8((char)(0x20 ^ 0x80));

	return _mm_or_si128(_mm_cmpeq_epi8(w, bslash), _mm_cmplt_epi8(_mm_xor_si128(w, flip), limit));
}
#endif

/* Whether the line has no backslash and no control byte: 64 bytes a step,
 * the last sixteen read again overlapping. */
static bool fast_plain(const struct fast *f)
{
	size_t i = 0;

#ifdef __SSE2__
	if (f->n >= 16) {
		__m128i odd = _mm_setzero_si128();
		for (; f->n - i >= 64; i += 64)
			odd = _mm_or_si128(odd, _mm_or_si128(_mm_or_si128(fast_odd(fast_load(f->p + i)),
									  fast_odd(fast_load(f->p + i + 16))),
							     _mm_or_si128(fast_odd(fast_load(f->p + i + 32)),
									  fast_odd(fast_load(f->p + i + 48)))));
		for (; f->n - i >= 16; i += 16)
			odd = _mm_or_si128(odd, fast_odd(fast_load(f->p + i)));
		odd = _mm_or_si128(odd, fast_odd(fast_load(f->p + f->n - 16)));
		return _mm_movemask_epi8(odd) == 0;
	}
#endif
	for (; i < f->n; i++)
		if (f->p[i] == '\\' || (unsigned char)f->p[i] < 0x20)
			return false;
	return true;
}

/* The first quote at or after i, or f->n when none: sixteen bytes a step,
 * the last ones read overlapping with the bytes before i shifted out. */
static inline size_t fast_quote(const struct fast *f, size_t i)
{
	if (i >= f->n)
		return f->n;
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"');
	for (; f->n - i >= 16; i += 16) {
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(fast_load(f->p + i), quote));
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
	if (i < f->n && f->n >= 16) {
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(fast_load(f->p + f->n - 16), quote));
		m >>= 16 - (f->n - i);
		return m ? i + (size_t)__builtin_ctz(m) : f->n;
	}
#endif
	const char *q = i < f->n ? memchr(f->p + i, '"', f->n - i) : NULL;
	return q ? (size_t)(q - f->p) : f->n;
}

/* The string whose opening quote is at *i, in place; *i past its close. */
static inline bool fast_string(const struct fast *f, size_t *i, struct span *out)
{
	if (*i >= f->n || f->p[*i] != '"')
		return false;
	size_t end = fast_quote(f, *i + 1);
	if (end >= f->n)
		return false;
	*out = span_of(f->p + *i + 1, end - *i - 1);
	*i = end + 1;
	return true;
}

/* A plain integer of at most 19 digits (so it cannot overflow), no leading zero. */
static inline bool fast_uint(const struct fast *f, size_t *i, uint64_t *v)
{
	size_t k = *i;
	uint64_t x = 0;

	while (k < f->n && k - *i < 20 && digit((unsigned char)f->p[k]))
		x = x * 10 + (unsigned)(f->p[k++] - '0');
	if (k == *i || k - *i > 19 || (f->p[*i] == '0' && k - *i > 1))
		return false;
	*v = x;
	*i = k;
	return true;
}

static bool fast_addrs(const struct fast *f, size_t *i, struct alog_rec *r)
{
	if (*i + 1 >= f->n || f->p[(*i)++] != '[')
		return false;
	if (f->p[*i] == ']') {
		++*i;
		return true;
	}
	for (;;) {
		struct span a;
		if (!fast_string(f, i, &a) || *i >= f->n)
			return false;
		if (r->naddrs < ALOG_ADDRS_MAX)
			r->addrs[r->naddrs] = a;
		r->naddrs++;
		char c = f->p[(*i)++];
		if (c == ']')
			return true;
		if (c != ',')
			return false;
	}
}

static bool fast_literal(const struct fast *f, size_t *i, bool *v)
{
	bool t = *i < f->n && f->p[*i] == 't';
	size_t n = t ? 4 : 5;

	if (f->n - *i < n || !alog_eq_bytes(f->p + *i, t ? "true" : "false", n))
		return false;
	*v = t;
	*i += n;
	return true;
}

/* The value of a known key at *i, as get_value reads it. */
static bool fast_value(const struct fast *f, size_t *i, const struct key *k, struct alog_rec *r)
{
	char *fld = (char *)r + k->off;
	struct span t;
	uint64_t v;

	switch (k->type) {
	case K_STR: return fast_string(f, i, (struct span *)fld);
	case K_EVENT:
	case K_PHASE:
	case K_DECISION:
		if (!fast_string(f, i, &t))
			return false;
		if (k->type == K_EVENT)
			r->event = index_of(t, event_keys, 6);
		else if (k->type == K_PHASE)
			r->phase = index_of(t, phase_keys, 3);
		else if (!(r->decision = index_of(t, decision_keys, 4)))
			r->decision = ALOG_DEC_OTHER;
		return true;
	case K_TS: return fast_string(f, i, &t) && alog_parse_time(t, &r->ts_ms) == 0;
	case K_ADDRS: return fast_addrs(f, i, r);
	case K_BOOL: return fast_literal(f, i, &r->ech);
	case K_PORT:
		if (!fast_uint(f, i, &v) || v == 0 || v > 65535)
			return false;
		r->port = (uint16_t)v;
		return true;
	case K_MS:
		if (!fast_uint(f, i, &v) || v > INT64_MAX)
			return false;
		*(int64_t *)fld = (int64_t)v;
		return true;
	case K_UINT:
		r->has_bytes = true;
		return fast_uint(f, i, (uint64_t *)fld);
	}
	return false;
}

/* Each key as the bytes "KEY": in one or two words (the first eight and the
 * last eight, overlapping), so that the writer's member starts are matched
 * without finding the key's closing quote. */
struct kpat {
	uint64_t w0, w1, mask; /* mask: the pattern's bytes of w0 */
	size_t len;            /* of "KEY": */
};

static const struct kpat *key_pats(void)
{
	static struct kpat pats[NKEYS];
	static bool built;

	for (size_t k = 0; !built && k < NKEYS; k++) {
		unsigned char b[16] = { 0 }, ff[8] = { 0 };
		size_t n = keys[k].len + 3;
		if (n > sizeof(b)) { /* two words would not cover it: never matched, looked up instead */
			pats[k] = (struct kpat){ .w0 = 1, .len = n };
			continue;
		}
		b[0] = '"', memcpy(b + 1, keys[k].name, keys[k].len), b[n - 2] = '"', b[n - 1] = ':';
		memset(ff, 0xff, n < 8 ? n : 8);
		memcpy(&pats[k].w0, b, 8);
		memcpy(&pats[k].w1, b + (n < 8 ? 0 : n - 8), 8);
		memcpy(&pats[k].mask, ff, 8);
		pats[k].w0 &= pats[k].mask;
		pats[k].len = n;
	}
	built = true;
	return pats;
}

/* Whether the pattern t is at i (w0: the eight bytes there). */
static inline bool kpat_at(const struct fast *f, size_t i, uint64_t w0, const struct kpat *t)
{
	uint64_t w1;

	if ((w0 & t->mask) != t->w0)
		return false;
	if (t->len <= 8)
		return true;
	if (f->n - i < t->len)
		return false;
	memcpy(&w1, f->p + i + t->len - 8, 8);
	return w1 == t->w1;
}

/* The key whose "KEY": starts at *i, tried in the writer's order from the
 * one after the key read last (*next); *i past the colon. Otherwise the
 * member's name is found by its closing quote and looked up. -1: not a key. */
static inline int fast_key(const struct fast *f, const struct kpat *pats, size_t *i, size_t *next)
{
	if (f->n - *i >= 8) {
		uint64_t w0;
		memcpy(&w0, f->p + *i, 8);
		for (size_t k = *next; k < NKEYS; k++)
			if (kpat_at(f, *i, w0, &pats[k])) {
				*next = k + 1;
				*i += pats[k].len;
				return (int)k;
			}
	}
	size_t end = *i < f->n && f->p[*i] == '"' ? fast_quote(f, *i + 1) : f->n;
	if (end + 1 >= f->n || f->p[end + 1] != ':')
		return -1;
	const struct key *k = key_in(key_slots(), span_of(f->p + *i + 1, end - *i - 1));
	*i = end + 2;
	return k ? (int)(k - keys) : -1;
}

/* 0 when the line was read whole, -1 to leave it to the general path. */
static int fast_parse(struct span line, struct alog_rec *r)
{
	struct fast f;
	uint32_t seen = 0;
	size_t i = 1, next = 0;

	if (line.len < 2 || line.p[0] != '{')
		return -1;
	f.p = line.p;
	f.n = line.len;
	if (!fast_plain(&f))
		return -1;
	const struct kpat *pats = key_pats();
	for (;;) {
		int k = fast_key(&f, pats, &i, &next);
		if (k < 0 || (seen & 1u << k))
			return -1;
		seen |= 1u << k;
		if (!fast_value(&f, &i, &keys[k], r) || i >= f.n)
			return -1;
		char c = f.p[i++];
		if (c == '}')
			break;
		if (c != ',')
			return -1;
	}
	return i == f.n && (seen & 3) == 3 ? 0 : -1;
}

static void rec_reset(struct alog_rec *r)
{
	memset(r, 0, offsetof(struct alog_rec, addrs));
	r->duration_ms = r->dns_ms = r->connect_ms = -1;
}

#ifdef SLUICE_AUDIT_CHECK
/* The general path's record for a line the fast path read: the same, or stop. */
static void check_fast(struct span line, const struct alog_rec *r, char *scratch, size_t scratch_size)
{
	struct scan s = { .in = line, .scr = scratch, .scr_size = scratch_size };
	struct alog_rec g;

	rec_reset(&g);
	bool same = members(&s, &g) == 0 && memcmp(r, &g, offsetof(struct alog_rec, addrs)) == 0;
	for (size_t i = 0; same && i < r->naddrs && i < ALOG_ADDRS_MAX; i++)
		same = r->addrs[i].p == g.addrs[i].p && r->addrs[i].len == g.addrs[i].len;
	if (!same) {
		fprintf(stderr, "record: the fast path read this line otherwise: %.*s\n", (int)line.len, line.p);
		abort();
	}
}
#endif

int alog_parse(struct span line, struct alog_rec *r, char *scratch, size_t scratch_size, size_t *pos,
	       const char **why)
{
	struct scan s = { .in = line, .scr = scratch, .scr_size = scratch_size };

	rec_reset(r);
	if (fast_parse(line, r) == 0) {
#ifdef SLUICE_AUDIT_CHECK
		check_fast(line, r, scratch, scratch_size);
#endif
		return 0;
	}
	rec_reset(r);
	if (members(&s, r) == 0)
		return 0;
	*pos = s.i > line.len ? line.len : s.i;
	*why = s.why ? s.why : "invalid";
	return -EINVAL;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's method). */
static int64_t days_of(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool num(struct span s, size_t at, size_t n, unsigned *v)
{
	*v = 0;
	if (at + n > s.len)
		return false;
	for (size_t k = at; k < at + n; k++) {
		if (!digit((unsigned char)s.p[k]))
			return false;
		*v = *v * 10 + (unsigned)(s.p[k] - '0');
	}
	return true;
}

static bool sep(struct span s, size_t at, const char *any)
{
	if (at >= s.len)
		return false;
	for (; *any; any++)
		if (s.p[at] == *any)
			return true;
	return false;
}

/* The zone after the seconds: Z or ±hh:mm, as seconds east of UTC. */
static int zone(struct span s, size_t i, int64_t *off)
{
	unsigned zh, zm;

	if (i + 1 == s.len && (s.p[i] == 'Z' || s.p[i] == 'z')) {
		*off = 0;
		return 0;
	}
	if (i + 6 != s.len || !sep(s, i, "+-") || !num(s, i + 1, 2, &zh) || !sep(s, i + 3, ":") ||
	    !num(s, i + 4, 2, &zm) || zh > 23 || zm > 59)
		return -EINVAL;
	*off = (s.p[i] == '-' ? -1 : 1) * (int64_t)(zh * 3600 + zm * 60);
	return 0;
}

static int parse_time(struct span s, int64_t *ms);

/* The writer's form, YYYY-MM-DDTHH:MM:SS.mmmZ: a log's records share their
 * second in runs, so the second of the last one read is kept and only the
 * milliseconds are read again (per thread: the reader has one). */
int alog_parse_time(struct span s, int64_t *ms)
{
	static _Thread_local char last[19];
	static _Thread_local int64_t last_ms = INT64_MIN;
	const char *p = s.p;

	if (s.len == 24 && last_ms != INT64_MIN && p[19] == '.' && p[23] == 'Z' && alog_eq_bytes(p, last, 19) &&
	    digit((unsigned char)p[20]) && digit((unsigned char)p[21]) && digit((unsigned char)p[22])) {
		*ms = last_ms + (p[20] - '0') * 100 + (p[21] - '0') * 10 + (p[22] - '0');
		return 0;
	}
	int rc = parse_time(s, ms);
	if (rc == 0 && s.len == 24 && p[19] == '.' && p[23] == 'Z') {
		memcpy(last, p, 19);
		last_ms = *ms - (*ms % 1000 + 1000) % 1000; /* the second's start */
	}
	return rc;
}

static int parse_time(struct span s, int64_t *ms)
{
	static const unsigned char mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, sec, frac = 0, k;
	int64_t off;
	size_t i = 19;

	if (!num(s, 0, 4, &y) || !sep(s, 4, "-") || !num(s, 5, 2, &mo) || !sep(s, 7, "-") || !num(s, 8, 2, &d) ||
	    !sep(s, 10, "Tt ") || !num(s, 11, 2, &h) || !sep(s, 13, ":") || !num(s, 14, 2, &mi) ||
	    !sep(s, 16, ":") || !num(s, 17, 2, &sec))
		return -EINVAL;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 ||
	    mi > 59 || sec > 60)
		return -EINVAL;
	if (sep(s, i, ".")) {
		for (k = 0, i++; i < s.len && digit((unsigned char)s.p[i]); i++, k++)
			if (k < 3)
				frac = frac * 10 + (unsigned)(s.p[i] - '0');
		if (k == 0)
			return -EINVAL;
		for (; k < 3; k++)
			frac *= 10;
	}
	if (zone(s, i, &off) < 0)
		return -EINVAL;
	int64_t t = days_of(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec > 59 ? 59 : sec) - off;
	*ms = t * 1000 + frac;
	return 0;
}

/* Digits of v, n of them, at w. */
static void put_digits(char *w, unsigned v, int n)
{
	while (n-- > 0) {
		w[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Years 1970 to 9999 without gmtime_r and printf: the reviews print two
 * times a row (Hinnant's civil_from_days, the inverse of days_of). */
static bool format_fast(int64_t ms, bool with_ms, char *buf, size_t size)
{
	if (ms < 0 || ms >= 253402300800000LL || size < 25)
		return false;
	int64_t sec = ms / 1000, z = sec / 86400 + 719468;
	unsigned sod = (unsigned)(sec % 86400), doe = (unsigned)(z % 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
	unsigned y = (unsigned)(z / 146097) * 400 + yoe + (m <= 2);

	memcpy(buf, "0000-00-00T00:00:00.000Z", 25);
	put_digits(buf, y, 4), put_digits(buf + 5, m, 2), put_digits(buf + 8, d, 2);
	put_digits(buf + 11, sod / 3600, 2), put_digits(buf + 14, sod / 60 % 60, 2), put_digits(buf + 17, sod % 60, 2);
	if (with_ms)
		put_digits(buf + 20, (unsigned)(ms % 1000), 3);
	else
		memcpy(buf + 19, "Z", 2);
	return true;
}

void alog_format_time(int64_t ms, bool with_ms, char *buf, size_t size)
{
	if (format_fast(ms, with_ms, buf, size))
		return;
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	/* %04d, not strftime's %Y: years before 1000 keep four digits */
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec);
	size_t n = strlen(buf);
	if (with_ms)
		snprintf(buf + n, size - n, ".%03dZ", (int)(ms - (int64_t)t * 1000));
	else
		snprintf(buf + n, size - n, "Z");
}

const char *alog_event_key(enum alog_event e)
{
	return (unsigned)e < 6 ? event_keys[e].s : "";
}

const char *alog_decision_key(enum alog_decision d)
{
	return (unsigned)d < 5 ? decision_keys[d].s : "";
}

int alog_event_of(struct span s)
{
	int k = index_of(s, event_keys, 6);
	return k ? k : -1;
}

int alog_decision_of(struct span s)
{
	int k = index_of(s, decision_keys, 4);
	return k ? k : -1;
}
