/* cli.h: table-driven option parsing shared by the subcommands. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_MAX_REPEAT 16

struct cli_opt {
	const char *name;   /* "--listen" */
	bool has_arg;
	bool repeat;        /* may be given more than once */
	const char *values[CLI_MAX_REPEAT];
	size_t n;           /* times given */
};

/*
 * Parse argv[from..] against opts (terminated by a NULL name), stopping at
 * "--" or the first non-option. Returns the index of the first operand, or -1
 * after printing a one-line error.
 */
int cli_parse(int argc, char **argv, int from, struct cli_opt *opts);

/* The option named name (which must exist in opts). */
struct cli_opt *cli_get(struct cli_opt *opts, const char *name);

#endif
