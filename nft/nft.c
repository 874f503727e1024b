/* nft.c: table inet sluice as libnftnl objects in one netlink batch.
 *
 * Every object message asks for an ACK; the batch is sent once and the
 * replies are read until each ACK (or the first error) has arrived, with a
 * receive timeout so a silent kernel cannot hang start-up. Rules are written
 * expression by expression, as `nft` would compile them.
 */
#include "nft.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define TABLE "sluice"
#define PRIO_NAT_DST (-100) /* where nft's "dstnat" sits */
#define PRIO_NAT_FIRST (-150) /* an attached namespace: before any nat output chain of its own */
#define PRIO_FILTER 0
#define BATCH_BYTES (64 * 1024)
/* nft's datatype numbers, so `nft list` shows the sets' keys as it would */
#define TYPE_IPADDR 7
#define TYPE_IP6ADDR 8
#define TYPE_INET_SERVICE 13

struct nft_sock {
	struct mnl_socket *nl;
	uint32_t portid, seq;
};

/* A batch being built: the buffer, and how many ACKs to wait for. */
struct batch {
	struct nft_sock *s;
	struct mnl_nlmsg_batch *b;
	char buf[BATCH_BYTES];
	unsigned acks;
	int err;
};

int nft_open(struct nft_sock **out)
{
	struct nft_sock *s = calloc(1, sizeof(*s));
	struct timeval tv = { 2, 0 };

	if (!s)
		return -ENOMEM;
	s->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!s->nl || mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = -errno;
		nft_close(s);
		return e;
	}
	setsockopt(mnl_socket_get_fd(s->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL);
	*out = s;
	return 0;
}

int nft_fd(const struct nft_sock *s)
{
	return mnl_socket_get_fd(s->nl);
}

int nft_from_fd(int fd, struct nft_sock **out)
{
	struct nft_sock *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->nl = mnl_socket_fdopen(fd);
	if (!s->nl) {
		int e = -errno;
		free(s);
		return e;
	}
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL);
	*out = s;
	return 0;
}

void nft_close(struct nft_sock *s)
{
	if (!s)
		return;
	if (s->nl)
		mnl_socket_close(s->nl);
	free(s);
}

/* ---- batches ------------------------------------------------------------- */

static void batch_begin(struct batch *t, struct nft_sock *s)
{
	t->s = s;
	t->acks = 0;
	t->err = 0;
	t->b = mnl_nlmsg_batch_start(t->buf, sizeof(t->buf));
	nftnl_batch_begin(mnl_nlmsg_batch_current(t->b), s->seq++);
	mnl_nlmsg_batch_next(t->b);
}

/* Room for the next message, or NULL (the batch is full: an error). */
static struct nlmsghdr *batch_msg(struct batch *t, uint16_t type, uint16_t flags)
{
	if (t->err)
		return NULL;
	if (mnl_nlmsg_batch_size(t->b) + 4096 > BATCH_BYTES) {
		t->err = -ENOSPC;
		return NULL;
	}
	t->acks++;
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(t->b), type, NFPROTO_INET, flags | NLM_F_ACK,
				     t->s->seq++);
}

static void batch_next(struct batch *t)
{
	mnl_nlmsg_batch_next(t->b);
}

/* Read replies until every ACK has come; the first error wins. */
static int read_acks(struct nft_sock *s, unsigned want)
{
	char buf[16384];

	while (want > 0) {
		ssize_t n = mnl_socket_recvfrom(s->nl, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		int len = (int)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len)) {
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
			if (e->error != 0)
				return e->error;
			want--;
		}
	}
	return 0;
}

static int batch_send(struct batch *t)
{
	if (t->err)
		return t->err;
	nftnl_batch_end(mnl_nlmsg_batch_current(t->b), t->s->seq++);
	mnl_nlmsg_batch_next(t->b);
	if (mnl_socket_sendto(t->s->nl, mnl_nlmsg_batch_head(t->b), mnl_nlmsg_batch_size(t->b)) < 0) {
		mnl_nlmsg_batch_stop(t->b);
		return -errno;
	}
	mnl_nlmsg_batch_stop(t->b);
	return read_acks(t->s, t->acks);
}

