/* answer.c: the stub's decision on a query and the answer it writes. No I/O
 * here, so the logic is tested with scripted upstream answers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dns_int.h"

/* RFC 8482 4.2: the TTL of the HINFO that answers ANY, long enough to absorb repeats. */
#define HINFO_TTL 3600

/* QTYPEs and meta types the stub does not serve (RFC 6895: 0, OPT, 128-254). */
static bool unserved_type(uint16_t t)
{
	return t == 0 || t == DNSW_T_OPT || (t >= 128 && t <= 254);
}

static bool label_number(const char *s, size_t n, unsigned base, unsigned max, unsigned *v)
{
	*v = 0;
	if (n == 0 || n > 3)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 99;
		if (d >= base)
			return false;
		*v = *v * base + d;
	}
	return *v <= max;
}

/*
 * The lowest address of the prefix a reverse name stands for
 * ("4.3.2.1.in-addr.arpa" → 1.2.3.4, "10.in-addr.arpa" → 10.0.0.0).
 * Returns false when name is not a reverse name.
 */
static bool reverse_addr(const char *name, struct addr *a)
{
	static const char v4[] = ".in-addr.arpa", v6[] = ".ip6.arpa";
	size_t n = strlen(name);
	bool is4 = n > sizeof(v4) - 1 && strcmp(name + n - (sizeof(v4) - 1), v4) == 0;
	bool is6 = n > sizeof(v6) - 1 && strcmp(name + n - (sizeof(v6) - 1), v6) == 0;
	uint8_t bytes[16] = { 0 };
	unsigned count = 0, max = is4 ? 4 : 32;

	if (!is4 && !is6)
		return false;
	n -= is4 ? sizeof(v4) - 1 : sizeof(v6) - 1;
	/* labels from the right are the address from the left */
	for (size_t end = n; end > 0 && count < max;) {
		size_t start = end;
		unsigned v;
		while (start > 0 && name[start - 1] != '.')
			start--;
		if (!label_number(name + start, end - start, is4 ? 10 : 16, is4 ? 255 : 15, &v) ||
		    (is6 && end - start != 1))
			return false;
		if (is4)
			bytes[count] = (uint8_t)v;
		else
			bytes[count / 2] |= (uint8_t)(count % 2 ? v : v << 4);
		count++;
		end = start ? start - 1 : 0;
		if (start == 0)
			break;
	}
	memset(a, 0, sizeof(*a));
	a->family = is4 ? AF_INET : AF_INET6;
	memcpy(is4 ? (void *)&a->v4 : (void *)&a->v6, bytes, is4 ? 4 : 16);
	addr_unmap(a);
	return true;
}

static void local(struct dns_decision *d, uint8_t rcode, enum pol_reason reason)
{
	d->forward = false;
	d->rcode = rcode;
	d->v.allow = false;
	d->v.reason = reason;
}

void dns_decide(const struct policy *pol, const struct dnsw_query *q, struct dns_decision *d)
{
	const char *why;
	struct addr rev;

	memset(d, 0, sizeof(*d));
	bool plain = dnsw_name_text(&q->qname, d->text, sizeof(d->text));
	if (q->qclass != DNSW_CLASS_IN || unserved_type(q->qtype)) {
		local(d, DNSW_NOTIMP, POL_BAD_REQUEST);
		return;
	}
	if (!plain || host_canonicalize(span_str(d->text), &d->host, &why) < 0) {
		local(d, DNSW_NXDOMAIN, POL_BAD_REQUEST);
		return;
	}
	snprintf(d->text, sizeof(d->text), "%s", d->host.text);
	if (d->host.kind == HOST_IP) {
		local(d, DNSW_NXDOMAIN, POL_IP_LITERAL);
		return;
	}
	/* a reverse name is an address: never ask the internet about a private one */
	if (reverse_addr(d->host.text, &rev) && addr_blocked_range(&rev) && !pol_private_allowed(pol, &rev, 0, NULL)) {
		local(d, DNSW_NXDOMAIN, POL_BLOCKED_ADDRESS);
		return;
	}
	pol_decide_name(pol, &d->host, &d->v);
	if (!d->v.allow && (pol->mode != POL_REPORT || d->v.reason == POL_METADATA_HOST)) {
		d->rcode = DNSW_NXDOMAIN;
		return;
	}
	d->report_only = !d->v.allow;
	if (q->qtype == DNSW_T_ANY) {
		/* ANY amplifies and enumerates: RFC 8482's minimal answer, from here */
		d->hinfo = true;
		d->rcode = DNSW_NOERROR;
		return;
	}
	d->forward = true;
}

