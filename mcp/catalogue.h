/* catalogue.h: the policies of well-known MCP servers (policies/servers/),
 * and the policy a wrapped server gets. */
#ifndef SLUICE_MCP_CATALOGUE_H
#define SLUICE_MCP_CATALOGUE_H

#include "mcp.h"

struct mcp_catalogue_entry {
	const char *name; /* the file's name: filesystem, github, ... */
	const char *text; /* its YAML; the first line "# match: NAME..." lists the
			   * package or program names it stands for */
};

/* The embedded catalogue, ended by an entry with a NULL name. */
extern const struct mcp_catalogue_entry mcp_catalogue[];

/*
 * The policy for server s as YAML text in a fresh *out: the catalogue's for
 * a server it knows (*id its name), with the host of a postgres:// argument
 * where the entry asks for it; else (*id NULL) a deny-all policy in report
 * mode. Either way plus the npm preset when s runs through npx or npm exec,
 * the pypi one for uvx or pipx run. Returns 0 or -ENOMEM.
 */
int mcp_policy_for(const struct mcp_server *s, char **out, const char **id);

#endif
