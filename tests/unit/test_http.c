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
	assert_true(req("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n", &h) > 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_chunked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
