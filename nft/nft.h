/* nft.h: the sandbox's nftables table `inet sluice`, built with libnftnl
 * and sent with libmnl as one atomic batch whose every ACK is checked. */
#ifndef SLUICE_NFT_H
#define SLUICE_NFT_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct nft_sock;
struct mnl_socket;
struct nlmsghdr;

/* Send one netlink request h (its flags asking for an ACK) on nl and read
 * the answer: 0, or -errno from the kernel's error ACK or the socket. Sets
 * h's sequence number. For the NFLOG set-up and the sandbox's routes. */
int nft_nl_ask(struct mnl_socket *nl, struct nlmsghdr *h);

struct nft_conf {
	uint16_t stub_port;        /* any UDP/TCP :53 goes to 127.0.0.1/::1 here */
	uint16_t transparent_port; /* TCP 80, 443 and bound pairs go here */
	uint16_t log_group;        /* NFLOG group of rejected packets */
	bool replace;              /* an older table may exist: replace it in the same batch */
	bool shared;               /* a namespace with interfaces and rules of its own (attach) */
	uint32_t engine_mark;      /* SO_MARK of the stub's socket to Docker's DNS (127.0.0.11), or 0 */
};

/* A netfilter netlink socket in the calling thread's network namespace
 * (which is where the rules go). Returns 0 or -errno. */
int nft_open(struct nft_sock **out);
void nft_close(struct nft_sock *s);

/* The socket's descriptor (to hand it to another process), and a socket
 * around a descriptor received that way (netlink sockets keep the namespace
 * they were made in). */
int nft_fd(const struct nft_sock *s);
int nft_from_fd(int fd, struct nft_sock **out);

/*
 * Replace table inet sluice with:
 *   chain nat_out (nat, output, -100): udp/tcp dport 53 redirect to the
 *     stub; tcp dport 80 and 443, and ip/ip6 daddr . tcp dport in
 *     @bound4/@bound6, redirect to the transparent port;
 *   chain filter_out (filter, output, 0): daddr in 127.0.0.0/8 or ::1
 *     accept; tcp: counter, log group N, reject with tcp reset; the rest:
 *     counter, log group N, reject with icmpx admin-prohibited;
 *   sets bound4 (ipv4_addr . inet_service) and bound6 (ipv6_addr .
 *   inet_service), with timeouts.
 * With c->shared (an existing container's namespace): filter_out also
 * accepts what is addressed to the namespace itself (fib daddr type
 * local: replies of redirected connections to an interface's address),
 * and nat_out sits at -150, before the namespace's own nat output chains
 * (Docker's redirect of 127.0.0.11:53), so every query reaches the stub;
 * and filter_out rejects (counter, log) whatever goes to 127.0.0.11
 * itself (Docker's DNS on its own port, which no redirect covers), before
 * the loopback accepts. With c->engine_mark, the packets of the stub's
 * socket to that DNS (marked so) are the exception: nat_out returns them
 * first (Docker's own rules then take them to its port) and filter_out
 * accepts them to 127.0.0.11 over UDP.
 * One batch: all of it or none; with c->replace, an older table is deleted
 * in the same batch (a fresh namespace has none, and skipping the delete
 * keeps start-up fast). Returns 0 or the kernel's -errno.
 */
int nft_install(struct nft_sock *s, const struct nft_conf *c);

/* Delete table inet sluice, and only it, if it exists (sluice detach).
 * Returns 0 or -errno. */
int nft_remove(struct nft_sock *s);

/* Forget every conntrack entry of the calling thread's network namespace,
 * so flows set up before the table was loaded are decided by it on their
 * next packet (and cut: the table lets no old flow through). 0 or -errno. */
int nft_ct_flush(void);

/* Let TCP to a:port through to the transparent port for ttl seconds (an
 * element of bound4/bound6). Returns 0 or -errno. */
int nft_bind(struct nft_sock *s, const struct addr *a, uint16_t port, uint32_t ttl_s);

/* A packet the reject rules logged: where it was going. */
struct nft_pkt {
	struct addr dst;
	uint16_t port;  /* TCP/UDP destination port, else 0 */
	uint8_t proto;  /* IPPROTO_* */
};

/* Join NFLOG group in this network namespace (packet copies of 128 bytes,
 * delivered one by one). *fd is non-blocking. Returns 0 or -errno. */
int nft_log_open(uint16_t group, int *fd);

/* Read every queued message on fd and call cb for each logged packet.
 * Returns how many datagrams were read, or -errno (-ENOBUFS: the kernel
 * dropped messages because the socket was full). */
int nft_log_read(int fd, void (*cb)(const struct nft_pkt *p, void *arg), void *arg);

/* Read the destination of an IPv4 or IPv6 packet. 0 or -EINVAL. */
int nft_pkt_parse(struct span b, struct nft_pkt *p);

#endif
