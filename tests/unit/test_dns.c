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
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_pointers),
		cmocka_unit_test(test_parse_query),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_answer_filters_blocked),
		cmocka_unit_test(test_answer_allow_private_and_ttl),
		cmocka_unit_test(test_answer_truncates),
		cmocka_unit_test(test_normalize_drops_bad_rdata),
		cmocka_unit_test(test_bindings),
	};
	return cmocka_run_group_tests(tests, load_policy, free_policy);
}
