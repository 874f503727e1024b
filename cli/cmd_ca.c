/* cmd_ca.c: `sluice ca init` and `sluice ca show`. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ca.h"
#include "cli.h"
#include "cmds.h"
#include "log.h"


/* The --ca DIR given, or the default, into buf. 0, or -1 after a message. */
static int ca_dir(struct cli_opt *opts, char *buf, size_t size)
{
	struct cli_opt *o = cli_get(opts, "--ca");
	int rc;

	if (o->n) {
		if (!*o->values[0] || strlen(o->values[0]) >= size) {
			log_msg("ca: invalid --ca '%s'", o->values[0]);
			return -1;
		}
		snprintf(buf, size, "%s", o->values[0]);
		return 0;
	}
	rc = ca_default_dir(buf, size);
	if (rc < 0)
		log_msg("ca: no default CA directory (%s): give --ca DIR", strerror(-rc));
	return rc < 0 ? -1 : 0;
}

static int ca_init_cmd(const char *dir)
{
	const char *err = NULL;
	struct ca *ca = NULL;
	int rc = ca_init(dir, ca_registry_names, ca_nregistry_names, &err);

	if (rc == 0)
		rc = ca_load(dir, false, NULL, 0, &ca, NULL, &err);
	if (rc < 0) {
		log_msg("ca: %s", err ? err : strerror(-rc));
		return 1;
	}
	log_msg("ca: made a CA for %zu registry names; its certificate is %s", ca_nregistry_names,
		ca_cert_path(ca));
	ca_free(ca);
	return 0;
}

static int ca_show_cmd(const char *dir)
{
	const char *err = NULL;
	struct ca *ca = NULL;
	int rc = ca_load(dir, false, NULL, 0, &ca, NULL, &err);

	if (rc < 0) {
		log_msg("ca: %s", err ? err : strerror(-rc));
		return 1;
	}
	rc = fputs(ca_pem(ca), stdout) < 0 || fflush(stdout) != 0;
	if (rc)
		log_msg("ca: cannot write the certificate: %s", strerror(errno));
	ca_free(ca);
	return rc ? 1 : 0;
}

int cmd_ca(int argc, char **argv)
{
	struct cli_opt opts[CLI_MAX_OPTS];
	char dir[PATH_MAX];
	bool init = argc >= 3 && strcmp(argv[2], "init") == 0;
	bool show = argc >= 3 && strcmp(argv[2], "show") == 0;

	if (!init && !show)
		return cli_usage("ca");
	cli_table(opts, "ca", NULL);
	int first = cli_parse(argc, argv, 3, opts);
	if (first < 0 || first != argc) {
		if (first >= 0)
			log_msg("ca: unexpected argument '%s'", argv[first]);
		return cli_usage("ca");
	}
	if (ca_dir(opts, dir, sizeof(dir)) < 0)
		return 1;
	return init ? ca_init_cmd(dir) : ca_show_cmd(dir);
}
