/* test_host_addr.c: the host canonicalizer and the address classifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "addr.h"
#include "host.h"
#include "policy.h"

static const char *canon(const char *in)
{
	static struct host h;
	const char *why;

	return host_canonicalize(span_str(in), &h, &why) == 0 ? h.text : NULL;
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(canon("EXAMPLE.COM."), "example.com");
	assert_string_equal(canon("a_b-c.Example.org"), "a_b-c.example.org");
	assert_string_equal(canon("xn--bcher-kva.example"), "xn--bcher-kva.example");
	assert_null(canon("example.com.."));
	assert_null(canon(".example.com"));
	assert_null(canon("a..b"));
	assert_null(canon(""));
	assert_null(canon("."));
	assert_null(canon("exa mple.com"));
	assert_null(canon("b\xc3\xbc" "cher.example"));
	assert_null(canon("[example.com]"));
	assert_null(canon("example.com]"));
	char label[70];
	memset(label, 'a', 64);
	strcpy(label + 64, ".com");
	assert_null(canon(label)); /* 64-byte label */
	label[63] = '\0';
	assert_non_null(canon(label));
	char longname[300];
	for (int i = 0; i < 60; i++)
		memcpy(longname + i * 4, "abc.", 4);
	strcpy(longname + 240, "abcdefghijklmn"); /* 254 bytes */
	assert_null(canon(longname));
	longname[253] = '\0';
	assert_non_null(canon(longname));
}

static void test_ip_spellings(void **state)
{
	(void)state;
	assert_string_equal(canon("192.0.2.1"), "192.0.2.1");
	assert_string_equal(canon("[2001:DB8::1]"), "2001:db8::1");
	assert_string_equal(canon("[::ffff:192.0.2.1]"), "192.0.2.1");
	const char *odd[] = { "127.1", "0x7f.0.0.1", "2130706433", "0177.0.0.1", "127.000.000.001",
			      "1.2.3.4.", "1.2.3.256", "example.123", "a.0x1f", "[::ffff:1.2.3.04]",
			      "[fe80::1%eth0]", "[1:2:3:4:5:6:7:8:9]", "[192.0.2.1]" };
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		if (canon(odd[i]))
			fail_msg("accepted odd spelling %s", odd[i]);
	}
}

static void test_authority(void **state)
{
	struct host h;
	uint16_t port;
	const char *why;

	(void)state;
	assert_int_equal(host_parse_authority(span_str("Example.com:8443"), 0, &h, &port, &why), 0);
	assert_string_equal(h.text, "example.com");
	assert_int_equal(port, 8443);
	assert_int_equal(host_parse_authority(span_str("[2001:db8::1]:443"), 0, &h, &port, &why), 0);
	assert_int_equal(h.kind, HOST_IP);
	assert_int_equal(host_parse_authority(span_str("example.com"), 80, &h, &port, &why), 0);
	assert_int_equal(port, 80);
	assert_true(host_parse_authority(span_str("example.com"), 0, &h, &port, &why) < 0);
	assert_true(host_parse_authority(span_str("example.com:0"), 0, &h, &port, &why) < 0);
	assert_true(host_parse_authority(span_str("example.com:65536"), 0, &h, &port, &why) < 0);
	assert_true(host_parse_authority(span_str("example.com:+80"), 0, &h, &port, &why) < 0);
	assert_true(host_parse_authority(span_str("example.com:080"), 0, &h, &port, &why) < 0);
	assert_true(host_parse_authority(span_str("2001:db8::1:443"), 0, &h, &port, &why) < 0);
	assert_true(host_parse_authority(span_str("[2001:db8::1]x"), 0, &h, &port, &why) < 0);
	assert_true(host_parse_authority(span_str("[example.com]:443"), 0, &h, &port, &why) < 0);
}

static const char *range(const char *ip)
{
	struct addr a;

	if (addr_parse(span_str(ip), &a) < 0)
		return "parse-error";
	return addr_blocked_range(&a);
}

