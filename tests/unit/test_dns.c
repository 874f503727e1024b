/* test_dns.c: the DNS codec, the stub's decisions and the answers it builds
 * from scripted upstream replies (no network). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "binding.h"
#include "dns_int.h"
#include "dnswire.h"

/* ---- message building ---- */

struct msg {
	uint8_t b[2048];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put16(struct msg *m, unsigned v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(m, b, 2);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

static void put_name(struct msg *m, const char *text)
{
	while (*text) {
		const char *dot = strchr(text, '.');
		size_t l = dot ? (size_t)(dot - text) : strlen(text);
		uint8_t len = (uint8_t)l;
		put(m, &len, 1);
		put(m, text, l);
		text += l + (dot ? 1 : 0);
	}
	put(m, "", 1);
}

static void header(struct msg *m, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
	m->n = 0;
	put16(m, 0x4242);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

static void question(struct msg *m, const char *name, unsigned type)
{
	put_name(m, name);
	put16(m, type);
	put16(m, 1);
}

static void query(struct msg *m, const char *name, unsigned type)
{
	header(m, 0x0100, 1, 0, 0, 0);
	question(m, name, type);
}

static void a_rr(struct msg *m, const uint8_t ip[4], uint32_t ttl)
{
	put16(m, 0xc00c); /* the question's name */
	put16(m, DNSW_T_A);
	put16(m, 1);
	put32(m, ttl);
	put16(m, 4);
	put(m, ip, 4);
}

static int parse(struct msg *m, struct dnsw_query *q)
{
	return dnsw_parse_query(span_of((const char *)m->b, m->n), q);
}

/* ---- codec ---- */

static void test_names_and_pointers(void **state)
{
	struct msg m;
	struct dnsw_name n;
	size_t off;
	char text[DNSW_NAME_TEXT_MAX];

	(void)state;
	query(&m, "www.example.com", 1);
	put16(&m, 0xc010); /* → "example.com" inside the question */
	off = m.n - 2;
	assert_int_equal(dnsw_read_name(span_of((const char *)m.b, m.n), &off, &n), 0);
	assert_int_equal(off, m.n);
	assert_true(dnsw_name_text(&n, text, sizeof(text)));
	assert_string_equal(text, "example.com");

	/* forward, self and header pointers are refused */
	header(&m, 0x0100, 1, 0, 0, 0);
	put16(&m, 0xc00e);
	put16(&m, 0);
	off = 12;
	assert_int_equal(dnsw_read_name(span_of((const char *)m.b, m.n), &off, &n), -EBADMSG);
	m.b[13] = 0x0c;
	off = 12;
	assert_int_equal(dnsw_read_name(span_of((const char *)m.b, m.n), &off, &n), -EBADMSG);
	m.b[13] = 0x02;
	off = 12;
	assert_int_equal(dnsw_read_name(span_of((const char *)m.b, m.n), &off, &n), -EBADMSG);

	/* escapes in presentation text, and the result is not "plain" */
	header(&m, 0x0100, 1, 0, 0, 0);
	put(&m, "\003a b\003com\0", 9);
	off = 12;
	assert_int_equal(dnsw_read_name(span_of((const char *)m.b, m.n), &off, &n), 0);
	assert_false(dnsw_name_text(&n, text, sizeof(text)));
	assert_string_equal(text, "a\\032b.com");
}

static void test_parse_query(void **state)
{
	struct msg m;
	struct dnsw_query q;

	(void)state;
	query(&m, "example.com", 28);
	assert_int_equal(parse(&m, &q), 0);
	assert_int_equal(q.qtype, 28);
	assert_int_equal(q.udp_size, 512);

	header(&m, 0x0100, 1, 0, 0, 1); /* EDNS with a 4096 payload */
	question(&m, "example.com", 1);
	put(&m, "", 1);
	put16(&m, 41);
	put16(&m, 4096);
	put32(&m, 0);
	put16(&m, 0);
	assert_int_equal(parse(&m, &q), 0);
	assert_true(q.edns);
	assert_int_equal(q.udp_size, 4096);

	header(&m, 0x0100, 0, 0, 0, 0);
	assert_int_equal(parse(&m, &q), DNSW_FORMERR);
	header(&m, 0x0100 | (4 << 11), 1, 0, 0, 0); /* NOTIFY */
	question(&m, "example.com", 6);
	assert_int_equal(parse(&m, &q), DNSW_NOTIMP);
	query(&m, "example.com", 1);
	m.b[2] |= 0x80; /* a response: dropped */
	assert_int_equal(parse(&m, &q), -EBADMSG);
	query(&m, "example.com", 1);
	put(&m, "x", 1);
	assert_int_equal(parse(&m, &q), DNSW_FORMERR);
}

/* A query for allowed.test A with flags and an OPT record whose rdata is
 * opt[0..n) (rdlen n, nothing after it). */
static void edns_query(struct msg *m, unsigned flags, const uint8_t *opt, size_t n)
{
	header(m, flags, 1, 0, 0, 1);
	question(m, "allowed.test", 1);
	put(m, "", 1);
	put16(m, 41);
	put16(m, 1232);
	put32(m, 0);
	put16(m, (unsigned)n);
	if (n)
		put(m, opt, n);
}

static void test_parse_tc(void **state)
{
	struct msg m;
	struct dnsw_query q;

	(void)state;
	/* TC in a query is FORMERR, whatever else it carries; the answer echoes the question */
	static const unsigned flags[] = { 0x0200, 0x0300, 0x0310, 0x0390 };
	static const unsigned types[] = { 1, 28, 16, 65, 255 };
	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			header(&m, flags[f], 1, 0, 0, 0);
			question(&m, "allowed.test", types[t]);
			assert_int_equal(parse(&m, &q), DNSW_FORMERR);
			assert_true(q.has_question);
		}
		edns_query(&m, flags[f], NULL, 0);
		assert_int_equal(parse(&m, &q), DNSW_FORMERR);
		/* the same query without TC is served */
		edns_query(&m, flags[f] & ~0x0200u, NULL, 0);
		assert_int_equal(parse(&m, &q), 0);
	}
}

/* An option's length must stay inside the OPT record's rdata. */
static void test_edns_option_overrun(void **state)
{
	struct msg m;
	struct dnsw_query q;
	uint8_t opt[64];

	(void)state;
	memset(opt, 0xab, sizeof(opt));
	/* 1 to 3 bytes: not even an option header */
	for (size_t n = 1; n < 4; n++) {
		edns_query(&m, 0x0100, opt, n);
		assert_int_equal(parse(&m, &q), DNSW_FORMERR);
	}
	/* an option (cookie, 10) with D data bytes that claims more */
	static const size_t have[] = { 0, 1, 7, 8, 40 };
	static const unsigned over[] = { 1, 2, 3, 100, 0xffff };
	for (size_t i = 0; i < sizeof(have) / sizeof(have[0]); i++) {
		for (size_t j = 0; j < sizeof(over) / sizeof(over[0]); j++) {
			unsigned claim = (unsigned)have[i] + over[j] > 0xffff ? 0xffff : (unsigned)have[i] + over[j];
			opt[0] = 0, opt[1] = 10, opt[2] = (uint8_t)(claim >> 8), opt[3] = (uint8_t)claim;
			edns_query(&m, 0x0100, opt, 4 + have[i]);
			if (parse(&m, &q) != DNSW_FORMERR)
				fail_msg("option of %zu bytes claiming %u accepted", have[i], claim);
		}
		/* the exact length is fine */
		opt[2] = 0, opt[3] = (uint8_t)have[i];
		edns_query(&m, 0x0100, opt, 4 + have[i]);
		assert_int_equal(parse(&m, &q), 0);
	}
	/* a good option, then one that overruns; or a partial header after it */
	static const uint8_t two[] = { 0, 12, 0, 0, 0, 10, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8 };
	edns_query(&m, 0x0100, two, sizeof(two));
	assert_int_equal(parse(&m, &q), DNSW_FORMERR);
	edns_query(&m, 0x0100, two, 6);
	assert_int_equal(parse(&m, &q), DNSW_FORMERR);
	edns_query(&m, 0x0100, two, 4);
	assert_int_equal(parse(&m, &q), 0); /* padding alone */
}

/* Client Subnet (RFC 7871): family, source prefix, address bytes, scope. */
static void test_edns_ecs(void **state)
{
	static const struct {
		uint8_t opt[32];
		size_t n;
		int want;
	} cases[] = {
		/* valid: IPv4 /24, /32, /0, /20 with its unused bits clear; IPv6 /56, /128 */
		{ { 0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100 }, 11, 0 },
		{ { 0, 8, 0, 8, 0, 1, 32, 0, 198, 51, 100, 7 }, 12, 0 },
		{ { 0, 8, 0, 4, 0, 1, 0, 0 }, 8, 0 },
		{ { 0, 8, 0, 7, 0, 1, 20, 0, 198, 51, 96 }, 11, 0 },
		{ { 0, 8, 0, 11, 0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0 }, 15, 0 },
		{ { 0, 8, 0, 20, 0, 2, 128, 0, 0x20, 0x01, 0x0d, 0xb8, [23] = 1 }, 24, 0 },
		/* bad family: 0, 3, 0xffff */
		{ { 0, 8, 0, 7, 0, 0, 24, 0, 198, 51, 100 }, 11, DNSW_FORMERR },
		{ { 0, 8, 0, 7, 0, 3, 24, 0, 198, 51, 100 }, 11, DNSW_FORMERR },
		{ { 0, 8, 0, 7, 0xff, 0xff, 24, 0, 198, 51, 100 }, 11, DNSW_FORMERR },
		/* source prefix longer than the family: IPv4 /33 (and /255), IPv6 /129 */
		{ { 0, 8, 0, 9, 0, 1, 33, 0, 198, 51, 100, 7, 0 }, 13, DNSW_FORMERR },
		{ { 0, 8, 0, 4, 0, 1, 255, 0 }, 8, DNSW_FORMERR },
		{ { 0, 8, 0, 21, 0, 2, 129, 0, [24] = 0 }, 25, DNSW_FORMERR },
		/* address bytes not matching the prefix: too many, too few, none */
		{ { 0, 8, 0, 8, 0, 1, 24, 0, 198, 51, 100, 0 }, 12, DNSW_FORMERR },
		{ { 0, 8, 0, 6, 0, 1, 24, 0, 198, 51 }, 10, DNSW_FORMERR },
		{ { 0, 8, 0, 4, 0, 1, 8, 0 }, 8, DNSW_FORMERR },
		{ { 0, 8, 0, 5, 0, 1, 0, 0, 0 }, 9, DNSW_FORMERR },
		/* bits set beyond the prefix: /20 with .100 (the low nibble of 100 is 4) */
		{ { 0, 8, 0, 7, 0, 1, 20, 0, 198, 51, 100 }, 11, DNSW_FORMERR },
		{ { 0, 8, 0, 5, 0, 1, 1, 0, 0xc0 }, 9, DNSW_FORMERR },
		/* a scope in a query, and an option shorter than its fixed part */
		{ { 0, 8, 0, 7, 0, 1, 24, 24, 198, 51, 100 }, 11, DNSW_FORMERR },
		{ { 0, 8, 0, 3, 0, 1, 0 }, 7, DNSW_FORMERR },
		{ { 0, 8, 0, 0 }, 4, DNSW_FORMERR },
	};
	struct msg m;
	struct dnsw_query q;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		edns_query(&m, 0x0100, cases[i].opt, cases[i].n);
		int got = parse(&m, &q);
		if (got != cases[i].want)
			fail_msg("ECS case %zu: got %d, want %d", i, got, cases[i].want);
	}
}

