/* test_engine.c: the container engine's resolver client (core/engine.c)
 * against a real UDP DNS server on loopback: a small scripted one in this
 * process (the client's socket connected to it, as attach connects it to
 * Docker's 127.0.0.11), answering by name as Docker's embedded DNS does:
 * db has an IPv4 address and no IPv6 one (NOERROR, no records), nosuch is
 * NXDOMAIN, refused is REFUSED, silent is never answered. The test runs in
 * a network namespace of its own with a veth link holding 203.0.113.129/26,
 * the "container's network": far (198.51.100.10), chain (a CNAME, then
 * 198.51.100.10), mixed (203.0.113.131 and 198.51.100.10), gw
 * (203.0.113.129: on the network, and this namespace's own, as a gateway
 * is the host's) and svc (an HTTPS record with a hint) are answers a
 * forger would give; many (TC,
 * three of its replicas' addresses) is what Docker sends for a service
 * whose records do not fit in 512 bytes. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "dnswire.h"
#include "engine.h"

struct world {
	struct event_base *base;
	int srv;                 /* the scripted server's socket */
	struct event *srv_ev;
	unsigned asked;          /* queries the server has read */
	struct eng *e;
	int calls;               /* lookup callbacks */
	struct rsv_result res;
};

static void put16(uint8_t *b, size_t *n, unsigned v)
{
	b[(*n)++] = (uint8_t)(v >> 8);
	b[(*n)++] = (uint8_t)v;
}

static bool own_netns; /* main() made the namespace with the container's network */

static void put_a(uint8_t *out, size_t *n, unsigned owner, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	put16(out, n, owner), put16(out, n, DNSW_T_A), put16(out, n, DNSW_CLASS_IN);
	put16(out, n, 0), put16(out, n, 600), put16(out, n, 4);
	out[(*n)++] = a, out[(*n)++] = b, out[(*n)++] = c, out[(*n)++] = d;
}

/* The answer records for name and qtype (after the question at 12);
 * their count. */
static unsigned put_answers(uint8_t *out, size_t *n, const char *name, uint16_t qtype)
{
	static const uint8_t cname[] = { 0xc0, 0x0c, 0, DNSW_T_CNAME, 0, 1, 0, 0, 2, 88, 0, 8,
					 1, 'x', 4, 't', 'e', 's', 't', 0 };
	/* HTTPS 1 . ipv4hint=198.51.100.10 */
	static const uint8_t https[] = { 0xc0, 0x0c, 0, DNSW_T_HTTPS, 0, 1, 0, 0, 2, 88, 0, 11,
					 0, 1, 0, 0, 4, 0, 4, 198, 51, 100, 10 };

	if (!strcmp(name, "svc") && qtype == DNSW_T_HTTPS) {
		memcpy(out + *n, https, sizeof(https));
		*n += sizeof(https);
		return 1;
	}
	if (qtype != DNSW_T_A)
		return 0;
	if (!strcmp(name, "db"))
		return put_a(out, n, 0xc00c, 203, 0, 113, 130), 1;
	if (!strcmp(name, "gw"))
		return put_a(out, n, 0xc00c, 203, 0, 113, 129), 1;
	if (!strcmp(name, "far"))
		return put_a(out, n, 0xc00c, 198, 51, 100, 10), 1;
	if (!strcmp(name, "mixed"))
		return put_a(out, n, 0xc00c, 203, 0, 113, 131), put_a(out, n, 0xc00c, 198, 51, 100, 10), 2;
	if (!strcmp(name, "many")) {
		for (uint8_t i = 0; i < 3; i++)
			put_a(out, n, 0xc00c, 203, 0, 113, (uint8_t)(140 + i));
		return 3;
	}
	if (!strcmp(name, "chain")) {
		size_t x = *n + 12; /* x.test, for the A record's owner */
		memcpy(out + *n, cname, sizeof(cname));
		*n += sizeof(cname);
		return put_a(out, n, 0xc000 | (unsigned)x, 198, 51, 100, 10), 2;
	}
	return 0;
}

