/* span.h: pointer+length views of untrusted bytes, read with bounds checks. */
#ifndef SLUICE_SPAN_H
#define SLUICE_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct span {
	const char *p;
	size_t len;
};

static inline struct span span_of(const char *p, size_t len)
{
	struct span s = { p, len };
	return s;
}

static inline struct span span_str(const char *s)
{
	return span_of(s, strlen(s));
}

/* Bytes [from, from+n) of s, clamped to s. */
static inline struct span span_sub(struct span s, size_t from, size_t n)
{
	if (from > s.len)
		from = s.len;
	if (n > s.len - from)
		n = s.len - from;
	return span_of(s.p + from, n);
}

/* Index of the first c in s, or -1. */
static inline long span_find(struct span s, char c)
{
	const char *hit = s.len ? memchr(s.p, c, s.len) : NULL;
	return hit ? (long)(hit - s.p) : -1;
}

/* Index of the last c in s, or -1. */
static inline long span_rfind(struct span s, char c)
{
	for (size_t i = s.len; i > 0; i--)
		if (s.p[i - 1] == c)
			return (long)(i - 1);
	return -1;
}

/* Case-insensitive ASCII comparison with a literal. */
static inline bool span_ieq(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	if (n != s.len)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = s.p[i], b = lit[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (char)(b + 32);
		if (a != b)
			return false;
	}
	return true;
}

/* Copy s into buf as a NUL-terminated string; truncates to fit. */
static inline void span_copy(struct span s, char *buf, size_t size)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;
	memcpy(buf, s.p, n);
	buf[n] = '\0';
}

/* Parse a decimal integer in [lo, hi] with no sign, spaces or leading zeros
 * beyond a lone "0". Returns 0 or -EINVAL. */
int span_to_uint(struct span s, unsigned long lo, unsigned long hi, unsigned long *out);

#endif