/* ---- decisions ---- */

static struct policy *pol;

static int load_policy(void **state)
{
	static const char yaml[] = "version: 1\nname: unit\n"
				   "allow: [allowed.test, \"*.wild.test\", github.com:22]\n"
				   "deny: [bad.wild.test, \"port.wild.test:8080\"]\n"
				   "allow_private: [\"10.0.1.50:5432\"]\n";
	struct pol_errors errs = { 0 };

	(void)state;
	return pol_load_buffer(yaml, sizeof(yaml) - 1, "unit.yaml", &pol, &errs);
}

static int free_policy(void **state)
{
	(void)state;
	pol_free(pol);
	return 0;
}

static void decide(const char *name, unsigned type, struct dns_decision *d)
{
	struct msg m;
	struct dnsw_query q;

	query(&m, name, type);
	assert_int_equal(parse(&m, &q), 0);
	dns_decide(pol, &q, d);
}

static void test_decide(void **state)
{
	struct dns_decision d;

	(void)state;
	decide("Allowed.TEST", 1, &d);
	assert_true(d.forward);
	assert_string_equal(d.host.text, "allowed.test");
	decide("github.com", 1, &d); /* allowed on port 22 only: the name resolves */
	assert_true(d.forward);
	decide("port.wild.test", 1, &d); /* a deny entry with a port does not hide the name */
	assert_true(d.forward);
	decide("bad.wild.test", 1, &d);
	assert_false(d.forward);
	assert_int_equal(d.v.reason, POL_DENIED_BY_RULE);
	decide("evil.test", 16, &d);
	assert_false(d.forward);
	assert_int_equal(d.rcode, DNSW_NXDOMAIN);
	assert_int_equal(d.v.reason, POL_NOT_ALLOWED);
	decide("metadata.google.internal", 1, &d);
	assert_int_equal(d.v.reason, POL_METADATA_HOST);
	decide("4.3.2.10.in-addr.arpa", 12, &d);
	assert_int_equal(d.v.reason, POL_BLOCKED_ADDRESS);
	decide("168.192.in-addr.arpa", 6, &d); /* a private prefix's zone */
	assert_int_equal(d.v.reason, POL_BLOCKED_ADDRESS);
	decide("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa", 12, &d); /* ::1 */
	assert_int_equal(d.v.reason, POL_BLOCKED_ADDRESS);
	decide("50.1.0.10.in-addr.arpa", 12, &d); /* re-allowed by allow_private, then not in allow */
	assert_int_equal(d.v.reason, POL_NOT_ALLOWED);
	decide("192.0.2.1", 1, &d);
	assert_int_equal(d.v.reason, POL_IP_LITERAL);
	decide("allowed.test", 252, &d); /* AXFR */
	assert_int_equal(d.rcode, DNSW_NOTIMP);
}

