/* test_http.c: the strict HTTP head parser and the chunked scanner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "http.h"

static long req(const char *text, struct http_head *h)
{
	const char *why = NULL;
	return http_parse_request(span_str(text), h, &why);
}

static void test_valid(void **state)
{
	struct http_head h;
	const char *r = "GET http://a.test/x HTTP/1.1\r\nHost: a.test\r\nX-Y:  v  \r\n\r\nBODY";

	(void)state;
	assert_int_equal(req(r, &h), (long)strlen(r) - 4);
	assert_true(span_ieq(h.method, "GET"));
	assert_true(span_ieq(h.target, "http://a.test/x"));
	assert_int_equal(h.nh, 2);
	assert_true(span_ieq(h.h[1].value, "v"));
	assert_true(h.keep_alive);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_int_equal(req("POST http://a/ HTTP/1.0\r\nContent-Length: 5\r\n\r\n", &h) > 0, 1);
	assert_int_equal(h.body, HTTP_BODY_LENGTH);
	assert_int_equal(h.length, 5);
	assert_false(h.keep_alive);
	assert_true(req("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_CHUNKED);
	assert_false(h.keep_alive);
	assert_int_equal(req("GET http://a/ HTTP/1.1\r\nHost: a\r\n", &h), 0); /* incomplete */
	assert_int_equal(req("GET http://a/ HTTP/1.1\r", &h), 0);
}

static void test_rejects(void **state)
{
	struct http_head h;
	const char *bad[] = {
		"GET http://a/ HTTP/1.1\nHost: a\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nHost: a\n\r\n",
		"GET http://a/ HTTP/1.1\r\nX: a\rb\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nX : a\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\n: a\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nX: a\x01\r\n\r\n",
		"GET  http://a/ HTTP/1.1\r\n\r\n",
		"GET http://a/ HTTP/2.0\r\n\r\n",
		"GET http://a/ HTTP/1.1 \r\n\r\n",
		"G(T http://a/ HTTP/1.1\r\n\r\n",
		"GET http://a/\x7f HTTP/1.1\r\n\r\n",
		"\r\nGET http://a/ HTTP/1.1\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nContent-Length: 01\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST http://a/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long n = req(bad[i], &h);
		if (n != -EINVAL)
			fail_msg("case %zu accepted or not rejected (%ld): %s", i, n, bad[i]);
	}
	static char nul[] = "GET http://a/ HTTP/1.1\r\nX: a\0b\r\n\r\n";
	const char *why;
	assert_int_equal(http_parse_request(span_of(nul, sizeof(nul) - 1), &h, &why), -EINVAL);
	static char big[HTTP_MAX_HEAD + 100];
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "GET http://a/ HTTP/1.1\r\nX: ", 27);
	assert_int_equal(req(big, &h), -E2BIG);
}

