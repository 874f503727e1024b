/* commands.c: the one registry of sluice's commands and their option
 * tables. The dispatcher (main.c), `sluice --help`, `sluice help CMD`,
 * `CMD --help` and every usage line on a usage error are made from it, and
 * the README's synopsis is tested against `sluice --help`, so none of them
 * can drift from what the parser takes. Adding a command is one line in
 * cmds[] (and its table above it). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "control.h"
#include "log.h"

#define WIDTH 100
#define INDENT "              " /* continuation lines: under the first option */

#define POLICY_OPTIONS(req)                                                                              \
	{ .name = "--policy", .has_arg = true, .repeat = true, .required = req, .arg = "FILE|PRESET",     \
	  .help = "the policy: a file or a shipped preset; repeat it or write a,b to combine presets" },   \
	{ .name = "--allow", .has_arg = true, .repeat = true, .arg = "ENTRY",                             \
	  .help = "add an allow entry (HOST[:PORT], *.SUFFIX, IP or CIDR) to the policy" },                \
	{ .name = "--allow-private", .has_arg = true, .repeat = true, .arg = "ENTRY",                     \
	  .help = "add an allow_private entry (IP[/PREFIX][:PORT]) to the policy" }

#define LOG_OPTION { .name = "--log", .has_arg = true, .arg = "PATH", \
		     .help = "append the audit log (JSON lines) to PATH; its directory is made 0700 if missing" }
#define RESOLVER_OPTION { .name = "--resolver", .has_arg = true, .arg = "IP[:PORT]", \
			  .help = "resolve through this server instead of resolv.conf's" }
#define METRICS_OPTION { .name = "--metrics", .has_arg = true, .arg = "[ADDR:]PORT", \
			 .help = "serve Prometheus counters at http://ADDR:PORT/metrics (default 127.0.0.1)" }
#define LISTEN_OPTION { .name = "--listen", .has_arg = true, .repeat = true, .required = true, \
			.arg = "ADDR:PORT", .help = "listen here (IPv6 as [ADDR]:PORT)" }
#define CONTROL_OPTION { .name = "--control", .has_arg = true, .arg = "PATH", \
			 .help = "the control socket of `sluice serve` (default " CTL_DEFAULT_PATH ")" }
#define TARGET_OPTION_TABLE                                                                         \
	{ .name = "--pid", .has_arg = true, .group = 't', .arg = "PID", .help = "a process's network namespace" }, \
	{ .name = "--netns", .has_arg = true, .group = 't', .arg = "PATH", .help = "a named or bind-mounted network namespace" }, \
	{ .name = "--docker", .has_arg = true, .group = 't', .arg = "NAME", .help = "a Docker container" }, \
	{ .name = "--podman", .has_arg = true, .group = 't', .arg = "NAME", .help = "a Podman container" }

static const struct cli_opt run_opts[] = {
	POLICY_OPTIONS(false),
	{ .name = "--name", .has_arg = true, .arg = "NAME", .help = "the server's name in the log" },
	LOG_OPTION,
	{ .name = "--env", .has_arg = true, .repeat = true, .arg = "NAME",
	  .help = "keep this environment variable (all others but a base set are removed)" },
	RESOLVER_OPTION,
	{ .name = "--publish", .has_arg = true, .repeat = true, .arg = "[ADDR:]PORT[:INNER]",
	  .help = "make the sandbox's 127.0.0.1:INNER (default PORT) reachable on the host at ADDR:PORT" },
	{ .name = "--learn", .help = "report mode for this run; at exit the proposed policy goes beside --log" },
	CMD_CACHE_OPTIONS,
	{ .name = NULL },
};

static const struct cli_opt proxy_opts[] = {
	LISTEN_OPTION,
	POLICY_OPTIONS(true),
	LOG_OPTION,
	RESOLVER_OPTION,
	{ .name = "--workers", .has_arg = true, .arg = "N", .help = "N processes sharing the listeners (1-64)" },
	METRICS_OPTION,
	CMD_CACHE_OPTIONS,
	{ .name = NULL },
};

static const struct cli_opt dns_opts[] = {
	LISTEN_OPTION,
	POLICY_OPTIONS(true),
	{ .name = "--upstream", .has_arg = true, .repeat = true, .arg = "IP[:PORT]",
	  .help = "ask this resolver (default: resolv.conf's)" },
	LOG_OPTION,
	{ .name = "--ttl-floor", .has_arg = true, .arg = "SECONDS", .help = "cache answers at least this long" },
	{ .name = "--ttl-ceiling", .has_arg = true, .arg = "SECONDS", .help = "cache answers at most this long" },
	METRICS_OPTION,
	{ .name = NULL },
};

static const struct cli_opt attach_opts[] = {
	TARGET_OPTION_TABLE,
	POLICY_OPTIONS(true),
	{ .name = "--name", .has_arg = true, .arg = "NAME", .help = "the attachment's name in the log" },
	LOG_OPTION,
	RESOLVER_OPTION,
	{ .name = "--follow", .help = "re-attach when the container restarts" },
	CONTROL_OPTION,
	CMD_CACHE_OPTIONS,
	{ .name = NULL },
};

