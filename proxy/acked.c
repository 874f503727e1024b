/* acked.c: tcpi_bytes_acked of a socket. A file of its own because glibc's
 * <netinet/tcp.h> has an older struct tcp_info without the field, and it
 * cannot be included beside <linux/tcp.h>. */
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include "acked.h"

int px_tcp_acked(int fd, uint64_t *out)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	if (len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof(ti.tcpi_bytes_acked))
		return -ENOTSUP;
	*out = ti.tcpi_bytes_acked;
	return 0;
}
