/* guard.c: one sandbox's listeners served from the host (see guard.h). */
#include "guard.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "binding.h"
#include "dns.h"
#include "engine.h"
#include "host.h"
#include "log.h"
#include "nft.h"
#include "policy.h"
#include "proxy.h"

struct guard {
	struct guard_conf c;
	struct px_server *px;
	struct dns_server *dns;
	struct bnd_table *bindings; /* names the stub handed out, for the transparent port */
	struct eng *engine;         /* Docker's embedded DNS in the sandbox, for the stub and the proxy; or NULL */
	struct nft_sock *nft;       /* inside the sandbox's namespace: fills bound4/bound6 */
	bool bind_failed;
	int nflog;                  /* rejected packets, inside the sandbox's namespace */
	struct event *nflog_ev;
	bool nflog_dropped;
	uint64_t packets;           /* rejected packets logged */
	struct log_limit said;      /* stderr: one line per destination per second */
};

/* The stub allowed name → addrs: let TCP to the name's other allowed ports
 * through to the transparent port for the answer's TTL (80 and 443 always
 * go there). */
static void bind_cb(void *arg, const char *name, const struct addr *addrs, size_t n, uint32_t ttl)
{
	struct guard *g = arg;
	struct host h;
	uint16_t ports[POL_MAX_PORTS * 4];
	const char *why;

	if (!g->nft || host_canonicalize(span_str(name), &h, &why) < 0)
		return;
	size_t np = pol_name_ports(g->c.pol, &h, ports, sizeof(ports) / sizeof(ports[0]));
	for (size_t i = 0; i < np; i++) {
		if (ports[i] == 80 || ports[i] == 443)
			continue;
		for (size_t j = 0; j < n; j++) {
			int rc = nft_bind(g->nft, &addrs[j], ports[i], ttl);
			if (rc < 0 && !g->bind_failed) {
				g->bind_failed = true;
				log_msg("%s: cannot update the sandbox's bound set: %s", g->c.who, strerror(-rc));
			}
		}
	}
}

static const char *proto_name(uint8_t p, char *buf, size_t size)
{
	switch (p) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	default: snprintf(buf, size, "%u", p); return buf;
	}
}

/* The stderr line for a rejected packet, once a second per destination
 * (the DNS stub's limiter): how the policy would let it through. */
static void say_refused(struct guard *g, const struct nft_pkt *p, const char *protocol, const char *host)
{
	char key[ADDR_TEXT_MAX + 16];
	bool ports = p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP;
	if (!ports)
		snprintf(key, sizeof(key), "%s %s", protocol, host);
	else
		snprintf(key, sizeof(key), p->dst.family == AF_INET6 ? "%s [%s]:%u" : "%s %s:%u", protocol, host,
			 p->port);
	if (!log_limit_pass(&g->said, key, 1000))
		return; /* the same destination again: the log has each one */
	if (ports)
		log_msg("%s refused (not_allowed): add \"HOST:%u\" to allow, or use a name the policy allows", key,
			p->port);
	else
		log_msg("%s refused (not_allowed): only TCP and UDP to allowed hosts leave the sandbox", key);
}

/* One audit record per packet the kernel rejected in the sandbox. */
static void packet_cb(const struct nft_pkt *p, void *arg)
{
	struct guard *g = arg;
	struct audit_rec rec = audit_rec_init("packet", "decision");
	char host[ADDR_TEXT_MAX], proto[8];

	addr_format(&p->dst, host, sizeof(host));
	rec.host = host;
	rec.port = p->port;
	rec.protocol = proto_name(p->proto, proto, sizeof(proto));
	rec.decision = "deny";
	rec.reason = pol_reason_key(POL_NOT_ALLOWED);
	audit_write(g->c.audit, &rec);
	g->packets++;
	say_refused(g, p, rec.protocol, host);
}

void guard_set_policy(struct guard *g, const struct policy *pol)
{
	if (!g)
		return;
	g->c.pol = pol;
	px_server_set_policy(g->px, pol);
	dns_server_set_policy(g->dns, pol);
}

size_t guard_active(const void *g)
{
	return g ? px_server_active(((const struct guard *)g)->px) : 0;
}

uint64_t guard_packets(const struct guard *g)
{
	return g ? g->packets : 0;
}

