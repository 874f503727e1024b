/* test_host_addr.c: the host canonicalizer and the address classifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "addr.h"
#include "host.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),      cmocka_unit_test(test_ip_spellings),
		cmocka_unit_test(test_authority),  cmocka_unit_test(test_classifier),
		cmocka_unit_test(test_cidr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
