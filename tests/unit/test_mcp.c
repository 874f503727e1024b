/* test_mcp.c: the client-config editor's pieces: the JSONC and TOML readers'
 * positions and errors, the catalogue's matching, the policies it writes,
 * quoting, and wrap/unwrap on small inputs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "catalogue.h"
#include "jsonc.h"
#include "mcp.h"
#include "policy.h"

static int parse(const char *text, enum mcp_format fmt, struct mcp_doc *d, struct mcp_perr *err)
{
	return mcp_doc_parse(text, strlen(text), fmt, MCP_SCOPE_ALL, d, err);
}

/* The error message and position for a bad input. */
static void bad(const char *text, enum mcp_format fmt, unsigned line, unsigned col, const char *msg)
{
	struct mcp_doc d;
	struct mcp_perr err;

	assert_int_equal(parse(text, fmt, &d, &err), -EINVAL);
	assert_string_equal(err.msg, msg);
	assert_int_equal(err.line, line);
	assert_int_equal(err.col, col);
}

static void jsonc_errors(void **state)
{
	(void)state;
	bad("{\"a\": 1,\n \"b\" 2}", MCP_JSON, 2, 6, "expected ':' after a member name, found '2'");
	bad("{\"é\": [1, 2,, 3]}", MCP_JSON, 1, 13, "expected a value, found ','"); /* columns in characters */
	bad("{\"a\": \"x\ty\"}", MCP_JSON, 1, 9, "control character 0x09 in a string (escape it)");
	bad("{/* never closed", MCP_JSON, 1, 2, "unterminated /* comment");
	bad("{} {}", MCP_JSON, 1, 4, "unexpected '{' after the top-level value");
	bad("[1]", MCP_JSON, 1, 1, "the top-level value is not an object");
	bad("{\"a\": \"\\x\"}", MCP_JSON, 1, 8, "bad escape '\\x' in a string");
	char deep[200];
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	bad(deep, MCP_JSON, 1, 66, "nested deeper than 64 levels");
}

static void jsonc_positions(void **state)
{
	static const char text[] = "\xef\xbb\xbf// c\n{ \"mcpServers\": { /* x */ \"a\\u00e9\": {\n"
				   "  \"command\": \"np\\u0078\", // run\n  \"args\": [\"-y\", \"p\",], }, }, }";
	struct mcp_doc d;
	struct mcp_perr err;

	(void)state;
	assert_int_equal(parse(text, MCP_JSON, &d, &err), 0);
	assert_int_equal(d.n, 1);
	const struct mcp_server *s = &d.v[0];
	assert_string_equal(s->key, "a\xc3\xa9");
	assert_string_equal(s->command, "npx");
	assert_int_equal(s->state, MCP_STDIO);
	assert_memory_equal(text + s->command_tok.off, "\"np\\u0078\"", s->command_tok.len);
	assert_int_equal(s->nargs, 2);
	assert_memory_equal(text + s->args_tok.off, "[\"-y\", \"p\",]", s->args_tok.len);
	assert_string_equal(s->insert_prefix, ",\n  ");
	mcp_doc_free(&d);
}

static void toml_forms(void **state)
{
	struct mcp_doc d;
	struct mcp_perr err;

	(void)state;
	assert_int_equal(parse("a = 1\n[mcp_servers.x]\ncommand = 'c' # c\nenv.K = \"v\"\n[mcp_servers.x.env]\nL = '1'\n",
			       MCP_TOML, &d, &err), 0);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].command, "c");
	assert_int_equal(d.v[0].nenv, 2);
	assert_string_equal(d.v[0].env[0], "K");
	assert_string_equal(d.v[0].env[1], "L");
	assert_int_equal(d.v[0].insert_off, strlen("a = 1\n[mcp_servers.x]\ncommand = 'c' # c\n"));
	mcp_doc_free(&d);
	bad("[mcp_servers.x]\ncommand = \"a\"\ncommand = \"b\"\n", MCP_TOML, 3, 11, "mcp_servers.x: command given twice");
	bad("[mcp_servers.x]\n[mcp_servers.x]\n", MCP_TOML, 2, 1, "table [mcp_servers.x] given twice");
	bad("mcp_servers.x.command = \"a\"\n", MCP_TOML, 1, 25,
	    "mcp_servers given with dotted keys or inline tables; the editor handles only [mcp_servers.NAME] tables");
	bad("mcp_servers = { x = { command = \"a\" } }\n", MCP_TOML, 1, 15,
	    "mcp_servers given with dotted keys or inline tables; the editor handles only [mcp_servers.NAME] tables");
	bad("a = \"x\" b\n", MCP_TOML, 1, 9, "expected the end of the line, found 'b'");
	bad("a = \"\\q\"\n", MCP_TOML, 1, 6, "bad escape in a string");
}

