/* tls_filter.h: upstream TLS as libevent's filter over a socket
 * bufferevent, with who frees what settled on every path. */
#ifndef SLUICE_TLS_FILTER_H
#define SLUICE_TLS_FILTER_H

#include <event2/bufferevent.h>
#include <openssl/ssl.h>

/*
 * A client-side TLS filter over raw (BEV_OPT_CLOSE_ON_FREE: freeing the
 * filter frees ssl and raw). Takes raw and ssl in every case: on failure
 * (NULL) each has been freed exactly once, at once or, for raw, when the
 * loop next runs the failed filter's finalizer.
 */
struct bufferevent *px_tls_filter(struct event_base *base, struct bufferevent *raw, SSL *ssl);

#endif
