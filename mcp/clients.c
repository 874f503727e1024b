/* clients.c: the table of MCP clients and their config files. */
#include "clients.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum root { HOME, XDG, CODEX, PROJECT };

static const struct {
	const char *client;
	enum root root;
	const char *rel;
	enum mcp_format fmt;
	unsigned scopes;
} clients[] = {
	{ "claude-desktop", XDG, "Claude/claude_desktop_config.json", MCP_JSON, MCP_SCOPE_MCPSERVERS },
	{ "claude-code", PROJECT, ".mcp.json", MCP_JSON, MCP_SCOPE_MCPSERVERS },
	{ "claude-code", HOME, ".claude.json", MCP_JSON, MCP_SCOPE_MCPSERVERS | MCP_SCOPE_PROJECTS },
	{ "vscode", PROJECT, ".vscode/mcp.json", MCP_JSON, MCP_SCOPE_SERVERS },
	{ "vscode", XDG, "Code/User/mcp.json", MCP_JSON, MCP_SCOPE_SERVERS },
	{ "cursor", PROJECT, ".cursor/mcp.json", MCP_JSON, MCP_SCOPE_MCPSERVERS },
	{ "cursor", HOME, ".cursor/mcp.json", MCP_JSON, MCP_SCOPE_MCPSERVERS },
	{ "windsurf", HOME, ".codeium/windsurf/mcp_config.json", MCP_JSON, MCP_SCOPE_MCPSERVERS },
	{ "codex", CODEX, "config.toml", MCP_TOML, 0 },
};

#define NCLIENTS (sizeof(clients) / sizeof(clients[0]))

bool mcp_client_known(const char *name)
{
	for (size_t i = 0; i < NCLIENTS; i++)
		if (strcmp(clients[i].client, name) == 0)
			return true;
	return false;
}

const char *mcp_client_names(void)
{
	return "claude-desktop claude-code vscode cursor windsurf codex";
}

static int root_path(enum root r, const char *home, const char *project, char *buf, size_t size)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *codex = getenv("CODEX_HOME");

	if (r == PROJECT)
		return snprintf(buf, size, "%s", project);
	if (r == XDG && xdg && xdg[0] == '/')
		return snprintf(buf, size, "%s", xdg);
	if (r == CODEX && codex && codex[0])
		return snprintf(buf, size, "%s", codex);
	return snprintf(buf, size, "%s%s", home, r == XDG ? "/.config" : r == CODEX ? "/.codex" : "");
}

/* Whether a file with the same inode is already in out. */
static bool listed(const struct mcp_config *out, size_t n, const struct stat *st)
{
	struct stat o;

	for (size_t i = 0; i < n; i++)
		if (stat(out[i].path, &o) == 0 && o.st_ino == st->st_ino && o.st_dev == st->st_dev)
			return true;
	return false;
}

size_t mcp_clients_find(const char *client, const char *home, const char *project, struct mcp_config *out,
			size_t max)
{
	size_t n = 0;
	char dir[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < NCLIENTS && n < max; i++) {
		if (client && strcmp(client, clients[i].client) != 0)
			continue;
		if ((clients[i].root == PROJECT ? !project : !home) ||
		    (size_t)root_path(clients[i].root, home, project, dir, sizeof(dir)) >= sizeof(dir))
			continue;
		struct mcp_config *c = &out[n];
		if ((size_t)snprintf(c->path, sizeof(c->path), "%s/%s", dir, clients[i].rel) >= sizeof(c->path) ||
		    stat(c->path, &st) < 0 || !S_ISREG(st.st_mode) || listed(out, n, &st))
			continue;
		c->client = clients[i].client;
		c->fmt = clients[i].fmt;
		c->scopes = clients[i].scopes;
		n++;
	}
	return n;
}

void mcp_config_for_file(const char *path, const char *client, struct mcp_config *out)
{
	size_t l = strlen(path);

	snprintf(out->path, sizeof(out->path), "%s", path);
	out->fmt = l > 5 && strcmp(path + l - 5, ".toml") == 0 ? MCP_TOML : MCP_JSON;
	out->scopes = MCP_SCOPE_ALL;
	out->client = client ? client : "file";
	for (size_t i = 0; !client && i < NCLIENTS; i++) {
		size_t rl = strlen(clients[i].rel);
		if (l >= rl && strcmp(path + l - rl, clients[i].rel) == 0 && (l == rl || path[l - rl - 1] == '/'))
			out->client = clients[i].client;
	}
}