static void put_question(struct dnsw_writer *w, const struct dnsw_query *q)
{
	uint8_t tc[4] = { (uint8_t)(q->qtype >> 8), (uint8_t)q->qtype, (uint8_t)(q->qclass >> 8), (uint8_t)q->qclass };

	dnsw_put_bytes(w, q->qname.wire, q->qname.len);
	dnsw_put_bytes(w, tc, sizeof(tc));
}

/* Header and question; the counts of the other sections are patched later.
 * The header goes in as one copy: every answer starts here. */
static void put_head(struct dnsw_writer *w, const struct dnsw_query *q, uint8_t rcode, bool tc)
{
	uint16_t flags = (uint16_t)(DNSW_QR | (q->h.flags & (0x7800 | DNSW_RD | DNSW_CD)) | DNSW_RA |
				    (tc ? DNSW_TC : 0) | rcode);
	uint8_t h[DNSW_HEADER_LEN] = { (uint8_t)(q->h.id >> 8), (uint8_t)q->h.id, (uint8_t)(flags >> 8), (uint8_t)flags,
				       0, q->has_question ? 1 : 0 };

	dnsw_put_bytes(w, h, sizeof(h));
	if (q->has_question)
		put_question(w, q);
}

static void put_opt(struct dnsw_writer *w, const struct dnsw_query *q, uint16_t *arcount)
{
	if (!q->edns)
		return;
	dnsw_put_bytes(w, "", 1); /* root */
	dnsw_put16(w, DNSW_T_OPT);
	dnsw_put16(w, 1232);      /* our UDP payload size */
	dnsw_put32(w, 0);
	dnsw_put16(w, 0);
	(*arcount)++;
}

/* Whether an address is blocked and not re-allowed by allow_private. */
static bool refused(const struct policy *pol, const struct addr *x)
{
	return addr_blocked_range(x) && !pol_private_allowed(pol, x, 0, NULL);
}

static bool hint_refused_cb(const struct addr *a, const void *arg)
{
	struct addr x = *a;

	addr_unmap(&x);
	return refused(arg, &x);
}

/* Whether rr (in blob) is an address record the policy refuses; fills *x. */
static bool blocked_rr(const struct policy *pol, struct span blob, const struct dnsw_rr *rr, struct addr *x)
{
	return dnsw_rr_addr(blob, rr, x) && refused(pol, x);
}

static void put_rr(struct dnsw_writer *w, struct span blob, size_t start, const struct dnsw_rr *rr, uint32_t ttl)
{
	dnsw_put_bytes(w, blob.p + start, rr->owner.len + 4);
	dnsw_put32(w, ttl < rr->ttl ? ttl : rr->ttl);
	dnsw_put16(w, rr->rdlen);
	dnsw_put_bytes(w, blob.p + rr->rdata_off, rr->rdlen);
}

/* An SVCB/HTTPS record with its blocked hints removed, so a client that dials
 * hints cannot be rebound; one whose SvcParams do not parse, or that would
 * lose a mandatory hint, is left out. Returns whether it went in. */
static bool put_svcb(struct dnsw_writer *w, const struct policy *pol, struct span blob, size_t start,
		     const struct dnsw_rr *rr, uint32_t ttl)
{
	size_t at = w->len;
	unsigned removed;

	dnsw_put_bytes(w, blob.p + start, rr->owner.len + 4);
	dnsw_put32(w, ttl < rr->ttl ? ttl : rr->ttl);
	dnsw_put16(w, 0);
	if (w->overflow)
		return false;
	int n = dnsw_svcb_filter(span_sub(blob, rr->rdata_off, rr->rdlen), hint_refused_cb, pol, w->buf + w->len,
				 w->cap - w->len, &removed);
	if (n < 0) {
		w->len = at;
		w->overflow = n == -ENOSPC;
		return false;
	}
	w->len += (size_t)n;
	dnsw_patch16(w, at + rr->owner.len + 8, (uint16_t)n);
	return true;
}

