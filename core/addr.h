/* addr.h: one address type for IPv4 and IPv6, strict literal parsing,
 * CIDR matching and the one classifier of blocked address space. */
#ifndef SLUICE_ADDR_H
#define SLUICE_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "span.h"

/* Longest text addr_format() writes, with brackets and port. */
#define ADDR_TEXT_MAX 64

struct addr {
	sa_family_t family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
};

struct addr_cidr {
	struct addr base;
	unsigned prefix;
};

/* Parse a canonical dotted-quad IPv4 or RFC 4291 IPv6 literal (no brackets,
 * no zone). IPv4-mapped IPv6 is returned as IPv4. Returns 0 or -EINVAL. */
int addr_parse(struct span s, struct addr *out);

/* Parse "ADDR" or "ADDR/PREFIX"; host bits must be zero. Returns 0 or -EINVAL. */
int addr_parse_cidr(struct span s, struct addr_cidr *out);

/* Whether a lies inside c (IPv4-mapped forms already folded by addr_parse). */
bool addr_in_cidr(const struct addr *a, const struct addr_cidr *c);

bool addr_equal(const struct addr *a, const struct addr *b);

/* If a is ::ffff:a.b.c.d, turn it into a.b.c.d. */
void addr_unmap(struct addr *a);

/* The blocked range a falls in (as text, e.g. "10.0.0.0/8"), or NULL when the
 * address is globally reachable. IPv4-mapped IPv6 is classified by its IPv4
 * address; any other IPv6 address outside global unicast 2000::/3 is blocked
 * ("::ffff:0:0:0/96", "::/3", ...), and so are the special ranges inside it.
 * The one classifier used everywhere. */
const char *addr_blocked_range(const struct addr *a);

/* Text form without port ("192.0.2.1", "2001:db8::1"). */
void addr_format(const struct addr *a, char *buf, size_t size);

/* Fill a sockaddr for a and port; returns its length. */
socklen_t addr_to_sockaddr(const struct addr *a, uint16_t port, struct sockaddr_storage *ss);

/* Read an address back from a sockaddr; returns 0 or -EAFNOSUPPORT. */
int addr_from_sockaddr(const struct sockaddr *sa, struct addr *a, uint16_t *port);

#endif