static const char *catalogue_id(const char *command, const char *a1, const char *a2)
{
	char *args[2] = { (char *)a1, (char *)a2 };
	struct mcp_server s = { .key = "k", .command = (char *)command, .args = args, .nargs = a2 ? 2 : a1 ? 1 : 0 };
	const char *id = NULL;
	char *text = NULL;

	assert_int_equal(mcp_policy_for(&s, &text, &id), 0);
	struct policy *p = NULL;
	struct pol_errors e = { 0 };
	assert_int_equal(pol_load_buffer(text, strlen(text), "k.yaml", &p, &e), 0); /* every one loads */
	pol_free(p);
	free(text);
	return id;
}

static void catalogue_matching(void **state)
{
	(void)state;
	assert_string_equal(catalogue_id("npx", "-y", "@modelcontextprotocol/server-filesystem@2026.1.1"), "filesystem");
	assert_string_equal(catalogue_id("node", "/x/node_modules/@modelcontextprotocol/server-memory/dist/index.js", NULL),
			    "memory");
	assert_string_equal(catalogue_id("uvx", "mcp-server-fetch", NULL), "fetch");
	assert_string_equal(catalogue_id("/usr/local/bin/github-mcp-server", "stdio", NULL), "github");
	assert_null(catalogue_id("python3", "-m", "server_filesystem_clone"));
	assert_null(catalogue_id("npx", "-y", "@acme/tool@server-memory"));
	for (const struct mcp_catalogue_entry *e = mcp_catalogue; e->name; e++) {
		struct policy *p = NULL;
		struct pol_errors err = { 0 };
		assert_int_equal(strncmp(e->text, "# match: ", 9), 0);
		assert_int_equal(pol_load_buffer(e->text, strlen(e->text), e->name, &p, &err), 0);
		pol_free(p);
	}
}

static char *policy_text(const char *command, char **args, size_t n)
{
	struct mcp_server s = { .key = "db", .command = (char *)command, .args = args, .nargs = n };
	const char *id;
	char *text = NULL;

	assert_int_equal(mcp_policy_for(&s, &text, &id), 0);
	return text;
}

static void generated_policies(void **state)
{
	char *pg[] = { "-y", "@modelcontextprotocol/server-postgres", "postgresql://u:p@ss@[2001:db8::5]:6432/db" };
	char *local[] = { "-y", "@modelcontextprotocol/server-postgres", "postgres://localhost/db" };
	char *named[] = { "mcp-server-postgres", "postgres://db.example.com/x" };
	char *unknown[] = { "run", "thing" };
	char *t;

	(void)state;
	t = policy_text("npx", pg, 3);
	assert_non_null(strstr(t, "allow:\n  - \"[2001:db8::5]:6432\"\nallow_private:\n  - \"[2001:db8::5]:6432\"\n"));
	assert_non_null(strstr(t, "presets: [npm]\nwrite: [\"~/.npm\"]\n"));
	free(t);
	t = policy_text("npx", local, 3);
	assert_null(strstr(t, "allow:"));
	assert_non_null(strstr(t, "is on localhost"));
	free(t);
	t = policy_text("uvx", named, 2);
	assert_non_null(strstr(t, "allow:\n  - \"db.example.com:5432\"\n# if db.example.com is a private address"));
	assert_non_null(strstr(t, "presets: [pypi]"));
	free(t);
	t = policy_text("/opt/my-server", unknown, 2);
	assert_non_null(strstr(t, "name: db\nmode: report\nallow: []\n"));
	assert_null(strstr(t, "presets"));
	free(t);
	t = policy_text("pipx", unknown, 2); /* pipx run: the pypi preset even for an unknown server */
	assert_non_null(strstr(t, "mode: report\nallow: []\n# it runs through uvx or pipx"));
	free(t);
}

static void quoting(void **state)
{
	char *q = mcp_quote("a\"b\\c\n\x01\xe2\x98\x83");

	(void)state;
	assert_string_equal(q, "\"a\\\"b\\\\c\\u000a\\u0001\xe2\x98\x83\"");
	free(q);
}