void guard_drain(struct guard *g)
{
	int rc;

	if (!g || g->nflog < 0)
		return;
	while ((rc = nft_log_read(g->nflog, packet_cb, g)) == -ENOBUFS)
		if (!g->nflog_dropped) {
			g->nflog_dropped = true;
			log_msg("%s: the kernel dropped some rejected-packet logs (socket full)", g->c.who);
		}
}

static void nflog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	guard_drain(arg);
}

/* Hand a listener to its server, or close it when the server failed. */
static int take(int rc, int fd)
{
	if (rc < 0 && fd >= 0)
		close(fd);
	return rc;
}

static int listen_all(struct guard *g, int fds[SBX_NFDS])
{
	int rc = 0;

	for (int i = SBX_PROXY4; i <= SBX_PROXY6; i++)
		if (fds[i] >= 0)
			rc = take(rc < 0 ? rc : px_server_listen_fd(g->px, fds[i]), fds[i]);
	for (int i = SBX_TRANS4; i <= SBX_TRANS6; i++)
		if (fds[i] >= 0)
			rc = take(rc < 0 ? rc : px_server_listen_transparent_fd(g->px, fds[i]), fds[i]);
	for (int v6 = 0; v6 < 2; v6++) {
		int u = fds[SBX_DNS_UDP4 + v6], t = fds[SBX_DNS_TCP4 + v6];
		if (rc < 0) {
			take(rc, u), take(rc, t);
			continue;
		}
		rc = dns_server_listen_fds(g->dns, u, t); /* closes both on failure */
	}
	return rc;
}

int guard_new(const struct guard_conf *c, int fds[SBX_NFDS], struct guard **out)
{
	struct guard *g = calloc(1, sizeof(*g));
	int rc = -ENOMEM;

	*out = NULL;
	if (!g) {
		sbx_close_received(fds, SBX_SECCOMP);
		sbx_close_received(fds + SBX_ENGINE_DNS, 2);
		return -ENOMEM;
	}
	g->c = *c;
	g->nflog = fds[SBX_NFLOG];
	fds[SBX_NFLOG] = -1;
	if (nft_from_fd(fds[SBX_NFT], &g->nft) == 0)
		fds[SBX_NFT] = -1;
	g->bindings = bnd_new(0);
	g->nflog_ev = g->nflog >= 0 ? event_new(c->base, g->nflog, EV_READ | EV_PERSIST, nflog_cb, g) : NULL;
	int erc = fds[SBX_ENGINE_DNS] >= 0 ? eng_new(c->base, fds[SBX_ENGINE_DNS], fds[SBX_ENGINE_RT], &g->engine) : 0;
	if (fds[SBX_ENGINE_DNS] < 0)
		sbx_close_received(fds + SBX_ENGINE_RT, 1);
	fds[SBX_ENGINE_DNS] = fds[SBX_ENGINE_RT] = -1; /* taken, also on failure */
	/* one engine client for both: the stub sees the proxy's questions (eng_busy) */
	struct px_config pc = { .pol = c->pol, .audit = c->audit, .rsv = c->rsv, .bindings = g->bindings,
				.cache = c->cache, .engine = g->engine };
	struct dns_config dc = { .pol = c->pol, .audit = c->audit, .rsv = c->rsv, .bindings = g->bindings,
				 .on_bind = bind_cb, .bind_arg = g, .engine = g->engine };
	px_config_defaults(&pc);
	if (erc == 0 && g->nft && g->bindings && g->nflog_ev && event_add(g->nflog_ev, NULL) == 0 &&
	    px_server_new(c->base, &pc, &g->px) == 0 && dns_server_new(c->base, &dc, &g->dns) == 0) {
		rc = listen_all(g, fds);
		for (int i = 0; i < SBX_NLISTEN; i++)
			fds[i] = -1; /* listen_all took or closed each */
	}
	sbx_close_received(fds, SBX_SECCOMP);
	if (rc < 0) {
		guard_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

void guard_free(struct guard *g)
{
	if (!g)
		return;
	px_server_free(g->px);
	dns_server_free(g->dns);
	eng_free(g->engine); /* after both servers: their pending lookups are cancelled */
	bnd_free(g->bindings);
	nft_close(g->nft);
	if (g->nflog_ev)
		event_free(g->nflog_ev);
	if (g->nflog >= 0)
		close(g->nflog);
	free(g);
}
