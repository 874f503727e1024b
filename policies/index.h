/* index.h: the compiled form of a policy entry list, private to policies/. */
#ifndef SLUICE_POL_INDEX_H
#define SLUICE_POL_INDEX_H

#include <stddef.h>

#include "policy.h"

/* Build l's index (replacing any old one). Returns 0 or -ENOMEM; without an
 * index the matcher scans the list. */
int pol_index_build(struct pol_list *l);

void pol_index_free(struct pol_index *x);

/*
 * Call visit(i, arg) for each entry of l that may match h: the exact entries
 * named h, the wildcard entries for each proper suffix of h (one hash lookup
 * per label), and every "*" and IP/CIDR entry. Candidates come in no
 * particular order; the caller checks each one.
 */
void pol_index_visit(const struct pol_list *l, const struct host *h, void (*visit)(size_t i, void *arg),
		     void *arg);

#endif
