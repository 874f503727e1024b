/* verify.h: the hashes the ecosystems publish for the objects the cache
 * stores: npm dist.integrity (from the packuments the cache served), Debian
 * by-hash names and Packages checksums, PyPI #sha256= fragments. */
#ifndef SLUICE_CACHE_VERIFY_H
#define SLUICE_CACHE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "span.h"
#include "store.h"

struct cache_expect;

/* A table of at most max learned hashes (host+path → digest); when full, the
 * oldest is forgotten. Returns 0 or -ENOMEM. */
int cache_expect_new(size_t max, struct cache_expect **out);
void cache_expect_free(struct cache_expect *x);

/*
 * Learn what a metadata body publishes: an npm packument's tarballs, a PyPI
 * simple page's links, a Debian Packages file's pool files. body is the
 * stored representation (gzip is inflated, at most 256 MiB). Bodies that
 * publish nothing, or do not parse, teach nothing.
 */
void cache_expect_learn(struct cache_expect *x, const struct pol_cache_rule *rule, const char *host,
			struct span path, const char *content_encoding, struct span body);

/* The digest published for host+path: its by-hash name, or what was learned.
 * false when none is known. */
bool cache_expect_find(const struct cache_expect *x, const char *host, struct span path,
		       struct cache_hash *out);

/* Parse an npm/SRI integrity ("sha512-BASE64", the strongest of several)
 * or a hex digest of alg. false when it does not parse. */
bool cache_hash_sri(struct span text, struct cache_hash *out);
bool cache_hash_hex(enum cache_alg alg, struct span hex, struct cache_hash *out);

/* A body checked against its published hash as it comes, without the
 * store (one the store would not take, held in memory). */
struct cache_check;
/* Start checking against want. 0, -EINVAL (want->alg is NONE) or -ENOMEM. */
int cache_check_new(const struct cache_hash *want, struct cache_check **out);
/* Hash the next n bytes. 0 or -ENOMEM. */
int cache_check_update(struct cache_check *c, const void *p, size_t n);
/* The body is complete: 0 when it matches, -EBADMSG when not (or -ENOMEM).
 * Once only. */
int cache_check_end(struct cache_check *c);
/* NULL is fine. */
void cache_check_free(struct cache_check *c);

#endif
