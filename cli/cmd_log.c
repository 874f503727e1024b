/* cmd_log.c: `sluice log summary | hosts | policy | diff POLICY | report
 * --html OUT [FILTERS] [FILE...]`: one streaming pass over the logs into a
 * tally, then the review asked for. Lines that are not records are counted
 * and said once at the end; they never stop the review. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmds.h"
#include "select.h"
#include "diff.h"
#include "html.h"
#include "log.h"
#include "policy.h"
#include "propose.h"
#include "reader.h"
#include "review.h"

struct logcmd {
	struct alog_filter f;
	struct alog_tally t;
	struct alog_stats st;
	enum alog_format fmt;
	struct cli_opt *opts;
	const char *operand; /* diff's POLICY */
};

struct sub {
	const char *name;
	bool operand; /* takes one operand before the files */
	int (*run)(struct logcmd *c);
};

static const struct {
	const char *name, *arg, *help;
} helps[] = {
	{ "--server", "NAME", "only this server's records (repeatable)" },
	{ "--since", "TIME", "records at or after TIME: RFC 3339, or 90s, 30m, 24h, 7d, 2w ago" },
	{ "--until", "TIME", "records before TIME" },
	{ "--host", "PATTERN", "exact host, *.suffix (any depth below) or *" },
	{ "--decision", "D", "allow, deny or would_deny (repeatable)" },
	{ "--event", "E", "connect, http, transparent, dns or packet (repeatable)" },
	{ "--format", "F", "text (default), json or csv" },
	{ "--name", "NAME", "policy: the proposed policy's name (default: the server's)" },
	{ "--html", "OUT", "report: the HTML file to write" },
};

static void usage(FILE *f)
{
	fputs("usage: sluice log summary | hosts | policy [--name N] | diff POLICY | report --html OUT\n"
	      "                  [FILTERS] [FILE...]   (files plain or .gz; stdin when none or -)\n",
	      f);
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		fprintf(f, "  %-10s %-8s %s\n", helps[i].name, helps[i].arg, helps[i].help);
}

static int rec_cb(const struct alog_rec *r, void *arg)
{
	struct logcmd *c = arg;

	if (alog_filter_match(&c->f, r))
		alog_tally_add(&c->t, r);
	return 0;
}

typedef int (*setter)(struct alog_filter *f, const char *v, const char **why);

static int apply(struct logcmd *c, const char *name, setter set)
{
	struct cli_opt *o = cli_get(c->opts, name);
	const char *why = "";

	for (size_t i = 0; i < o->n; i++)
		if (set(&c->f, o->values[i], &why) < 0) {
			log_msg("log: %s '%s': %s", name, o->values[i], why);
			return -1;
		}
	return 0;
}

static int apply_time(struct logcmd *c, const char *name, bool since)
{
	struct cli_opt *o = cli_get(c->opts, name);
	const char *why = "";
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	int64_t ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if (o->n && alog_filter_time(&c->f, since, o->values[0], ms, &why) < 0) {
		log_msg("log: %s '%s': %s", name, o->values[0], why);
		return -1;
	}
	return 0;
}

static int filters(struct logcmd *c)
{
	struct cli_opt *fmt = cli_get(c->opts, "--format");
	static const char *const formats[] = { "text", "json", "csv" };

	alog_filter_init(&c->f);
	if (apply(c, "--server", alog_filter_server) || apply(c, "--host", alog_filter_host) ||
	    apply(c, "--decision", alog_filter_decision) || apply(c, "--event", alog_filter_event) ||
	    apply_time(c, "--since", true) || apply_time(c, "--until", false))
		return -1;
	c->fmt = ALOG_TEXT;
	for (size_t i = 0; fmt->n && i < 3; i++)
		if (strcmp(fmt->values[0], formats[i]) == 0)
			c->fmt = (enum alog_format)i;
	if (fmt->n && strcmp(fmt->values[0], formats[c->fmt]) != 0) {
		log_msg("log: --format '%s': not text, json or csv", fmt->values[0]);
		return -1;
	}
	return 0;
}

/* Options anywhere among the operands; operands gathered into files. */
static int parse(int argc, char **argv, struct cli_opt *opts, char **files, size_t *nfiles)
{
	int i = 3;

	*nfiles = 0;
	while (i < argc) {
		int next = cli_parse(argc, argv, i, opts);
		if (next < 0)
			return -1;
		if (next > i && strcmp(argv[next - 1], "--") == 0) {
			while (next < argc)
				files[(*nfiles)++] = argv[next++];
			break;
		}
		if (next < argc)
			files[(*nfiles)++] = argv[next++];
		i = next;
	}
	return 0;
}

static int summary(struct logcmd *c)
{
	return alog_summary(&c->t, c->fmt, stdout);
}

static int hosts(struct logcmd *c)
{
	return alog_hosts(&c->t, c->fmt, stdout);
}

/* The one server a proposal is for; after a message -1 (several) or -2 (none). */
static int one_server(const struct logcmd *c)
{
	char names[512] = "";

	if (c->t.nservers == 1)
		return 0;
	if (c->t.nservers == 0) {
		log_msg("log policy: no records in the window");
		return -2;
	}
	for (size_t i = 0; i < c->t.nservers; i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "",
			 c->t.servers[i].name);
	log_msg("log policy: records of %zu servers (%s): choose one with --server", c->t.nservers, names);
	return -1;
}

