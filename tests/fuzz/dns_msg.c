/* dns_msg.c: libFuzzer harness for the DNS codec: the input as a client's
 * query (parse with its EDNS options, decide, answer locally), as an upstream reply
 * (normalize, then build the stub's answer from it), as the container
 * engine's reply to the stub's query for "db" (matched by ID and question),
 * as a name the stub asks the engine for (the query it builds parses back
 * to that name), and as SVCB/HTTPS rdata (the hint filter). The memo's
 * decision must be dns_decide's, for the query and for its name with the
 * case flipped. The normalized records must read back exactly,
 * answers must respect their size limit and read back, and no SVCB/HTTPS
 * record in an answer may keep a hint the policy refuses. */
#include <errno.h>
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

/* The oracle for hints: blocked and not re-allowed (mapped forms by their IPv4). */
static bool refused_cb(const struct addr *a, const void *arg)
{
	struct addr x = *a;

	(void)arg;
	addr_unmap(&x);
	return addr_blocked_range(&x) && !pol_private_allowed(policy(), &x, 0, NULL);
}

/* Independently of the filter: whether SVCB rdata that parsed holds a
 * refused ipv4hint or ipv6hint address. */
static bool holds_refused_hint(const uint8_t *rd, size_t len)
{
	size_t pos = 2;

	while (pos < len && rd[pos] != 0)
		pos += 1 + (size_t)rd[pos];
	for (pos++; pos + 4 <= len;) {
		unsigned key = (unsigned)rd[pos] << 8 | rd[pos + 1], vlen = (unsigned)rd[pos + 2] << 8 | rd[pos + 3];
		size_t size = key == DNSW_SVC_IPV4HINT ? 4 : key == DNSW_SVC_IPV6HINT ? 16 : 0;
		pos += 4;
		for (size_t i = 0; size && i + size <= vlen && pos + i + size <= len; i += size) {
			struct addr a = { .family = size == 4 ? AF_INET : AF_INET6 };
			memcpy(size == 4 ? (void *)&a.v4 : (void *)&a.v6, rd + pos + i, size);
			if (refused_cb(&a, NULL))
				return true;
		}
		pos += vlen;
	}
	return false;
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

/* Every record of the stub's answer reads back, and its SVCB/HTTPS records
 * hold no refused hint (filtering them again removes nothing). */
static void check_answer(const uint8_t *out, size_t n)
{
	static uint8_t again[DNSW_TCP_MAX];
	struct span m = span_of((const char *)out, n);
	struct dnsw_header h;
	struct dnsw_name name;
	struct dnsw_rr rr;
	size_t off = DNSW_HEADER_LEN;
	unsigned removed;

	if (dnsw_read_header(m, &h) != 0 || dnsw_read_name(m, &off, &name) != 0 || (off += 4) > n)
		__builtin_trap();
	for (unsigned i = 0; i < (unsigned)h.ancount + h.nscount; i++) {
		if (dnsw_read_rr(m, &off, &rr) != 0)
			__builtin_trap();
		if (rr.type != DNSW_T_SVCB && rr.type != DNSW_T_HTTPS)
			continue;
		struct span rd = span_sub(m, rr.rdata_off, rr.rdlen);
		int k = dnsw_svcb_filter(rd, refused_cb, NULL, again, sizeof(again), &removed);
		if (k != (int)rd.len || removed != 0 || memcmp(again, rd.p, rd.len) != 0 ||
		    holds_refused_hint((const uint8_t *)rd.p, rd.len))
			__builtin_trap();
	}
}

/* Every record of a normalized reply reads back, to its very end. */
static void check_records(const uint8_t *blob, const struct dnsw_reply *info)
{
	struct span b = span_of((const char *)blob, info->len);
	struct dnsw_rr rr;
	size_t off = 0;

	for (unsigned i = 0; i < (unsigned)info->nanswer + info->nauthority; i++)
		if (dnsw_read_rr(b, &off, &rr) != 0)
			__builtin_trap();
	if (off != info->len)
		__builtin_trap();
}

static void as_reply(struct span m)
{
	static const uint16_t qtypes[] = { DNSW_T_A, DNSW_T_AAAA, DNSW_T_SVCB, DNSW_T_HTTPS };
	static uint8_t blob[DNSW_TCP_MAX], out[DNSW_TCP_MAX];
	struct dnsw_reply info;
	struct dnsw_query q;
	struct dns_decision d;
	struct dns_kept k;
	uint8_t rcode;

	if (dnsw_normalize_reply(m, blob, sizeof(blob), &info) != 0)
		return;
	check_records(blob, &info);
	struct rsv_answer a = { .rcode = info.rcode, .ttl = 30, .nanswer = info.nanswer,
				.nauthority = info.nauthority, .rrs = blob, .len = info.len };
	fixed_query(&q, m.len ? qtypes[(uint8_t)m.p[0] % 4] : DNSW_T_A);
	dns_decide(policy(), &q, &d);
	size_t n = dns_answer(policy(), &q, &d, &a, out, 512, &k, &rcode);
	if (n > 512 || n < DNSW_HEADER_LEN)
		__builtin_trap();
	check_answer(out, n);
}

/* The input as Docker's DNS answering the stub's query for db (its ID the
 * input's own, so the fuzzer reaches the question and the records): a
 * match normalizes into records that read back; a query that differs in
 * its ID or question is never matched. */
static void as_engine_reply(struct span m)
{
	static uint8_t query[512], blob[4096];
	struct dnsw_reply info;
	uint16_t id = m.len >= 2 ? (uint16_t)((uint8_t)m.p[0] << 8 | (uint8_t)m.p[1]) : 0;
	size_t qlen = eng_build("db", DNSW_T_A, id, query, sizeof(query));

	if (qlen == 0)
		__builtin_trap();
	int rc = eng_reply(m, span_of((const char *)query, qlen), blob, sizeof(blob), &info);
	if (rc == 0)
		check_records(blob, &info);
	if (rc == -ESRCH || rc == -EBADMSG)
		return;
	qlen = eng_build("db", DNSW_T_AAAA, (uint16_t)(id + 1), query, sizeof(query));
	if (eng_reply(m, span_of((const char *)query, qlen), blob, sizeof(blob), &info) != -ESRCH)
		__builtin_trap(); /* another ID, another type: not its reply */
}

/* The input as a name: what the stub asks the engine for it parses as a
 * query for that very name. */
static void as_engine_name(struct span m)
{
	static uint8_t query[512];
	char text[300], back[DNSW_NAME_TEXT_MAX];
	struct host h;
	struct dnsw_query q;
	const char *why;

	if (m.len >= sizeof(text) || memchr(m.p, 0, m.len))
		return;
	memcpy(text, m.p, m.len);
	text[m.len] = '\0';
	if (host_canonicalize(span_str(text), &h, &why) < 0 || h.kind != HOST_NAME)
		return;
	size_t n = eng_build(h.text, DNSW_T_A, 9, query, sizeof(query));
	if (n == 0 || dnsw_parse_query(span_of((const char *)query, n), &q) != 0 || q.qtype != DNSW_T_A ||
	    !dnsw_name_text(&q.qname, back, sizeof(back)) || strcmp(back, h.text) != 0)
		__builtin_trap();
}

static bool same_decision(const struct dns_decision *a, const struct dns_decision *b)
{
	return a->forward == b->forward && a->report_only == b->report_only && a->hinfo == b->hinfo &&
	       a->rcode == b->rcode && a->v.allow == b->v.allow && a->v.reason == b->v.reason &&
	       a->v.rule == b->v.rule && a->v.rule_is_preset == b->v.rule_is_preset && a->host.kind == b->host.kind &&
	       strcmp(a->host.text, b->host.text) == 0 && strcmp(a->text, b->text) == 0;
}

/* The memo (filled by the inputs before, so hits and collisions happen)
 * against a fresh decision, for q and for q with every letter's case flipped. */
static void check_memo(const struct dnsw_query *q, const struct dns_decision *want)
{
	static struct dns_memo memo;
	static bool ready;
	struct dnsw_query flipped = *q;
	struct dns_decision got, fresh;

	if (!ready)
		dns_memo_init(&memo), ready = true;
	dns_decide_memo(&memo, policy(), q, &got);
	if (!same_decision(&got, want))
		__builtin_trap();
	for (size_t i = 0; i < flipped.qname.len; i++) {
		uint8_t c = flipped.qname.wire[i];
		if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
			flipped.qname.wire[i] = c ^ 0x20;
	}
	dns_decide(policy(), &flipped, &fresh);
	dns_decide_memo(&memo, policy(), &flipped, &got);
	if (!same_decision(&got, &fresh))
		__builtin_trap();
}

/* The input as a client's query, answered locally when it is not
 * forwarded (denials, ANY's HINFO): within the client's limit, and it reads back. */
static void as_query(struct span m)
{
	static uint8_t out[DNSW_TCP_MAX];
	struct dnsw_query q;
	struct dns_decision d;
	struct dns_kept k;
	uint8_t rcode;

	if (dnsw_parse_query(m, &q) != 0)
		return;
	dns_decide(policy(), &q, &d);
	check_memo(&q, &d);
	if (d.forward)
		return;
	size_t n = dns_answer(policy(), &q, &d, NULL, out, q.udp_size, &k, &rcode);
	if (n > q.udp_size || n < DNSW_HEADER_LEN)
		__builtin_trap();
	check_answer(out, n);
}

/* The input as SVCB rdata: the output is never longer, parses again, and
 * filtering it again changes nothing. */
static void as_svcb(struct span m)
{
	static uint8_t out[DNSW_TCP_MAX], again[DNSW_TCP_MAX];
	unsigned removed, removed2;
	int n = dnsw_svcb_filter(m, refused_cb, NULL, out, sizeof(out), &removed);

	if (n == -EBADMSG || n == -EPERM)
		return;
	if (n < 0 || (size_t)n > m.len)
		__builtin_trap();
	int k = dnsw_svcb_filter(span_of((const char *)out, (size_t)n), refused_cb, NULL, again, sizeof(again), &removed2);
	if (k != n || removed2 != 0 || memcmp(out, again, (size_t)n) != 0 || holds_refused_hint(out, (size_t)n))
		__builtin_trap();
	/* a too-small buffer is reported, never overrun */
	if (n > 0 && dnsw_svcb_filter(m, refused_cb, NULL, again, (size_t)n - 1, &removed2) != -ENOSPC)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct span m = span_of((const char *)data, size);

	as_query(m);
	as_reply(m);
	as_engine_reply(m);
	as_engine_name(m);
	as_svcb(m);
	return 0;
}
