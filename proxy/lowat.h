/* lowat.h: SO_RCVLOWAT on an upstream socket, following its body's rate. */
#ifndef SLUICE_LOWAT_H
#define SLUICE_LOWAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

struct px_lowat {
	unsigned mark;     /* its SO_RCVLOWAT now (1: the kernel's default) */
	uint64_t rate;     /* bytes per second, smoothed */
	struct timeval at; /* the last turn of the loop that read */
	int64_t prev_us;   /* ... and the time from the turn before it (0: none) */
	uint64_t bytes;    /* read in that turn so far */
};

/* The default mark, no rate yet (a socket's state as it is made). */
void px_lowat_init(struct px_lowat *l);
/* A read of socket fd took n bytes at now; sure bytes at least are still to
 * come on it (the rest of the body less what user space holds of it). Sets
 * the mark for the next wake. */
void px_lowat_update(struct px_lowat *l, int fd, const struct timeval *now, size_t n, uint64_t sure);
/* fd back to the default mark (its body ended, or it goes to the pool). */
void px_lowat_reset(struct px_lowat *l, int fd);
/* For an idle timer: bytes wait on fd below the mark (then the mark is
 * reset, so they are read at once). false: nothing came, fd is idle. */
bool px_lowat_holding(struct px_lowat *l, int fd);

#endif
