/* memo.c: the stub's decisions remembered by name and type, so a repeated
 * query skips the canonicalizer and the matcher. A decision depends only on
 * the policy and the question, so an entry holds until the policy changes
 * (dns_memo_clear). Only decisions made on a canonical name are kept: their
 * logged text is the canonical name whatever the client's case, so the
 * lowercased wire name is the key. Direct-mapped: a new name takes its slot. */
#include <stddef.h>
#include <string.h>

#include "dns_int.h"

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c;
}

/* FNV-1a over the lowercased name and the type. */
static unsigned slot_of(const struct dnsw_query *q)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < q->qname.len; i++)
		h = (h ^ lower(q->qname.wire[i])) * 16777619u;
	h = (h ^ q->qtype) * 16777619u;
	return (h ^ h >> 16) % DNS_MEMO_SLOTS;
}

static bool same_name(const struct dns_memo_slot *s, const struct dnsw_query *q)
{
	if (s->qtype != q->qtype || s->keylen != q->qname.len)
		return false;
	for (size_t i = 0; i < s->keylen; i++)
		if (s->key[i] != lower(q->qname.wire[i]))
			return false;
	return true;
}

static void from_slot(const struct dns_memo_slot *s, struct dns_decision *d)
{
	size_t n = strlen(s->host.text);

	d->forward = s->forward;
	d->report_only = s->report_only;
	d->hinfo = s->hinfo;
	d->rcode = s->rcode;
	d->v = s->v;
	d->host = s->host;
	memcpy(d->text, s->host.text, n + 1);
}

static void to_slot(struct dns_memo_slot *s, unsigned gen, const struct dnsw_query *q, const struct dns_decision *d)
{
	s->gen = gen;
	s->qtype = q->qtype;
	s->keylen = (uint8_t)q->qname.len;
	for (size_t i = 0; i < q->qname.len; i++)
		s->key[i] = lower(q->qname.wire[i]);
	s->forward = d->forward;
	s->report_only = d->report_only;
	s->hinfo = d->hinfo;
	s->rcode = d->rcode;
	s->v = d->v;
	s->host = d->host;
}

void dns_memo_init(struct dns_memo *m)
{
	memset(m, 0, sizeof(*m));
	m->gen = 1;
}

void dns_memo_clear(struct dns_memo *m)
{
	if (++m->gen == 0) /* wrapped: slots from 2^32 clears ago would match again */
		dns_memo_init(m);
}

void dns_decide_memo(struct dns_memo *m, const struct policy *pol, const struct dnsw_query *q, struct dns_decision *d)
{
	struct dns_memo_slot *s = &m->slots[slot_of(q)];

	if (q->qclass != DNSW_CLASS_IN) {
		dns_decide(pol, q, d);
		return;
	}
	if (s->gen == m->gen && same_name(s, q)) {
		memset(d, 0, offsetof(struct dns_decision, text));
		from_slot(s, d);
		return;
	}
	dns_decide(pol, q, d);
	/* not canonical (or a type not served): its text is the client's spelling */
	if (d->v.reason != POL_BAD_REQUEST)
		to_slot(s, m->gen, q, d);
}
