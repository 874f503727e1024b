/* netsetup.c: the sandbox's network, made from inside its namespaces: `lo`
 * up, default routes through it (with a source address, so replies to
 * redirected connections find their way back), the listeners, and the
 * SCM_RIGHTS hand-off. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nft.h"
#include "sbx.h"

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? write(fd, text, strlen(text)) : -1;
	int e = errno;

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -(e ? e : EIO);
}

int sbx_map_ids(uid_t uid, gid_t gid)
{
	char map[64];
	int rc;

	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if ((rc = write_file("/proc/self/uid_map", map)) < 0)
		return rc;
	(void)write_file("/proc/self/setgroups", "deny"); /* required before gid_map when unprivileged */
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return write_file("/proc/self/gid_map", map);
}

int sbx_lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		rc = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (rc == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* ip route add default dev lo src SRC, over rtnetlink, waiting for the ACK. */
static int default_route(struct mnl_socket *nl, int family, const void *src, size_t srclen)
{
	char buf[1024];
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	struct rtmsg *rt;

	h->nlmsg_type = RTM_NEWROUTE;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
	rt = mnl_nlmsg_put_extra_header(h, sizeof(*rt));
	rt->rtm_family = (unsigned char)family;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_LINK;
	rt->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(h, RTA_OIF, if_nametoindex("lo"));
	mnl_attr_put(h, RTA_PREFSRC, srclen, src);
	return nft_nl_ask(nl, h);
}

int sbx_net_up(void)
{
	struct in_addr lo4 = { htonl(INADDR_LOOPBACK) };
	struct in6_addr lo6 = IN6ADDR_LOOPBACK_INIT;
	struct mnl_socket *nl;
	int rc = sbx_lo_up();

	if (rc < 0)
		return rc;
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		if (nl)
			mnl_socket_close(nl);
		return rc;
	}
	rc = default_route(nl, AF_INET, &lo4, sizeof(lo4));
	if (rc == 0)
		rc = default_route(nl, AF_INET6, &lo6, sizeof(lo6));
	mnl_socket_close(nl);
	return rc;
}

/* A bound (and for TCP, listening) socket on loopback. */
static int loopback_socket(int family, int type, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int one = 1, fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || (type == SOCK_STREAM && listen(fd, 512) < 0)) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int sbx_listeners(int fds[SBX_NFDS], bool v6_optional)
{
	static const struct {
		int family, type;
		uint16_t port;
	} want[SBX_NLISTEN] = {
		[SBX_PROXY4] = { AF_INET, SOCK_STREAM, SBX_PROXY_PORT },
		[SBX_PROXY6] = { AF_INET6, SOCK_STREAM, SBX_PROXY_PORT },
		[SBX_DNS_UDP4] = { AF_INET, SOCK_DGRAM, SBX_DNS_PORT },
		[SBX_DNS_UDP6] = { AF_INET6, SOCK_DGRAM, SBX_DNS_PORT },
		[SBX_DNS_TCP4] = { AF_INET, SOCK_STREAM, SBX_DNS_PORT },
		[SBX_DNS_TCP6] = { AF_INET6, SOCK_STREAM, SBX_DNS_PORT },
		[SBX_TRANS4] = { AF_INET, SOCK_STREAM, SBX_TRANSPARENT_PORT },
		[SBX_TRANS6] = { AF_INET6, SOCK_STREAM, SBX_TRANSPARENT_PORT },
	};

	for (int i = SBX_NLISTEN; i < SBX_NFDS; i++)
		fds[i] = -1;
	for (int i = 0; i < SBX_NLISTEN; i++) {
		fds[i] = loopback_socket(want[i].family, want[i].type, want[i].port);
		if (fds[i] == -EADDRNOTAVAIL && want[i].family == AF_INET6 && v6_optional) {
			fds[i] = -1; /* a namespace without ::1: its v6 redirects find nobody */
			continue;
		}
		if (fds[i] < 0) {
			int e = fds[i];
			while (i-- > 0)
				if (fds[i] >= 0)
					close(fds[i]);
			return e;
		}
	}
	return 0;
}

int sbx_send_fds(int sock, const int *fds, size_t n)
{
	uint32_t mask = 0; /* which of fds[] follow, in order */
	int present[SBX_NFDS];
	size_t k = 0;
	struct iovec iov = { &mask, sizeof(mask) };
	union {
		char buf[CMSG_SPACE(sizeof(int) * SBX_NFDS)];
		struct cmsghdr align;
	} u;

	if (n > SBX_NFDS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0) {
			mask |= 1u << i;
			present[k++] = fds[i];
		}
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = CMSG_SPACE(sizeof(int) * k) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * k);
	memcpy(CMSG_DATA(c), present, sizeof(int) * k);
	if (k == 0)
		m.msg_control = NULL, m.msg_controllen = 0;
	return sendmsg(sock, &m, 0) == (ssize_t)sizeof(mask) ? 0 : -errno;
}

int sbx_recv_fds(int sock, int *fds, size_t n)
{
	uint32_t mask = 0;
	struct iovec iov = { &mask, sizeof(mask) };
	union {
		char buf[CMSG_SPACE(sizeof(int) * SBX_NFDS)];
		struct cmsghdr align;
	} u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	int got_fds[SBX_NFDS];
	size_t k = 0, want = 0;

	if (n > SBX_NFDS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		fds[i] = -1;
	ssize_t got = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	if (got != (ssize_t)sizeof(mask))
		return got < 0 ? -errno : -EPIPE; /* the child failed before the hand-off */
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (c && (c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0) ||
		  c->cmsg_len > CMSG_LEN(sizeof(int) * SBX_NFDS)))
		return -EPROTO;
	if (c) {
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(got_fds, CMSG_DATA(c), sizeof(int) * k);
	}
	for (size_t i = 0; i < SBX_NFDS; i++)
		want += (mask >> i) & 1;
	if (want != k || (mask >> n) != 0 || (m.msg_flags & MSG_CTRUNC)) {
		for (size_t i = 0; i < k; i++)
			close(got_fds[i]);
		return -EPROTO;
	}
	for (size_t i = 0, j = 0; i < n; i++)
		if (mask & (1u << i))
			fds[i] = got_fds[j++];
	return (int)k;
}

void sbx_close_received(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}
