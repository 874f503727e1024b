/* publish.h: `sluice run --publish [ADDR:]PORT[:INNER]`: host listeners
 * whose connections are relayed to the sandbox's 127.0.0.1:INNER through
 * the connector (sandbox/connector.c says why that way). */
#ifndef SLUICE_PUBLISH_H
#define SLUICE_PUBLISH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define PUB_MAX 16 /* --publish values */

struct event_base;
struct pub;

struct pub_spec {
	struct sockaddr_storage ss; /* the host's ADDR:PORT */
	socklen_t len;
	uint16_t inner;             /* the sandbox's 127.0.0.1 port */
	bool loopback;              /* ADDR is a loopback address */
	char text[80];              /* "127.0.0.1:8080" for messages */
};

/* Parse "[ADDR:]PORT[:INNER]" (ADDR an IP, IPv6 in brackets; default
 * 127.0.0.1; INNER defaults to PORT and must not be a port the sandbox
 * redirects to sluice: 53, 80, 443, 3128, 3129). 0, or -EINVAL with *why. */
int pub_parse(const char *text, struct pub_spec *out, const char **why);

/* Bind and listen on every spec's address (before the sandbox starts, so
 * a port in use fails at once). 0, or -errno with *failed the spec. */
int pub_new(const struct pub_spec *specs, size_t n, struct pub **out, const struct pub_spec **failed);

/* Serve the listeners on base, each connection through the connector's
 * socket (sbx_connector_start), which pub owns from here. 0 or -errno. */
int pub_start(struct pub *p, struct event_base *base, int connector);

/* The sandbox's ports, in spec order, for sbx_connector_start. */
void pub_inner_ports(const struct pub *p, uint16_t *ports);

void pub_free(struct pub *p);

#endif