static const struct cli_opt detach_opts[] = {
	TARGET_OPTION_TABLE,
	CONTROL_OPTION,
	{ .name = NULL },
};

static const struct cli_opt serve_opts[] = {
	CONTROL_OPTION,
	LOG_OPTION,
	METRICS_OPTION,
	RESOLVER_OPTION,
	CMD_CACHE_OPTIONS,
	{ .name = NULL },
};

static const struct cli_opt ls_opts[] = {
	CONTROL_OPTION,
	{ .name = "--format", .has_arg = true, .arg = "text|json", .help = "output format (default text)" },
	{ .name = NULL },
};

static const struct cli_opt check_opts[] = {
	{ .name = NULL },
};

static const struct cli_opt explain_opts[] = {
	{ .name = "--resolve", .help = "also resolve the name and classify each answer" },
	RESOLVER_OPTION,
	{ .name = "--allow", .has_arg = true, .repeat = true, .arg = "ENTRY",
	  .help = "add an allow entry to the policy first" },
	{ .name = "--allow-private", .has_arg = true, .repeat = true, .arg = "ENTRY",
	  .help = "add an allow_private entry to the policy first" },
	{ .name = NULL },
};

static const struct cli_opt export_opts[] = {
	{ .name = "--format", .has_arg = true, .required = true, .arg = "cilium",
	  .help = "the cluster policy to write (a CiliumNetworkPolicy)" },
	{ .name = NULL },
};

static const struct cli_opt log_opts[] = {
	{ .name = "--server", .has_arg = true, .repeat = true, .arg = "NAME", .help = "only this server's records" },
	{ .name = "--since", .has_arg = true, .arg = "TIME", .help = "from TIME (RFC 3339, or 24h, 7d ago)" },
	{ .name = "--until", .has_arg = true, .arg = "TIME", .help = "up to TIME (RFC 3339, or 24h, 7d ago)" },
	{ .name = "--host", .has_arg = true, .arg = "PATTERN", .help = "only this host, or *.SUFFIX" },
	{ .name = "--decision", .has_arg = true, .repeat = true, .arg = "allow|deny|would_deny",
	  .help = "only records with this decision" },
	{ .name = "--event", .has_arg = true, .repeat = true, .arg = "EVENT",
	  .help = "only connect, http, transparent, dns or packet records" },
	{ .name = "--format", .has_arg = true, .arg = "text|json|csv", .help = "output format (default text)" },
	{ .name = "--name", .has_arg = true, .arg = "N", .help = "policy: the proposed policy's name" },
	{ .name = "--html", .has_arg = true, .arg = "OUT", .help = "report: write the HTML report to OUT" },
	{ .name = NULL },
};

static const struct cli_opt mcp_opts[] = {
	{ .name = "--client", .has_arg = true, .arg = "NAME",
	  .help = "claude-desktop, claude-code, vscode, cursor, windsurf or codex (default: all found)" },
	{ .name = "--config", .has_arg = true, .arg = "FILE", .help = "this config file instead" },
	{ .name = "--server", .has_arg = true, .repeat = true, .arg = "KEY", .help = "only this server" },
	{ .name = "--policy-dir", .has_arg = true, .arg = "DIR", .help = "write the policies here (default: beside the config)" },
	{ .name = "--dry-run", .help = "print the diff, write nothing" },
	{ .name = NULL },
};

static const struct cli_opt cache_opts[] = {
	{ .name = "--cache", .has_arg = true, .arg = "DIR", .help = "the store (default: the per-user or system one)" },
	{ .name = "--cache-max", .has_arg = true, .arg = "SIZE", .help = "gc: evict down to SIZE (like 10G)" },
	{ .name = NULL },
};

static const struct cli_opt ca_opts[] = {
	{ .name = "--ca", .has_arg = true, .arg = "DIR", .help = "the CA's directory" },
	{ .name = NULL },
};

static const struct cli_cmd cmds[] = {
	{ "run", NULL, run_opts, "-- CMD [ARG]...", "run CMD in a sandbox whose only way out is sluice", cmd_run },
	{ "proxy", NULL, proxy_opts, NULL, "the egress proxy on its own", cmd_proxy },
	{ "dns", NULL, dns_opts, NULL, "the DNS stub on its own", cmd_dns },
	{ "attach", NULL, attach_opts, NULL, "put a running container or process under a policy", cmd_attach },
	{ "detach", NULL, detach_opts, NULL, "take sluice's table out of a namespace", cmd_detach },
	{ "serve", NULL, serve_opts, NULL, "one daemon for many attachments", cmd_serve },
	{ "ls", NULL, ls_opts, NULL, "list the attachments of `sluice serve`", cmd_ls },
	{ "policy", "check", check_opts, "FILE", "list every error of a policy, or summarise it", cmd_policy },
	{ "policy", "explain", explain_opts, "FILE HOST[:PORT]", "the decision on one host, and why", cmd_policy },
	{ "policy", "export", export_opts, "FILE", "the policy for a cluster (CiliumNetworkPolicy)", cmd_policy },
	{ "log", "summary | hosts | policy | diff POLICY | report", log_opts, "[FILE...]",
	  "review audit logs (files, .gz or stdin)", cmd_log },
	{ "mcp", "list | wrap | unwrap", mcp_opts, NULL, "put the MCP servers of a client config under sluice", cmd_mcp },
	{ "cache", "stats | verify | gc | purge", cache_opts, NULL, "inspect and maintain the package cache", cmd_cache },
	{ "ca", "init | show", ca_opts, NULL, "the package cache's CA", cmd_ca },
};

