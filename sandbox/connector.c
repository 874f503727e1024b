/* connector.c: the sandbox's end of `sluice run --publish`.
 *
 * DOC: Why a connector process
 * A published port is a listener on the host, served by the supervisor;
 * each connection it accepts needs a socket connected to the sandbox's own
 * 127.0.0.1:INNER, and a socket belongs to the network namespace it was
 * created in. Two ways were weighed:
 *  - setns(2) into the sandbox's namespace from a short-lived thread: it
 *    needs CAP_SYS_ADMIN both in the caller's user namespace and in the one
 *    that owns the sandbox's, so it fails for the unprivileged caller that
 *    `sluice run` is made for, and a thread of the supervisor's loop would
 *    briefly live in the sandbox's namespace.
 *  - a process that stays in the sandbox's namespaces and makes the
 *    connections on request (this file): it is forked by sluice's waiter
 *    after init (so it is not pid 1 and ends with the sandbox's PID
 *    namespace), holds no capability, is not dumpable (sbx_seal: the
 *    command cannot trace it or take its descriptors), and answers one
 *    byte (which published port) with one connected socket over a unix
 *    SOCK_SEQPACKET pair, SCM_RIGHTS back (sbx_send_fds: none on failure).
 * It dials only 127.0.0.1 and only the ports it was started with, and it
 * has nothing the sandbox lacks: a compromised connector still sits in a
 * namespace whose only way out is the supervisor. Nothing in the sandbox
 * can reach the host through it: the host's listener belongs to the
 * supervisor, and a connection exists only when a host client opened it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sbx.h"

#define DIAL_MS 2000 /* a loopback connect that takes longer is a full backlog */

/* A connected socket to 127.0.0.1:port inside this namespace, or -1. */
static int dial(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err = 0;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	struct pollfd p = { fd, POLLOUT, 0 };
	if (errno == EINPROGRESS && poll(&p, 1, DIAL_MS) == 1 &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
		return fd;
	close(fd);
	return -1;
}

static _Noreturn void serve(int sock, const uint16_t *ports, size_t n)
{
	for (;;) {
		unsigned char idx;
		ssize_t r = recv(sock, &idx, 1, 0);
		if (r == 0)
			_exit(0); /* the supervisor is gone */
		if (r < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		int fd = idx < n ? dial(ports[idx]) : -1;
		if (sbx_send_fds(sock, &fd, 1) < 0)
			_exit(1);
		if (fd >= 0)
			close(fd);
	}
}

int sbx_connector_start(const uint16_t *ports, size_t n, int *out)
{
	int sv[2];

	*out = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || null < 0 || dup2(null, 0) < 0 ||
		    dup2(null, 1) < 0 || sbx_close_fds(sv[1]) < 0 || sbx_drop_caps() < 0)
			_exit(1); /* stdout is the command's MCP stream: not ours to hold */
		sbx_seal();
		serve(sv[1], ports, n);
	}
	close(sv[1]);
	*out = sv[0];
	return 0;
}
