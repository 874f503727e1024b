/* cmd_mcp.c: `sluice mcp list | wrap | unwrap`: find the MCP client configs,
 * show their servers, put each stdio server under `sluice run` with its own
 * policy, and take it back out. The editing itself is in mcp/; this file
 * decides what to edit, writes the policies and says what happened.
 *
 * Beside a wrapped CONFIG sit CONFIG.sluice.json (the exact bytes each
 * wrapped entry had, so unwrap restores them even after the client rewrote
 * other parts of the file) and CONFIG.sluice-backup (the file as it was
 * before sluice's last write). The wrapped args themselves are the marker:
 * command sluice, args "run" ... "--" CMD ARG..., so an entry whose record is
 * gone or stale is still unwrapped, rebuilt from the arguments after "--". */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalogue.h"
#include "cli.h"
#include "clients.h"
#include "cmds.h"
#include "file.h"
#include "log.h"
#include "mcp.h"
#include "policy.h"

#define MAX_POLICIES MCP_MAX_SERVERS

enum sub { LIST, WRAP, UNWRAP };

struct job {
	enum sub sub;
	struct cli_opt *opts;
	struct cli_opt *servers; /* --server */
	bool matched[CLI_MAX_REPEAT];
	bool dry;
	char sluice[PATH_MAX];
};

/* A policy file wrap is about to write. */
struct pending {
	char path[PATH_MAX];
	char *text;
	const char *key, *id;
	bool exists;
};

struct edit_run {
	struct mcp_file f;
	struct mcp_doc doc;
	struct mcp_records rec;
	struct mcp_edits ed;
	struct pending pol[MAX_POLICIES];
	size_t npol;
	char side[PATH_MAX], backup[PATH_MAX], pdir[PATH_MAX];
	bool had_side;
};

static const char *state_text(enum mcp_state s)
{
	static const char *const t[] = { "not wrapped", "wrapped", "remote", "sandboxed", "unusable" };

	return t[s];
}

static bool selected(struct job *j, const struct mcp_server *s)
{
	if (!j->servers->n)
		return true;
	for (size_t i = 0; i < j->servers->n; i++)
		if (strcmp(j->servers->values[i], s->key) == 0)
			return j->matched[i] = true;
	return false;
}

/* ---- list */

static void print_words(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf(strpbrk(v[i], " \t'\"") || !v[i][0] ? " '%s'" : " %s", v[i]);
}

static void list_server(const struct mcp_server *s)
{
	size_t from = 0;
	bool main_scope = strcmp(s->scope, "mcpServers") == 0 || strcmp(s->scope, "servers") == 0 ||
			  strcmp(s->scope, "mcp_servers") == 0;

	printf("%-20s %-6s %-11s", s->key, s->transport, state_text(s->state));
	if (s->state == MCP_WRAPPED)
		while (from < s->nargs && strcmp(s->args[from++], "--") != 0)
			;
	if (s->url)
		printf(" %s", s->url);
	else if (s->command && s->state == MCP_WRAPPED && from < s->nargs)
		print_words(s->args + from, s->nargs - from);
	else if (s->command)
		printf(" %s", s->command), print_words(s->args, s->nargs);
	if (!main_scope)
		printf("   [%s]", s->scope);
	if (s->why[0] && s->state != MCP_WRAPPED)
		printf("   (%s)", s->why);
	putchar('\n');
}

/* ---- paths */

static void key_file(const char *key, char *out, size_t size)
{
	size_t n = 0;

	for (const char *p = key; *p && n + 1 < size && n < 100; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			  c == '_' || (c == '.' && n > 0);
		out[n++] = ok ? c : '_';
	}
	out[n] = '\0';
	if (!n)
		snprintf(out, size, "server");
}

static int policy_dir(struct job *j, struct edit_run *r)
{
	struct cli_opt *pd = cli_get(j->opts, "--policy-dir");
	char cwd[PATH_MAX];
	int n;

	if (pd->n && pd->values[0][0] != '/')
		n = snprintf(r->pdir, sizeof(r->pdir), "%s/%s", getcwd(cwd, sizeof(cwd)) ? cwd : ".", pd->values[0]);
	else if (pd->n)
		n = snprintf(r->pdir, sizeof(r->pdir), "%s", pd->values[0]);
	else
		n = snprintf(r->pdir, sizeof(r->pdir), "%.*s/.sluice", (int)(strrchr(r->f.path, '/') - r->f.path),
			     r->f.path);
	if (n < 0 || (size_t)n + 150 >= sizeof(r->pdir)) {
		log_msg("mcp: the policy directory's path is too long");
		return -1;
	}
	return 0;
}

