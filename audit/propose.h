/* propose.h: `sluice log policy`, a policy proposed from what one server
 * was allowed or would_deny. */
#ifndef SLUICE_PROPOSE_H
#define SLUICE_PROPOSE_H

#include <stdio.h>

#include "tally.h"

/*
 * Write to out a policy (YAML that pol_load accepts) allowing exactly the
 * names and ports server srv was allowed or would_deny, named name; what is
 * never proposed is listed in comments. The text is checked with the
 * policy loader before it is written. Returns 0 or -errno (-EINVAL: the
 * proposal did not load, with the loader's errors on stderr).
 */
int alog_propose(const struct alog_tally *t, unsigned srv, const char *name, FILE *out);

#endif