/* ---- objects ------------------------------------------------------------- */

static void put_table(struct batch *t, uint16_t type, uint16_t flags)
{
	struct nftnl_table *tb = nftnl_table_alloc();
	struct nlmsghdr *h = tb ? batch_msg(t, type, flags) : NULL;

	if (!tb) {
		t->err = -ENOMEM;
		return;
	}
	nftnl_table_set_str(tb, NFTNL_TABLE_NAME, TABLE);
	nftnl_table_set_u32(tb, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	if (h) {
		nftnl_table_nlmsg_build_payload(h, tb);
		batch_next(t);
	}
	nftnl_table_free(tb);
}

static void put_chain(struct batch *t, const char *name, const char *type, int32_t prio)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *h = c ? batch_msg(t, NFT_MSG_NEWCHAIN, NLM_F_CREATE) : NULL;

	if (!c) {
		t->err = -ENOMEM;
		return;
	}
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_OUT);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	if (h) {
		nftnl_chain_nlmsg_build_payload(h, c);
		batch_next(t);
	}
	nftnl_chain_free(c);
}

static void put_set(struct batch *t, const char *name, uint32_t id, bool v6)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *h = s ? batch_msg(t, NFT_MSG_NEWSET, NLM_F_CREATE) : NULL;

	if (!s) {
		t->err = -ENOMEM;
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, (uint32_t)((v6 ? TYPE_IP6ADDR : TYPE_IPADDR) << 6 | TYPE_INET_SERVICE));
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, v6 ? 20 : 8); /* each field padded to 4 bytes */
	if (h) {
		nftnl_set_nlmsg_build_payload(h, s);
		batch_next(t);
	}
	nftnl_set_free(s);
}

/* ---- expressions --------------------------------------------------------- */

static struct nftnl_expr *expr(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (e)
		nftnl_rule_add_expr(r, e);
	return e;
}

static void meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = expr(r, "meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
}

static void cmp_eq(struct nftnl_rule *r, uint32_t sreg, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr(r, "cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
}

static void payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = expr(r, "payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	}
}

static void mask(struct nftnl_rule *r, uint32_t reg, const void *m, uint32_t len)
{
	struct nftnl_expr *e = expr(r, "bitwise");
	static const uint8_t zero[16];

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, m, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	}
}

static void match_u8(struct nftnl_rule *r, uint32_t key, uint8_t v)
{
	meta(r, key, NFT_REG_1);
	cmp_eq(r, NFT_REG_1, &v, 1);
}

static void match_dport(struct nftnl_rule *r, uint8_t proto, uint16_t port)
{
	uint16_t be = htons(port);

	match_u8(r, NFT_META_L4PROTO, proto);
	payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
	cmp_eq(r, NFT_REG_1, &be, 2);
}

static void redirect(struct nftnl_rule *r, uint16_t port)
{
	uint16_t be = htons(port);
	struct nftnl_expr *e = expr(r, "immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &be, 2);
	}
	if ((e = expr(r, "redir")))
		nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
}

static void verdict(struct nftnl_rule *r, int v)
{
	struct nftnl_expr *e = expr(r, "immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
	}
}

static void count_log_reject(struct nftnl_rule *r, uint16_t group, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e;

	expr(r, "counter");
	if ((e = expr(r, "log")))
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
	if ((e = expr(r, "reject"))) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
	}
}

/* daddr . tcp dport in the set (bound4 or bound6). */
static void bound_lookup(struct nftnl_rule *r, bool v6, const char *set, uint32_t id)
{
	struct nftnl_expr *e;

	match_u8(r, NFT_META_NFPROTO, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	match_u8(r, NFT_META_L4PROTO, IPPROTO_TCP);
	payload(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, v6 ? 16 : 4, NFT_REG32_00);
	payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, v6 ? NFT_REG32_04 : NFT_REG32_01);
	if ((e = expr(r, "lookup"))) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, id);
	}
}