/* Choose a policy file for s, unused by the others of this run (the
 * directory leaves room: see policy_dir). */
static void policy_path(struct edit_run *r, const struct mcp_server *s, char *out, size_t size)
{
	char base[104];

	key_file(s->key, base, sizeof(base));
	for (int k = 1; k < MAX_POLICIES + 2; k++) {
		bool taken = false;
		char num[16] = "";
		if (k > 1)
			snprintf(num, sizeof(num), "-%d", k);
		snprintf(out, size, "%.3950s/%s%s.yaml", r->pdir, base, num);
		for (size_t i = 0; i < r->npol; i++)
			taken = taken || strcmp(r->pol[i].path, out) == 0;
		if (!taken)
			return;
	}
}

/* ---- wrap */

static int plan_policy(struct edit_run *r, const struct mcp_server *s, struct pending *p)
{
	struct policy *pol = NULL;
	struct pol_errors errs = { 0 };

	policy_path(r, s, p->path, sizeof(p->path));
	p->key = s->key;
	p->exists = access(p->path, F_OK) == 0;
	if (mcp_policy_for(s, &p->text, &p->id) < 0)
		return -ENOMEM;
	/* a policy that `sluice run` would refuse is never written */
	int rc = pol_load_buffer(p->text, strlen(p->text), p->path, &pol, &errs);
	for (size_t i = 0; rc < 0 && i < errs.n; i++)
		log_msg("mcp: internal error: the policy for '%s': %s", s->key, errs.v[i]);
	pol_free(pol);
	pol_errors_free(&errs);
	return rc;
}

static int wrap_one(struct job *j, struct edit_run *r, size_t i)
{
	const struct mcp_server *s = &r->doc.v[i];
	struct pending *p = &r->pol[r->npol];

	if (s->state == MCP_WRAPPED) {
		log_msg("mcp: %s: %s: already wrapped", r->f.path, s->key);
		return 0;
	}
	if (s->state != MCP_STDIO) {
		log_msg("mcp: %s: %s: left alone: %s", r->f.path, s->key, s->why);
		return 0;
	}
	if (s->nenv > MCP_MAX_ENV) {
		log_msg("mcp: %s: %s: left alone: its env sets %zu variables, sluice run passes at most %d",
			r->f.path, s->key, s->nenv, MCP_MAX_ENV);
		return 1;
	}
	if (plan_policy(r, s, p) < 0 || mcp_wrap(&r->doc, i, j->sluice, p->path, &r->ed, &r->rec) < 0) {
		free(p->text);
		log_msg("mcp: %s: %s: cannot wrap it", r->f.path, s->key);
		return 1;
	}
	r->npol++;
	return 0;
}

static int write_policies(struct edit_run *r)
{
	const struct stat *st = &r->f.st;

	if (r->npol && mkdir(r->pdir, 0755) == 0 && chown(r->pdir, st->st_uid, st->st_gid) < 0)
		log_msg("mcp: cannot give %s to the config's owner: %s", r->pdir, strerror(errno));
	for (size_t i = 0; i < r->npol; i++) {
		struct pending *p = &r->pol[i];
		int rc = p->exists ? 0 : mcp_file_write(p->path, p->text, strlen(p->text), 0644, st->st_uid, st->st_gid);
		if (rc < 0) {
			log_msg("mcp: cannot write the policy %s: %s; nothing changed in %s", p->path, strerror(-rc),
				r->f.path);
			return -1;
		}
	}
	return 0;
}

static void report_policies(const struct edit_run *r, bool dry)
{
	for (size_t i = 0; i < r->npol; i++) {
		const struct pending *p = &r->pol[i];
		log_msg("mcp: %s: %s%s, policy %s (%s%s)", r->f.path, dry ? "would wrap " : "wrapped ", p->key, p->path,
			p->exists ? "kept as it was" : p->id ? "from the catalogue: " : "unknown server: deny-all, report mode",
			p->exists ? "" : p->id ? p->id : "");
		if (!p->id && !p->exists)
			log_msg("mcp: %s is not a server sluice knows: learn what it needs with 'sluice run --learn "
				"--log %s.jsonl --policy %s --name %s -- CMD...' (the proposal lands beside the log) "
				"and list those hosts in %s", p->key, p->key, p->path, p->key, p->path);
	}
}

/* ---- the file */

