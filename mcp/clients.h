/* clients.h: where each MCP client keeps its config. */
#ifndef SLUICE_MCP_CLIENTS_H
#define SLUICE_MCP_CLIENTS_H

#include <limits.h>
#include <stddef.h>

#include "mcp.h"

#define MCP_MAX_CONFIGS 16

struct mcp_config {
	char path[PATH_MAX];
	const char *client; /* "claude-desktop", ... or "file" for --config */
	enum mcp_format fmt;
	unsigned scopes;    /* MCP_SCOPE_* */
};

/* Whether name is a known client. */
bool mcp_client_known(const char *name);

/* The known client names, space-separated, for messages. */
const char *mcp_client_names(void);

/*
 * The existing config files of client (NULL: every client), user files
 * under home (with $XDG_CONFIG_HOME and $CODEX_HOME honoured) and project
 * files under project; each file once. Returns how many were put in out (at
 * most max).
 */
size_t mcp_clients_find(const char *client, const char *home, const char *project, struct mcp_config *out,
			size_t max);

/* The config for a file given with --config: TOML when it ends in .toml,
 * else JSONC with every scope; client as given, or the one whose file name
 * it has. */
void mcp_config_for_file(const char *path, const char *client, struct mcp_config *out);

#endif
