/* upread.h: a long upstream body read in large pieces, beside libevent. */
#ifndef SLUICE_UPREAD_H
#define SLUICE_UPREAD_H

#include <event2/bufferevent.h>
#include <event2/event_struct.h>
#include <stdbool.h>

struct px_upread {
	struct event ev;         /* EV_READ on raw's socket */
	struct bufferevent *raw; /* the socket bufferevent whose input it fills (NULL: off) */
	bool paused;
};

/* Read raw's socket here instead of in raw (which stops reading it): each
 * read fills raw's input, then runs raw's read callback (a TLS filter's,
 * or the caller's). EOF and errors go to raw's event callback. 0 or -errno
 * (then raw reads as before). */
int px_upread_start(struct px_upread *r, struct event_base *base, struct bufferevent *raw);
/* Stop or resume reading (backpressure); no-op when off. */
void px_upread_pause(struct px_upread *r, bool paused);
/* Off: raw reads its socket again. Safe when never started. */
void px_upread_stop(struct px_upread *r);
/* Whether r reads raw's socket now. */
bool px_upread_on(const struct px_upread *r);

#endif
