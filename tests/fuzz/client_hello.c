/* client_hello.c: libFuzzer harness for the ClientHello server_name reader.
 * When an input parses, its prefixes must ask for more bytes, never give
 * another answer: the transparent path decides on the first success. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[PX_SNI_NAME_MAX + 1], again[PX_SNI_NAME_MAX + 1];
	struct span s = span_of((const char *)data, size);

	if (px_sni_parse(s, name) != 0)
		return 0;
	if (strlen(name) == 0 || strlen(name) > PX_SNI_NAME_MAX)
		__builtin_trap();
	size_t cuts[] = { size - 1, size / 2, 5 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		int rc = px_sni_parse(span_sub(s, 0, cuts[i]), again);
		if (rc != -EAGAIN && !(rc == 0 && strcmp(again, name) == 0))
			__builtin_trap();
	}
	return 0;
}