/* Answer one query as Docker's DNS would; silent: no answer. */
static void server_cb(evutil_socket_t fd, short what, void *arg)
{
	struct world *w = arg;
	uint8_t in[512], out[600];
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	struct dnsw_query q;
	char name[DNSW_NAME_TEXT_MAX];

	(void)what;
	ssize_t len = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&peer, &plen);
	if (len <= 12 || dnsw_parse_query(span_of((const char *)in, (size_t)len), &q) < 0)
		return;
	w->asked++;
	dnsw_name_text(&q.qname, name, sizeof(name));
	unsigned rcode = !strcmp(name, "nosuch") ? 3 : !strcmp(name, "refused") ? 5 : !strcmp(name, "silent") ? 99 : 0;
	if (rcode == 99)
		return;
	size_t n = 0, qend = 12 + q.qname.len + 4;
	memcpy(out, in, qend); /* the ID and the question as asked */
	out[2] = !strcmp(name, "many") ? 0x83 : 0x81, out[3] = (uint8_t)(0x80 | rcode); /* many: TC */
	n = qend;
	unsigned an = rcode ? 0 : put_answers(out, &n, name, q.qtype);
	size_t h = 6;
	put16(out, &h, an), put16(out, &h, 0), put16(out, &h, 0);
	sendto(fd, out, n, 0, (struct sockaddr *)&peer, plen);
}

