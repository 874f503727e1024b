/* mcp.h: the MCP client-config editor. A config (JSONC or Codex TOML) is
 * read into a list of servers that remember where their values' bytes are;
 * wrapping and unwrapping are lists of byte edits on those spans, so every
 * other byte of the file stays as it was. */
#ifndef SLUICE_MCP_H
#define SLUICE_MCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "jsonc.h"

#define MCP_MAX_SERVERS 1024 /* per file */
#define MCP_MAX_ARGS 512     /* per server */
#define MCP_MAX_ENV 16       /* sluice run takes --env at most CLI_MAX_REPEAT times */

enum mcp_format { MCP_JSON, MCP_TOML };

/* Where a JSON file keeps its servers (bits). */
enum {
	MCP_SCOPE_MCPSERVERS = 1, /* top-level "mcpServers" */
	MCP_SCOPE_SERVERS = 2,    /* top-level "servers" (VS Code) */
	MCP_SCOPE_PROJECTS = 4,   /* "projects": {PATH: {"mcpServers": ...}} (~/.claude.json) */
	MCP_SCOPE_ALL = 7,
};

enum mcp_state {
	MCP_STDIO,     /* a local command: wrap can put it under sluice */
	MCP_WRAPPED,   /* command sluice, args [run, ...] */
	MCP_REMOTE,    /* url / serverUrl / type http|sse */
	MCP_SANDBOXED, /* docker run, podman run, srt, VS Code sandboxEnabled */
	MCP_UNUSABLE,  /* no command, or values of a form the editor does not handle */
};

struct mcp_span {
	size_t off, len;
};

struct mcp_server {
	char *scope;   /* "mcpServers", "projects[\"/p\"].mcpServers", "mcp_servers" */
	char *key;
	enum mcp_state state;
	char why[160];  /* for states other than STDIO and WRAPPED: one line */
	char *transport; /* "stdio", "http", "sse", ... */
	char *command;  /* decoded; NULL without one */
	char **args;    /* decoded, nargs of them */
	size_t nargs;
	char **env;     /* names the entry's env sets */
	size_t nenv;
	char *url;
	struct mcp_span command_tok; /* the command value's bytes */
	bool has_args;
	struct mcp_span args_tok;    /* the args array's bytes */
	struct mcp_span *arg_tok;    /* each element's bytes */
	char *args_indent;           /* multi-line arrays: each element's indentation, */
	char *args_close;            /* and the closing bracket's; NULL on one line */
	size_t insert_off;           /* where an args member goes when there is none */
	char *insert_prefix;         /* and what comes before it ("," NL indent, or indent) */
	char *insert_suffix;         /* and after it (TOML: NL, unless at the end of the file) */
};

struct mcp_doc {
	enum mcp_format fmt;
	const char *buf; /* by reference */
	size_t len;
	struct mcp_server *v;
	size_t n;
};

/*
 * Read the servers of a config. scopes (MCP_SCOPE_*) says where a JSON file
 * keeps them; TOML always uses [mcp_servers.NAME]. Returns 0, -EINVAL with
 * err (position and offending token), -E2BIG, -ENOMEM. A server of a form the
 * editor cannot edit is MCP_UNUSABLE, not an error.
 */
int mcp_doc_parse(const char *buf, size_t len, enum mcp_format fmt, unsigned scopes, struct mcp_doc *out,
		  struct mcp_perr *err);
void mcp_doc_free(struct mcp_doc *d);

/* One replacement of bytes [off, off+len) of a file by text. */
struct mcp_edit {
	size_t off, len;
	char *text;
};

struct mcp_edits {
	struct mcp_edit *v;
	size_t n;
};

/* What a wrap replaced, so unwrap can put the exact bytes back: the command
 * and args values before and after (args_inserted: there was no args member
 * and args_new is all the text inserted at the server's insert_off). */
struct mcp_record {
	char *scope, *key;
	char *cmd_orig, *cmd_new;
	char *args_orig, *args_new;
	bool args_inserted;
};

struct mcp_records {
	struct mcp_record *v;
	size_t n;
};

/*
 * Plan wrapping server i of d: command becomes sluice (the absolute path),
 * args [run, --name, KEY, --policy, POLICY, --env NAME..., --, CMD, ARG...].
 * Adds the edits to e and the record to r (replacing one for the same scope
 * and key). Returns 0, -EINVAL when the server is not MCP_STDIO or sets more
 * than MCP_MAX_ENV variables, -ENOMEM.
 */
int mcp_wrap(const struct mcp_doc *d, size_t i, const char *sluice, const char *policy, struct mcp_edits *e,
	     struct mcp_records *r);

/*
 * Plan unwrapping server i of d (MCP_WRAPPED). With a record in r whose
 * after-bytes are still in the file, the edits restore the before-bytes
 * (*exact true); otherwise the original command and args are rebuilt from the
 * arguments after "--" (*exact false). Returns 0, -EINVAL (not wrapped, or no
 * command after "--"), -ENOMEM.
 */
int mcp_unwrap(const struct mcp_doc *d, size_t i, const struct mcp_records *r, struct mcp_edits *e, bool *exact);

/* Apply e to buf (edits must not overlap) into a fresh *out. 0 or -errno. */
int mcp_apply(const char *buf, size_t len, struct mcp_edits *e, char **out, size_t *outlen);

/* Print a unified-style diff of the lines the edits touch (e sorted, as
 * mcp_apply leaves it), a being the old text and b the new. */
void mcp_diff(FILE *out, const char *name, const char *a, size_t alen, const struct mcp_edits *e);

void mcp_edits_free(struct mcp_edits *e);

/* The record for scope and key, or NULL. */
const struct mcp_record *mcp_records_find(const struct mcp_records *r, const char *scope, const char *key);
/* Drop the record for scope and key, if any. */
void mcp_records_drop(struct mcp_records *r, const char *scope, const char *key);
/* Read a record file's text (JSON); 0, -EINVAL, -ENOMEM. */
int mcp_records_load(const char *text, size_t len, struct mcp_records *r);
/* The record file's text for r, in a fresh *out; 0 or -ENOMEM. */
int mcp_records_dump(const struct mcp_records *r, char **out);
void mcp_records_free(struct mcp_records *r);

/* Free one record's strings (not r itself). */
void mcp_record_free(struct mcp_record *r);

/* text as a JSON (and TOML basic) string literal, fresh; NULL on ENOMEM. */
char *mcp_quote(const char *text);

#endif
