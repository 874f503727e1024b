/* size.c: sizes as the command line writes them ("10G"). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "store.h"

int cache_parse_size(const char *text, uint64_t *out)
{
	static const char units[] = "KMGT";
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!text || *text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		for (unsigned i = 0; units[i]; i++)
			if (*end == units[i] || *end == units[i] + 32)
				shift = 10 * (i + 1);
		if (!shift || (end[1] && !((end[1] == 'i' || end[1] == 'B') && !end[2]) &&
			       !(end[1] == 'i' && end[2] == 'B' && !end[3])))
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}
