/* dns_int.h: the stub's internals, shared by answer.c and server.c only. */
#ifndef SLUICE_DNS_INT_H
#define SLUICE_DNS_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "dns.h"
#include "dnswire.h"
#include "engine.h"
#include "host.h"
#include "policy.h"
#include "resolve.h"

#define DNS_MAX_KEPT 16

/* What the policy made of a query, before any upstream answer. */
struct dns_decision {
	bool forward;          /* ask upstream; otherwise answer rcode locally */
	bool report_only;      /* forwarded only because of mode: report */
	bool hinfo;            /* ANY: answered locally with RFC 8482's HINFO */
	uint8_t rcode;         /* the local answer's rcode */
	struct pol_verdict v;
	struct host host;      /* canonical name, when the name is usable */
	char text[DNSW_NAME_TEXT_MAX]; /* the name as logged */
};

/* What an answer handed out, for the log and the bindings. */
struct dns_kept {
	size_t n;
	struct addr addrs[DNS_MAX_KEPT];
	uint32_t ttl;
	size_t blocked;        /* A/AAAA records removed */
	struct addr first_blocked;
};

/* Decide on a parsed query (dnsw_parse_query returned 0). */
void dns_decide(const struct policy *pol, const struct dnsw_query *q, struct dns_decision *d);

#define DNS_MEMO_SLOTS 128

/* A remembered decision: the lowercased wire name and type it was made for. */
struct dns_memo_slot {
	unsigned gen;          /* valid while it equals dns_memo.gen */
	uint16_t qtype;
	uint8_t keylen;
	uint8_t key[DNSW_NAME_MAX];
	bool forward, report_only, hinfo;
	uint8_t rcode;
	struct pol_verdict v;
	struct host host;
};

/* Decisions by name and type under one policy; bounded, direct-mapped. */
struct dns_memo {
	unsigned gen;
	struct dns_memo_slot slots[DNS_MEMO_SLOTS];
};

/* An empty memo. */
void dns_memo_init(struct dns_memo *m);

/* Forget every decision (the policy changed). */
void dns_memo_clear(struct dns_memo *m);

/* dns_decide, answered from m when the same name (in any case) and type
 * was decided since the last clear; the decision is the same either way. */
void dns_decide_memo(struct dns_memo *m, const struct policy *pol, const struct dnsw_query *q, struct dns_decision *d);

/*
 * Write the answer to q into buf (at most limit bytes): the local rcode of d
 * (with the HINFO record when d->hinfo) when a is NULL, else the upstream
 * answer with blocked addresses removed (A/AAAA records, SVCB/HTTPS hints).
 * An A/AAAA answer left with no address of its type becomes NXDOMAIN with
 * d->v.reason set to blocked_address. Too big for limit: TC set, no records.
 * Returns the length; *rcode gets the rcode sent.
 */
size_t dns_answer(const struct policy *pol, const struct dnsw_query *q, struct dns_decision *d,
		  const struct rsv_answer *a, uint8_t *buf, size_t limit, struct dns_kept *kept, uint8_t *rcode);

/* ---- server.c ---- */

struct dns_udp {
	LIST_ENTRY(dns_udp) link;
	struct dns_server *srv;
	int fd;
	bool no_gso;           /* the kernel refused UDP_SEGMENT here: one send per answer */
	struct event *ev;
};

struct dns_tcp {
	LIST_ENTRY(dns_tcp) link;
	struct dns_server *srv;
	struct bufferevent *bev;
	TAILQ_HEAD(, dns_job) jobs;
	size_t njobs;
	bool eof;
};

/* A query waiting for the upstream. */
struct dns_job {
	TAILQ_ENTRY(dns_job) link;
	struct dns_server *srv;
	struct dns_udp *udp;           /* UDP: the listener and the peer */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	struct dns_tcp *tcp;           /* TCP: the connection */
	const struct policy *pol;      /* a reference: the policy the query was decided under */
	struct dnsw_query q;
	struct dns_decision d;
	int64_t t0;
	struct rsv_query *rq;
	struct eng_query *eq;          /* asked of the container engine's resolver instead */
};

#endif