static void test_classifier(void **state)
{
	(void)state;
	const char *blocked[][2] = {
		{ "0.1.2.3", "0.0.0.0/8" },         { "10.255.0.1", "10.0.0.0/8" },
		{ "100.64.0.1", "100.64.0.0/10" },  { "100.127.255.255", "100.64.0.0/10" },
		{ "127.0.0.1", "127.0.0.0/8" },     { "169.254.169.254", "169.254.0.0/16" },
		{ "172.31.0.1", "172.16.0.0/12" },  { "192.0.0.8", "192.0.0.0/24" },
		{ "192.0.2.1", "192.0.2.0/24" },    { "192.88.99.1", "192.88.99.0/24" },
		{ "192.168.1.1", "192.168.0.0/16" }, { "198.19.0.1", "198.18.0.0/15" },
		{ "198.51.100.7", "198.51.100.0/24" }, { "203.0.113.9", "203.0.113.0/24" },
		{ "224.0.0.1", "224.0.0.0/4" },     { "255.255.255.255", "240.0.0.0/4" },
		{ "168.63.129.16", "168.63.129.16/32" }, { "::", "::/128" },
		{ "::1", "::1/128" },               { "::ffff:10.0.0.1", "10.0.0.0/8" },
		{ "::ffff:169.254.169.254", "169.254.0.0/16" }, { "::10.0.0.1", "::/96" },
		{ "64:ff9b::a00:1", "64:ff9b::/96" }, { "64:ff9b:1::1", "64:ff9b:1::/48" },
		{ "100::1", "100::/64" },           { "2001::1", "2001::/23" },
		{ "2001:db8::1", "2001:db8::/32" }, { "2002:a00:1::", "2002::/16" },
		{ "3fff::1", "3fff::/20" },         { "fd00::1", "fc00::/7" },
		{ "fe80::1", "fe80::/10" },         { "fec0::1", "fec0::/10" },
		{ "ff02::1", "ff00::/8" },
	};
	for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
		const char *got = range(blocked[i][0]);
		if (!got || strcmp(got, blocked[i][1]) != 0)
			fail_msg("%s: expected %s, got %s", blocked[i][0], blocked[i][1], got ? got : "(public)");
	}
	const char *public[] = { "1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.0", "172.15.255.255",
				 "172.32.0.0", "168.63.129.17", "2606:4700::1111", "::ffff:8.8.8.8",
				 "2001:200::1", "192.0.3.1" };
	for (size_t i = 0; i < sizeof(public) / sizeof(public[0]); i++)
		if (range(public[i]))
			fail_msg("%s classified as blocked (%s)", public[i], range(public[i]));
}

/* IPv6 outside global unicast 2000::/3 is blocked whatever it embeds; inside
 * it, only the special ranges are. */
static void test_classifier_v6_outside_global(void **state)
{
	(void)state;
	const char *blocked[][2] = {
		/* IPv4-translated ::ffff:0:0:0/96, public and private IPv4 alike */
		{ "::ffff:0:0:0", "::ffff:0:0:0/96" },       { "::ffff:0:8.8.8.8", "::ffff:0:0:0/96" },
		{ "::ffff:0:10.0.0.1", "::ffff:0:0:0/96" },  { "::ffff:0:169.254.169.254", "::ffff:0:0:0/96" },
		{ "::ffff:0:ffff:ffff", "::ffff:0:0:0/96" }, { "0:0:0:0:ffff:0:a9fe:a9fe", "::ffff:0:0:0/96" },
		/* 100::/64 (discard) and just past it */
		{ "100::", "100::/64" },                     { "100::ffff:ffff:ffff:ffff", "100::/64" },
		{ "100:0:0:1::", "::/3" },                   { "1ff:ffff::1", "::/3" },
		/* 3fff::/20 (documentation) */
		{ "3fff::", "3fff::/20" },                   { "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff::/20" },
		/* ::/8 (reserved) outside ::/96 and the mapped and translated forms */
		{ "::1:0:0:0:1", "::/3" },                   { "::fffe:808:808", "::/3" },
		{ "0:0:0:0:1:ffff:808:808", "::/3" },        { "::ffff:1:808:808", "::/3" },
		{ "ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/3" },
		/* the rest of the space outside 2000::/3 */
		{ "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/3" },
		{ "4000::", "4000::/2" },                    { "7fff:ffff::1", "4000::/2" },
		{ "8000::", "8000::/1" },                    { "e000::1", "8000::/1" },
		{ "fe00::1", "8000::/1" },                   { "fbff:ffff::1", "8000::/1" },
	};
	for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
		const char *got = range(blocked[i][0]);
		if (!got || strcmp(got, blocked[i][1]) != 0)
			fail_msg("%s: expected %s, got %s", blocked[i][0], blocked[i][1], got ? got : "(public)");
	}
	/* global unicast outside the special ranges: parsed and classified, never dialed */
	const char *public[] = { "2000::", "2000::1", "2606:4700:4700::1111", "2001:4860:4860::8888",
				 "2a00:1450:4001::1", "2001:200::1", "3ffe:ffff::1", "3fff:1000::",
				 "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::1", "2003::1" };
	for (size_t i = 0; i < sizeof(public) / sizeof(public[0]); i++)
		if (range(public[i]))
			fail_msg("%s classified as blocked (%s)", public[i], range(public[i]));
}

/* A mapped address built as IPv6 (as a sockaddr or AAAA record gives it) is
 * still classified by its IPv4 address. */
