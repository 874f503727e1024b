/* jsonc.c: libFuzzer harness for the positional JSONC scanner and the
 * config reader over it: node spans stay inside the input and inside their
 * parents, and the wrap/unwrap round trip gives the input back. */
#include <stdint.h>
#include <stdlib.h>

#include "jsonc.h"
#include "mcp_roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcp_json j;
	struct mcp_perr err;
	/* an exact-size copy, so ASan sees any read past the end */
	char *in = malloc(size ? size : 1);

	if (!in)
		return 0;
	memcpy(in, data, size);
	if (mcp_json_parse(in, size, &j, &err) == 0) {
		for (int i = 0; i < j.n; i++) {
			const struct mcp_json_node *nd = &j.v[i], *p = nd->parent >= 0 ? &j.v[nd->parent] : NULL;
			rt_check(nd->start < nd->end && nd->end <= size);
			rt_check(!p || (nd->start > p->start && nd->end < p->end));
			char *s = NULL;
			if (nd->type == MCP_J_STRING && mcp_json_str(&j, i, false, &s) == 0)
				free(s);
		}
	}
	mcp_json_free(&j);
	rt_roundtrip(in, size, MCP_JSON);
	free(in);
	return 0;
}
