/* rules.h: what the package cache may store: the policy's cache rules
 * matched against a request, the store key, and the package a path names. */
#ifndef SLUICE_CACHE_RULES_H
#define SLUICE_CACHE_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"
#include "span.h"

/* Whether pattern matches path: `*` within one segment, `**` across them.
 * Time is bounded by len(pattern) × len(path). */
bool cache_glob(struct span pattern, struct span path);

/* The first rule for host whose pattern matches path (no query), or NULL. */
const struct pol_cache_rule *cache_rule_match(const struct policy *p, const char *host, struct span path);

/* Whether any cache rule names host: its connections are intercepted. */
bool cache_host_cached(const struct policy *p, const char *host);

/* Every distinct host the rules name, at most max, into out; returns how many. */
size_t cache_rule_hosts(const struct policy *p, const char **out, size_t max);

/*
 * The store key for a request: "host:port" + target (path and query), then
 * a variant line: the representation asked for ("gzip" or "identity") and,
 * for npm metadata, which packument form Accept names. Returns 0, or
 * -ENAMETOOLONG past CACHE_KEY_MAX.
 */
int cache_key(const char *host, unsigned port, struct span target, bool gzip, const char *form, char *buf,
	      size_t size);

/*
 * The package a path names in rule's ecosystem: "npm:express@4.21.2",
 * "npm:@types/node@20.1.0", "debian:hello_2.10-3_amd64",
 * "pypi:requests@2.32.3", "crates:serde@1.0.200",
 * "go:golang.org/x/mod@v0.17.0"; metadata names the package without a
 * version ("npm:express"). Writes "" when the path names none. Only
 * printable ASCII is written.
 */
void cache_package(const struct pol_cache_rule *rule, struct span path, char *buf, size_t size);

#endif
