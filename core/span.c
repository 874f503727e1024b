/* span.c: strict number parsing on spans. */
#include "span.h"

#include <errno.h>

int span_to_uint(struct span s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	unsigned long v = 0;

	if (s.len == 0 || s.len > 19 || (s.len > 1 && s.p[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s.p[i] - '0');
	}
	if (v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}