static int setup(void **state)
{
	static struct world w;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	memset(&w, 0, sizeof(w));
	w.base = event_base_new();
	w.srv = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_int_equal(bind(w.srv, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(w.srv, (struct sockaddr *)&sa, &len), 0);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	int rt = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	assert_true(rt >= 0);
	assert_int_equal(eng_new(w.base, fd, rt, &w.e), 0);
	w.srv_ev = event_new(w.base, w.srv, EV_READ | EV_PERSIST, server_cb, &w);
	event_add(w.srv_ev, NULL);
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	eng_free(w->e);
	event_free(w->srv_ev);
	close(w->srv);
	event_base_free(w->base);
	return 0;
}

static void lookup_cb(const struct rsv_result *res, void *arg)
{
	struct world *w = arg;

	w->calls++;
	w->res = *res;
}

/* Run the loop until cb has run `calls` times in all, or 5 s went by. */
static void run_until(struct world *w, int calls)
{
	struct timeval tick = { 0, 10000 };

	for (int i = 0; i < 500 && w->calls < calls; i++) {
		event_base_loopexit(w->base, &tick);
		event_base_dispatch(w->base);
	}
}

/* Run the loop for ms milliseconds. */
static void run_for(struct world *w, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(w->base, &tv);
	event_base_dispatch(w->base);
}

static void need_netns(void)
{
	if (!own_netns) {
		print_message("no network namespace of the test's own (unshare or ip failed): skipped\n");
		skip();
	}
}

/* A service's name: its IPv4 address (and no IPv6 one), never from within
 * the call, and the stub sees both questions pending meanwhile. */
static void test_lookup_service(void **state)
{
	struct world *w = *state;
	struct eng_lookup *l = NULL;
	char text[ADDR_TEXT_MAX];

	need_netns();
	w->calls = 0;
	assert_int_equal(eng_lookup(w->e, "db", lookup_cb, w, &l), 0);
	assert_int_equal(w->calls, 0);
	assert_true(eng_busy(w->e, "db", DNSW_T_A));
	assert_true(eng_busy(w->e, "db", DNSW_T_AAAA));
	assert_false(eng_busy(w->e, "dc", DNSW_T_A));
	run_until(w, 1);
	assert_int_equal(w->calls, 1);
	assert_int_equal(w->res.status, 0);
	assert_int_equal(w->res.naddrs, 1);
	addr_format(&w->res.addrs[0], text, sizeof(text));
	assert_string_equal(text, "203.0.113.130");
	assert_int_equal(w->res.ttl, 5); /* the empty AAAA answer's: no SOA, the floor */
	assert_false(eng_busy(w->e, "db", DNSW_T_A));
}

/* A truncated reply (Docker's, for a service with many replicas): the
 * addresses it has, not a timeout. */
static void test_lookup_truncated(void **state)
{
	struct world *w = *state;
	struct eng_lookup *l = NULL;
	char text[ADDR_TEXT_MAX];

	need_netns();
	w->calls = 0;
	assert_int_equal(eng_lookup(w->e, "many", lookup_cb, w, &l), 0);
	run_until(w, 1);
	assert_int_equal(w->res.status, 0);
	assert_int_equal(w->res.naddrs, 3);
	addr_format(&w->res.addrs[2], text, sizeof(text));
	assert_string_equal(text, "203.0.113.142");
}

/* No such name: -ENOENT (the proxy's resolve_failed); REFUSED: -EIO. */
static void test_lookup_failures(void **state)
{
	struct world *w = *state;
	struct eng_lookup *l = NULL;

	w->calls = 0;
	assert_int_equal(eng_lookup(w->e, "nosuch", lookup_cb, w, &l), 0);
	run_until(w, 1);
	assert_int_equal(w->calls, 1);
	assert_int_equal(w->res.status, -ENOENT);
	assert_int_equal(w->res.naddrs, 0);
	assert_int_equal(eng_lookup(w->e, "refused", lookup_cb, w, &l), 0);
	run_until(w, 2);
	assert_int_equal(w->calls, 2);
	assert_int_equal(w->res.status, -EIO);
	assert_int_equal(eng_lookup(w->e, "", lookup_cb, w, &l), -EINVAL);
}

/* A lookup cancelled (a session closed mid-lookup): the replies come and
 * go, its callback never runs, and its slots are free again. */
static void test_lookup_cancel(void **state)
{
	struct world *w = *state;
	struct eng_lookup *l = NULL;
	unsigned asked = w->asked;

	w->calls = 0;
	assert_int_equal(eng_lookup(w->e, "db", lookup_cb, w, &l), 0);
	eng_lookup_cancel(l);
	assert_false(eng_busy(w->e, "db", DNSW_T_A));
	assert_false(eng_busy(w->e, "db", DNSW_T_AAAA));
	for (int i = 0; i < 50 && w->asked < asked + 2; i++)
		run_for(w, 10);
	run_for(w, 50); /* the replies are read, and dropped */
	assert_int_equal(w->asked, asked + 2);
	assert_int_equal(w->calls, 0);
	eng_lookup_cancel(NULL);
}

/* Bounded: 16 lookups in flight (32 of the 64 query slots, the stub keeps
 * the rest); one more is refused at once. The stub's own queries still fit. */
static void test_lookup_bound(void **state)
{
	struct world *w = *state;
	struct eng_lookup *l[17];
	struct eng_query *q[32];

	w->calls = 0;
	for (int i = 0; i < 16; i++)
		assert_int_equal(eng_lookup(w->e, "silent", lookup_cb, w, &l[i]), 0);
	assert_int_equal(eng_lookup(w->e, "silent", lookup_cb, w, &l[16]), -EAGAIN);
	for (int i = 0; i < 32; i++)
		assert_int_equal(eng_query(w->e, "silent", DNSW_T_A, NULL, NULL, &q[i]), 0);
	struct eng_query *more;
	assert_int_equal(eng_query(w->e, "silent", DNSW_T_A, NULL, NULL, &more), -EAGAIN);
	for (int i = 0; i < 32; i++)
		eng_cancel(q[i]);
	eng_lookup_cancel(l[3]);
	assert_int_equal(eng_lookup(w->e, "silent", lookup_cb, w, &l[3]), 0);
	/* the rest stay pending: eng_free (teardown) drops them without callbacks */
	assert_int_equal(w->calls, 0);
}

/* silent never answers: after the retries, -ETIMEDOUT (the proxy's
 * resolve_failed). About 3 s. */
static void test_lookup_timeout(void **state)
{
	struct world *w = *state;
	struct eng_lookup *l = NULL;

	w->calls = 0;
	assert_int_equal(eng_lookup(w->e, "silent", lookup_cb, w, &l), 0);
	run_until(w, 1);
	assert_int_equal(w->calls, 1);
	assert_int_equal(w->res.status, -ETIMEDOUT);
}

/* Addresses on none of the container's networks (a reply forged from
 * inside it): taken out, counted, the first one kept for the log; the
 * on-network one of mixed stays. */
static void test_lookup_off_network(void **state)
{
	struct world *w = *state;
	struct eng_lookup *l = NULL;
	char text[ADDR_TEXT_MAX];
	const char *names[] = { "far", "chain", "gw" };
	const char *refused[] = { "198.51.100.10", "198.51.100.10", "203.0.113.129" };

	need_netns();
	w->calls = 0;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(eng_lookup(w->e, names[i], lookup_cb, w, &l), 0);
		run_until(w, i + 1);
		assert_int_equal(w->calls, i + 1);
		assert_int_equal(w->res.status, -ENOENT);
		assert_int_equal(w->res.naddrs, 0);
		assert_int_equal(w->res.nrefused, 1);
		addr_format(&w->res.refused, text, sizeof(text));
		assert_string_equal(text, refused[i]);
	}
	assert_int_equal(eng_lookup(w->e, "mixed", lookup_cb, w, &l), 0);
	run_until(w, 4);
	assert_int_equal(w->res.status, 0);
	assert_int_equal(w->res.naddrs, 1);
	addr_format(&w->res.addrs[0], text, sizeof(text));
	assert_string_equal(text, "203.0.113.131");
	assert_int_equal(w->res.nrefused, 1);
}