static void assert_same_decision(const struct dns_decision *a, const struct dns_decision *b)
{
	assert_int_equal(a->forward, b->forward);
	assert_int_equal(a->report_only, b->report_only);
	assert_int_equal(a->hinfo, b->hinfo);
	assert_int_equal(a->rcode, b->rcode);
	assert_int_equal(a->v.allow, b->v.allow);
	assert_int_equal(a->v.reason, b->v.reason);
	assert_ptr_equal(a->v.rule, b->v.rule);
	assert_int_equal(a->v.rule_is_preset, b->v.rule_is_preset);
	assert_int_equal(a->host.kind, b->host.kind);
	assert_string_equal(a->host.text, b->host.text);
	assert_string_equal(a->text, b->text);
}

/* Decide name/type/class directly and through m; both must agree. */
static void memo_case(struct dns_memo *m, const struct policy *p, const char *name, unsigned type, unsigned qclass,
		      struct dns_decision *got)
{
	struct msg msg;
	struct dnsw_query q;
	struct dns_decision want;

	query(&msg, name, type);
	msg.b[msg.n - 1] = (uint8_t)qclass;
	assert_int_equal(parse(&msg, &q), 0);
	dns_decide(p, &q, &want);
	dns_decide_memo(m, p, &q, got);
	assert_same_decision(got, &want);
}

/* The memo gives dns_decide's decision for every spelling, type and class,
 * the client's spelling where that is what is logged, and forgets on clear. */
