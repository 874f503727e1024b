/* binding.h: the names the DNS stub handed out for each address, kept for
 * the answer's TTL, so the transparent path can name a connection that has
 * neither SNI nor Host (DESIGN.md, decision pipeline step 6). Bounded: when
 * full, the oldest binding goes. */
#ifndef SLUICE_BINDING_H
#define SLUICE_BINDING_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define BND_MAX_NAMES 8

struct bnd_table;

/* A table of at most max bindings (0 takes the default, 16384). NULL on ENOMEM. */
struct bnd_table *bnd_new(size_t max);
void bnd_free(struct bnd_table *t);

/* Bind name (canonical) to a for ttl seconds; refreshes an existing pair.
 * Returns 0 or -ENOMEM. */
int bnd_add(struct bnd_table *t, const struct addr *a, const char *name, uint32_t ttl);

/* The names bound to a that have not expired, most recent first, at most
 * max of them; the pointers stay valid until the next bnd_add. */
size_t bnd_find(struct bnd_table *t, const struct addr *a, const char **names, size_t max);

/* Bindings held now (expired ones included until they are dropped). */
size_t bnd_count(const struct bnd_table *t);

#endif
