/* index.c: hash tables over a policy list's exact names and wildcard
 * suffixes, so matching a host costs one lookup per label rather than a
 * pass over every entry (presets can hold many). Entries that share a key
 * (the same name with different ports) are chained in list order. */
#include "index.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NONE SIZE_MAX

struct slot {
	const char *key;
	size_t first, last;
};

struct pol_index {
	size_t cap;           /* slots per table, a power of two at least twice the entries */
	struct slot *exact, *suffix;
	size_t *next;         /* next entry with the same key, or NONE */
	size_t *other, nother; /* "*" and IP/CIDR entries */
};

static size_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return (size_t)h;
}

static struct slot *find(const struct pol_index *x, struct slot *table, const char *key, size_t n)
{
	for (size_t i = hash(key, n) & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
		struct slot *s = &table[i];
		if (!s->key || (strlen(s->key) == n && memcmp(s->key, key, n) == 0))
			return s;
	}
}

static void insert(struct pol_index *x, struct slot *table, const char *key, size_t i)
{
	struct slot *s = find(x, table, key, strlen(key));

	if (!s->key) {
		s->key = key;
		s->first = i;
	} else {
		x->next[s->last] = i;
	}
	s->last = i;
}

void pol_index_free(struct pol_index *x)
{
	if (!x)
		return;
	free(x->exact);
	free(x->suffix);
	free(x->next);
	free(x->other);
	free(x);
}

int pol_index_build(struct pol_list *l)
{
	struct pol_index *x = calloc(1, sizeof(*x));
	size_t cap = 8;

	while (cap < 2 * l->n)
		cap *= 2;
	if (x) {
		x->cap = cap;
		x->exact = calloc(cap, sizeof(*x->exact));
		x->suffix = calloc(cap, sizeof(*x->suffix));
		x->next = malloc((l->n ? l->n : 1) * sizeof(*x->next));
		x->other = malloc((l->n ? l->n : 1) * sizeof(*x->other));
	}
	if (!x || !x->exact || !x->suffix || !x->next || !x->other) {
		pol_index_free(x);
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct pol_entry *e = &l->v[i];
		x->next[i] = NONE;
		if (e->kind == POL_EXACT)
			insert(x, x->exact, e->name, i);
		else if (e->kind == POL_SUFFIX)
			insert(x, x->suffix, e->name, i);
		else
			x->other[x->nother++] = i;
	}
	pol_index_free(l->idx);
	l->idx = x;
	return 0;
}

static void visit_chain(const struct pol_index *x, const struct slot *s, void (*visit)(size_t, void *), void *arg)
{
	if (!s->key)
		return;
	for (size_t i = s->first; i != NONE; i = x->next[i])
		visit(i, arg);
}

void pol_index_visit(const struct pol_list *l, const struct host *h, void (*visit)(size_t i, void *arg),
		     void *arg)
{
	const struct pol_index *x = l->idx;

	if (!x) {
		for (size_t i = 0; i < l->n; i++)
			visit(i, arg);
		return;
	}
	if (h->kind == HOST_NAME) {
		size_t n = strlen(h->text);
		visit_chain(x, find(x, x->exact, h->text, n), visit, arg);
		for (size_t dot = 0; dot < n; dot++)
			if (h->text[dot] == '.')
				visit_chain(x, find(x, x->suffix, h->text + dot + 1, n - dot - 1), visit, arg);
	}
	for (size_t i = 0; i < x->nother; i++)
		visit(x->other[i], arg);
}
