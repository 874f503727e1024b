/* control.c: libFuzzer harness for `sluice serve`'s control requests
 * (ctl_parse): any bytes give a request or one error line, never a crash;
 * a parsed request's strings are non-empty and NUL-free. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_req r;
	char err[256];

	if (ctl_parse((const char *)data, size, &r, err, sizeof(err)) < 0) {
		if (!err[0] || strchr(err, '\n'))
			__builtin_trap(); /* the error is one line, and says something */
		return 0;
	}
	if (r.op != CTL_LS && (!r.target.value || !r.target.value[0]))
		__builtin_trap();
	if (r.op == CTL_ATTACH && (!r.policy || !r.policy[0] || (r.name && !r.name[0])))
		__builtin_trap();
	ctl_req_free(&r);
	return 0;
}
