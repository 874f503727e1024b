/* test_metrics.c: the Prometheus text the registry renders, its label
 * escaping, its bound, and where --metrics listens. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit.h"
#include "metrics.h"

static void test_escape(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(metrics_escape_label("plain", out, sizeof(out)), 5);
	assert_string_equal(out, "plain");
	metrics_escape_label("a\\b\"c\nd", out, sizeof(out));
	assert_string_equal(out, "a\\\\b\\\"c\\nd");
	metrics_escape_label("tab\there", out, sizeof(out)); /* only \\ \" \n are escaped */
	assert_string_equal(out, "tab\there");
	/* cut before an escape that does not fit whole: never a lone backslash */
	assert_int_equal(metrics_escape_label("ab\"", out, 4), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(metrics_escape_label("abc", out, 1), 0);
	assert_string_equal(out, "");
}

/* The rendered text, NUL-terminated (the caller frees it). */
static char *render(const struct metrics *m)
{
	struct evbuffer *b = evbuffer_new();
	assert_non_null(b);
	assert_int_equal(metrics_render(m, b), 0);
	size_t n = evbuffer_get_length(b);
	char *t = malloc(n + 1);
	assert_non_null(t);
	evbuffer_remove(b, t, n);
	t[n] = '\0';
	evbuffer_free(b);
	return t;
}

static void record(struct metrics *m, const char *server, const char *event, const char *phase,
		   const char *decision, const char *reason)
{
	struct audit_rec r = audit_rec_init(event, phase);
	r.decision = decision;
	r.reason = reason;
	metrics_observe(m, server, &r);
}

static size_t three(const void *arg)
{
	(void)arg;
	return 3;
}

static void test_counts_from_records(void **state)
{
	struct metrics *m;

	(void)state;
	assert_int_equal(metrics_new(&m), 0);
	record(m, "gh", "connect", "decision", "allow", "allowed");
	record(m, "gh", "connect", "decision", "allow", "allowed");
	record(m, "gh", "connect", "close", "allow", NULL); /* a close is not a request */
	record(m, "gh", "http", "decision", "deny", "not_allowed");
	record(m, "we\"ird\\", "transparent", "decision", "would_deny", "not_allowed");
	record(m, "gh", "dns", "decision", "deny", "not_allowed");
	record(m, NULL, "reload", NULL, "deny", "bad_request");
	struct audit_rec r = audit_rec_init("connect", "close");
	r.has_bytes = true;
	r.bytes_up = 10;
	r.bytes_down = 1000;
	metrics_observe(m, "gh", &r);
	metrics_observe(m, "gh", &r);
	r = audit_rec_init("packet", "decision");
	r.protocol = "udp";
	metrics_observe(m, "gh", &r);
	assert_int_equal(metrics_add_active(m, "gh", three, m), 0);
	assert_int_equal(metrics_add_active(m, "gh", three, &r), 0);

	char *t = render(m);
	assert_non_null(strstr(t, "# HELP sluice_requests_total "));
	assert_non_null(strstr(t, "# TYPE sluice_requests_total counter\n"));
	assert_non_null(strstr(t, "\nsluice_requests_total{server=\"gh\",event=\"connect\",decision=\"allow\","
				  "reason=\"allowed\"} 2\n"));
	assert_non_null(strstr(t, "\nsluice_requests_total{server=\"gh\",event=\"http\",decision=\"deny\","
				  "reason=\"not_allowed\"} 1\n"));
	assert_non_null(strstr(t, "{server=\"we\\\"ird\\\\\",event=\"transparent\""));
	assert_null(strstr(t, "event=\"dns\""));
	assert_non_null(strstr(t, "\nsluice_dns_queries_total{server=\"gh\",decision=\"deny\"} 1\n"));
	assert_non_null(strstr(t, "\nsluice_bytes_total{server=\"gh\",direction=\"up\"} 20\n"));
	assert_non_null(strstr(t, "\nsluice_bytes_total{server=\"gh\",direction=\"down\"} 2000\n"));
	assert_non_null(strstr(t, "\nsluice_packets_rejected_total{server=\"gh\",protocol=\"udp\"} 1\n"));
	assert_non_null(strstr(t, "\nsluice_reloads_total{result=\"failed\"} 1\n"));
	assert_non_null(strstr(t, "# TYPE sluice_connections_active gauge\n"
				  "sluice_connections_active{server=\"gh\"} 6\n"));
	assert_non_null(strstr(t, "\nsluice_metrics_dropped_total 0\n"));
	free(t);
	metrics_remove_active(m, m);
	t = render(m);
	assert_non_null(strstr(t, "sluice_connections_active{server=\"gh\"} 3\n"));
	free(t);
	metrics_free(m);
}

/* Past METRICS_MAX_SERIES label sets, records are counted as dropped and
 * the known series go on counting. */
static void test_bounded(void **state)
{
	struct metrics *m;
	char name[32];

	(void)state;
	assert_int_equal(metrics_new(&m), 0);
	for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		record(m, name, "dns", "decision", "allow", "allowed");
	}
	record(m, "s0", "dns", "decision", "allow", "allowed");
	char *t = render(m);
	assert_non_null(strstr(t, "\nsluice_metrics_dropped_total 10\n"));
	assert_non_null(strstr(t, "\nsluice_dns_queries_total{server=\"s0\",decision=\"allow\"} 2\n"));
	snprintf(name, sizeof(name), "\"s%d\"", METRICS_MAX_SERIES);
	assert_null(strstr(t, name));
	free(t);
	metrics_free(m);
}

static void test_listen_address(void **state)
{
	struct sockaddr_storage ss;
	bool lo;
	const char *why;

	(void)state;
	assert_true(metrics_parse_listen("9464", &ss, &lo, &why) > 0);
	assert_true(lo);
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	assert_int_equal(ntohs(in->sin_port), 9464);
	assert_int_equal(ntohl(in->sin_addr.s_addr), 0x7f000001);
	assert_true(metrics_parse_listen(":9464", &ss, &lo, &why) > 0);
	assert_true(lo);
	assert_true(metrics_parse_listen("[::1]:9", &ss, &lo, &why) > 0);
	assert_true(lo);
	assert_true(metrics_parse_listen("127.0.0.2:9", &ss, &lo, &why) > 0);
	assert_true(lo);
	assert_true(metrics_parse_listen("0.0.0.0:9464", &ss, &lo, &why) > 0);
	assert_false(lo);
	assert_int_equal(metrics_parse_listen("localhost:9464", &ss, &lo, &why), -EINVAL);
	assert_int_equal(metrics_parse_listen("99999", &ss, &lo, &why), -EINVAL);
	assert_int_equal(metrics_parse_listen("", &ss, &lo, &why), -EINVAL);
	assert_int_equal(metrics_parse_listen("127.0.0.1", &ss, &lo, &why), -EINVAL);
	assert_int_equal(metrics_parse_listen("127.1:80", &ss, &lo, &why), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_counts_from_records),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_listen_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