static int open_config(struct edit_run *r, const struct mcp_config *c)
{
	struct mcp_perr err;
	int rc = mcp_file_open(c->path, &r->f);

	if (rc == -EWOULDBLOCK)
		log_msg("mcp: %s is locked by another sluice mcp (waited %d s): nothing done; try again", c->path,
			MCP_LOCK_WAIT_MS / 1000);
	else if (rc < 0)
		log_msg("mcp: cannot read %s: %s", c->path, strerror(-rc));
	if (rc < 0)
		return -1;
	rc = mcp_doc_parse(r->f.buf, r->f.len, c->fmt, c->scopes, &r->doc, &err);
	if (rc == -EINVAL)
		log_msg("%s:%u:%u: %s (nothing changed)", r->f.path, err.line, err.col, err.msg);
	else if (rc < 0)
		log_msg("mcp: cannot read %s: %s", r->f.path, strerror(-rc));
	return rc < 0 ? -1 : 0;
}

static int load_records(struct edit_run *r)
{
	struct mcp_file side;
	int rc;

	snprintf(r->side, sizeof(r->side), "%s.sluice.json", r->f.path);
	snprintf(r->backup, sizeof(r->backup), "%s.sluice-backup", r->f.path);
	if ((rc = mcp_file_open(r->side, &side)) == -ENOENT)
		return 0;
	if (rc == 0)
		rc = mcp_records_load(side.buf, side.len, &r->rec);
	mcp_file_close(&side);
	if (rc < 0)
		log_msg("mcp: %s is not a record sluice can read (%s): move it away to go on", r->side, strerror(-rc));
	r->had_side = rc == 0;
	return rc;
}

/* Write recs to the record file side (removing it when empty). */
static int save_records(const char *side, const struct mcp_records *recs, const struct stat *st, const char *cfg)
{
	char *text = NULL;
	int rc;

	if (!recs->n)
		return unlink(side) < 0 && errno != ENOENT ? -errno : 0;
	if ((rc = mcp_records_dump(recs, &text)) == 0)
		rc = mcp_file_write(side, text, strlen(text), st->st_mode, st->st_uid, st->st_gid);
	free(text);
	if (rc < 0)
		log_msg("mcp: cannot write %s: %s; nothing changed in %s", side, strerror(-rc), cfg);
	return rc;
}

static void replace_failed(const struct edit_run *r, int rc)
{
	if (rc == -EAGAIN)
		log_msg("mcp: %s changed while sluice was editing it (another program wrote it): nothing written; "
			"run the command again", r->f.path);
	else if (rc == -EROFS)
		log_msg("mcp: %s is read-only (mode %04o): nothing written; make it writable to change it", r->f.path,
			(unsigned)(r->f.st.st_mode & 07777));
	else
		log_msg("mcp: cannot write %s: %s (nothing written)", r->f.path, strerror(-rc));
}

/* Apply the planned edits: diff (--dry-run) or write. */
static int commit(struct job *j, struct edit_run *r, struct mcp_records *old)
{
	char *out = NULL;
	size_t n = 0;

	if (!r->ed.n) {
		log_msg("mcp: %s: nothing to change", r->f.path);
		return 0;
	}
	if (mcp_apply(r->f.buf, r->f.len, &r->ed, &out, &n) < 0) {
		log_msg("mcp: %s: cannot apply the edits", r->f.path);
		return 1;
	}
	if (j->dry) {
		mcp_diff(stdout, r->f.path, r->f.buf, r->f.len, &r->ed);
		free(out);
		return 0;
	}
	int rc = j->sub == WRAP ? write_policies(r) : 0;
	if (rc == 0 && (rc = save_records(r->side, &r->rec, &r->f.st, r->f.path)) == 0 &&
	    (rc = mcp_file_replace(&r->f, out, n, r->backup)) < 0) {
		replace_failed(r, rc);
		save_records(r->side, old, &r->f.st, r->f.path); /* the records as they were */
	}
	free(out);
	return rc < 0 ? 1 : 0;
}

static int copy_records(const struct mcp_records *from, struct mcp_records *to)
{
	char *text = NULL;
	int rc = mcp_records_dump(from, &text);

	*to = (struct mcp_records){ 0 };
	if (rc == 0)
		rc = mcp_records_load(text, strlen(text), to);
	free(text);
	return rc;
}

static int unwrap_one(struct edit_run *r, size_t i, bool dry)
{
	const struct mcp_server *s = &r->doc.v[i];
	bool exact;

	if (s->state != MCP_WRAPPED)
		return 0;
	if (mcp_unwrap(&r->doc, i, &r->rec, &r->ed, &exact) < 0) {
		log_msg("mcp: %s: %s: cannot unwrap it: no command after \"--\" in its args", r->f.path, s->key);
		return 1;
	}
	if (exact)
		log_msg("mcp: %s: %sunwrapped %s", r->f.path, dry ? "would be " : "", s->key);
	else
		log_msg("mcp: %s: %sunwrapped %s, rebuilt from its arguments (its record in %s is missing or no longer "
			"matches)", r->f.path, dry ? "would be " : "", s->key, r->side);
	mcp_records_drop(&r->rec, s->scope, s->key);
	return 0;
}

