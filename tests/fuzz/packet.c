/* packet.c: libFuzzer harness for the reader of packets the sandbox's
 * reject rules log (bytes the sandboxed command chose). */
#include <stddef.h>
#include <stdint.h>

#include "nft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nft_pkt p;

	if (nft_pkt_parse(span_of((const char *)data, size), &p) == 0) {
		if (p.dst.family != AF_INET && p.dst.family != AF_INET6)
			__builtin_trap();
		if (p.port && size < 24)
			__builtin_trap(); /* a port needs an IP header and four bytes after it */
	}
	return 0;
}
