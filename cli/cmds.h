/* cmds.h: the sluice subcommands. Each returns the process exit status. */
#ifndef SLUICE_CMDS_H
#define SLUICE_CMDS_H

#include <stddef.h>

struct policy;

int cmd_proxy(int argc, char **argv);
int cmd_dns(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_ca(int argc, char **argv);
int cmd_cache(int argc, char **argv);

/* Load a policy, printing every error; NULL on failure. */
struct policy *cmd_load_policy(const char *spec);

/* Turn "IP[:PORT]" into c-ares' server syntax in buf; -1 after a message. */
int cmd_resolver(const char *text, char *buf, size_t size);

#endif
