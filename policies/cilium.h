/* cilium.h: a sluice policy as a CiliumNetworkPolicy (cilium.io/v2), for
 * clusters that outgrow one machine. */
#ifndef SLUICE_CILIUM_H
#define SLUICE_CILIUM_H

#include <stdio.h>

struct policy;

/*
 * Write p to out as one CiliumNetworkPolicy: the DNS rule that lets Cilium
 * see the lookups, toFQDNs (matchName, matchPattern) for names, toCIDR for
 * addresses, toPorts for ports; deny addresses as egressDeny. Each
 * difference in meaning (entries that widen or narrow) and each key Cilium
 * cannot express goes to notes as one line. Returns the number of notes, or
 * -errno when out could not be written.
 */
int pol_export_cilium(const struct policy *p, FILE *out, FILE *notes);

#endif
