/* cli.h: table-driven option parsing shared by the subcommands, and the
 * one registry of commands and their option tables (commands.c) that the
 * dispatcher, `--help`, `help CMD` and every usage line come from. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CLI_MAX_REPEAT 16
#define CLI_MAX_OPTS 32 /* options in one command's table, the NULL end included */

struct cli_opt {
	const char *name;   /* "--listen" */
	bool has_arg;
	bool repeat;        /* may be given more than once */
	bool required;      /* the usage line shows it without brackets */
	char group;         /* options of one nonzero group: exactly one of them, "(a | b)" */
	const char *arg;    /* the value's name in help: "ADDR:PORT" */
	const char *help;   /* one line for `sluice help CMD` */
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

/* One command (or one verb of it) in the registry. */
struct cli_cmd {
	const char *name;           /* "policy" */
	const char *verbs;          /* before the options: "explain", "list | wrap | unwrap", or NULL */
	const struct cli_opt *opts; /* its option table (NULL name at the end), or NULL */
	const char *operands;       /* after the options: "-- CMD [ARG]...", or NULL */
	const char *summary;        /* one line */
	int (*run)(int argc, char **argv);
};

/* The registry, in the order `sluice --help` lists it; *n gets its length. */
const struct cli_cmd *cli_cmds(size_t *n);

/*
 * Fill opts (CLI_MAX_OPTS slots) with a fresh copy of the table that the
 * registry holds for command name (and verb, the first word of an entry's
 * verbs; NULL: the command's first entry). Aborts on a name the registry
 * lacks: that is a bug, not a user error.
 */
void cli_table(struct cli_opt *opts, const char *name, const char *verb);

/* Write the synopsis of every registry entry of command name (NULL: all),
 * wrapped at 100 columns, each line after prefix. */
void cli_synopsis(FILE *f, const char *name, const char *prefix);

/* `sluice help CMD`: the synopsis, the summary and one line per option, on
 * stdout. 0, or 2 after a message when there is no such command. */
int cli_help(const char *name);

/* The usage line(s) of command name on stderr; returns 2 (the exit status
 * of a usage error). */
int cli_usage(const char *name);

#endif
