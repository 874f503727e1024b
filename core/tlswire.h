/* tlswire.h: TLS wire formats read in more than one place. */
#ifndef SLUICE_TLSWIRE_H
#define SLUICE_TLSWIRE_H

#include "span.h"

#define TLS_NAME_MAX 255

/*
 * The host_name of a server_name extension's body (RFC 6066 3): a 2-byte
 * list length covering the rest exactly, then entries of type(1) length(2)
 * bytes. No name type may come twice; the host_name is 1 to TLS_NAME_MAX
 * bytes without NUL, copied NUL-terminated into name (the caller
 * canonicalizes it). Returns 0, -ENOENT (no host_name), -ENOTUNIQ (a name
 * type twice) or -EINVAL.
 */
int tls_server_name(struct span ext, char name[TLS_NAME_MAX + 1]);

#endif
