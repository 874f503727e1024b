/* dns_msg.c: libFuzzer harness for the DNS codec: the input as a client's
 * query (parse, decide), and as an upstream reply (normalize, then build the
 * stub's answer from it). The normalized records must read back exactly and
 * answers must respect their size limit. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns_int.h"
#include "dnswire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct policy *policy(void)
{
	static struct policy *pol;
	static const char yaml[] = "version: 1\nname: fuzz\nallow: [\"*\"]\nallow_private: [\"10.0.0.0/8\"]\n";
	struct pol_errors errs = { 0 };

	if (!pol && pol_load_buffer(yaml, sizeof(yaml) - 1, "fuzz.yaml", &pol, &errs) != 0)
		__builtin_trap();
	return pol;
}

/* The fixed query that the fuzzed reply answers. */
static void fixed_query(struct dnsw_query *q, uint16_t qtype)
{
	static const uint8_t name[] = "\007example\003com";

	memset(q, 0, sizeof(*q));
	q->h.id = 7;
	q->has_question = true;
	memcpy(q->qname.wire, name, sizeof(name));
	q->qname.len = sizeof(name);
	q->qtype = qtype;
	q->qclass = DNSW_CLASS_IN;
	q->udp_size = 512;
}

static void as_reply(struct span m)
{
	static uint8_t blob[DNSW_TCP_MAX], out[DNSW_TCP_MAX];
	struct dnsw_reply info;
	struct dnsw_query q;
	struct dns_decision d;
	struct dns_kept k;
	struct dnsw_rr rr;
	uint8_t rcode;
	size_t off = 0;

	if (dnsw_normalize_reply(m, blob, sizeof(blob), &info) != 0)
		return;
	struct span b = span_of((const char *)blob, info.len);
	for (unsigned i = 0; i < (unsigned)info.nanswer + info.nauthority; i++)
		if (dnsw_read_rr(b, &off, &rr) != 0)
			__builtin_trap();
	if (off != info.len)
		__builtin_trap();
	struct rsv_answer a = { .rcode = info.rcode, .ttl = 30, .nanswer = info.nanswer,
				.nauthority = info.nauthority, .rrs = blob, .len = info.len };
	fixed_query(&q, m.len ? (uint16_t)(1 + (uint8_t)m.p[0] % 2 * 27) : 1); /* A or AAAA */
	dns_decide(policy(), &q, &d);
	size_t n = dns_answer(policy(), &q, &d, &a, out, 512, &k, &rcode);
	if (n > 512 || n < DNSW_HEADER_LEN)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct span m = span_of((const char *)data, size);
	struct dnsw_query q;
	struct dns_decision d;

	if (dnsw_parse_query(m, &q) == 0)
		dns_decide(policy(), &q, &d);
	as_reply(m);
	return 0;
}