/* ---- the ruleset ----------------------------------------------------------- */

enum rule_kind {
	R_ENGINE_RETURN, R_DNS_UDP, R_DNS_TCP, R_HTTP, R_HTTPS, R_BOUND4, R_BOUND6,      /* nat_out */
	R_ENGINE_ACCEPT, R_ENGINE_REJECT, R_LO4, R_LO6, R_LOCAL, R_REJECT_TCP, R_REJECT_REST, /* filter_out */
	R_COUNT,
};

/* Docker's embedded DNS, inside a container's namespace */
static const uint8_t engine_dns[4] = { 127, 0, 0, 11 };

static void match_engine_dns(struct nftnl_rule *r)
{
	match_u8(r, NFT_META_NFPROTO, NFPROTO_IPV4);
	payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1);
	cmp_eq(r, NFT_REG_1, engine_dns, 4);
}

static void match_mark(struct nftnl_rule *r, uint32_t m)
{
	meta(r, NFT_META_MARK, NFT_REG_1);
	cmp_eq(r, NFT_REG_1, &m, sizeof(m));
}

/* Whether rule k is part of the table c asks for. */
static bool wanted(enum rule_kind k, const struct nft_conf *c)
{
	switch (k) {
	case R_ENGINE_RETURN:
	case R_ENGINE_ACCEPT: return c->shared && c->engine_mark;
	case R_ENGINE_REJECT:
	case R_LOCAL: return c->shared;
	default: return true;
	}
}

static void build_rule(struct nftnl_rule *r, enum rule_kind k, const struct nft_conf *c)
{
	static const uint8_t net8[4] = { 255, 0, 0, 0 }, lo4[4] = { 127, 0, 0, 0 };
	static const uint8_t lo6[16] = { [15] = 1 };

	switch (k) {
	case R_ENGINE_RETURN: match_mark(r, c->engine_mark); verdict(r, NFT_RETURN); break;
	case R_ENGINE_ACCEPT:
		/* after Docker's DNAT: to 127.0.0.11 on its own port */
		match_mark(r, c->engine_mark);
		match_engine_dns(r);
		match_u8(r, NFT_META_L4PROTO, IPPROTO_UDP);
		verdict(r, NF_ACCEPT);
		break;
	case R_ENGINE_REJECT:
		match_engine_dns(r);
		count_log_reject(r, c->log_group, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		break;
	case R_DNS_UDP: match_dport(r, IPPROTO_UDP, 53); redirect(r, c->stub_port); break;
	case R_DNS_TCP: match_dport(r, IPPROTO_TCP, 53); redirect(r, c->stub_port); break;
	case R_HTTP: match_dport(r, IPPROTO_TCP, 80); redirect(r, c->transparent_port); break;
	case R_HTTPS: match_dport(r, IPPROTO_TCP, 443); redirect(r, c->transparent_port); break;
	case R_BOUND4: bound_lookup(r, false, "bound4", 4); redirect(r, c->transparent_port); break;
	case R_BOUND6: bound_lookup(r, true, "bound6", 6); redirect(r, c->transparent_port); break;
	case R_LO4:
		match_u8(r, NFT_META_NFPROTO, NFPROTO_IPV4);
		payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1);
		mask(r, NFT_REG_1, net8, 4);
		cmp_eq(r, NFT_REG_1, lo4, 4);
		verdict(r, NF_ACCEPT);
		break;
	case R_LO6:
		match_u8(r, NFT_META_NFPROTO, NFPROTO_IPV6);
		payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFT_REG_1);
		cmp_eq(r, NFT_REG_1, lo6, 16);
		verdict(r, NF_ACCEPT);
		break;
	case R_LOCAL: {
		/* fib daddr type local: addressed to this namespace itself (the
		 * replies of redirected connections from an interface's own
		 * address, the reject's own resets); never `ct state established`,
		 * which would let a connection opened before the attach through */
		uint32_t local = RTN_LOCAL;
		struct nftnl_expr *e = expr(r, "fib");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
			nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
			nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
		}
		cmp_eq(r, NFT_REG_1, &local, sizeof(local));
		verdict(r, NF_ACCEPT);
		break;
	}
	case R_REJECT_TCP:
		match_u8(r, NFT_META_L4PROTO, IPPROTO_TCP);
		count_log_reject(r, c->log_group, NFT_REJECT_TCP_RST, 0);
		break;
	default:
		count_log_reject(r, c->log_group, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		break;
	}
}

