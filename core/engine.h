/* engine.h: a client for a container engine's own resolver (Docker's
 * embedded DNS, 127.0.0.11), asked over a UDP socket made and connected
 * inside the container's network namespace (sandbox/attach.c). It knows
 * what no other resolver does: the names of the containers, services and
 * aliases on the container's networks, all single-label. One client per
 * attached container, shared by that container's DNS stub (any type,
 * eng_query) and proxy (addresses, eng_lookup), so the stub sees the
 * proxy's questions too (eng_busy). Its answers are that container's:
 * they never enter the shared resolver cache (resolve.h). */
#ifndef SLUICE_ENGINE_H
#define SLUICE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dnswire.h"
#include "resolve.h"
#include "span.h"

struct event_base;
struct eng;
struct eng_query;
struct eng_lookup;

/* A client on fd, a UDP socket connected to the engine's resolver, and rt,
 * an rtnetlink socket in the same namespace (-1: none); both taken, also on
 * failure. An answer's A and AAAA records count only for addresses on one
 * of the namespace's networks, as rt shows them at that answer (none
 * without rt), that are not this process's own (the host's: a network's
 * gateway): the others, and every SVCB/HTTPS record, are taken out and
 * counted in the answer's nrefused, so a reply forged from inside the
 * container cannot send a name anywhere else. 0 or -ENOMEM. */
int eng_new(struct event_base *base, int fd, int rt, struct eng **out);

/* Close the socket; pending queries and lookups go without their
 * callbacks (NULL: nothing). */
void eng_free(struct eng *e);

/* Ask for name (canonical) and qtype; cb gets the reply's records as
 * rsv_query's callback does, screened (eng_new; status -EIO for an unusable reply or rcode,
 * -ETIMEDOUT), never from within this call, unless eng_cancel(*q) comes
 * first. 0, or -EAGAIN (ENG_PENDING queries in flight), -EINVAL (the
 * name does not fit a question). */
int eng_query(struct eng *e, const char *name, uint16_t qtype, rsv_answer_cb cb, void *arg,
	      struct eng_query **q);

/* Forget a pending query (NULL: nothing). */
void eng_cancel(struct eng_query *q);

/* Whether a query for name and qtype is waiting for the engine now. */
bool eng_busy(const struct eng *e, const char *name, uint16_t qtype);

/* Ask for name's (canonical) A and AAAA records, as rsv_lookup does: cb
 * gets the addresses (IPv4 first), or status -ENOENT (no such name, or no
 * address), -ETIMEDOUT or -EIO, never from within this call, unless
 * eng_lookup_cancel(*l) comes first. Only the addresses on none of the
 * container's networks are taken out (the result's nrefused, eng_new); the
 * caller vets the others as any. 0, or -EAGAIN (ENG_LOOKUPS lookups in
 * flight, or no query slot free), -EINVAL (no name). */
int eng_lookup(struct eng *e, const char *name, rsv_cb cb, void *arg, struct eng_lookup **l);

/* Forget a pending lookup and its queries (NULL: nothing). */
void eng_lookup_cancel(struct eng_lookup *l);

/* The query for name (canonical text) and qtype, ID id, RD set, class IN,
 * in buf; its length, or 0 when it does not fit or name is no name. */
size_t eng_build(const char *name, uint16_t qtype, uint16_t id, uint8_t *buf, size_t cap);

/* Read msg as the reply to query (an eng_build message): 0 with its
 * records normalized into out (dnsw_normalize_reply), -ESRCH when it is not
 * a reply to that query (another ID or question), -EBADMSG when it does not
 * parse, -EPROTO for an rcode other than NOERROR and NXDOMAIN. A truncated
 * reply (TC) counts with the records it has. */
int eng_reply(struct span msg, struct span query, uint8_t *out, size_t cap, struct dnsw_reply *r);

#endif
