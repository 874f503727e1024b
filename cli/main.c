/* main.c: the sluice command line, dispatching to subcommands. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"

static const char usage[] =
	"usage:\n"
	"  sluice run    [--policy FILE|PRESET] [--name NAME] [--log PATH] [--env NAME]...\n"
	"                [--resolver IP[:PORT]] [--learn] -- CMD [ARG]...\n"
	"  sluice proxy  --listen ADDR:PORT... --policy FILE [--log PATH] [--resolver IP[:PORT]]\n"
	"                [--workers N] [--metrics [ADDR:]PORT]\n"
	"  sluice dns    --listen ADDR:PORT... --policy FILE [--upstream IP[:PORT]]... [--log PATH]\n"
	"                [--ttl-floor SECONDS] [--ttl-ceiling SECONDS] [--metrics [ADDR:]PORT]\n"
	"  (SIGHUP to proxy and dns: re-read the policy, reopen the log)\n"
	"  sluice policy check FILE\n"
	"  sluice policy explain [--resolve] [--resolver IP[:PORT]] FILE HOST[:PORT]\n"
	"  sluice attach (--pid PID | --netns PATH | --docker NAME | --podman NAME) --policy FILE|PRESET\n"
	"                [--name NAME] [--log PATH] [--resolver IP[:PORT]] [--follow] [--control PATH]\n"
	"                [CACHE OPTIONS]\n"
	"  sluice detach (--pid PID | --netns PATH | --docker NAME | --podman NAME) [--control PATH]\n"
	"  sluice serve  [--control PATH] [--log PATH] [--resolver IP[:PORT]] [CACHE OPTIONS]\n"
	"  sluice ls     [--control PATH]\n"
	"  sluice ca     init | show   [--ca DIR]\n"
	"  sluice cache  stats | verify | gc [--cache-max SIZE] | purge   [--cache DIR]\n"
	"  sluice mcp    list | wrap | unwrap   [--client NAME] [--config FILE] [--server KEY]...\n"
	"                [--policy-dir DIR] [--dry-run]\n"
	"  sluice policy export --format cilium FILE\n"
	"  sluice log    summary | hosts | policy | diff POLICY | report --html OUT   [FILTERS] [FILE...]\n";

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} cmds[] = {
	{ "proxy", cmd_proxy },
	{ "dns", cmd_dns },
	{ "run", cmd_run },
	{ "policy", cmd_policy },
	{ "ca", cmd_ca },
	{ "cache", cmd_cache },
	{ "attach", cmd_attach },
	{ "detach", cmd_detach },
	{ "serve", cmd_serve },
	{ "ls", cmd_ls },
	{ "mcp", cmd_mcp },
	{ "log", cmd_log },
};

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(argc, argv);
	fprintf(stderr, "sluice: unknown command '%s'\n%s", argv[1], usage);
	return 2;
}
