/* common.c: helpers shared by the subcommands. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "host.h"
#include "log.h"
#include "policy.h"

struct policy *cmd_load_policy(const char *spec)
{
	struct policy *pol = NULL;
	struct pol_errors errs = { 0 };
	int rc = pol_load(spec, &pol, &errs);

	if (rc == -EINVAL) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i]);
	} else if (rc < 0) {
		log_msg("cannot read policy '%s': %s (give a file path or a preset name)", spec, strerror(-rc));
	}
	pol_errors_free(&errs);
	return rc < 0 ? NULL : pol;
}

int cmd_resolver(const char *text, char *buf, size_t size)
{
	struct host h;
	uint16_t port;
	const char *why = "not an address";

	if (host_parse_authority(span_str(text), 53, &h, &port, &why) < 0 || h.kind != HOST_IP) {
		log_msg("invalid --resolver '%s': %s (want IP[:PORT] or [IPv6]:PORT)", text, why);
		return -1;
	}
	if (h.ip.family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", h.text, port);
	else
		snprintf(buf, size, "%s:%u", h.text, port);
	return 0;
}
