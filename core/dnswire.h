/* dnswire.h: the DNS message codec. A bounded reader for client queries and
 * upstream answers (names decompressed, every offset checked) and a writer
 * that never exceeds its buffer. Used by the resolver cache and the DNS stub. */
#ifndef SLUICE_DNSWIRE_H
#define SLUICE_DNSWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "span.h"

#define DNSW_HEADER_LEN 12
#define DNSW_NAME_MAX 255      /* wire length of a name, root label included */
#define DNSW_NAME_TEXT_MAX 1024 /* dnsw_name_text() output, escapes included */
#define DNSW_TCP_MAX 65535

enum dnsw_rcode {
	DNSW_NOERROR = 0,
	DNSW_FORMERR = 1,
	DNSW_SERVFAIL = 2,
	DNSW_NXDOMAIN = 3,
	DNSW_NOTIMP = 4,
	DNSW_REFUSED = 5,
};

enum dnsw_type {
	DNSW_T_A = 1,
	DNSW_T_NS = 2,
	DNSW_T_CNAME = 5,
	DNSW_T_SOA = 6,
	DNSW_T_PTR = 12,
	DNSW_T_HINFO = 13,
	DNSW_T_MX = 15,
	DNSW_T_TXT = 16,
	DNSW_T_AAAA = 28,
	DNSW_T_SRV = 33,
	DNSW_T_DNAME = 39,
	DNSW_T_OPT = 41,
	DNSW_T_SVCB = 64,
	DNSW_T_HTTPS = 65,
	DNSW_T_ANY = 255,
};

#define DNSW_CLASS_IN 1

/* EDNS option codes the parser checks. */
#define DNSW_OPT_ECS 8 /* Client Subnet, RFC 7871 */

/* SvcParamKeys (RFC 9460) the answer filter reads. */
#define DNSW_SVC_MANDATORY 0
#define DNSW_SVC_IPV4HINT 4
#define DNSW_SVC_IPV6HINT 6

/* Header flag bits. */
#define DNSW_QR 0x8000
#define DNSW_AA 0x0400
#define DNSW_TC 0x0200
#define DNSW_RD 0x0100
#define DNSW_RA 0x0080
#define DNSW_CD 0x0010
#define DNSW_OPCODE(f) (((f) >> 11) & 0xf)
#define DNSW_RCODE(f) ((f)&0xf)

struct dnsw_header {
	uint16_t id, flags, qdcount, ancount, nscount, arcount;
};

/* A name in uncompressed wire form: length-prefixed labels, then 0. */
struct dnsw_name {
	size_t len;
	uint8_t wire[DNSW_NAME_MAX];
};

struct dnsw_query {
	struct dnsw_header h;
	bool has_question;   /* question parsed (also set for some error answers) */
	struct dnsw_name qname;
	uint16_t qtype, qclass;
	bool edns;           /* the query carried an OPT record */
	uint16_t udp_size;   /* the client's UDP limit: 512, or its EDNS size */
};

/* One resource record; rdata still points into the message it was read from. */
struct dnsw_rr {
	struct dnsw_name owner;
	uint16_t type, rclass;
	uint32_t ttl;
	size_t rdata_off;    /* offset of rdata in the message */
	uint16_t rdlen;
};

/* Read a header. Returns 0 or -EBADMSG when msg is shorter than 12 bytes. */
int dnsw_read_header(struct span msg, struct dnsw_header *h);

/*
 * Read a name at *off, following compression pointers, which must point
 * strictly backwards (so loops cannot happen). *off moves past the name as
 * it appears at its position. Returns 0 or -EBADMSG (label over 63, name over
 * 255, reserved label type, pointer forward or out of range, truncation).
 */
int dnsw_read_name(struct span msg, size_t *off, struct dnsw_name *out);

/*
 * Parse a client's query: header, exactly one question, no answer or
 * authority records, at most one additional record which must be EDNS OPT
 * (version 0, its options each within its rdata, a Client Subnet option
 * valid per RFC 7871), nothing after it, TC clear. Returns 0 when the query
 * can be served; an rcode > 0 (FORMERR, NOTIMP) to answer with (q->h.id and
 * q->has_question tell what the answer can echo); or -EBADMSG to drop
 * (shorter than a header, or a response rather than a query).
 */