static int edit_config(struct job *j, const struct mcp_config *c)
{
	struct edit_run *r = calloc(1, sizeof(*r));
	struct mcp_records old = { 0 };
	int rc = 1;

	if (!r)
		return 1;
	r->f.fd = -1;
	if (open_config(r, c) < 0 || (j->sub != LIST && (load_records(r) < 0 || copy_records(&r->rec, &old) < 0)))
		goto out;
	if (j->sub != LIST && policy_dir(j, r) < 0)
		goto out;
	if (j->sub != LIST && !j->dry && (rc = mcp_file_writable(&r->f)) < 0) {
		replace_failed(r, rc); /* before anything is planned or written */
		rc = 1;
		goto out;
	}
	if (j->sub == LIST)
		printf("# %s (%s)\n", r->f.path, c->client);
	rc = 0;
	for (size_t i = 0; i < r->doc.n; i++) {
		if (!selected(j, &r->doc.v[i]))
			continue;
		if (j->sub == LIST)
			list_server(&r->doc.v[i]);
		else
			rc |= j->sub == WRAP ? wrap_one(j, r, i) : unwrap_one(r, i, j->dry);
	}
	if (j->sub != LIST) {
		rc |= commit(j, r, &old);
		if (j->sub == WRAP && (rc == 0 || j->dry))
			report_policies(r, j->dry);
	}
out:
	for (size_t i = 0; i < r->npol; i++)
		free(r->pol[i].text);
	mcp_records_free(&old);
	mcp_records_free(&r->rec);
	mcp_edits_free(&r->ed);
	mcp_doc_free(&r->doc);
	mcp_file_close(&r->f);
	free(r);
	return rc;
}

/* ---- the command */

static int find_configs(struct cli_opt *opts, struct mcp_config *cfg, size_t *n)
{
	struct cli_opt *client = cli_get(opts, "--client"), *config = cli_get(opts, "--config");
	const char *home = getenv("HOME"), *name = client->n ? client->values[0] : NULL;
	char cwd[PATH_MAX];

	if (name && !mcp_client_known(name)) {
		log_msg("mcp: unknown client '%s' (known: %s)", name, mcp_client_names());
		return 2;
	}
	if (config->n) {
		mcp_config_for_file(config->values[0], name, &cfg[0]);
		*n = 1;
		return 0;
	}
	if (!home || !home[0]) {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	*n = mcp_clients_find(name, home, getcwd(cwd, sizeof(cwd)), cfg, MCP_MAX_CONFIGS);
	if (!*n)
		log_msg("mcp: no MCP client config found for %s (home %s, project %s); give --config FILE",
			name ? name : "any client", home ? home : "unknown", cwd);
	return 0;
}

static int run_job(struct job *j)
{
	struct mcp_config cfg[MCP_MAX_CONFIGS];
	size_t n = 0;
	int rc = find_configs(j->opts, cfg, &n);

	if (rc)
		return rc;
	if (!n)
		return j->sub == LIST ? 0 : 1;
	for (size_t i = 0; i < n; i++)
		rc |= edit_config(j, &cfg[i]);
	for (size_t i = 0; i < j->servers->n; i++)
		if (!j->matched[i]) {
			log_msg("mcp: no server '%s' in the configs read", j->servers->values[i]);
			rc = 1;
		}
	return rc;
}

int cmd_mcp(int argc, char **argv)
{
	struct cli_opt opts[CLI_MAX_OPTS];
	static const char *const subs[] = { "list", "wrap", "unwrap" };
	cli_table(opts, "mcp", NULL);
	struct job j = { .opts = opts, .servers = cli_get(opts, "--server") };
	int sub = -1;

	for (int i = 0; argc >= 3 && i < 3; i++)
		if (strcmp(argv[2], subs[i]) == 0)
			sub = i;
	if (sub < 0 || cli_parse(argc, argv, 3, opts) != argc)
		return cli_usage("mcp");
	j.sub = (enum sub)sub;
	j.dry = cli_get(opts, "--dry-run")->n > 0;
	ssize_t l = readlink("/proc/self/exe", j.sluice, sizeof(j.sluice) - 1);
	if (l <= 0 || (size_t)l >= sizeof(j.sluice) - 1) {
		log_msg("mcp: cannot find sluice's own path (/proc/self/exe): %s", strerror(errno));
		return 1;
	}
	j.sluice[l] = '\0';
	return run_job(&j);
}
