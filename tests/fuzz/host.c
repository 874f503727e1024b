/* host.c: libFuzzer harness for the host canonicalizer and address parsing. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct host h, again;
	uint16_t port;
	const char *why;
	struct span s = span_of((const char *)data, size);

	if (host_canonicalize(s, &h, &why) == 0) {
		/* canonical text is a fixed point */
		if (h.kind == HOST_IP && h.ip.family == AF_INET6) {
			char b[HOST_NAME_LEN + 3];
			snprintf(b, sizeof(b), "[%s]", h.text);
			if (host_canonicalize(span_str(b), &again, &why) != 0 || strcmp(again.text, h.text))
				__builtin_trap();
		} else if (host_canonicalize(span_str(h.text), &again, &why) != 0 ||
			   strcmp(again.text, h.text) != 0) {
			__builtin_trap();
		}
		if (h.kind == HOST_IP)
			(void)addr_blocked_range(&h.ip);
	}
	(void)host_parse_authority(s, 0, &h, &port, &why);
	struct addr_cidr c;
	(void)addr_parse_cidr(s, &c);
	return 0;
}
