/* catalogue.c: which well-known server a command is, and the policy text
 * written for it. A server is recognised by any path component of its
 * command or arguments, version suffix removed, that a catalogue file's
 * "# match:" line names: `npx -y @modelcontextprotocol/server-filesystem@1.2`,
 * `node .../server-filesystem/dist/index.js` and `uvx mcp-server-fetch` all
 * work. */
#include "catalogue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

static const char *base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Whether the "# match:" line of text names [p, p+n). */
static bool names(const char *text, const char *p, size_t n)
{
	static const char tag[] = "# match:";
	const char *eol = strchr(text, '\n');

	if (strncmp(text, tag, sizeof(tag) - 1) != 0 || !eol || n == 0)
		return false;
	for (const char *w = text + sizeof(tag) - 1; w < eol;) {
		while (w < eol && *w == ' ')
			w++;
		size_t l = strcspn(w, " \n");
		if (l == n && memcmp(w, p, n) == 0)
			return true;
		w += l;
	}
	return false;
}

/* The catalogue entry one word (a command or argument) names, or NULL. */
static const struct mcp_catalogue_entry *match_word(const char *word)
{
	for (const char *p = word; *p;) {
		size_t l = strcspn(p, "/");
		const char *at = l > 1 ? memchr(p + 1, '@', l - 1) : NULL; /* name@version */
		size_t n = at ? (size_t)(at - p) : l;
		for (const struct mcp_catalogue_entry *e = mcp_catalogue; e->name; e++)
			if (names(e->text, p, n))
				return e;
		p += l + (p[l] == '/');
	}
	return NULL;
}

static const struct mcp_catalogue_entry *match(const struct mcp_server *s)
{
	const struct mcp_catalogue_entry *e = match_word(s->command);

	for (size_t i = 0; !e && i < s->nargs; i++)
		e = match_word(s->args[i]);
	return e;
}

/* The package registry the launcher downloads from: "npm", "pypi" or NULL. */
static const char *launcher(const struct mcp_server *s)
{
	const char *b = base(s->command), *a0 = s->nargs ? s->args[0] : "";

	if (strcmp(b, "npx") == 0 || (strcmp(b, "npm") == 0 && strcmp(a0, "exec") == 0) ||
	    (strcmp(b, "pnpm") == 0 && strcmp(a0, "dlx") == 0))
		return "npm";
	if (strcmp(b, "uvx") == 0 || (strcmp(b, "pipx") == 0 && strcmp(a0, "run") == 0) ||
	    (strcmp(b, "uv") == 0 && s->nargs > 1 && strcmp(a0, "tool") == 0 && strcmp(s->args[1], "run") == 0))
		return "pypi";
	return NULL;
}

/* Lines for the database a postgres:// argument names. */
static void database(FILE *o, const struct mcp_server *s)
{
	for (size_t i = 0; i < s->nargs; i++) {
		const char *a = s->args[i], *sep = strstr(a, "://");
		if (!sep || (strncmp(a, "postgres://", 11) != 0 && strncmp(a, "postgresql://", 13) != 0))
			continue;
		const char *h = sep + 3;
		size_t l = strcspn(h, "/?#");
		const char *at = memchr(h, '@', l);
		for (; at; at = memchr(h, '@', l)) { /* user:password@ (the last @) */
			l -= (size_t)(at + 1 - h);
			h = at + 1;
		}
		struct host host;
		uint16_t port;
		const char *why;
		if (host_parse_authority(span_of(h, l), 5432, &host, &port, &why) < 0) {
			fprintf(o, "# the database address in its arguments is not one sluice reads (%s): add it to allow\n", why);
			return;
		}
		bool v6 = host.kind == HOST_IP && host.ip.family == AF_INET6;
		const char *range = host.kind == HOST_IP ? addr_blocked_range(&host.ip) : NULL;
		if (strcmp(host.text, "localhost") == 0 || (range && strncmp(range, "127.", 4) == 0) ||
		    (v6 && range && strcmp(range, "::1/128") == 0)) {
			fprintf(o, "# its database is on localhost, which inside the sandbox is the sandbox's own:\n"
				   "# give the server the host's address instead, and add it to allow_private\n");
			return;
		}
		fprintf(o, "allow:\n  - \"%s%s%s:%u\"\n", v6 ? "[" : "", host.text, v6 ? "]" : "", port);
		if (range)
			fprintf(o, "allow_private:\n  - \"%s%s%s:%u\"\n", v6 ? "[" : "", host.text, v6 ? "]" : "", port);
		else if (host.kind == HOST_NAME)
			fprintf(o, "# if %s is a private address, add \"%s:%u\" to allow_private as well\n", host.text,
				host.text, port);
		return;
	}
	fprintf(o, "# no postgres:// argument: add the database's HOST:PORT to allow\n");
}

int mcp_policy_for(const struct mcp_server *s, char **out, const char **id)
{
	const struct mcp_catalogue_entry *e = match(s);
	const char *reg = launcher(s);
	size_t n = 0;
	FILE *o = open_memstream(out, &n);

	*id = e ? e->name : NULL;
	if (!o)
		return -ENOMEM;
	if (e) {
		fprintf(o, "# Written by 'sluice mcp wrap' for server '%s', from the catalogue entry '%s'.\n%s", s->key,
			e->name, e->text);
		if (strstr(e->text, "\n# args: database-url\n"))
			database(o, s);
	} else {
		char q[65];
		size_t qn = 0;
		for (const char *k = s->key; *k && qn < 64; k++) /* the loader's name syntax */
			q[qn++] = strchr("._-", *k) || (*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
					 (*k >= '0' && *k <= '9') ? *k : '_';
		q[qn] = '\0';
		fprintf(o, "# Written by 'sluice mcp wrap' for server '%s', which is not in sluice's catalogue:\n"
			   "# every connection is allowed and logged as would_deny (mode: report). Learn what it\n"
			   "# needs with 'sluice run --learn', list the hosts here and remove the mode line.\n"
			   "version: 1\nname: %s\nmode: report\nallow: []\n", s->key, qn ? q : "unknown");
	}
	if (reg && strcmp(reg, "npm") == 0)
		fprintf(o, "# it runs through npx: the npm registry, and npm's cache writable\npresets: [npm]\nwrite: [\"~/.npm\"]\n");
	else if (reg)
		fprintf(o, "# it runs through uvx or pipx: the Python Package Index, and their caches writable\n"
			   "presets: [pypi]\nwrite: [\"~/.cache/uv\", \"~/.local/share/uv\", \"~/.local/share/pipx\"]\n");
	return fclose(o) == 0 && *out ? 0 : -ENOMEM;
}