static void test_memo(void **state)
{
	static const char *const names[] = { "allowed.test", "ALLOWED.test", "AlLoWeD.TeSt", "bad.wild.test",
					     "Bad.Wild.Test", "evil.test", "EVIL.test", "metadata.google.internal",
					     "4.3.2.10.in-addr.arpa", "192.0.2.1", "a b.allowed.test", "A B.allowed.test",
					     "x.wild.test", "X.WILD.TEST" };
	static const unsigned types[] = { 1, 28, 255, 252 };
	static const char yaml[] = "version: 1\nname: reloaded\nallow: [evil.test]\n";
	static struct dns_memo m;
	struct pol_errors errs = { 0 };
	struct policy *p2;
	struct dns_decision d;

	(void)state;
	dns_memo_init(&m);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
				memo_case(&m, pol, names[i], types[t], 1, &d);
	memo_case(&m, pol, "allowed.test", 1, 3, &d); /* CHAOS after IN: not the IN decision */
	assert_int_equal(d.rcode, DNSW_NOTIMP);
	memo_case(&m, pol, "A B.allowed.test", 1, 1, &d);
	assert_string_equal(d.text, "A\\032B.allowed.test"); /* the client's spelling, as logged */
	/* a reload: the new policy's decisions, not the remembered ones */
	assert_int_equal(pol_load_buffer(yaml, sizeof(yaml) - 1, "reloaded.yaml", &p2, &errs), 0);
	dns_memo_clear(&m);
	memo_case(&m, p2, "Allowed.test", 1, 1, &d);
	assert_int_equal(d.v.reason, POL_NOT_ALLOWED);
	memo_case(&m, p2, "evil.test", 1, 1, &d);
	assert_true(d.forward);
	pol_free(p2);
}

/* ---- answers from scripted upstream replies ---- */

struct scripted {
	struct dnsw_query q;
	struct dns_decision d;
	struct dns_kept k;
	uint8_t blob[4096], out[4096];
	struct rsv_answer a;
	uint8_t rcode;
	size_t len;
};

/* Ask name/type, "upstream" answers with reply; answer with limit bytes. */
static void run(struct scripted *s, const char *name, unsigned type, struct msg *reply, size_t limit)
{
	struct msg m;
	struct dnsw_reply info;

	query(&m, name, type);
	assert_int_equal(parse(&m, &s->q), 0);
	dns_decide(pol, &s->q, &s->d);
	assert_true(s->d.forward);
	assert_int_equal(dnsw_normalize_reply(span_of((const char *)reply->b, reply->n), s->blob, sizeof(s->blob), &info), 0);
	s->a = (struct rsv_answer){ .rcode = info.rcode, .ttl = 60, .nanswer = info.nanswer,
				    .nauthority = info.nauthority, .rrs = s->blob, .len = info.len };
	s->len = dns_answer(pol, &s->q, &s->d, &s->a, s->out, limit, &s->k, &s->rcode);
}

static unsigned ancount(const struct scripted *s)
{
	return (unsigned)s->out[6] << 8 | s->out[7];
}

/* The local answer to q as decided (no upstream). */
static size_t local_answer(struct scripted *s, const char *name, unsigned type, bool edns)
{
	struct msg m;

	query(&m, name, type);
	if (edns) {
		m.b[11] = 1; /* arcount */
		put(&m, "", 1);
		put16(&m, 41);
		put16(&m, 1232);
		put32(&m, 0);
		put16(&m, 0);
	}
	assert_int_equal(parse(&m, &s->q), 0);
	dns_decide(pol, &s->q, &s->d);
	s->len = dns_answer(pol, &s->q, &s->d, NULL, s->out, 512, &s->k, &s->rcode);
	return s->len;
}

/* ANY is answered by the stub itself with RFC 8482's HINFO, never forwarded. */
static void test_any_local(void **state)
{
	static const char *const names[] = { "allowed.test", "Case.Wild.TEST", "github.com", "port.wild.test" };
	static const uint8_t hinfo[] = { 0xc0, 0x0c, 0, 13, 0, 1, 0, 0, 0x0e, 0x10, 0, 9,
					 7, 'R', 'F', 'C', '8', '4', '8', '2', 0 };
	struct scripted s;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (int edns = 0; edns < 2; edns++) {
			size_t len = local_answer(&s, names[i], 255, edns);
			assert_false(s.d.forward);
			assert_true(s.d.hinfo);
			assert_true(s.d.v.allow); /* an allowed name: logged as allowed */
			assert_int_equal(s.rcode, DNSW_NOERROR);
			assert_int_equal(ancount(&s), 1);
			assert_int_equal((unsigned)s.out[10] << 8 | s.out[11], edns ? 1 : 0);
			size_t at = DNSW_HEADER_LEN + s.q.qname.len + 4;
			assert_true(len >= at + sizeof(hinfo));
			assert_memory_equal(s.out + at, hinfo, sizeof(hinfo));
			assert_int_equal(len, at + sizeof(hinfo) + (edns ? 11 : 0));
		}
	}
	/* denied names stay NXDOMAIN, with no HINFO */
	static const char *const denied[] = { "evil.test", "bad.wild.test", "metadata.google.internal",
					      "4.3.2.10.in-addr.arpa", "192.0.2.1" };
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		local_answer(&s, denied[i], 255, false);
		assert_false(s.d.forward);
		assert_false(s.d.hinfo);
		assert_int_equal(s.rcode, DNSW_NXDOMAIN);
		assert_int_equal(ancount(&s), 0);
	}
	/* other types are still forwarded */
	local_answer(&s, "allowed.test", 16, false);
	assert_true(s.d.forward);
	assert_false(s.d.hinfo);
}