static void put_rule(struct batch *t, enum rule_kind k, const struct nft_conf *c)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *h = r ? batch_msg(t, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND) : NULL;

	if (!r) {
		t->err = -ENOMEM;
		return;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, k <= R_BOUND6 ? "nat_out" : "filter_out");
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	build_rule(r, k, c);
	if (h) {
		nftnl_rule_nlmsg_build_payload(h, r);
		batch_next(t);
	}
	nftnl_rule_free(r);
}

int nft_install(struct nft_sock *s, const struct nft_conf *c)
{
	static struct batch t;

	batch_begin(&t, s);
	if (c->replace) {
		/* create-then-delete empties any old table in the same transaction */
		put_table(&t, NFT_MSG_NEWTABLE, NLM_F_CREATE);
		put_table(&t, NFT_MSG_DELTABLE, 0);
	}
	put_table(&t, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	put_set(&t, "bound4", 4, false);
	put_set(&t, "bound6", 6, true);
	put_chain(&t, "nat_out", "nat", c->shared ? PRIO_NAT_FIRST : PRIO_NAT_DST);
	put_chain(&t, "filter_out", "filter", PRIO_FILTER);
	for (int k = 0; k < R_COUNT; k++)
		if (wanted((enum rule_kind)k, c))
			put_rule(&t, (enum rule_kind)k, c);
	return batch_send(&t);
}

int nft_remove(struct nft_sock *s)
{
	static struct batch t;

	batch_begin(&t, s);
	put_table(&t, NFT_MSG_NEWTABLE, NLM_F_CREATE); /* so a missing table is no error */
	put_table(&t, NFT_MSG_DELTABLE, 0);
	return batch_send(&t);
}

int nft_ct_flush(void)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	char buf[256];
	int rc = 0;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		if (nl)
			mnl_socket_close(nl);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < sizeof(families); i++) {
		struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
		h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
		h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
		struct nfgenmsg *g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
		g->nfgen_family = families[i];
		g->version = NFNETLINK_V0;
		g->res_id = 0;
		rc = nft_nl_ask(nl, h);
	}
	mnl_socket_close(nl);
	return rc;
}

int nft_bind(struct nft_sock *s, const struct addr *a, uint16_t port, uint32_t ttl_s)
{
	static struct batch t;
	uint8_t key[20] = { 0 };
	bool v6 = a->family == AF_INET6;
	size_t alen = v6 ? 16 : 4;
	uint16_t be = htons(port);
	struct nftnl_set *set = nftnl_set_alloc();
	struct nftnl_set_elem *el = nftnl_set_elem_alloc();

	if (!set || !el) {
		nftnl_set_free(set);
		nftnl_set_elem_free(el);
		return -ENOMEM;
	}
	memcpy(key, v6 ? (const void *)&a->v6 : (const void *)&a->v4, alen);
	memcpy(key + alen, &be, 2);
	nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE);
	nftnl_set_set_str(set, NFTNL_SET_NAME, v6 ? "bound6" : "bound4");
	nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, key, alen + 4);
	nftnl_set_elem_set_u64(el, NFTNL_SET_ELEM_TIMEOUT, (uint64_t)ttl_s * 1000);
	nftnl_set_elem_add(set, el);
	batch_begin(&t, s);
	struct nlmsghdr *h = batch_msg(&t, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
	if (h) {
		nftnl_set_elems_nlmsg_build_payload(h, set);
		batch_next(&t);
	}
	nftnl_set_free(set);
	return batch_send(&t);
}
