/* main.c: the sluice command line, dispatching to the commands of the
 * registry (commands.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#include "log.h"

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static void top_help(FILE *f)
{
	fputs("usage:\n", f);
	cli_synopsis(f, NULL, "");
	fputs("Wherever --policy is taken: --allow ENTRY... and --allow-private ENTRY... add entries to it.\n"
	      "SIGHUP to proxy, dns, serve and a foreground attach: re-read the policy, reopen the log.\n"
	      "sluice --version | --help | help CMD | CMD --help\n",
	      f);
}

int main(int argc, char **argv)
{
	size_t n;
	const struct cli_cmd *cmds = cli_cmds(&n);

	if (argc < 2 || is_help(argv[1])) {
		top_help(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("sluice %s\n", SLUICE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc == 2) {
			top_help(stdout);
			return 0;
		}
		return argc == 3 ? cli_help(argv[2]) : cli_usage(NULL);
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		/* CMD --help, and VERB --help for a command with verbs (never
		 * what follows run's CMD: that is the command's own) */
		if (argc >= 3 && (is_help(argv[2]) || (cmds[i].verbs && argc >= 4 && is_help(argv[3]))))
			return cli_help(argv[1]);
		return cmds[i].run(argc, argv);
	}
	log_msg("unknown command '%s' (see 'sluice --help')", argv[1]);
	return 2;
}
