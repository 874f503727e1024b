/* doc.h: helpers shared by the JSON and TOML readers, private to mcp/. */
#ifndef SLUICE_MCP_DOC_H
#define SLUICE_MCP_DOC_H

#include "mcp.h"

/* A new zeroed server at the end of d (scope and key copied); NULL when
 * out of memory or past MCP_MAX_SERVERS. */
struct mcp_server *mcp_doc_add(struct mcp_doc *d, const char *scope, const char *key);

/* Append a copy of s to the list *v of *n (bounded by max). 0 or -errno. */
int mcp_strv_add(char ***v, size_t *n, size_t max, const char *s);

/* Decide s->state and s->why from its values; sandbox_enabled is VS Code's
 * sandboxEnabled, type the entry's type or NULL. 0 or -ENOMEM. */
int mcp_server_classify(struct mcp_server *s, const char *type, bool sandbox_enabled);

/* Mark s unusable, saying why. */
void mcp_server_unusable(struct mcp_server *s, const char *why);

/* Indentation of a multi-line array at [open, close] (its brackets) whose
 * first element starts at first: fills s->args_indent and s->args_close, or
 * leaves them NULL for a one-line or irregular array. 0 or -ENOMEM. */
int mcp_array_layout(struct mcp_server *s, const char *buf, size_t open, size_t close, size_t first);

/* The whitespace before off on its line, or NULL if anything else is there. */
char *mcp_line_indent(const char *buf, size_t off);

int mcp_toml_doc(const char *buf, size_t len, struct mcp_doc *d, struct mcp_perr *err);

#endif
