/* jsonc.h: a positional JSONC scanner. It reads JSON with comments and
 * trailing commas (what VS Code and Cursor accept) into a flat tree of
 * nodes, each knowing the byte range of its value and, for object members,
 * of its key, so the config editor can rewrite single values in place. */
#ifndef SLUICE_MCP_JSONC_H
#define SLUICE_MCP_JSONC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MCP_JSON_MAX_DEPTH 64
#define MCP_JSON_MAX_SIZE (64u << 20) /* ~/.claude.json grows, but not this far */

enum mcp_json_type {
	MCP_J_OBJECT,
	MCP_J_ARRAY,
	MCP_J_STRING,
	MCP_J_NUMBER,
	MCP_J_LITERAL, /* true, false, null */
};

struct mcp_json_node {
	enum mcp_json_type type;
	size_t start, end;         /* the value's bytes [start, end) */
	size_t key_start, key_end; /* an object member's key token, quotes included */
	int parent, first, last, next; /* node indices, -1 for none */
	int nchild;
};

struct mcp_json {
	const char *buf;
	size_t len;
	struct mcp_json_node *v; /* v[0] is the top-level value */
	int n, cap;
};

/* Where and why a parse failed; line and col count from 1 (col in
 * characters), msg names the offending token. */
struct mcp_perr {
	size_t off;
	unsigned line, col;
	char msg[120];
};

/*
 * Parse buf (not NUL-terminated, kept by reference in out) as one JSONC
 * value. Returns 0, -EINVAL with err filled, -E2BIG past MCP_JSON_MAX_SIZE,
 * or -ENOMEM. Free out with mcp_json_free even on failure.
 */
int mcp_json_parse(const char *buf, size_t len, struct mcp_json *out, struct mcp_perr *err);

void mcp_json_free(struct mcp_json *j);

/* The member of object node obj named key (the last one if repeated), or -1. */
int mcp_json_get(const struct mcp_json *j, int obj, const char *key);

/*
 * Decode string node (or, with key true, node's member key) into a fresh
 * NUL-terminated string in *out. Returns 0, -EINVAL (not a string, or a NUL
 * inside), -ENOMEM.
 */
int mcp_json_str(const struct mcp_json *j, int node, bool key, char **out);

/* Code point cp (at most U+10FFFF) as UTF-8 at o (4 bytes of room);
 * returns its length. For the JSON and TOML string decoders alike. */
size_t mcp_utf8_put(char *o, uint32_t cp);

/* Fill err's line and col from err->off in buf. */
void mcp_perr_locate(struct mcp_perr *err, const char *buf, size_t len);

#endif