static void test_answer_filters_blocked(void **state)
{
	static const uint8_t pub[4] = { 93, 184, 216, 34 }, priv[4] = { 10, 1, 2, 3 }, meta[4] = { 169, 254, 169, 254 };
	struct msg r;
	struct scripted s;

	(void)state;
	header(&r, 0x8180, 1, 2, 0, 0);
	question(&r, "allowed.test", 1);
	a_rr(&r, pub, 300);
	a_rr(&r, priv, 300);
	run(&s, "allowed.test", 1, &r, 512);
	assert_int_equal(s.rcode, DNSW_NOERROR);
	assert_int_equal(ancount(&s), 1);
	assert_int_equal(s.k.n, 1);
	assert_int_equal(s.k.blocked, 1);
	assert_true(s.d.v.allow);

	header(&r, 0x8180, 1, 2, 0, 0);
	question(&r, "allowed.test", 1);
	a_rr(&r, priv, 300);
	a_rr(&r, meta, 300);
	run(&s, "allowed.test", 1, &r, 512);
	assert_int_equal(s.rcode, DNSW_NXDOMAIN);
	assert_int_equal(ancount(&s), 0);
	assert_false(s.d.v.allow);
	assert_int_equal(s.d.v.reason, POL_BLOCKED_ADDRESS);
}

static void test_answer_allow_private_and_ttl(void **state)
{
	static const uint8_t kept[4] = { 10, 0, 1, 50 };
	struct msg r;
	struct scripted s;

	(void)state;
	header(&r, 0x8180, 1, 1, 0, 0);
	question(&r, "db.wild.test", 1);
	a_rr(&r, kept, 30);
	run(&s, "db.wild.test", 1, &r, 512);
	assert_int_equal(s.rcode, DNSW_NOERROR);
	assert_int_equal(ancount(&s), 1);
	/* the record's own TTL (30) is below the entry's (60) */
	size_t ttl_off = s.len - 4 - 2 - 4;
	assert_int_equal((uint32_t)s.out[ttl_off] << 24 | s.out[ttl_off + 1] << 16 | s.out[ttl_off + 2] << 8 |
				 s.out[ttl_off + 3],
			 30);
}

static void test_answer_truncates(void **state)
{
	static const uint8_t ip[4] = { 93, 184, 216, 34 };
	struct msg r;
	struct scripted s;

	(void)state;
	header(&r, 0x8180, 1, 40, 0, 0);
	question(&r, "allowed.test", 1);
	for (int i = 0; i < 40; i++)
		a_rr(&r, ip, 300);
	run(&s, "allowed.test", 1, &r, 512);
	assert_true(s.out[2] & 0x02); /* TC */
	assert_int_equal(ancount(&s), 0);
	assert_true(s.len <= 512);
	run(&s, "allowed.test", 1, &r, 4096);
	assert_false(s.out[2] & 0x02);
	assert_int_equal(ancount(&s), 40);
}

/* ---- SVCB and HTTPS ---- */

static void raw_rr(struct msg *m, unsigned type, const struct msg *rd)
{
	put16(m, 0xc00c);
	put16(m, type);
	put16(m, 1);
	put32(m, 300);
	put16(m, (unsigned)rd->n);
	put(m, rd->b, rd->n);
}

static void svc_begin(struct msg *rd, unsigned prio, const char *target)
{
	rd->n = 0;
	put16(rd, prio);
	put_name(rd, target);
}

static void svc_param(struct msg *rd, unsigned key, const void *v, size_t n)
{
	put16(rd, key);
	put16(rd, (unsigned)n);
	put(rd, v, n);
}

static void v6(uint8_t *out, const char *text)
{
	struct addr a;

	assert_int_equal(addr_parse(span_str(text), &a), 0);
	if (a.family == AF_INET) { /* mapped: keep the IPv6 form */
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a.v4, 4);
	} else {
		memcpy(out, &a.v6, 16);
	}
}

/* The rdata of answer record i of s's answer. */
static struct span answer_rdata(const struct scripted *s, unsigned i, uint16_t *type)
{
	struct span m = span_of((const char *)s->out, s->len);
	struct dnsw_name n;
	struct dnsw_rr rr;
	size_t off = DNSW_HEADER_LEN;

	assert_int_equal(dnsw_read_name(m, &off, &n), 0);
	off += 4;
	for (unsigned k = 0; k <= i; k++)
		assert_int_equal(dnsw_read_rr(m, &off, &rr), 0);
	*type = rr.type;
	return span_sub(m, rr.rdata_off, rr.rdlen);
}

static void assert_rdata(const struct scripted *s, unsigned i, unsigned type, const struct msg *want)
{
	uint16_t t;
	struct span got = answer_rdata(s, i, &t);

	assert_int_equal(t, type);
	assert_int_equal(got.len, want->n);
	assert_memory_equal(got.p, want->b, want->n);
}

/* ipv4hint and ipv6hint addresses in blocked ranges go, as A and AAAA
 * records do; an emptied list goes with its key; the rest is untouched. */
