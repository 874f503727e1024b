/* tls_filter.c: bufferevent_openssl_filter_new with its failures owned.
 *
 * libevent (2.1.12, Debian 12's; 2.2 alike) with BEV_OPT_CLOSE_ON_FREE
 * frees ssl itself on every failure of the filter's creation. raw it
 * frees only when it failed after taking it as the filter's underlying
 * bufferevent (the first handshake step failing, SSL_clear): the
 * half-made filter is freed then, its unlink frees raw (clearing raw's
 * callbacks) and its finalizer, run later by the loop, drops the last
 * reference. Before that (out of memory for the filter, its BIO or its
 * buffers) raw is untouched and still the caller's. Freeing ssl or raw
 * again after the first kind is a double free (raw's: an assertion in
 * libevent's finalizer, or a use after free). The two kinds are told
 * apart by a callback set on raw before: still there, raw was not taken. */
#include <event2/bufferevent_ssl.h>

#include "tls_filter.h"

/* Marks raw as not yet taken by a filter; never called: callbacks run from
 * the loop, and before it runs again the filter has replaced this one or
 * raw is freed. */
static void untaken_cb(struct bufferevent *b, short what, void *arg)
{
	(void)b;
	(void)what;
	(void)arg;
}

struct bufferevent *px_tls_filter(struct event_base *base, struct bufferevent *raw, SSL *ssl,
				  enum bufferevent_ssl_state state)
{
	bufferevent_event_cb ecb = NULL;

	bufferevent_setcb(raw, NULL, NULL, untaken_cb, NULL);
	struct bufferevent *b =
		bufferevent_openssl_filter_new(base, raw, ssl, state, BEV_OPT_CLOSE_ON_FREE);
	if (b)
		return b;
	/* ssl is gone; raw is still ours only if the filter never took it */
	bufferevent_getcb(raw, NULL, NULL, &ecb, NULL);
	if (ecb == untaken_cb)
		bufferevent_free(raw);
	return NULL;
}
