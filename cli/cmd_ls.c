/* cmd_ls.c: `sluice ls`, the attachments of a `sluice serve`, one row each:
 * server name, target, policy, state, times attached, connections open
 * now, packets rejected. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#include "control.h"
#include "log.h"

#define COLS 7

static const char *const heads[COLS] = { "SERVER", "TARGET", "POLICY", "STATE", "ATTACHES", "CONNECTIONS",
					 "REJECTED" };
static const char *const keys[COLS] = { "server", "target", "policy", "state", "attaches", "connections",
					"packets_rejected" };

/* One cell's text (numbers as decimal). */
static const char *cell(json_t *row, size_t k, char *buf, size_t size)
{
	json_t *v = json_object_get(row, keys[k]);

	if (json_is_string(v))
		return json_string_value(v);
	snprintf(buf, size, "%lld", json_is_integer(v) ? (long long)json_integer_value(v) : 0LL);
	return buf;
}

static void print_table(json_t *list)
{
	size_t width[COLS], i;
	json_t *row;
	char buf[32];

	for (size_t k = 0; k < COLS; k++)
		width[k] = strlen(heads[k]);
	json_array_foreach(list, i, row)
		for (size_t k = 0; k < COLS; k++) {
			size_t w = strlen(cell(row, k, buf, sizeof(buf)));
			width[k] = w > width[k] ? w : width[k];
		}
	for (size_t k = 0; k < COLS; k++)
		printf("%-*s%s", (int)width[k], heads[k], k + 1 < COLS ? "  " : "\n");
	json_array_foreach(list, i, row)
		for (size_t k = 0; k < COLS; k++)
			printf(k >= 4 ? "%*s%s" : "%-*s%s", (int)width[k], cell(row, k, buf, sizeof(buf)),
			       k + 1 < COLS ? "  " : "\n");
}

int cmd_ls(int argc, char **argv)
{
	struct cli_opt opts[CLI_MAX_OPTS];
	char err[512], *ans = NULL;

	cli_table(opts, "ls", NULL);
	int first = cli_parse(argc, argv, 2, opts);
	const char *fmt = cli_get(opts, "--format")->n ? cli_get(opts, "--format")->values[0] : "text";
	if (first < 0 || first != argc || (strcmp(fmt, "text") && strcmp(fmt, "json"))) {
		return cli_usage("ls");
	}
	struct cli_opt *ctl = cli_get(opts, "--control");
	if (ctl_call(ctl->n ? ctl->values[0] : CTL_DEFAULT_PATH, "{\"op\":\"ls\"}", &ans, err, sizeof(err)) < 0) {
		log_msg("ls: %s", err);
		return 1;
	}
	json_t *o = json_loads(ans, 0, NULL), *list = json_object_get(o, "attachments");
	int rc = json_is_array(list) ? 0 : 1;
	if (rc)
		log_msg("ls: sluice serve answered: %s", ans);
	else if (strcmp(fmt, "json") == 0)
		puts(ans);
	else
		print_table(list);
	json_decref(o);
	free(ans);
	return rc;
}