int dnsw_parse_query(struct span msg, struct dnsw_query *q);

/* Read a record at *off (name, fixed fields, rdata bounds). 0 or -EBADMSG. */
int dnsw_read_rr(struct span msg, size_t *off, struct dnsw_rr *rr);
/* Whether rr (read from msg) is an A or AAAA record; its address, an
 * IPv4-mapped IPv6 one unmapped, in *x. */
bool dnsw_rr_addr(struct span msg, const struct dnsw_rr *rr, struct addr *x);

/*
 * Copy rr's rdata to out with every embedded name decompressed (CNAME, NS,
 * PTR, DNAME, MX, SOA, SRV); SVCB and HTTPS are checked with
 * dnsw_svcb_filter; other types are copied as they are. Returns the length
 * written, or -EBADMSG (rdata does not parse as its type) or -ENOSPC.
 */
int dnsw_expand_rdata(struct span msg, const struct dnsw_rr *rr, uint8_t *out, size_t cap);

/*
 * Copy SVCB/HTTPS rdata (RFC 9460: priority, uncompressed target name,
 * SvcParams in strictly increasing key order) to out without the ipv4hint
 * and ipv6hint addresses blocked_cb(addr, arg) returns true for (NULL keeps
 * all); a hint list left empty is removed with its key. *removed gets how
 * many addresses went. Returns the length written (never more than
 * rdata.len), -EBADMSG when the rdata does not parse (truncated, a name
 * pointer, keys out of order, a hint list empty or not a whole number of
 * addresses, an odd mandatory list), -EPERM when a hint key listed in
 * mandatory would be left empty, or -ENOSPC.
 */
int dnsw_svcb_filter(struct span rdata, bool (*blocked_cb)(const struct addr *a, const void *arg), const void *arg,
		     uint8_t *out, size_t cap, unsigned *removed);

/*
 * Presentation text of a wire name ("www.example.com", "." for the root),
 * bytes other than letters, digits, '-' and '_' escaped as \DDD. Returns
 * true when nothing needed escaping, so the text can go to host_canonicalize.
 * size must be at least DNSW_NAME_TEXT_MAX.
 */
bool dnsw_name_text(const struct dnsw_name *n, char *buf, size_t size);

/* The mnemonic of a type ("AAAA") or "TYPE123" in buf; returns buf. */
const char *dnsw_type_text(uint16_t type, char *buf, size_t size);

/* The mnemonic of an rcode ("NXDOMAIN"). */
const char *dnsw_rcode_text(unsigned rcode);

/* What dnsw_normalize_reply kept. */
struct dnsw_reply {
	uint8_t rcode;        /* NOERROR or NXDOMAIN */
	uint16_t nanswer, nauthority;
	uint32_t ttl;         /* lowest TTL kept (SOA minimum for a negative answer); UINT32_MAX if none */
	size_t len;           /* bytes written to out */
};

/*
 * Turn an upstream reply into uncompressed records in out: its answer
 * records (OPT and records whose rdata does not parse as their type left
 * out), and for an empty answer its authority SOA, which bounds a negative
 * answer's TTL. Additional records are dropped. Returns 0, -EBADMSG (not a
 * reply, truncated, or malformed) or -EPROTO (rcode other than NOERROR and
 * NXDOMAIN). Records that do not fit in cap are left out.
 */
int dnsw_normalize_reply(struct span msg, uint8_t *out, size_t cap, struct dnsw_reply *r);

/* A bounded writer: once something does not fit, overflow is set and
 * nothing more is written. */
struct dnsw_writer {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
};

void dnsw_put16(struct dnsw_writer *w, uint16_t v);
void dnsw_put32(struct dnsw_writer *w, uint32_t v);
void dnsw_put_bytes(struct dnsw_writer *w, const void *p, size_t n);
void dnsw_put_header(struct dnsw_writer *w, const struct dnsw_header *h);

/* Patch a 16-bit field already written at off. */
void dnsw_patch16(struct dnsw_writer *w, size_t off, uint16_t v);

#endif
