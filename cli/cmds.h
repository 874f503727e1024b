/* cmds.h: the sluice subcommands. Each returns the process exit status. */
#ifndef SLUICE_CMDS_H
#define SLUICE_CMDS_H

#include <stddef.h>
#include <stdint.h>

struct policy;
struct cli_opt;

int cmd_proxy(int argc, char **argv);
int cmd_dns(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_ca(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_ls(int argc, char **argv);

struct sbx_target;

/* attach / detach --control PATH: hand the request to `sluice serve`. The
 * exit status. */
int cmd_control_attach(struct cli_opt *opts, const struct sbx_target *t);
int cmd_control_detach(struct cli_opt *opts, const struct sbx_target *t);
int cmd_mcp(int argc, char **argv);
int cmd_log(int argc, char **argv);

/* sluice run --learn: propose a policy from server's records in log since
 * since_ms, written beside the log as LOG.policy.yaml and named on stderr.
 * Returns 0 or -errno (after a message). */
int cmd_log_learn(const char *log, const char *server, int64_t since_ms);

struct event_base;
struct px_cache;

/* CACHE OPTIONS, for a command's option table. */
#define CMD_CACHE_OPTIONS                                                                          \
	{ .name = "--cache", .has_arg = true, .arg = "DIR", .help = "cache package downloads in DIR" },    \
	{ .name = "--cache-max", .has_arg = true, .arg = "SIZE", .help = "the store's size cap (default 10G)" }, \
	{ .name = "--meta-ttl", .has_arg = true, .arg = "SECONDS",                                         \
	  .help = "revalidate metadata older than this (default 60)" },                                    \
	{ .name = "--offline", .help = "never ask upstream: serve from the store or fail" },               \
	{ .name = "--ca", .has_arg = true, .arg = "DIR", .help = "the interception CA's directory" },      \
	{ .name = "--upstream-ca", .has_arg = true, .arg = "FILE", .help = "also trust FILE for upstream TLS" }
#define CMD_CACHE_USAGE "[--cache DIR [--cache-max SIZE] [--meta-ttl SECONDS] [--offline] [--ca DIR] [--upstream-ca FILE]]"

/* Open the package cache that CACHE OPTIONS in opts ask for (*out NULL
 * without --cache). Returns 0, or an exit status after a one-line message. */
int cmd_cache_open(struct cli_opt *opts, struct event_base *base, const struct policy *pol,
		   struct px_cache **out);

/* file (unless NULL), every --policy, --allow and --allow-private of opts
 * (those the table has) as one spec for pol_load in *spec (malloc'd; NULL
 * when there is none; one --policy alone is its value as given). 0, or the
 * exit status 2 after a message. */
int cmd_policy_spec(struct cli_opt *opts, const char *file, char **spec);

/* The same, folded into opts: --policy's one value is the spec from here
 * on (kept for the process's life), so whatever reads --policy reads the
 * combination. 0, or 2 after a message. */
int cmd_policy_opts(struct cli_opt *opts);

/* Load a policy, printing every error; NULL on failure. */
struct policy *cmd_load_policy(const char *spec);

/* Turn "IP[:PORT]" into c-ares' server syntax in buf; -1 after a message. */
int cmd_resolver(const char *text, char *buf, size_t size);

#endif
