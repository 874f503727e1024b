/* binding.c: address → name bindings, a hash table with a FIFO for eviction.
 * Expired entries are dropped when a lookup meets them or when the FIFO
 * reaches them. */
#include "binding.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "host.h"

#define BND_BUCKETS 4096

struct bnd {
	LIST_ENTRY(bnd) chain;
	TAILQ_ENTRY(bnd) age;
	struct addr a;
	time_t expires;
	char name[HOST_NAME_LEN + 1];
};

struct bnd_table {
	LIST_HEAD(, bnd) buckets[BND_BUCKETS];
	TAILQ_HEAD(, bnd) fifo;
	size_t n, max;
};

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static unsigned hash_addr(const struct addr *a)
{
	const uint8_t *p = a->family == AF_INET ? (const uint8_t *)&a->v4 : (const uint8_t *)&a->v6;
	size_t n = a->family == AF_INET ? 4 : 16;
	unsigned h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % BND_BUCKETS;
}

struct bnd_table *bnd_new(size_t max)
{
	struct bnd_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	for (size_t i = 0; i < BND_BUCKETS; i++)
		LIST_INIT(&t->buckets[i]);
	TAILQ_INIT(&t->fifo);
	t->max = max ? max : 16384;
	return t;
}

static void drop(struct bnd_table *t, struct bnd *b)
{
	LIST_REMOVE(b, chain);
	TAILQ_REMOVE(&t->fifo, b, age);
	t->n--;
	free(b);
}

void bnd_free(struct bnd_table *t)
{
	if (!t)
		return;
	while (!TAILQ_EMPTY(&t->fifo))
		drop(t, TAILQ_FIRST(&t->fifo));
	free(t);
}

int bnd_add(struct bnd_table *t, const struct addr *a, const char *name, uint32_t ttl)
{
	unsigned h = hash_addr(a);
	struct bnd *b;

	LIST_FOREACH(b, &t->buckets[h], chain)
		if (addr_equal(&b->a, a) && strcmp(b->name, name) == 0)
			break;
	if (b) {
		/* a refresh (every answer repeats one): the entry moves, no allocation */
		LIST_REMOVE(b, chain);
		TAILQ_REMOVE(&t->fifo, b, age);
		b->expires = now_s() + ttl;
		LIST_INSERT_HEAD(&t->buckets[h], b, chain);
		TAILQ_INSERT_TAIL(&t->fifo, b, age);
		return 0;
	}
	while (t->n >= t->max)
		drop(t, TAILQ_FIRST(&t->fifo));
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->a = *a;
	b->expires = now_s() + ttl;
	snprintf(b->name, sizeof(b->name), "%s", name);
	LIST_INSERT_HEAD(&t->buckets[h], b, chain);
	TAILQ_INSERT_TAIL(&t->fifo, b, age);
	t->n++;
	return 0;
}

size_t bnd_find(struct bnd_table *t, const struct addr *a, const char **names, size_t max)
{
	struct bnd *b, *next;
	time_t now = now_s();
	size_t n = 0;

	for (b = LIST_FIRST(&t->buckets[hash_addr(a)]); b; b = next) {
		next = LIST_NEXT(b, chain);
		if (!addr_equal(&b->a, a))
			continue;
		if (b->expires <= now)
			drop(t, b);
		else if (n < max)
			names[n++] = b->name;
	}
	return n;
}

size_t bnd_count(const struct bnd_table *t)
{
	return t->n;
}
