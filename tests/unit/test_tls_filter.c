/* test_tls_filter.c: px_tls_filter frees its SSL and its socket
 * bufferevent exactly once, whether the filter is made, fails at its first
 * steps (libevent has taken the socket bufferevent), or fails for
 * memory before (it has not): libevent's allocator fails on demand, an SSL
 * free is counted by an ex_data free callback, and a freed socket
 * bufferevent closes its end of a socketpair (the peer reads EOF). A free
 * too many is a double free (ASan) or libevent's refcount assertion. */
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tls_filter.h"

static bool fail_next; /* the next allocation libevent makes fails */
static int ssl_frees, ex_index;

static void *ev_malloc(size_t n)
{
	if (fail_next) {
		fail_next = false;
		return NULL;
	}
	return malloc(n);
}

static void *ev_realloc(void *p, size_t n)
{
	return realloc(p, n);
}

static void ssl_freed(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ptr, (void)ad, (void)idx, (void)argl, (void)argp;
	ssl_frees++;
}

struct world {
	struct event_base *base;
	SSL_CTX *ctx;
	int peer; /* the other end of raw's socket */
};

/* A socket bufferevent over one end of a socketpair, and an SSL from ctx. */
static struct bufferevent *raw_and_ssl(struct world *w, SSL_CTX *ctx, SSL **ssl)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	w->peer = sv[1];
	struct bufferevent *raw = bufferevent_socket_new(w->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(raw);
	*ssl = SSL_new(ctx);
	assert_non_null(*ssl);
	ssl_frees = 0;
	return raw;
}

/* Run the loop's pending finalizers; then the peer must read EOF (raw's
 * socket closed) and ssl must have been freed once. */
static void assert_all_freed(struct world *w)
{
	char c;

	for (int i = 0; i < 4; i++)
		event_base_loop(w->base, EVLOOP_NONBLOCK);
	assert_int_equal(read(w->peer, &c, 1), 0);
	assert_int_equal(ssl_frees, 1);
	close(w->peer);
}

static void test_made(void **state)
{
	struct world *w = *state;
	SSL *ssl;
	struct bufferevent *raw = raw_and_ssl(w, w->ctx, &ssl);
	struct bufferevent *b = px_tls_filter(w->base, raw, ssl, BUFFEREVENT_SSL_CONNECTING);

	assert_non_null(b);
	assert_int_equal(ssl_frees, 0);
	bufferevent_free(b);
	assert_all_freed(w);
}

/* libevent takes raw as the filter's underlying bufferevent, then fails:
 * its SSL_clear fails on an SSL asked to renegotiate (OpenSSL refuses to
 * clear one). */
static void test_taken_then_fails(void **state)
{
	struct world *w = *state;
	SSL *ssl;
	struct bufferevent *raw = raw_and_ssl(w, w->ctx, &ssl);

	assert_int_equal(SSL_renegotiate(ssl), 1);
	assert_null(px_tls_filter(w->base, raw, ssl, BUFFEREVENT_SSL_CONNECTING));
	assert_all_freed(w);
}

/* No memory for the filter itself: raw was never taken. */
static void test_no_memory(void **state)
{
	struct world *w = *state;
	SSL *ssl;
	struct bufferevent *raw = raw_and_ssl(w, w->ctx, &ssl);

	fail_next = true;
	assert_null(px_tls_filter(w->base, raw, ssl, BUFFEREVENT_SSL_CONNECTING));
	assert_false(fail_next); /* the failure was libevent's allocation */
	assert_all_freed(w);
}

/* The same on the accepting side (a client's connection, intercept.c). */
static void test_no_memory_accepting(void **state)
{
	struct world *w = *state;
	SSL *ssl;
	struct bufferevent *raw = raw_and_ssl(w, w->ctx, &ssl);

	fail_next = true;
	assert_null(px_tls_filter(w->base, raw, ssl, BUFFEREVENT_SSL_ACCEPTING));
	assert_false(fail_next);
	assert_all_freed(w);
}

static int setup(void **state)
{
	static struct world w;

	w.base = event_base_new();
	w.ctx = SSL_CTX_new(TLS_client_method());
	ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, ssl_freed);
	*state = &w;
	return w.base && w.ctx && ex_index >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
	struct world *w = *state;

	SSL_CTX_free(w->ctx);
	event_base_free(w->base);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_made),
		cmocka_unit_test(test_taken_then_fails),
		cmocka_unit_test(test_no_memory),
		cmocka_unit_test(test_no_memory_accepting),
	};

	/* before any other libevent call */
	event_set_mem_functions(ev_malloc, ev_realloc, free);
	return cmocka_run_group_tests(tests, setup, teardown);
}
