/* cli.c: option parsing for the sluice subcommands. */
#include "cli.h"

#include <string.h>

#include "log.h"

struct cli_opt *cli_get(struct cli_opt *opts, const char *name)
{
	for (; opts->name; opts++)
		if (strcmp(opts->name, name) == 0)
			return opts;
	return NULL;
}

static int add_value(struct cli_opt *o, const char *v)
{
	if (o->n > 0 && !o->repeat) {
		log_msg("%s given twice", o->name);
		return -1;
	}
	if (o->n >= CLI_MAX_REPEAT) {
		log_msg("%s given more than %d times", o->name, CLI_MAX_REPEAT);
		return -1;
	}
	o->values[o->n++] = v;
	return 0;
}

int cli_parse(int argc, char **argv, int from, struct cli_opt *opts)
{
	int i = from;

	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			return i + 1;
		if (strncmp(a, "--", 2) != 0)
			return i;
		const char *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		struct cli_opt *o = opts;
		for (; o->name; o++)
			if (strlen(o->name) == nlen && strncmp(o->name, a, nlen) == 0)
				break;
		if (!o->name) {
			log_msg("unknown option '%s' (see 'sluice --help')", a);
			return -1;
		}
		const char *v = "";
		if (o->has_arg) {
			if (eq) {
				v = eq + 1;
			} else if (i + 1 < argc) {
				v = argv[++i];
			} else {
				log_msg("%s needs a value", o->name);
				return -1;
			}
		} else if (eq) {
			log_msg("%s takes no value", o->name);
			return -1;
		}
		if (add_value(o, v) < 0)
			return -1;
	}
	return i;
}
