/* toml.c: libFuzzer harness for the Codex TOML reader: errors carry a
 * position, and the wrap/unwrap round trip gives the input back. */
#include <stdint.h>
#include <stdlib.h>

#include "mcp_roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1); /* exact size, for ASan */

	if (!in)
		return 0;
	memcpy(in, data, size);
	rt_roundtrip(in, size, MCP_TOML);
	free(in);
	return 0;
}