static void answer_cb(const struct rsv_answer *a, void *arg)
{
	struct world *w = arg;

	w->calls++;
	w->res.status = a->status;
	w->res.naddrs = a->nanswer; /* records, here */
	w->res.nrefused = a->nrefused;
}

/* The stub's questions: an SVCB/HTTPS record (hints are addresses) never
 * comes through; the CNAME of chain does, its off-network A does not. */
static void test_query_screened(void **state)
{
	struct world *w = *state;
	struct eng_query *q = NULL;

	need_netns();
	w->calls = 0;
	assert_int_equal(eng_query(w->e, "svc", DNSW_T_HTTPS, answer_cb, w, &q), 0);
	run_until(w, 1);
	assert_int_equal(w->res.status, 0);
	assert_int_equal(w->res.naddrs, 0);
	assert_int_equal(eng_query(w->e, "chain", DNSW_T_A, answer_cb, w, &q), 0);
	run_until(w, 2);
	assert_int_equal(w->res.naddrs, 1);
	assert_int_equal(w->res.nrefused, 1);
}

/* Without a route socket no address counts: deny by default. */
static void test_no_route_socket(void **state)
{
	struct world *w = *state;
	struct eng_lookup *l = NULL;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct eng *e;

	assert_int_equal(getsockname(w->srv, (struct sockaddr *)&sa, &len), 0);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(eng_new(w->base, fd, -1, &e), 0);
	w->calls = 0;
	assert_int_equal(eng_lookup(e, "db", lookup_cb, w, &l), 0);
	run_until(w, 1);
	assert_int_equal(w->res.naddrs, 0);
	assert_int_equal(w->res.nrefused, 1);
	eng_free(e);
}

/* A network namespace of the test's own (a user namespace too when not
 * root): lo up, and a veth pair, one end holding the container's network. */
static bool make_netns(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];

	if (unshare(CLONE_NEWNET) < 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
			return false;
		int fd = open("/proc/self/setgroups", O_WRONLY);
		if (fd >= 0)
			(void)!write(fd, "deny", 4), close(fd);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		if ((fd = open("/proc/self/uid_map", O_WRONLY)) < 0 || write(fd, map, strlen(map)) < 0)
			return false;
		close(fd);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		if ((fd = open("/proc/self/gid_map", O_WRONLY)) < 0 || write(fd, map, strlen(map)) < 0)
			return false;
		close(fd);
	}
	return system("ip link set lo up && ip link add sle0 type veth peer name sle1 && "
		      "ip link set sle0 up && ip link set sle1 up && "
		      "ip addr add 203.0.113.129/26 dev sle0") == 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lookup_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_off_network, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_screened, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_route_socket, setup, teardown),
	};
	own_netns = make_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
