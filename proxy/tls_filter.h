/* tls_filter.h: TLS as libevent's filter over a socket bufferevent, with
 * who frees what settled on every path. */
#ifndef SLUICE_TLS_FILTER_H
#define SLUICE_TLS_FILTER_H

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

/*
 * A TLS filter over raw, connecting (upstream) or accepting (a client),  (BEV_OPT_CLOSE_ON_FREE: freeing the
 * filter frees ssl and raw). Takes raw and ssl in every case: on failure
 * (NULL) each has been freed exactly once, at once or, for raw, when the
 * loop next runs the failed filter's finalizer.
 */
struct bufferevent *px_tls_filter(struct event_base *base, struct bufferevent *raw, SSL *ssl,
				  enum bufferevent_ssl_state state);

#endif
