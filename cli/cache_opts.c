/* cache_opts.c: CACHE OPTIONS, shared by the commands that serve a cache. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ca.h"
#include "cli.h"
#include "cmds.h"
#include "log.h"
#include "proxy.h"
#include "span.h"
#include "store.h"

#define DEFAULT_MAX (10ull << 30)
#define DEFAULT_TTL 60

int cmd_cache_open(struct cli_opt *opts, struct event_base *base, const struct policy *pol,
		   struct px_cache **out)
{
	struct cli_opt *dir = cli_get(opts, "--cache"), *max = cli_get(opts, "--cache-max");
	struct cli_opt *ttl = cli_get(opts, "--meta-ttl"), *ca = cli_get(opts, "--ca");
	struct cli_opt *up = cli_get(opts, "--upstream-ca");
	struct px_cache_opts o = { .max_bytes = DEFAULT_MAX, .meta_ttl_s = DEFAULT_TTL };
	char ca_dir[4096], err[512];
	unsigned long t;

	*out = NULL;
	if (!dir->n) {
		if (max->n || ttl->n || ca->n || up->n || cli_get(opts, "--offline")->n) {
			log_msg("--cache-max, --meta-ttl, --offline, --ca and --upstream-ca need --cache DIR");
			return 2;
		}
		return 0;
	}
	if (max->n && cache_parse_size(max->values[0], &o.max_bytes) < 0) {
		log_msg("invalid --cache-max '%s': want a size such as 512M or 10G", max->values[0]);
		return 2;
	}
	if (ttl->n && span_to_uint(span_str(ttl->values[0]), 0, 86400 * 365, &t) < 0) {
		log_msg("invalid --meta-ttl '%s': want seconds", ttl->values[0]);
		return 2;
	}
	if (ttl->n)
		o.meta_ttl_s = (unsigned)t;
	if (!ca->n && ca_default_dir(ca_dir, sizeof(ca_dir)) < 0) {
		log_msg("cannot tell where the CA lives: give --ca DIR");
		return 2;
	}
	o.dir = dir->values[0];
	o.ca_dir = ca->n ? ca->values[0] : ca_dir;
	o.upstream_ca = up->n ? up->values[0] : NULL;
	o.offline = cli_get(opts, "--offline")->n > 0;
	int rc = px_cache_open(base, pol, &o, out, err, sizeof(err));
	if (rc < 0) {
		log_msg("cache: %s", err);
		return 1;
	}
	return 0;
}