static int propose(struct logcmd *c)
{
	struct cli_opt *name = cli_get(c->opts, "--name");
	int srv = one_server(c);

	if (srv < 0)
		return srv == -2 ? -ENODATA : -EINVAL;
	return alog_propose(&c->t, (unsigned)srv, name->n ? name->values[0] : c->t.servers[srv].name, stdout);
}

static int diff(struct logcmd *c)
{
	struct policy *pol = cmd_load_policy(c->operand);
	int srv = -1;

	if (!pol)
		return -EINVAL;
	for (size_t i = 0; i < c->t.nservers; i++)
		if (strcmp(c->t.servers[i].name, pol->name) == 0 || c->t.nservers == 1)
			srv = (int)i;
	int rc = alog_diff(&c->t, srv, pol, c->fmt, stdout);
	pol_free(pol);
	return rc;
}

/* The report goes to OUT.tmp, then is renamed: a reader never sees half of it. */
static int report(struct logcmd *c)
{
	struct cli_opt *html = cli_get(c->opts, "--html");
	char tmp[4096];

	if (!html->n) {
		log_msg("log report: needs --html OUT");
		return -EINVAL;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", html->values[0]);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		log_msg("log report: cannot write %s: %s", tmp, strerror(errno));
		return -EIO;
	}
	int rc = alog_report_html(&c->t, &c->st, f);
	if (fclose(f) != 0 && rc == 0)
		rc = -EIO;
	if (rc == 0 && rename(tmp, html->values[0]) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static const struct sub subs[] = {
	{ "summary", false, summary },
	{ "hosts", false, hosts },
	{ "policy", false, propose },
	{ "diff", true, diff },
	{ "report", false, report },
};

static int read_all(struct logcmd *c, char **files, size_t n)
{
	int failed = 0;

	if (n == 0)
		return alog_read(NULL, rec_cb, c, &c->st) < 0;
	for (size_t i = 0; i < n; i++)
		failed |= alog_read(files[i], rec_cb, c, &c->st) < 0;
	return failed;
}

static int run_sub(const struct sub *s, struct logcmd *c, char **files, size_t n)
{
	if (s->operand) {
		if (n == 0) {
			log_msg("log %s: needs an operand", s->name);
			return 2;
		}
		c->operand = files[0];
		files++;
		n--;
	}
	if (alog_tally_init(&c->t) < 0) {
		log_msg("log: out of memory");
		return 1;
	}
	int failed = read_all(c, files, n);
	alog_stats_report(&c->st);
	alog_tally_report(&c->t);
	int rc = s->run(c);
	if (rc < 0 && rc != -EINVAL && rc != -ENODATA) /* those two were said already */
		log_msg("log %s: %s", s->name, strerror(-rc));
	alog_tally_free(&c->t);
	fflush(stdout);
	return rc == -EINVAL ? 2 : rc < 0 || failed ? 1 : 0;
}

int cmd_log(int argc, char **argv)
{
	struct cli_opt opts[CLI_MAX_OPTS];
	size_t k = 0;

	cli_table(opts, "log", NULL);
	while (opts[k].name)
		k++;
	opts[k] = (struct cli_opt){ .name = "--help" }; /* `sluice log summary --help` */
	opts[k + 1] = (struct cli_opt){ .name = NULL };
	struct logcmd *c = calloc(1, sizeof(*c));
	char **files = calloc((size_t)argc + 1, sizeof(*files));
	const struct sub *s = NULL;
	size_t n = 0;
	int rc = 2;

	for (size_t i = 0; argc >= 3 && i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[2], subs[i].name) == 0)
			s = &subs[i];
	if (!c || !files) {
		log_msg("log: out of memory");
		rc = 1;
	} else if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "help") == 0)) {
		usage(stdout);
		rc = 0;
	} else if (!s || parse(argc, argv, opts, files, &n) < 0 || (c->opts = opts, filters(c) < 0)) {
		usage(stderr);
	} else if (cli_get(opts, "--help")->n) {
		usage(stdout);
		rc = 0;
	} else {
		rc = run_sub(s, c, files, n);
	}
	free(files);
	free(c);
	return rc;
}

int cmd_log_learn(const char *log, const char *server, int64_t since_ms)
{
	struct logcmd *c = calloc(1, sizeof(*c));
	char out[4096], tmp[4200];
	const char *why = "";
	int rc = -ENOMEM;

	snprintf(out, sizeof(out), "%s.policy.yaml", log);
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	if (c && alog_tally_init(&c->t) == 0) {
		alog_filter_init(&c->f);
		c->f.since = since_ms;
		rc = alog_filter_server(&c->f, server, &why);
		if (rc == 0 && (rc = alog_read(log, rec_cb, c, &c->st)) == 0 && (rc = c->t.nservers ? 0 : -ENODATA) == 0) {
			FILE *f = fopen(tmp, "w");
			rc = f ? alog_propose(&c->t, 0, server, f) : -errno;
			if (f && fclose(f) != 0 && rc == 0)
				rc = -EIO;
			if (rc == 0 && rename(tmp, out) < 0)
				rc = -errno;
			if (rc < 0)
				unlink(tmp);
		}
		alog_tally_free(&c->t);
	}
	if (rc == 0)
		log_msg("run: --learn: the proposed policy is %s (review it before use)", out);
	else
		log_msg("run: --learn: no proposed policy written: %s", rc == -ENODATA ? "no records of this run" : strerror(-rc));
	free(c);
	return rc;
}