static void test_svcb_hints(void **state)
{
	static const uint8_t v4in[] = { 93, 184, 216, 34, 10, 0, 0, 1, 169, 254, 169, 254, 10, 0, 1, 50, 127, 0, 0, 1 };
	static const uint8_t v4out[] = { 93, 184, 216, 34, 10, 0, 1, 50 }; /* 10.0.1.50: allow_private */
	static const char *const v6in[] = { "2606:4700::1111", "fd00::1", "::ffff:0:a9fe:a9fe", "::ffff:10.0.0.1",
					    "::ffff:0:808:808", "2001:4860::8888", "100::1", "::ffff:10.0.1.50" };
	static const uint8_t blocked4[] = { 127, 0, 0, 1, 198, 51, 100, 1 };
	uint8_t in6[8 * 16], out6[3 * 16], blocked6[2 * 16];
	struct msg r, rd1, want1, rd2, want2, rd3, rd4, want4;
	struct scripted s;

	(void)state;
	for (size_t i = 0; i < 8; i++)
		v6(in6 + 16 * i, v6in[i]);
	v6(out6, "2606:4700::1111");
	v6(out6 + 16, "2001:4860::8888");
	v6(out6 + 32, "::ffff:10.0.1.50"); /* mapped: allow_private's 10.0.1.50 covers it, as for AAAA */
	v6(blocked6, "::1");
	v6(blocked6 + 16, "fe80::1");

	/* mixed lists: only the usable addresses stay */
	svc_begin(&rd1, 1, "");
	svc_param(&rd1, 1, "\002h2\002h3", 6);
	svc_param(&rd1, 4, v4in, sizeof(v4in));
	svc_param(&rd1, 5, "\001\002\003", 3);
	svc_param(&rd1, 6, in6, sizeof(in6));
	svc_begin(&want1, 1, "");
	svc_param(&want1, 1, "\002h2\002h3", 6);
	svc_param(&want1, 4, v4out, sizeof(v4out));
	svc_param(&want1, 5, "\001\002\003", 3);
	svc_param(&want1, 6, out6, sizeof(out6));
	/* only blocked hints: both keys go, port and the target stay */
	svc_begin(&rd2, 2, "svc.allowed.test");
	svc_param(&rd2, 3, "\x20\xfb", 2);
	svc_param(&rd2, 4, blocked4, sizeof(blocked4));
	svc_param(&rd2, 6, blocked6, sizeof(blocked6));
	svc_begin(&want2, 2, "svc.allowed.test");
	svc_param(&want2, 3, "\x20\xfb", 2);
	/* ipv4hint is mandatory and would be left empty: the record goes */
	svc_begin(&rd3, 3, "");
	svc_param(&rd3, 0, "\000\004", 2);
	svc_param(&rd3, 4, blocked4, 4);
	/* mandatory, and one usable address is left: kept */
	svc_begin(&rd4, 4, "");
	svc_param(&rd4, 0, "\000\004", 2);
	svc_param(&rd4, 4, v4in, 8);
	svc_begin(&want4, 4, "");
	svc_param(&want4, 0, "\000\004", 2);
	svc_param(&want4, 4, v4in, 4);

	for (unsigned type = 64; type <= 65; type++) {
		header(&r, 0x8180, 1, 4, 0, 0);
		question(&r, "allowed.test", type);
		raw_rr(&r, type, &rd1);
		raw_rr(&r, type, &rd2);
		raw_rr(&r, type, &rd3);
		raw_rr(&r, type, &rd4);
		run(&s, "allowed.test", type, &r, 4096);
		assert_int_equal(s.rcode, DNSW_NOERROR);
		assert_int_equal(ancount(&s), 3);
		assert_rdata(&s, 0, type, &want1);
		assert_rdata(&s, 1, type, &want2);
		assert_rdata(&s, 2, type, &want4);
		assert_int_equal(s.k.n, 0); /* hints are not bound */
	}
	/* an HTTPS record among CNAMEs of an A answer is filtered all the same */
	header(&r, 0x8180, 1, 1, 0, 0);
	question(&r, "allowed.test", 1);
	raw_rr(&r, 65, &rd2);
	run(&s, "allowed.test", 1, &r, 4096);
	assert_int_equal(ancount(&s), 1);
	assert_rdata(&s, 0, 65, &want2);
}

