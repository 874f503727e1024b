/* tlswire.c: TLS wire formats shared by the proxy's ClientHello reader and
 * the package cache's TLS server. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tlswire.h"

#define NAME_HOST 0

static unsigned be16(struct span s, size_t at)
{
	return (unsigned)(unsigned char)s.p[at] << 8 | (unsigned char)s.p[at + 1];
}

int tls_server_name(struct span ext, char name[TLS_NAME_MAX + 1])
{
	bool seen[256] = { false };
	int rc = -ENOENT;

	if (ext.len < 2 || be16(ext, 0) != ext.len - 2)
		return -EINVAL;
	struct span list = span_sub(ext, 2, ext.len - 2);
	for (size_t off = 0; off < list.len;) {
		if (list.len - off < 3)
			return -EINVAL;
		unsigned type = (unsigned char)list.p[off];
		size_t n = be16(list, off + 1);
		if (n > list.len - off - 3)
			return -EINVAL;
		if (seen[type])
			return -ENOTUNIQ;
		seen[type] = true;
		struct span v = span_sub(list, off + 3, n);
		off += 3 + n;
		if (type != NAME_HOST)
			continue;
		if (v.len == 0 || v.len > TLS_NAME_MAX || memchr(v.p, 0, v.len))
			return -EINVAL;
		memcpy(name, v.p, v.len);
		name[v.len] = '\0';
		rc = 0;
	}
	return rc;
}
