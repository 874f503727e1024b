/* host.h: the one host canonicalizer, and authority ("host:port") parsing. */
#ifndef SLUICE_HOST_H
#define SLUICE_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "span.h"

#define HOST_NAME_LEN 253

enum host_kind {
	HOST_NAME,
	HOST_IP,
};

struct host {
	enum host_kind kind;
	char text[HOST_NAME_LEN + 1]; /* canonical name, or the address's canonical text */
	struct addr ip;               /* valid when kind == HOST_IP */
};

/*
 * Canonicalize a host as it appears in a request, a policy or on the command
 * line: lowercase ASCII, one trailing dot removed, LDH plus '_', labels 1-63,
 * name at most 253; IPv6 literals in brackets (or bare), IPv4 only as a
 * canonical dotted quad. A name whose last label is numeric is an IPv4
 * spelling and is rejected unless canonical.
 * Returns 0, or -EINVAL with *why set to a static message.
 */
int host_canonicalize(struct span in, struct host *out, const char **why);

/* Whether h is a name of one label ("db"): none the internet's DNS
 * answers; a container engine's resolver answers its containers' and
 * services' names so. */
bool host_single_label(const struct host *h);

/*
 * Parse an authority "host:port", "[v6]:port", or, when default_port is not
 * 0, "host" alone. Returns 0, or -EINVAL with *why set.
 */
int host_parse_authority(struct span in, uint16_t default_port, struct host *h, uint16_t *port,
			 const char **why);

#endif