const struct cli_cmd *cli_cmds(size_t *n)
{
	*n = sizeof(cmds) / sizeof(cmds[0]);
	return cmds;
}

static bool verb_is(const char *verbs, const char *verb)
{
	size_t n = strcspn(verbs ? verbs : "", " ");

	return !verb || (verbs && strlen(verb) == n && strncmp(verbs, verb, n) == 0);
}

void cli_table(struct cli_opt *opts, const char *name, const char *verb)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmds[i].name, name) != 0 || !verb_is(cmds[i].verbs, verb))
			continue;
		size_t k = 0;
		for (; cmds[i].opts[k].name; k++) {
			if (k + 1 >= CLI_MAX_OPTS)
				abort();
			opts[k] = cmds[i].opts[k];
		}
		opts[k] = (struct cli_opt){ .name = NULL };
		return;
	}
	abort();
}

/* ---- help text, made from the tables -------------------------------------- */

struct wrap {
	FILE *f;
	const char *prefix;
	size_t col;
};

/* Add one token to the synopsis line, breaking before it past WIDTH. */
static void put(struct wrap *w, const char *tok)
{
	size_t len = strlen(tok);

	if (w->col > strlen(INDENT) && w->col + 1 + len > WIDTH) {
		fprintf(w->f, "\n%s%s", w->prefix, INDENT);
		w->col = strlen(INDENT);
	} else if (w->col) {
		fputc(' ', w->f);
		w->col++;
	}
	fputs(tok, w->f);
	w->col += len;
}

/* "--name ARG", "[--name ARG]..." */
static void opt_token(const struct cli_opt *o, bool bare, char *buf, size_t size)
{
	const char *arg = o->has_arg ? (o->arg ? o->arg : "VALUE") : NULL;
	bool br = !bare && !o->required;

	snprintf(buf, size, "%s%s%s%s%s%s", br ? "[" : "", o->name, arg ? " " : "", arg ? arg : "", br ? "]" : "",
		 o->repeat ? "..." : "");
}

/* A group: "(--pid PID | --netns PATH)"; returns the options it took. */
static size_t group_token(const struct cli_opt *o, char *buf, size_t size)
{
	size_t k = 0, len = 0;

	len += (size_t)snprintf(buf, size, "(");
	for (; o[k].name && o[k].group == o[0].group; k++) {
		char one[96];
		opt_token(&o[k], true, one, sizeof(one));
		if (len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", k ? " | " : "", one);
	}
	if (len < size)
		snprintf(buf + len, size - len, ")");
	return k;
}

static void synopsis_one(FILE *f, const struct cli_cmd *c, const char *prefix)
{
	char head[64], tok[256];
	struct wrap w = { f, prefix, 0 };

	snprintf(head, sizeof(head), "sluice %-6s", c->name);
	fputs(prefix, f);
	put(&w, head);
	if (c->verbs)
		put(&w, c->verbs);
	for (const struct cli_opt *o = c->opts; o && o->name;) {
		if (o->group) {
			o += group_token(o, tok, sizeof(tok));
		} else {
			opt_token(o, false, tok, sizeof(tok));
			o++;
		}
		put(&w, tok);
	}
	if (c->operands)
		put(&w, c->operands);
	fputc('\n', f);
}

void cli_synopsis(FILE *f, const char *name, const char *prefix)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!name || strcmp(cmds[i].name, name) == 0)
			synopsis_one(f, &cmds[i], prefix);
}

static const struct cli_cmd *find(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

int cli_help(const char *name)
{
	if (!find(name)) {
		log_msg("no command '%s' (see 'sluice --help')", name);
		return 2;
	}
	printf("usage:\n");
	cli_synopsis(stdout, name, "  ");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmds[i].name, name) != 0)
			continue;
		printf("\n%s%s%s: %s\n", name, cmds[i].verbs ? " " : "", cmds[i].verbs ? cmds[i].verbs : "",
		       cmds[i].summary);
		for (const struct cli_opt *o = cmds[i].opts; o && o->name; o++) {
			char tok[96];
			opt_token(o, true, tok, sizeof(tok));
			printf("  %-30s %s\n", tok, o->help ? o->help : "");
		}
	}
	return 0;
}

int cli_usage(const char *name)
{
	fputs("sluice: usage:\n", stderr);
	cli_synopsis(stderr, name, "  ");
	return 2;
}
