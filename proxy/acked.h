/* acked.h: how much of what was sent on a TCP socket its peer has taken. */
#ifndef SLUICE_ACKED_H
#define SLUICE_ACKED_H

#include <stdint.h>

/* The bytes fd's peer acknowledged so far (TCP_INFO's tcpi_bytes_acked):
 * once the peer's receive window is full, this grows only as the peer's
 * program reads. 0, or -errno (not TCP, or a kernel without the field). */
int px_tcp_acked(int fd, uint64_t *out);

#endif
