/* common.c: helpers shared by the subcommands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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
		char known[256] = "";
		const char *name;
		size_t len = 0;
		for (unsigned i = 0; (name = pol_preset_name(i)) && len < sizeof(known); i++)
			len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "", name);
		log_msg("cannot read policy '%s': %s (give a file path or a preset: %s)", spec, strerror(-rc), known);
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

/* One part of a spec; 0 or 2 after a message. */
static int spec_add(char **spec, const char *kind, const char *opt, const char *value)
{
	int rc = pol_spec_add(spec, kind, value);

	if (rc == 0)
		return 0;
	log_msg("invalid %s '%s': %s", opt, value, rc == -EINVAL ? "a newline in it" : strerror(-rc));
	free(*spec);
	*spec = NULL;
	return 2;
}

int cmd_policy_spec(struct cli_opt *opts, const char *file, char **spec)
{
	static const char *const keys[][2] = { { "--policy", NULL }, { "--allow", "allow" },
					       { "--allow-private", "allow_private" } };

	*spec = NULL;
	if (file && spec_add(spec, NULL, "policy", file))
		return 2;
	for (size_t k = 0; k < 3; k++) {
		struct cli_opt *o = cli_get(opts, keys[k][0]);
		for (size_t i = 0; o && i < o->n; i++)
			if (spec_add(spec, keys[k][1], o->name, o->values[i]))
				return 2;
	}
	return 0;
}

int cmd_policy_opts(struct cli_opt *opts)
{
	static char *spec; /* the process's: --policy points at it from here on */
	struct cli_opt *pol = cli_get(opts, "--policy");
	int rc;

	free(spec);
	if ((rc = cmd_policy_spec(opts, NULL, &spec)) != 0 || !spec)
		return rc;
	pol->values[0] = spec;
	pol->n = 1;
	return 0;
}