/* Malformed SvcParams: the record is dropped, never half-read. */
static void test_svcb_malformed(void **state)
{
	struct msg bad[32], rd, good, r;
	size_t nbad = 0;
	uint8_t out[1024];
	unsigned removed;
	struct scripted s;

	(void)state;
#define BAD(...) do { static const uint8_t b_[] = { __VA_ARGS__ }; memcpy(bad[nbad].b, b_, sizeof(b_)); bad[nbad++].n = sizeof(b_); } while (0)
	bad[nbad++].n = 0;
	BAD(0);
	BAD(0, 1);                          /* priority, no target */
	BAD(0, 1, 0xc0, 0x0c);              /* a compressed target */
	BAD(0, 1, 0x40, 0);                 /* a reserved label type */
	BAD(0, 1, 5, 'a', 'b', 0);          /* a label past the end */
	BAD(0, 1, 1, 'a');                  /* no root label */
	BAD(0, 1, 0, 0);                    /* a parameter header of 1 to 3 bytes */
	BAD(0, 1, 0, 0, 1);
	BAD(0, 1, 0, 0, 1, 0);
	BAD(0, 1, 0, 0, 1, 0, 9, 2, 'h', '2'); /* a value past the end */
	BAD(0, 1, 0, 0, 3, 0, 2, 1, 187, 0, 1, 0, 3, 2, 'h', '2'); /* keys out of order */
	BAD(0, 1, 0, 0, 3, 0, 2, 1, 187, 0, 3, 0, 2, 1, 187);  /* a key twice */
	BAD(0, 1, 0, 0, 4, 0, 0);           /* an empty ipv4hint */
	BAD(0, 1, 0, 0, 4, 0, 5, 93, 184, 216, 34, 1);
	BAD(0, 1, 0, 0, 4, 0, 3, 93, 184, 216);
	BAD(0, 1, 0, 0, 6, 0, 0);           /* an empty ipv6hint */
	BAD(0, 1, 0, 0, 6, 0, 15, 0x26, 6, 0x47, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11);
	BAD(0, 1, 0, 0, 0, 0, 0);           /* an empty mandatory list, and an odd one */
	BAD(0, 1, 0, 0, 0, 0, 3, 0, 4, 0, 0, 4, 0, 4, 93, 184, 216, 34);
#undef BAD
	rd.n = 0;
	put16(&rd, 1);
	for (int i = 0; i < 5; i++) /* a target of 5 x 63 bytes is over 255 */
		put(&rd, "\077aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64);
	put(&rd, "", 1);
	bad[nbad++] = rd;
	for (unsigned top = 0x40; top <= 0xc0; top += 0x40) { /* a pointer or reserved type that would fit as a length */
		rd.n = 0;
		put16(&rd, 1);
		uint8_t c = (uint8_t)top;
		put(&rd, &c, 1);
		memset(rd.b + rd.n, 'a', top);
		rd.n += top;
		put(&rd, "", 1);
		bad[nbad++] = rd;
	}

	svc_begin(&good, 1, "");
	svc_param(&good, 4, "\135\270\330\042", 4);
	for (size_t i = 0; i < nbad; i++) {
		int n = dnsw_svcb_filter(span_of((const char *)bad[i].b, bad[i].n), NULL, NULL, out, sizeof(out), &removed);
		if (n != -EBADMSG)
			fail_msg("malformed SVCB rdata %zu: got %d", i, n);
		/* upstream: the bad record is left out, the good one after it stays */
		header(&r, 0x8180, 1, 2, 0, 0);
		question(&r, "allowed.test", 65);
		raw_rr(&r, 65, &bad[i]);
		raw_rr(&r, 65, &good);
		run(&s, "allowed.test", 65, &r, 512);
		assert_int_equal(s.a.nanswer, 1);
		assert_int_equal(ancount(&s), 1);
		assert_rdata(&s, 0, 65, &good);
	}
	/* the same through dns_answer alone, as a cached entry would hold it */
	for (size_t i = 0; i < nbad; i++) {
		struct msg blob;
		blob.n = 0;
		put_name(&blob, "allowed.test");
		put16(&blob, 65);
		put16(&blob, 1);
		put32(&blob, 300);
		put16(&blob, (unsigned)bad[i].n);
		put(&blob, bad[i].b, bad[i].n);
		s.a = (struct rsv_answer){ .rcode = 0, .ttl = 60, .nanswer = 1, .rrs = blob.b, .len = blob.n };
		s.len = dns_answer(pol, &s.q, &s.d, &s.a, s.out, 512, &s.k, &s.rcode);
		assert_int_equal(s.rcode, DNSW_NOERROR);
		assert_int_equal(ancount(&s), 0);
	}
	/* too small an output buffer */
	assert_int_equal(dnsw_svcb_filter(span_of((const char *)good.b, good.n), NULL, NULL, out, good.n - 1, &removed),
			 -ENOSPC);
	assert_int_equal(dnsw_svcb_filter(span_of((const char *)good.b, good.n), NULL, NULL, out, good.n, &removed),
			 (int)good.n);
}

static void test_normalize_drops_bad_rdata(void **state)
{
	struct msg r;
	uint8_t out[512];
	struct dnsw_reply info;

	(void)state;
	header(&r, 0x8180, 1, 1, 0, 0);
	question(&r, "allowed.test", 1);
	put16(&r, 0xc00c);
	put16(&r, DNSW_T_A);
	put16(&r, 1);
	put32(&r, 60);
	put16(&r, 3); /* an A record of 3 bytes */
	put(&r, "abc", 3);
	assert_int_equal(dnsw_normalize_reply(span_of((const char *)r.b, r.n), out, sizeof(out), &info), 0);
	assert_int_equal(info.nanswer, 0);
	r.b[3] = 0x82; /* SERVFAIL */
	assert_int_equal(dnsw_normalize_reply(span_of((const char *)r.b, r.n), out, sizeof(out), &info), -EPROTO);
}

static void test_bindings(void **state)
{
	struct bnd_table *t = bnd_new(2);
	struct addr a = { .family = AF_INET }, b = { .family = AF_INET };
	const char *names[BND_MAX_NAMES];

	(void)state;
	a.v4.s_addr = htonl(0x5db8d822);
	b.v4.s_addr = htonl(0x5db8d823);
	assert_int_equal(bnd_add(t, &a, "one.test", 60), 0);
	assert_int_equal(bnd_add(t, &a, "two.test", 60), 0);
	assert_int_equal(bnd_find(t, &a, names, BND_MAX_NAMES), 2);
	assert_int_equal(bnd_add(t, &b, "three.test", 60), 0); /* full: the oldest goes */
	assert_int_equal(bnd_count(t), 2);
	assert_int_equal(bnd_find(t, &a, names, BND_MAX_NAMES), 1);
	assert_string_equal(names[0], "two.test");
	assert_int_equal(bnd_add(t, &b, "gone.test", 0), 0); /* TTL 0: expired at once */
	assert_int_equal(bnd_find(t, &b, names, BND_MAX_NAMES), 1);
	assert_string_equal(names[0], "three.test");
	bnd_free(t);
	/* a refresh makes the pair the newest: first in bnd_find, last to go */
	t = bnd_new(2);
	assert_int_equal(bnd_add(t, &a, "one.test", 0), 0);
	assert_int_equal(bnd_add(t, &a, "two.test", 60), 0);
	assert_int_equal(bnd_add(t, &a, "one.test", 60), 0); /* and its TTL is the new one */
	assert_int_equal(bnd_count(t), 2);
	assert_int_equal(bnd_find(t, &a, names, BND_MAX_NAMES), 2);
	assert_string_equal(names[0], "one.test");
	assert_string_equal(names[1], "two.test");
	assert_int_equal(bnd_add(t, &b, "three.test", 60), 0);
	assert_int_equal(bnd_find(t, &a, names, BND_MAX_NAMES), 1);
	assert_string_equal(names[0], "one.test");
	bnd_free(t);
}

/* The query the stub asks Docker's DNS, and which replies count as its. */
static void test_engine_query_and_reply(void **state)
{
	uint8_t q[512], rrs[512];
	struct dnsw_reply r;
	struct dnsw_query pq;
	struct msg m = { .n = 0 };
	static const uint8_t ip[4] = { 203, 0, 113, 130 };
	size_t n = eng_build("db", DNSW_T_A, 0x1234, q, sizeof(q));
	struct span query = span_of((const char *)q, n);

	(void)state;
	/* a plain query: RD, one question, the name lowercase as given, no EDNS */
	assert_int_equal(n, 12 + 4 + 4);
	assert_int_equal(dnsw_parse_query(query, &pq), 0);
	assert_int_equal(pq.h.id, 0x1234);
	assert_int_equal(pq.qtype, DNSW_T_A);
	assert_false(pq.edns);
	assert_memory_equal(pq.qname.wire, "\002db", 4);
	assert_int_equal(eng_build("", DNSW_T_A, 1, q + 100, 300), 0);
	assert_int_equal(eng_build("a..b", DNSW_T_A, 1, q + 100, 300), 0);
	assert_int_equal(eng_build("db", DNSW_T_A, 1, q + 100, 10), 0); /* too small: nothing */

	/* the reply: its name in another case still matches (Docker echoes it) */
	put16(&m, 0x1234), put16(&m, 0x8180), put16(&m, 1), put16(&m, 1), put16(&m, 0), put16(&m, 0);
	put(&m, "\002DB", 4), put16(&m, DNSW_T_A), put16(&m, DNSW_CLASS_IN);
	put16(&m, 0xc00c), put16(&m, DNSW_T_A), put16(&m, DNSW_CLASS_IN), put32(&m, 600), put16(&m, 4), put(&m, ip, 4);
	struct span reply = span_of((const char *)m.b, m.n);
	assert_int_equal(eng_reply(reply, query, rrs, sizeof(rrs), &r), 0);
	assert_int_equal(r.nanswer, 1);
	assert_int_equal(r.ttl, 600);

	/* another ID, another type: not its reply */
	m.b[1] = 0x35;
	assert_int_equal(eng_reply(reply, query, rrs, sizeof(rrs), &r), -ESRCH);
	m.b[1] = 0x34;
	n = eng_build("db", DNSW_T_AAAA, 0x1234, q, sizeof(q));
	assert_int_equal(eng_reply(reply, span_of((const char *)q, n), rrs, sizeof(rrs), &r), -ESRCH);
	n = eng_build("dc", DNSW_T_A, 0x1234, q, sizeof(q));
	assert_int_equal(eng_reply(reply, span_of((const char *)q, n), rrs, sizeof(rrs), &r), -ESRCH);
	n = eng_build("db", DNSW_T_A, 0x1234, q, sizeof(q));
	/* a query, not a reply; a REFUSED; a truncated record */
	m.b[2] = 0x01;
	assert_int_equal(eng_reply(reply, query, rrs, sizeof(rrs), &r), -ESRCH);
	m.b[2] = 0x81, m.b[3] = 0x85;
	assert_int_equal(eng_reply(reply, query, rrs, sizeof(rrs), &r), -EPROTO);
	m.b[3] = 0x80;
	assert_int_equal(eng_reply(span_of((const char *)m.b, m.n - 2), query, rrs, sizeof(rrs), &r), -EBADMSG);
	/* the one test for a name only a local resolver knows */
	struct host h;
	const char *why;
	assert_int_equal(host_canonicalize(span_str("DB"), &h, &why), 0);
	assert_true(host_single_label(&h));
	assert_int_equal(host_canonicalize(span_str("db.test"), &h, &why), 0);
	assert_false(host_single_label(&h));
	assert_int_equal(host_canonicalize(span_str("10.1.2.3"), &h, &why), 0);
	assert_false(host_single_label(&h));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_pointers),
		cmocka_unit_test(test_parse_query),
		cmocka_unit_test(test_parse_tc),
		cmocka_unit_test(test_edns_option_overrun),
		cmocka_unit_test(test_edns_ecs),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_memo),
		cmocka_unit_test(test_answer_filters_blocked),
		cmocka_unit_test(test_answer_allow_private_and_ttl),
		cmocka_unit_test(test_answer_truncates),
		cmocka_unit_test(test_any_local),
		cmocka_unit_test(test_svcb_hints),
		cmocka_unit_test(test_svcb_malformed),
		cmocka_unit_test(test_normalize_drops_bad_rdata),
		cmocka_unit_test(test_bindings),
		cmocka_unit_test(test_engine_query_and_reply),
	};
	return cmocka_run_group_tests(tests, load_policy, free_policy);
}
