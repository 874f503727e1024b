/* cmd_cache.c: `sluice cache stats | verify | gc | purge`, maintaining the
 * package cache's store (the one `--cache DIR` names for the proxy). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#include "log.h"
#include "store.h"


static int stats(struct cache_store *st, const char *dir, uint64_t max)
{
	struct cache_stats s;
	int rc = cache_stats(st, &s);

	(void)max;
	if (rc < 0) {
		log_msg("cache: stats: %s: %s", dir, strerror(-rc));
		return 1;
	}
	printf("entries: %" PRIu64 "\nblobs: %" PRIu64 "\nbytes: %" PRIu64 "\ncap: %" PRIu64 "\nreserved: %" PRIu64
	       "\nhits: %" PRIu64 "\nmisses: %" PRIu64 "\n",
	       s.entries, s.blobs, s.bytes, s.max_bytes, s.reserved, s.hits, s.misses);
	if (s.hits + s.misses)
		printf("hit_ratio: %.3f\n", (double)s.hits / (double)(s.hits + s.misses));
	else
		printf("hit_ratio: -\n");
	return 0;
}

static int verify(struct cache_store *st, const char *dir, uint64_t max)
{
	uint64_t checked = 0, bad = 0;
	int rc = cache_verify(st, &checked, &bad);

	(void)max;
	printf("checked: %" PRIu64 "\nbad: %" PRIu64 "\n", checked, bad);
	if (rc < 0)
		log_msg("cache: verify: %s: %s", dir, strerror(-rc));
	else if (bad)
		log_msg("cache: verify: %" PRIu64 " corrupt blob(s) in '%s' dropped, with the records naming them",
			bad, dir);
	return rc < 0 || bad ? 1 : 0;
}

static int gc(struct cache_store *st, const char *dir, uint64_t max)
{
	uint64_t freed = 0;
	int rc = cache_gc(st, max, &freed);

	printf("freed: %" PRIu64 "\n", freed);
	if (rc < 0) {
		log_msg("cache: gc: %s: %s", dir, strerror(-rc));
		return 1;
	}
	return 0;
}

static int purge(struct cache_store *st, const char *dir, uint64_t max)
{
	int rc = cache_purge(st);

	(void)max;
	if (rc < 0) {
		log_msg("cache: purge: %s: %s", dir, strerror(-rc));
		return 1;
	}
	return 0;
}

static const struct {
	const char *name;
	bool takes_max; /* --cache-max */
	int (*run)(struct cache_store *st, const char *dir, uint64_t max);
} subs[] = {
	{ "stats", false, stats },
	{ "verify", false, verify },
	{ "gc", true, gc },
	{ "purge", false, purge },
};

/* The store directory and, for gc, the cap. 0, or the exit status 2 after a message. */
static int options(struct cli_opt *opts, bool takes_max, char *dir, size_t size, uint64_t *max)
{
	struct cli_opt *cache = cli_get(opts, "--cache"), *cap = cli_get(opts, "--cache-max");

	*max = 0;
	if (cap->n && !takes_max) {
		log_msg("cache: --cache-max is for gc only");
		return 2;
	}
	if (cap->n && cache_parse_size(cap->values[0], max) < 0) {
		log_msg("cache: invalid --cache-max '%s': want a size such as 10G, 512M or 1048576", cap->values[0]);
		return 2;
	}
	if (cache->n && (!cache->values[0][0] || strlen(cache->values[0]) >= size)) {
		log_msg("cache: invalid --cache '%s': want a directory", cache->values[0]);
		return 2;
	}
	if (cache->n) {
		snprintf(dir, size, "%s", cache->values[0]);
	} else if (cache_default_dir(dir, size) < 0) {
		log_msg("cache: no default cache directory (HOME is not set): give --cache DIR");
		return 2;
	}
	return 0;
}

int cmd_cache(int argc, char **argv)
{
	struct cli_opt opts[CLI_MAX_OPTS];
	char dir[PATH_MAX];
	uint64_t max;
	size_t i = 0;

	while (argc >= 3 && i < sizeof(subs) / sizeof(subs[0]) && strcmp(argv[2], subs[i].name) != 0)
		i++;
	if (argc < 3 || i == sizeof(subs) / sizeof(subs[0]))
		return cli_usage("cache");
	cli_table(opts, "cache", NULL);
	int first = cli_parse(argc, argv, 3, opts);
	if (first < 0 || first != argc) {
		if (first >= 0)
			log_msg("cache: unexpected argument '%s'", argv[first]);
		return cli_usage("cache");
	}
	int rc = options(opts, subs[i].takes_max, dir, sizeof(dir), &max);
	if (rc)
		return rc;
	struct cache_store *st;
	/* 0: the cap recorded by the last proxy that opened the store */
	if ((rc = cache_store_open(dir, 0, &st)) < 0) {
		log_msg("cache: cannot open the store '%s': %s", dir, strerror(-rc));
		return 1;
	}
	rc = subs[i].run(st, dir, max ? max : cache_store_cap(st));
	cache_store_close(st);
	return rc;
}
