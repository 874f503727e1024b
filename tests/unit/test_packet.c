/* test_packet.c: what the reader of rejected packets makes of the bytes the
 * sandbox sent: destination, transport protocol and port, also behind IPv6
 * extension headers and in fragments. */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nft.h"

/* An IPv6 header to 2001:db8::10 whose next header is next, then ext (the
 * extension headers and transport header) */
static size_t ip6(uint8_t *buf, uint8_t next, const uint8_t *ext, size_t n)
{
	static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };

	memset(buf, 0, 40);
	buf[0] = 0x60;
	buf[4] = (uint8_t)(n >> 8);
	buf[5] = (uint8_t)n;
	buf[6] = next;
	buf[7] = 64;
	memcpy(buf + 24, dst, 16);
	if (n)
		memcpy(buf + 40, ext, n);
	return 40 + n;
}

static void parse(const uint8_t *buf, size_t len, uint8_t proto, uint16_t port)
{
	struct nft_pkt p;

	assert_int_equal(nft_pkt_parse(span_of((const char *)buf, len), &p), 0);
	assert_int_equal(p.dst.family, AF_INET6);
	assert_int_equal(p.proto, proto);
	assert_int_equal(p.port, port);
}

static void test_plain_udp(void **state)
{
	static const uint8_t udp[] = { 0x30, 0x39, 0x00, 0x7b, 0, 8, 0, 0 }; /* 12345 -> 123 */
	uint8_t buf[128];

	(void)state;
	parse(buf, ip6(buf, IPPROTO_UDP, udp, sizeof(udp)), IPPROTO_UDP, 123);
}

static void test_extension_headers(void **state)
{
	/* hop-by-hop (8 bytes: PadN) -> destination options (16 bytes) ->
	 * routing (8 bytes) -> TCP to port 8080 */
	static const uint8_t chain[] = {
		60, 0, 1, 4, 0, 0, 0, 0,                             /* hop-by-hop, next: dst opts */
		43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    /* dst opts (2 units), next: routing */
		IPPROTO_TCP, 0, 4, 0, 0, 0, 0, 0,                    /* routing (type 4, empty), next: TCP */
		0xc0, 0x00, 0x1f, 0x90, 0, 0, 0, 0,                  /* TCP 49152 -> 8080 */
	};
	uint8_t buf[128];

	(void)state;
	parse(buf, ip6(buf, 0, chain, sizeof(chain)), IPPROTO_TCP, 8080);
}

static void test_fragments(void **state)
{
	/* first fragment (offset 0, more fragments): the UDP header follows */
	static const uint8_t first[] = { IPPROTO_UDP, 0, 0x00, 0x01, 0, 0, 0, 7, 0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0 };
	/* a later fragment (offset 8): protocol known, no port to read */
	static const uint8_t later[] = { IPPROTO_UDP, 0, 0x00, 0x40, 0, 0, 0, 7, 0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0 };
	uint8_t buf[128];

	(void)state;
	parse(buf, ip6(buf, 44, first, sizeof(first)), IPPROTO_UDP, 53);
	parse(buf, ip6(buf, 44, later, sizeof(later)), IPPROTO_UDP, 0);
	/* a fragment header cut short by the end of the copy (found by
	 * fuzz_packet: the next-header byte was read past the end) */
	parse(buf, ip6(buf, 44, NULL, 0), 44, 0);
}

static void test_truncated_chain(void **state)
{
	/* a hop-by-hop header claiming 64 bytes in a packet that ends first:
	 * still a record, with no port made up */
	static const uint8_t cut[] = { IPPROTO_TCP, 7, 1, 4, 0, 0, 0, 0 };
	uint8_t buf[128];

	(void)state;
	parse(buf, ip6(buf, 0, cut, sizeof(cut)), 0, 0);
}

static void test_ipv4_later_fragment(void **state)
{
	uint8_t buf[28] = { 0x45, 0, 0, 28, 0, 0, 0x00, 0x10, 64, IPPROTO_UDP, 0, 0, 10, 0, 0, 1, 203, 0, 113, 9,
			    0x30, 0x39, 0x00, 0x7b, 0, 8, 0, 0 };
	struct nft_pkt p;

	(void)state;
	assert_int_equal(nft_pkt_parse(span_of((const char *)buf, sizeof(buf)), &p), 0);
	assert_int_equal(p.proto, IPPROTO_UDP);
	assert_int_equal(p.port, 0); /* offset 16 bytes: those are data, not a UDP header */
	buf[6] = buf[7] = 0;
	assert_int_equal(nft_pkt_parse(span_of((const char *)buf, sizeof(buf)), &p), 0);
	assert_int_equal(p.port, 123);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_udp),
		cmocka_unit_test(test_extension_headers),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_truncated_chain),
		cmocka_unit_test(test_ipv4_later_fragment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
