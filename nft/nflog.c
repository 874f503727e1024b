/* nflog.c: the NFLOG group the sandbox's reject rules log to. The socket is
 * made and configured inside the sandbox's network namespace; the
 * supervisor reads it and turns each rejected packet into an audit record.
 * Packets are untrusted bytes from the sandbox: nft_pkt_parse reads only
 * what the headers' lengths allow. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nft.h"

#define COPY_RANGE 128 /* IPv6 header + TCP ports, with room */

static int config(struct mnl_socket *nl, uint16_t group, uint16_t attr, const void *data, size_t len)
{
	char buf[256];
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);

	h->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(group);
	mnl_attr_put(h, attr, len, data);
	return nft_nl_ask(nl, h);
}

int nft_nl_ask(struct mnl_socket *nl, struct nlmsghdr *h)
{
	static unsigned next_seq;
	char buf[8192]; /* an error ACK carries the request back */

	if (!next_seq)
		next_seq = (unsigned)time(NULL);
	h->nlmsg_seq = ++next_seq;
	if (mnl_socket_sendto(nl, h, h->nlmsg_len) < 0)
		return -errno;
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	return mnl_cb_run(buf, (size_t)n, h->nlmsg_seq, mnl_socket_get_portid(nl), NULL, NULL) < 0 ? -errno : 0;
}

int nft_log_open(uint16_t group, int *fd)
{
	struct nfulnl_msg_config_cmd bind = { NFULNL_CFG_CMD_BIND };
	struct nfulnl_msg_config_mode mode = { .copy_range = htonl(COPY_RANGE), .copy_mode = NFULNL_COPY_PACKET };
	uint32_t one = htonl(1);
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	int rc;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto err;
	}
	if ((rc = config(nl, group, NFULA_CFG_CMD, &bind, sizeof(bind))) < 0 ||
	    (rc = config(nl, group, NFULA_CFG_MODE, &mode, sizeof(mode))) < 0 ||
	    (rc = config(nl, group, NFULA_CFG_QTHRESH, &one, sizeof(one))) < 0)
		goto err;
	*fd = dup(mnl_socket_get_fd(nl));
	mnl_socket_close(nl);
	return *fd < 0 ? -errno : 0;
err:
	mnl_socket_close(nl);
	return rc;
}

/* Step over IPv6 extension headers from *off, whose type is *next, to the
 * transport header (RFC 8200 4; a bounded number of them). false when the
 * packet ends inside them, or a fragment other than the first leaves no
 * transport header to read. */
static bool ip6_skip_ext(const uint8_t *u, size_t len, size_t *off, uint8_t *next)
{
	for (int n = 0; n < 8; n++) {
		size_t hl;
		switch (*next) {
		case 0: case 43: case 60: case 135: case 139: case 140: /* hop-by-hop, routing, dst, mobility, HIP, shim6 */
			if (len < *off + 2)
				return false;
			hl = ((size_t)u[*off + 1] + 1) * 8;
			break;
		case 44: /* fragment: a port only in the first */
			if (len < *off + 8)
				return false;
			if ((u[*off + 2] << 8 | u[*off + 3]) & 0xfff8)
				return *next = u[*off], false;
			hl = 8;
			break;
		case 51: /* AH */
			if (len < *off + 2)
				return false;
			hl = ((size_t)u[*off + 1] + 2) * 4;
			break;
		default:
			return true;
		}
		if (len < *off + hl)
			return false;
		*next = u[*off];
		*off += hl;
	}
	return false;
}

int nft_pkt_parse(struct span b, struct nft_pkt *p)
{
	const uint8_t *u = (const uint8_t *)b.p;
	size_t l4;
	bool has_l4 = true;

	memset(p, 0, sizeof(*p));
	if (b.len < 1)
		return -EINVAL;
	if (u[0] >> 4 == 4) {
		size_t ihl = (size_t)(u[0] & 0xf) * 4;
		if (ihl < 20 || b.len < ihl)
			return -EINVAL;
		p->dst.family = AF_INET;
		memcpy(&p->dst.v4, u + 16, 4);
		p->proto = u[9];
		l4 = ihl;
		has_l4 = ((u[6] << 8 | u[7]) & 0x1fff) == 0; /* not a later fragment */
	} else if (u[0] >> 4 == 6) {
		if (b.len < 40)
			return -EINVAL;
		p->dst.family = AF_INET6;
		memcpy(&p->dst.v6, u + 24, 16);
		addr_unmap(&p->dst);
		p->proto = u[6];
		l4 = 40;
		has_l4 = ip6_skip_ext(u, b.len, &l4, &p->proto);
	} else {
		return -EINVAL;
	}
	if (has_l4 && (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) && b.len >= l4 + 4)
		p->port = (uint16_t)(u[l4 + 2] << 8 | u[l4 + 3]);
	return 0;
}

struct walk {
	void (*cb)(const struct nft_pkt *p, void *arg);
	void *arg;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	unsigned type = mnl_attr_get_type(a);

	if (type <= NFULA_MAX)
		tb[type] = a;
	return MNL_CB_OK;
}

static int msg_cb(const struct nlmsghdr *h, void *data)
{
	const struct nlattr *tb[NFULA_MAX + 1] = { 0 };
	struct walk *w = data;
	struct nft_pkt p;

	if ((h->nlmsg_type & 0xff) != NFULNL_MSG_PACKET ||
	    mnl_attr_parse(h, sizeof(struct nfgenmsg), attr_cb, tb) < 0 || !tb[NFULA_PAYLOAD])
		return MNL_CB_OK;
	struct span b = span_of(mnl_attr_get_payload(tb[NFULA_PAYLOAD]), mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]));
	if (nft_pkt_parse(b, &p) == 0)
		w->cb(&p, w->arg);
	return MNL_CB_OK;
}

int nft_log_read(int fd, void (*cb)(const struct nft_pkt *p, void *arg), void *arg)
{
	char buf[8192];
	struct walk w = { cb, arg };
	int total = 0;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == ENOBUFS)
			return -ENOBUFS; /* the kernel dropped some: the caller says so once */
		if (n < 0)
			return errno == EAGAIN ? total : -errno;
		mnl_cb_run(buf, (size_t)n, 0, 0, msg_cb, &w);
		total++;
	}
}
