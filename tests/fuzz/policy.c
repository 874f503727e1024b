/* policy.c: libFuzzer harness for the YAML policy loader. */
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = NULL;
	struct pol_errors e = { 0 };

	if (pol_load_buffer((const char *)data, size, "fuzz.yaml", &p, &e) == 0) {
		struct host h;
		const char *why;
		struct pol_verdict v;
		if (host_canonicalize(span_str("a.example.com"), &h, &why) == 0)
			pol_decide(p, &h, 443, &v);
		pol_free(p);
	}
	pol_errors_free(&e);
	return 0;
}