static void test_classifier_mapped(void **state)
{
	static const uint8_t pub[16] = { [10] = 0xff, [11] = 0xff, 8, 8, 8, 8 };
	static const uint8_t meta[16] = { [10] = 0xff, [11] = 0xff, 169, 254, 169, 254 };
	static const uint8_t xlat[16] = { [8] = 0xff, [9] = 0xff, [12] = 8, 8, 8, 8 };
	struct addr a = { .family = AF_INET6 };

	(void)state;
	memcpy(&a.v6, pub, 16);
	assert_null(addr_blocked_range(&a));
	memcpy(&a.v6, meta, 16);
	assert_non_null(addr_blocked_range(&a));
	assert_string_equal(addr_blocked_range(&a), "169.254.0.0/16");
	memcpy(&a.v6, xlat, 16);
	assert_non_null(addr_blocked_range(&a));
	assert_string_equal(addr_blocked_range(&a), "::ffff:0:0:0/96");
}

/* allow_private lifts the block outside 2000::/3 as it does elsewhere, for
 * literals and resolved addresses alike (both go through pol_vet). */
static void test_allow_private_v6(void **state)
{
	static const char yaml[] = "version: 1\nname: unit\nallow: [\"2606:4700::/32\"]\n"
				   "allow_private: [\"::ffff:0:0.0.0.0/96\", \"[4000::]/2:443\"]\n";
	struct pol_errors errs = { 0 };
	struct policy *p;
	struct addr in[4], out[4];
	const struct addr *first;

	(void)state;
	assert_int_equal(pol_load_buffer(yaml, sizeof(yaml) - 1, "unit.yaml", &p, &errs), 0);
	addr_parse(span_str("::ffff:0:169.254.169.254"), &in[0]);
	addr_parse(span_str("4000::1"), &in[1]);
	addr_parse(span_str("8000::1"), &in[2]);
	addr_parse(span_str("2606:4700::1"), &in[3]);
	assert_int_equal(pol_vet(p, in, 4, 443, out, &first), 3);
	assert_true(addr_equal(first, &in[2]));
	assert_int_equal(pol_vet(p, in, 4, 80, out, &first), 2); /* 4000::/2 only on 443 */
	assert_true(addr_equal(&out[0], &in[0]));
	assert_true(addr_equal(&out[1], &in[3]));
	pol_free(p);
}

static void test_cidr(void **state)
{
	struct addr_cidr c;
	struct addr a;

	(void)state;
	assert_int_equal(addr_parse_cidr(span_str("10.0.1.0/24"), &c), 0);
	addr_parse(span_str("10.0.1.50"), &a);
	assert_true(addr_in_cidr(&a, &c));
	addr_parse(span_str("10.0.2.1"), &a);
	assert_false(addr_in_cidr(&a, &c));
	assert_true(addr_parse_cidr(span_str("10.0.0.1/8"), &c) < 0); /* host bits set */
	assert_true(addr_parse_cidr(span_str("10.0.0.0/33"), &c) < 0);
	assert_true(addr_parse_cidr(span_str("10.0.0.0/08"), &c) < 0);
	assert_int_equal(addr_parse_cidr(span_str("2001:db8::/32"), &c), 0);
	addr_parse(span_str("2001:db8:1::5"), &a);
	assert_true(addr_in_cidr(&a, &c));
	assert_int_equal(addr_parse_cidr(span_str("::ffff:10.0.0.0/104"), &c), 0);
	addr_parse(span_str("10.9.9.9"), &a);
	assert_true(addr_in_cidr(&a, &c));
}

/* IPv4 text is inet_ntop's, every byte value in every position; a buffer
 * too small for the longest gets inet_ntop's own answer. */
static void test_format_v4(void **state)
{
	char got[ADDR_TEXT_MAX], want[ADDR_TEXT_MAX], small[8];
	struct addr a = { .family = AF_INET };

	(void)state;
	for (unsigned v = 0; v < 256; v++)
		for (unsigned pos = 0; pos < 4; pos++) {
			uint8_t b[4] = { 1, 23, 255, 0 };
			b[pos] = (uint8_t)v;
			memcpy(&a.v4, b, 4);
			addr_format(&a, got, sizeof(got));
			assert_non_null(inet_ntop(AF_INET, &a.v4, want, sizeof(want)));
			assert_string_equal(got, want);
		}
	addr_parse(span_str("1.2.3.4"), &a);
	addr_format(&a, small, sizeof(small));
	assert_string_equal(small, "1.2.3.4");
	addr_parse(span_str("10.20.30.40"), &a);
	addr_format(&a, small, sizeof(small));
	assert_string_equal(small, "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),      cmocka_unit_test(test_ip_spellings),
		cmocka_unit_test(test_authority),  cmocka_unit_test(test_classifier),
		cmocka_unit_test(test_cidr),       cmocka_unit_test(test_classifier_v6_outside_global),
		cmocka_unit_test(test_classifier_mapped), cmocka_unit_test(test_allow_private_v6),
		cmocka_unit_test(test_format_v4),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