/* wrap then unwrap, with the wrapped text checked. */
static void round_trip(const char *in, enum mcp_format fmt, const char *want)
{
	struct mcp_doc d, w;
	struct mcp_perr err;
	struct mcp_edits e = { 0 }, u = { 0 };
	struct mcp_records r = { 0 };
	char *out, *back;
	size_t n, bn;
	bool exact;

	assert_int_equal(mcp_doc_parse(in, strlen(in), fmt, MCP_SCOPE_ALL, &d, &err), 0);
	assert_int_equal(mcp_wrap(&d, 0, "/bin/sluice", "/p/a.yaml", &e, &r), 0);
	assert_int_equal(mcp_apply(in, strlen(in), &e, &out, &n), 0);
	assert_string_equal(out, want);
	assert_int_equal(mcp_doc_parse(out, n, fmt, MCP_SCOPE_ALL, &w, &err), 0);
	assert_int_equal(w.v[0].state, MCP_WRAPPED);
	assert_int_equal(mcp_wrap(&w, 0, "/bin/sluice", "/p/a.yaml", &u, &r), -EINVAL);
	assert_int_equal(mcp_unwrap(&w, 0, &r, &u, &exact), 0);
	assert_true(exact);
	assert_int_equal(mcp_apply(out, n, &u, &back, &bn), 0);
	assert_string_equal(back, in);
	free(out);
	free(back);
	mcp_edits_free(&e);
	mcp_edits_free(&u);
	mcp_records_free(&r);
	mcp_doc_free(&d);
	mcp_doc_free(&w);
}

static void wrap_unwrap(void **state)
{
	(void)state;
	round_trip("{\"mcpServers\": {\"a\": {\"command\": \"x\", \"env\": {\"K\": \"1\"}}}}", MCP_JSON,
		   "{\"mcpServers\": {\"a\": {\"command\": \"/bin/sluice\", \"args\": [\"run\", \"--name\", \"a\", "
		   "\"--policy\", \"/p/a.yaml\", \"--env\", \"K\", \"--\", \"x\"], \"env\": {\"K\": \"1\"}}}}");
	round_trip("{\"servers\": {\"a\": {\n\t\"command\": \"x\" // c\n}}}", MCP_JSON,
		   "{\"servers\": {\"a\": {\n\t\"command\": \"/bin/sluice\",\n\t\"args\": [\"run\", \"--name\", \"a\", "
		   "\"--policy\", \"/p/a.yaml\", \"--\", \"x\"] // c\n}}}");
	round_trip("[mcp_servers.a]\n  command = 'x'", MCP_TOML,
		   "[mcp_servers.a]\n  command = \"/bin/sluice\"\n  args = [\"run\", \"--name\", \"a\", \"--policy\", "
		   "\"/p/a.yaml\", \"--\", 'x']");
	round_trip("[mcp_servers.a]\nargs = [\n    'y',\n  ]\ncommand = \"x\"\n", MCP_TOML,
		   "[mcp_servers.a]\nargs = [\n    \"run\",\n    \"--name\",\n    \"a\",\n    \"--policy\",\n    "
		   "\"/p/a.yaml\",\n    \"--\",\n    \"x\",\n    'y'\n  ]\ncommand = \"/bin/sluice\"\n");
}

static void classification(void **state)
{
	struct mcp_doc d;
	struct mcp_perr err;

	(void)state;
	assert_int_equal(parse("{\"mcpServers\": {\"r\": {\"url\": \"https://x\"}, \"d\": {\"command\": \"/usr/bin/docker\", "
			       "\"args\": [\"run\", \"i\"]}, \"n\": {\"args\": []}, \"v\": {\"command\": \"x\", "
			       "\"sandboxEnabled\": true}, \"w\": {\"command\": \"sluice\", \"args\": [\"run\", \"--\", \"x\"]}, "
			       "\"t\": {\"type\": \"sse\", \"command\": \"x\"}, \"a\": {\"command\": \"x\", \"args\": [1]}, "
			       "\"2\": {\"command\": \"x\"}, \"2\": {\"command\": \"y\"}}}",
			       MCP_JSON, &d, &err), 0);
	static const enum mcp_state want[] = { MCP_REMOTE, MCP_SANDBOXED, MCP_UNUSABLE, MCP_SANDBOXED, MCP_WRAPPED,
					       MCP_REMOTE, MCP_UNUSABLE, MCP_UNUSABLE, MCP_UNUSABLE };
	assert_int_equal(d.n, 9);
	for (size_t i = 0; i < d.n; i++)
		assert_int_equal(d.v[i].state, want[i]);
	assert_string_equal(d.v[7].why, "its name appears twice in the same object");
	mcp_doc_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jsonc_errors),     cmocka_unit_test(jsonc_positions),
		cmocka_unit_test(toml_forms),       cmocka_unit_test(catalogue_matching),
		cmocka_unit_test(generated_policies), cmocka_unit_test(quoting),
		cmocka_unit_test(wrap_unwrap),      cmocka_unit_test(classification),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