/* Copy the upstream's records that pass; returns how many went out. */
static uint16_t put_records(struct dnsw_writer *w, const struct policy *pol, const struct rsv_answer *a,
			    unsigned from, unsigned count, uint16_t qtype, struct dns_kept *k)
{
	struct span blob = span_of((const char *)a->rrs, a->len);
	struct dnsw_rr rr;
	size_t off = 0, start;
	uint16_t out = 0;

	for (unsigned i = 0; i < from + count && (start = off, dnsw_read_rr(blob, &off, &rr) == 0); i++) {
		struct addr x;
		if (i < from)
			continue;
		if (rr.type == DNSW_T_SVCB || rr.type == DNSW_T_HTTPS) {
			out += put_svcb(w, pol, blob, start, &rr, a->ttl);
			continue;
		}
		if (blocked_rr(pol, blob, &rr, &x)) {
			if (k->blocked++ == 0)
				k->first_blocked = x;
			continue;
		}
		if (x.family && (rr.type == qtype || qtype == DNSW_T_ANY) && k->n < DNS_MAX_KEPT)
			k->addrs[k->n++] = x;
		put_rr(w, blob, start, &rr, a->ttl);
		out++;
	}
	return out;
}

/* An upstream answer, filtered; returns false when nothing usable is left. */
static bool put_upstream(struct dnsw_writer *w, const struct policy *pol, const struct dnsw_query *q,
			 const struct rsv_answer *a, struct dns_kept *k, uint16_t counts[3])
{
	if (a->nrefused) { /* taken out by the engine's client (engine.h): blocked as any */
		k->blocked = a->nrefused;
		k->first_blocked = a->refused;
	}
	counts[0] = put_records(w, pol, a, 0, a->nanswer, q->qtype, k);
	bool addr_query = q->qtype == DNSW_T_A || q->qtype == DNSW_T_AAAA;
	if (addr_query && k->blocked && k->n == 0)
		return false;
	if (a->nanswer == 0)
		counts[1] = put_records(w, pol, a, a->nanswer, a->nauthority, q->qtype, k);
	k->ttl = a->ttl;
	return true;
}

/* RFC 8482 4.2: the minimal answer to ANY, one HINFO with CPU "RFC8482" and
 * an empty OS, owned by the question's name. */
static uint16_t put_hinfo(struct dnsw_writer *w)
{
	static const uint8_t rdata[] = "\007RFC8482"; /* and the terminating 0: OS "" */

	dnsw_put16(w, 0xc000 | DNSW_HEADER_LEN); /* the question's name */
	dnsw_put16(w, DNSW_T_HINFO);
	dnsw_put16(w, DNSW_CLASS_IN);
	dnsw_put32(w, HINFO_TTL);
	dnsw_put16(w, sizeof(rdata));
	dnsw_put_bytes(w, rdata, sizeof(rdata));
	return 1;
}

static size_t finish(struct dnsw_writer *w, const struct dnsw_query *q, const uint16_t counts[3])
{
	uint16_t ar = counts[2];

	put_opt(w, q, &ar);
	dnsw_patch16(w, 6, counts[0]);
	dnsw_patch16(w, 8, counts[1]);
	dnsw_patch16(w, 10, ar);
	return w->len;
}

size_t dns_answer(const struct policy *pol, const struct dnsw_query *q, struct dns_decision *d,
		  const struct rsv_answer *a, uint8_t *buf, size_t limit, struct dns_kept *kept, uint8_t *rcode)
{
	struct dnsw_writer w = { .buf = buf, .cap = limit };
	uint16_t counts[3] = { 0, 0, 0 };

	memset(kept, 0, sizeof(*kept));
	*rcode = a ? a->rcode : d->rcode;
	put_head(&w, q, *rcode, false);
	if (!a && d->hinfo && q->has_question)
		counts[0] = put_hinfo(&w);
	if (a && !put_upstream(&w, pol, q, a, kept, counts)) {
		d->v.allow = false;
		d->v.reason = POL_BLOCKED_ADDRESS;
		d->v.rule = NULL;
		*rcode = DNSW_NXDOMAIN;
		memset(counts, 0, sizeof(counts));
		w.len = 0;
		w.overflow = false;
		put_head(&w, q, *rcode, false);
	}
	finish(&w, q, counts);
	if (!w.overflow)
		return w.len;
	/* too big for the client: header, question and OPT, with TC */
	w.len = 0;
	w.overflow = false;
	memset(counts, 0, sizeof(counts));
	put_head(&w, q, *rcode, true);
	return finish(&w, q, counts);
}