static void test_response(void **state)
{
	struct http_head h;
	const char *why;

	(void)state;
	assert_true(http_parse_response(span_str("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"), span_str("GET"), &h, &why) > 0);
	assert_int_equal(h.status, 200);
	assert_int_equal(h.body, HTTP_BODY_LENGTH);
	assert_true(http_parse_response(span_str("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"), span_str("HEAD"), &h, &why) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(http_parse_response(span_str("HTTP/1.1 204 No Content\r\n\r\n"), span_str("GET"), &h, &why) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(http_parse_response(span_str("HTTP/1.1 200\r\n\r\n"), span_str("GET"), &h, &why) > 0);
	assert_int_equal(h.body, HTTP_BODY_CLOSE);
	assert_false(h.keep_alive);
	assert_int_equal(http_parse_response(span_str("HTTP/1.1 20 OK\r\n\r\n"), span_str("GET"), &h, &why), -EINVAL);
	assert_int_equal(http_parse_response(span_str("HTTP/1.1 200OK\r\n\r\n"), span_str("GET"), &h, &why), -EINVAL);
	const char *hop = "HTTP/1.1 200 OK\r\nConnection: x-secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\n\r\n";
	assert_true(http_parse_response(span_str(hop), span_str("GET"), &h, &why) > 0);
	assert_true(http_is_hop_by_hop(&h, span_str("x-secret")));
	assert_true(http_is_hop_by_hop(&h, span_str("Keep-Alive")));
	assert_false(http_is_hop_by_hop(&h, span_str("Content-Type")));
}

/* RFC 9112 3.2: HTTP/1.1 needs Host (CONNECT excepted); HTTP/1.0 does not. */
static void test_host_rule(void **state)
{
	struct http_head h;
	const char *why = NULL;

	(void)state;
	assert_int_equal(http_parse_request(span_str("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), &h, &why), -EINVAL);
	assert_string_equal(why, "HTTP/1.1 request without Host");
	assert_int_equal(req("GET http://a/ HTTP/1.1\r\n\r\n", &h), -EINVAL);
	assert_int_equal(req("POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", &h), -EINVAL);
	assert_int_equal(req("get / HTTP/1.1\r\nX-Host: a\r\n\r\n", &h), -EINVAL);
	assert_true(req("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n", &h) > 0);
	assert_true(h.has_host);
	assert_true(req("GET / HTTP/1.1\r\nHost:\r\n\r\n", &h) > 0); /* empty: the caller judges the value */
	assert_true(req("GET / HTTP/1.0\r\n\r\n", &h) > 0);
	assert_false(h.has_host);
	assert_true(req("CONNECT a:443 HTTP/1.1\r\n\r\n", &h) > 0);
	/* methods are case-sensitive: only CONNECT itself is excused */
	assert_int_equal(req("connect a:443 HTTP/1.1\r\n\r\n", &h), -EINVAL);
	/* a field error is reported before the missing Host */
	assert_int_equal(http_parse_request(span_str("GET / HTTP/1.1\r\nX : a\r\n\r\n"), &h, &why), -EINVAL);
	assert_string_equal(why, "invalid header name");
}

static void test_sniff(void **state)
{
	(void)state;
	assert_int_equal(http_sniff_request(span_str("GET / HTTP/1.1\r\n")), 1);
	assert_int_equal(http_sniff_request(span_str("GET ")), 1);
	assert_int_equal(http_sniff_request(span_str("GET  / HTTP/1.1\r\n")), 1); /* malformed: still HTTP */
	assert_int_equal(http_sniff_request(span_str("GE")), -EAGAIN);
	assert_int_equal(http_sniff_request(span_str("")), -EAGAIN);
	assert_int_equal(http_sniff_request(span_str("PROPFIND /x HTTP/1.1\r\n")), 1);
	assert_int_equal(http_sniff_request(span_str("get /x HTTP/1.1\n")), 1);
	assert_int_equal(http_sniff_request(span_str("PROPFIND /x")), -EAGAIN);
	assert_int_equal(http_sniff_request(span_str("SET key value\r\n")), 0);
	assert_int_equal(http_sniff_request(span_str("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")), 0);
	assert_int_equal(http_sniff_request(span_str("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), 0);
	assert_int_equal(http_sniff_request(span_str("PRI * HTTP/2")), -EAGAIN);
	assert_int_equal(http_sniff_request(span_str("PRI * HTTP/1.1\r\n")), 1);
	assert_int_equal(http_sniff_request(span_str("\x16\x03\x01")), 0);
	assert_int_equal(http_sniff_request(span_str(" GET / HTTP/1.1\r\n")), 0);
	assert_int_equal(http_sniff_request(span_str("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA / HTTP/1.1\r\n")), 1);
	/* what lenient servers would take as a request is HTTP, for the strict parser to judge */
	assert_int_equal(http_sniff_request(span_str("\r\nGET / HTTP/1.1\r\n")), 1);
	assert_int_equal(http_sniff_request(span_str("\n\n")), -EAGAIN);
	assert_int_equal(http_sniff_request(span_str("GET\t/ HTTP/1.1\r\n")), 1);
	assert_int_equal(http_sniff_request(span_str("get\t/x")), -EAGAIN);
	/* a binary protocol is told at once */
	static const char bin[] = "A\0\0\0\x01\x02";
	assert_int_equal(http_sniff_request(span_of(bin, sizeof(bin) - 1)), 0);
	assert_int_equal(http_sniff_request(span_str("*1\r\n$4\r\nPING\r\n")), 0);
	assert_int_equal(http_sniff_request(span_str("Caf\xc3\xa9 HTTP/1.1")), 0);
}

static int scan_all(const char *body, size_t step, size_t *used)
{
	struct http_chunked c;
	size_t n = strlen(body), off = 0;
	bool done = false;

	memset(&c, 0, sizeof(c));
	while (off < n && !done) {
		size_t take = n - off < step ? n - off : step;
		long u = http_chunked_scan(&c, body + off, take, &done);
		if (u < 0)
			return -1;
		off += (size_t)u;
	}
	*used = off;
	return done ? 1 : 0;
}

static void test_chunked(void **state)
{
	size_t used;
	const char *ok = "3\r\nabc\r\nA;ext=1\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";

	(void)state;
	for (size_t step = 1; step < 20; step++) {
		assert_int_equal(scan_all(ok, step, &used), 1);
		assert_int_equal(used, strlen(ok) - 4);
	}
	assert_int_equal(scan_all("3\r\nabc\r\n", 4, &used), 0);
	assert_int_equal(scan_all("3\nabc\r\n0\r\n\r\n", 4, &used), -1);
	assert_int_equal(scan_all("3\r\nabcd\r\n0\r\n\r\n", 4, &used), -1);
	assert_int_equal(scan_all("x\r\n", 4, &used), -1);
	assert_int_equal(scan_all("1000000000000000\r\n", 4, &used), -1);
	assert_int_equal(scan_all("0\r\nbad trailer\r\n\r\n", 4, &used), -1);
}

/* Scan body fed as [0, cut) then [cut, len): -1 for a reject (why set),
 * 1 when the body ended, 0 when it wants more. */
static int scan_split(const char *body, size_t len, size_t cut, const char **why)
{
	struct http_chunked c;
	bool done = false;

	memset(&c, 0, sizeof(c));
	long u = http_chunked_scan(&c, body, cut, &done);
	if (u >= 0 && !done)
		u = http_chunked_scan(&c, body + cut, len - cut, &done);
	*why = c.why;
	if (u < 0) {
		/* a failed scanner stays failed */
		assert_int_equal(http_chunked_scan(&c, "0\r\n\r\n", 5, &done), -EINVAL);
		return -1;
	}
	return done ? 1 : 0;
}

/* Every class of bad framing is rejected, with the same reason, wherever
 * the bytes are cut in two (as two reads of a socket would). */
static void test_chunked_rejects(void **state)
{
	static const struct {
		const char *body, *why;
	} bad[] = {
		{ "x\r\nabc\r\n0\r\n\r\n", "chunk size is not hexadecimal" },
		{ "3g\r\nabc\r\n0\r\n\r\n", "chunk size is not hexadecimal" },
		{ "-3\r\nabc\r\n0\r\n\r\n", "signed chunk size" },
		{ "+3\r\nabc\r\n0\r\n\r\n", "signed chunk size" },
		{ "0x3\r\nabc\r\n0\r\n\r\n", "0x prefix in chunk size" },
		{ "0X3\r\nabc\r\n0\r\n\r\n", "0x prefix in chunk size" },
		{ " 3\r\nabc\r\n0\r\n\r\n", "whitespace in chunk size" },
		{ "3 \r\nabc\r\n0\r\n\r\n", "whitespace in chunk size" },
		{ "3\t\r\nabc\r\n0\r\n\r\n", "whitespace in chunk size" },
		{ "1 0\r\nabc\r\n0\r\n\r\n", "whitespace in chunk size" },
		{ "3 ;a=b\r\nabc\r\n0\r\n\r\n", "whitespace in chunk size" },
		{ "1000000000000000\r\n", "chunk size too large" },
		{ "ffffffffffffffffff\r\n", "chunk size too large" },
		{ "0000000000000003\r\nabc\r\n0\r\n\r\n", "chunk size too large" },
		{ "3\r\nabcd\r\n0\r\n\r\n", "chunk data longer than its size, or no CRLF after it" },
		{ "3\r\nabc0\r\n\r\n", "chunk data longer than its size, or no CRLF after it" },
		{ "3\r\nabc\n0\r\n\r\n", "bare LF after chunk data" },
		{ "3\r\nabc\rx0\r\n\r\n", "bare CR after chunk data" },
		{ "3\nabc\r\n0\r\n\r\n", "bare LF after chunk size" },
		{ "3\rabc\r\n0\r\n\r\n", "bare CR in chunk size line" },
		{ "3;a\nabc\r\n0\r\n\r\n", "bare LF in chunk extension" },
		{ "3;a\x7f\r\nabc\r\n0\r\n\r\n", "control character in chunk extension" },
		{ "\r\nabc\r\n0\r\n\r\n", "empty chunk size" },
		{ ";a\r\nabc\r\n0\r\n\r\n", "empty chunk size" },
		{ "3\r\nabc\r\n\r\n", "empty chunk size" },
		{ "0\r\n\n", "bare LF after the last chunk" },
		{ "0\r\n\rx", "bare CR after the last chunk" },
		{ "0\r\nX: y\n\r\n", "bare LF in trailer" },
		{ "0\r\nX: y\rz\r\n\r\n", "bare CR in trailer" },
		{ "0\r\nX y: z\r\n\r\n", "invalid trailer field name" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i].body);
		for (size_t cut = 0; cut <= len; cut++) {
			const char *why = NULL;
			if (scan_split(bad[i].body, len, cut, &why) != -1)
				fail_msg("case %zu accepted when cut at %zu: %s", i, cut, bad[i].body);
			if (!why || strcmp(why, bad[i].why) != 0)
				fail_msg("case %zu cut at %zu: \"%s\", want \"%s\"", i, cut, why ? why : "(null)",
					 bad[i].why);
		}
	}
	/* and the valid twins are accepted at every cut */
	static const char *const good[] = {
		"3\r\nabc\r\n0\r\n\r\n", "03\r\nabc\r\n0\r\n\r\n", "3;a=b\r\nabc\r\n0\r\n\r\n",
		"00\r\n\r\n", "fffffffffffffff;x\r\n", "0\r\nX: y\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		size_t len = strlen(good[i]);
		for (size_t cut = 0; cut <= len; cut++) {
			const char *why = NULL;
			if (scan_split(good[i], len, cut, &why) < 0)
				fail_msg("good case %zu rejected when cut at %zu: %s (%s)", i, cut, good[i], why);
		}
	}
	/* the offending byte and where it was */
	struct http_chunked c;
	bool done;
	memset(&c, 0, sizeof(c));
	assert_int_equal(http_chunked_scan(&c, "3\r\nab", 5, &done), 5);
	assert_int_equal(http_chunked_scan(&c, "cd\r\n", 4, &done), -EINVAL);
	assert_int_equal(c.at, 6);
	assert_int_equal(c.byte, 'd');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_host_rule),
		cmocka_unit_test(test_sniff),
		cmocka_unit_test(test_chunked_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
