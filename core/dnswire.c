/* dnswire.c: DNS message reading and writing with every offset checked.
 *
 * Compression pointers must point strictly before the start of the segment
 * being read, so each jump goes backwards and a loop cannot be built; the
 * 255-byte name limit bounds the work per name.
 */
#include "dnswire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static uint8_t rd8(struct span m, size_t off)
{
	return (uint8_t)m.p[off];
}

static uint16_t rd16(struct span m, size_t off)
{
	return (uint16_t)(rd8(m, off) << 8 | rd8(m, off + 1));
}

static uint32_t rd32(struct span m, size_t off)
{
	return (uint32_t)rd16(m, off) << 16 | rd16(m, off + 2);
}

int dnsw_read_header(struct span msg, struct dnsw_header *h)
{
	if (msg.len < DNSW_HEADER_LEN)
		return -EBADMSG;
	h->id = rd16(msg, 0);
	h->flags = rd16(msg, 2);
	h->qdcount = rd16(msg, 4);
	h->ancount = rd16(msg, 6);
	h->nscount = rd16(msg, 8);
	h->arcount = rd16(msg, 10);
	return 0;
}

int dnsw_read_name(struct span msg, size_t *off, struct dnsw_name *out)
{
	size_t pos = *off, seg = *off, after = 0;
	bool jumped = false;

	out->len = 0;
	for (;;) {
		if (pos >= msg.len)
			return -EBADMSG;
		uint8_t c = rd8(msg, pos);
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= msg.len)
				return -EBADMSG;
			size_t target = (size_t)(c & 0x3f) << 8 | rd8(msg, pos + 1);
			if (target >= seg || target < DNSW_HEADER_LEN)
				return -EBADMSG;
			if (!jumped)
				after = pos + 2;
			jumped = true;
			pos = seg = target;
			continue;
		}
		if (c & 0xc0)
			return -EBADMSG; /* 0x40 and 0x80 label types are reserved */
		if (pos + 1 + c > msg.len || out->len + 1 + c > DNSW_NAME_MAX)
			return -EBADMSG;
		memcpy(out->wire + out->len, msg.p + pos, 1 + (size_t)c);
		out->len += 1 + (size_t)c;
		pos += 1 + (size_t)c;
		if (c == 0)
			break;
	}
	*off = jumped ? after : pos;
	return 0;
}

int dnsw_read_rr(struct span msg, size_t *off, struct dnsw_rr *rr)
{
	if (dnsw_read_name(msg, off, &rr->owner) < 0 || *off + 10 > msg.len)
		return -EBADMSG;
	rr->type = rd16(msg, *off);
	rr->rclass = rd16(msg, *off + 2);
	rr->ttl = rd32(msg, *off + 4);
	rr->rdlen = rd16(msg, *off + 8);
	*off += 10;
	if (*off + rr->rdlen > msg.len)
		return -EBADMSG;
	rr->rdata_off = *off;
	*off += rr->rdlen;
	return 0;
}

bool dnsw_rr_addr(struct span msg, const struct dnsw_rr *rr, struct addr *x)
{
	memset(x, 0, sizeof(*x));
	if (rr->type == DNSW_T_A && rr->rdlen == 4) {
		x->family = AF_INET;
		memcpy(&x->v4, msg.p + rr->rdata_off, 4);
	} else if (rr->type == DNSW_T_AAAA && rr->rdlen == 16) {
		x->family = AF_INET6;
		memcpy(&x->v6, msg.p + rr->rdata_off, 16);
		addr_unmap(x);
	} else {
		return false;
	}
	return true;
}

/*
 * Client Subnet (RFC 7871 6): family 1 (IPv4) or 2 (IPv6), a source prefix
 * the family can hold, exactly the address bytes that prefix needs with no
 * bit set beyond it, and scope 0 as a query must have. The option is never
 * forwarded, but a malformed one is answered as the malformed query it is.
 */
static bool ecs_valid(struct span o)
{
	if (o.len < 4)
		return false;
	uint16_t family = rd16(o, 0);
	unsigned source = rd8(o, 2), scope = rd8(o, 3);
	unsigned max = family == 1 ? 32 : family == 2 ? 128 : 0;

	if (max == 0 || source > max || scope != 0 || o.len - 4 != (source + 7) / 8)
		return false;
	return source % 8 == 0 || (rd8(o, o.len - 1) & (0xff >> (source % 8))) == 0;
}

/* The OPT record's options: code, length, data, each inside its rdata. */
static int read_options(struct span msg, const struct dnsw_rr *rr)
{
	struct span rd = span_sub(msg, rr->rdata_off, rr->rdlen);
	size_t pos = 0;

	while (pos < rd.len) {
		if (rd.len - pos < 4)
			return DNSW_FORMERR;
		uint16_t code = rd16(rd, pos), len = rd16(rd, pos + 2);
		pos += 4;
		if (len > rd.len - pos)
			return DNSW_FORMERR;
		if (code == DNSW_OPT_ECS && !ecs_valid(span_sub(rd, pos, len)))
			return DNSW_FORMERR;
		pos += len;
	}
	return 0;
}

static int read_opt(struct span msg, size_t *off, struct dnsw_query *q)
{
	struct dnsw_rr rr;

	if (dnsw_read_rr(msg, off, &rr) < 0 || rr.type != DNSW_T_OPT || rr.owner.len != 1)
		return DNSW_FORMERR;
	q->edns = true;
	q->udp_size = rr.rclass < 512 ? 512 : rr.rclass;
	if ((rr.ttl >> 16 & 0xff) != 0)
		return DNSW_FORMERR; /* only EDNS version 0 exists */
	return read_options(msg, &rr);
}

int dnsw_parse_query(struct span msg, struct dnsw_query *q)
{
	size_t off = DNSW_HEADER_LEN;

	memset(q, 0, sizeof(*q));
	q->udp_size = 512;
	if (dnsw_read_header(msg, &q->h) < 0 || (q->h.flags & DNSW_QR))
		return -EBADMSG;
	if (DNSW_OPCODE(q->h.flags) != 0)
		return DNSW_NOTIMP;
	if (q->h.qdcount != 1 || q->h.ancount || q->h.nscount || q->h.arcount > 1)
		return DNSW_FORMERR;
	if (dnsw_read_name(msg, &off, &q->qname) < 0 || off + 4 > msg.len)
		return DNSW_FORMERR;
	q->qtype = rd16(msg, off);
	q->qclass = rd16(msg, off + 2);
	off += 4;
	q->has_question = true;
	if (q->h.arcount) {
		int rc = read_opt(msg, &off, q);
		if (rc)
			return rc;
	}
	if (off != msg.len)
		return DNSW_FORMERR;
	/* a query is never truncated: TC in one is junk or a probe (RFC 1035 4.1.1) */
	return q->h.flags & DNSW_TC ? DNSW_FORMERR : 0;
}

/* Copy a (possibly compressed) name at *pos into w; *pos must stay in end. */
static int expand_name(struct span msg, size_t *pos, size_t end, struct dnsw_writer *w)
{
	struct dnsw_name n;

	if (dnsw_read_name(msg, pos, &n) < 0 || *pos > end)
		return -EBADMSG;
	dnsw_put_bytes(w, n.wire, n.len);
	return 0;
}

static int expand_fixed(struct span msg, size_t *pos, size_t end, size_t n, struct dnsw_writer *w)
{
	if (*pos + n > end)
		return -EBADMSG;
	dnsw_put_bytes(w, msg.p + *pos, n);
	*pos += n;
	return 0;
}

/* SVCB/HTTPS rdata, checked and copied whole (its target is never compressed). */
static int expand_svcb(struct span msg, size_t *pos, size_t end, struct dnsw_writer *w)
{
	unsigned removed;
	int n = dnsw_svcb_filter(span_sub(msg, *pos, end - *pos), NULL, NULL, w->buf + w->len, w->cap - w->len,
				 &removed);

	if (n == -EBADMSG || n == -EPERM)
		return -EBADMSG;
	*pos = end;
	if (n < 0)
		w->overflow = true;
	else
		w->len += (size_t)n;
	return 0;
}

int dnsw_expand_rdata(struct span msg, const struct dnsw_rr *rr, uint8_t *out, size_t cap)
{
	struct dnsw_writer w = { .buf = out, .cap = cap };
	size_t pos = rr->rdata_off, end = rr->rdata_off + rr->rdlen;
	int rc = 0;

	switch (rr->type) {
	case DNSW_T_CNAME:
	case DNSW_T_NS:
	case DNSW_T_PTR:
	case DNSW_T_DNAME:
		rc = expand_name(msg, &pos, end, &w);
		break;
	case DNSW_T_MX:
		rc = expand_fixed(msg, &pos, end, 2, &w);
		rc = rc ? rc : expand_name(msg, &pos, end, &w);
		break;
	case DNSW_T_SRV:
		rc = expand_fixed(msg, &pos, end, 6, &w);
		rc = rc ? rc : expand_name(msg, &pos, end, &w);
		break;
	case DNSW_T_SOA:
		rc = expand_name(msg, &pos, end, &w);
		rc = rc ? rc : expand_name(msg, &pos, end, &w);
		rc = rc ? rc : expand_fixed(msg, &pos, end, 20, &w);
		break;
	case DNSW_T_SVCB:
	case DNSW_T_HTTPS:
		rc = expand_svcb(msg, &pos, end, &w);
		break;
	default:
		rc = expand_fixed(msg, &pos, end, rr->rdlen, &w);
		break;
	}
	if (rc == 0 && pos != end)
		rc = -EBADMSG;
	if (rc == 0 && w.overflow)
		rc = -ENOSPC;
	return rc < 0 ? rc : (int)w.len;
}

/* ---- SVCB and HTTPS (RFC 9460) ------------------------------------------------ */

/* Whether the mandatory list m names key. */
static bool svc_mandatory(struct span m, uint16_t key)
{
	for (size_t i = 0; i + 1 < m.len; i += 2)
		if (rd16(m, i) == key)
			return true;
	return false;
}

/*
 * One ipv4hint/ipv6hint parameter v to w without the addresses blocked_cb
 * refuses, or nothing at all when none is left. Returns how many are left
 * or -EBADMSG for a list that is empty or not whole addresses.
 */
static int put_hints(struct dnsw_writer *w, uint16_t key, struct span v,
		     bool (*blocked_cb)(const struct addr *a, const void *arg), const void *arg, unsigned *removed)
{
	size_t size = key == DNSW_SVC_IPV4HINT ? 4 : 16, at = w->len;
	int left = 0;

	if (v.len == 0 || v.len % size != 0)
		return -EBADMSG;
	dnsw_put16(w, key);
	dnsw_put16(w, 0);
	for (size_t i = 0; i < v.len; i += size) {
		struct addr a = { .family = size == 4 ? AF_INET : AF_INET6 };
		memcpy(size == 4 ? (void *)&a.v4 : (void *)&a.v6, v.p + i, size);
		if (blocked_cb && blocked_cb(&a, arg)) {
			(*removed)++;
			continue;
		}
		dnsw_put_bytes(w, v.p + i, size);
		left++;
	}
	if (left == 0 && !w->overflow)
		w->len = at;
	dnsw_patch16(w, at + 2, (uint16_t)((size_t)left * size));
	return left;
}

/* The target name, uncompressed (RFC 9460 2.2); returns the offset after it, or 0. */
static size_t svc_target_end(struct span rd, size_t pos)
{
	for (size_t n = 0; pos < rd.len;) {
		uint8_t c = rd8(rd, pos);
		n += 1 + (size_t)c;
		if ((c & 0xc0) || n > DNSW_NAME_MAX || rd.len - pos < 1 + (size_t)c)
			return 0;
		pos += 1 + (size_t)c;
		if (c == 0)
			return pos;
	}
	return 0;
}

int dnsw_svcb_filter(struct span rd, bool (*blocked_cb)(const struct addr *a, const void *arg), const void *arg,
		     uint8_t *out, size_t cap, unsigned *removed)
{
	struct dnsw_writer w = { .buf = out, .cap = cap };
	struct span mandatory = { NULL, 0 };
	size_t pos = svc_target_end(rd, 2);
	long prev = -1;

	*removed = 0;
	if (pos == 0)
		return -EBADMSG;
	dnsw_put_bytes(&w, rd.p, pos);
	while (pos < rd.len) {
		if (rd.len - pos < 4)
			return -EBADMSG;
		uint16_t key = rd16(rd, pos), len = rd16(rd, pos + 2);
		struct span v = span_sub(rd, pos + 4, len);
		if ((long)key <= prev || v.len != len)
			return -EBADMSG;
		prev = key;
		if (key == DNSW_SVC_MANDATORY && (len == 0 || len % 2))
			return -EBADMSG;
		if (key == DNSW_SVC_MANDATORY)
			mandatory = v;
		if (key == DNSW_SVC_IPV4HINT || key == DNSW_SVC_IPV6HINT) {
			int left = put_hints(&w, key, v, blocked_cb, arg, removed);
			if (left < 0)
				return left;
			if (left == 0 && svc_mandatory(mandatory, key))
				return -EPERM;
		} else {
			dnsw_put_bytes(&w, rd.p + pos, 4 + (size_t)len);
		}
		pos += 4 + (size_t)len;
	}
	return w.overflow ? -ENOSPC : (int)w.len;
}

static bool plain_byte(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

bool dnsw_name_text(const struct dnsw_name *n, char *buf, size_t size)
{
	size_t pos = 0, o = 0;
	bool plain = true;

	if (n->len <= 1) {
		snprintf(buf, size, ".");
		return false;
	}
	while (pos < n->len && n->wire[pos] != 0) {
		size_t l = n->wire[pos++];
		if (o && o + 1 < size)
			buf[o++] = '.';
		for (size_t i = 0; i < l && pos < n->len; i++, pos++) {
			uint8_t c = n->wire[pos];
			if (plain_byte(c) && o + 1 < size) {
				buf[o++] = (char)c;
			} else if (!plain_byte(c)) {
				plain = false;
				if (o + 5 < size)
					o += (size_t)snprintf(buf + o, size - o, "\\%03u", c);
			}
		}
	}
	buf[o < size ? o : size - 1] = '\0';
	return plain;
}

const char *dnsw_type_text(uint16_t type, char *buf, size_t size)
{
	static const struct {
		uint16_t type;
		const char *name;
	} names[] = {
		{ 1, "A" },    { 2, "NS" },     { 5, "CNAME" }, { 6, "SOA" },     { 12, "PTR" },
		{ 13, "HINFO" }, { 15, "MX" },  { 16, "TXT" },  { 28, "AAAA" },   { 33, "SRV" },
		{ 35, "NAPTR" }, { 39, "DNAME" }, { 41, "OPT" }, { 43, "DS" },    { 46, "RRSIG" },
		{ 48, "DNSKEY" }, { 64, "SVCB" }, { 65, "HTTPS" }, { 99, "SPF" }, { 251, "IXFR" },
		{ 252, "AXFR" }, { 255, "ANY" }, { 257, "CAA" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].type == type)
			return names[i].name;
	snprintf(buf, size, "TYPE%u", type);
	return buf;
}

const char *dnsw_rcode_text(unsigned rcode)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED" };

	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : "RCODE";
}

void dnsw_put_bytes(struct dnsw_writer *w, const void *p, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void dnsw_put16(struct dnsw_writer *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	dnsw_put_bytes(w, b, 2);
}

void dnsw_put32(struct dnsw_writer *w, uint32_t v)
{
	dnsw_put16(w, (uint16_t)(v >> 16));
	dnsw_put16(w, (uint16_t)v);
}

void dnsw_put_header(struct dnsw_writer *w, const struct dnsw_header *h)
{
	dnsw_put16(w, h->id);
	dnsw_put16(w, h->flags);
	dnsw_put16(w, h->qdcount);
	dnsw_put16(w, h->ancount);
	dnsw_put16(w, h->nscount);
	dnsw_put16(w, h->arcount);
}

void dnsw_patch16(struct dnsw_writer *w, size_t off, uint16_t v)
{
	if (off + 2 <= w->len) {
		w->buf[off] = (uint8_t)(v >> 8);
		w->buf[off + 1] = (uint8_t)v;
	}
}

/* ---- upstream replies ------------------------------------------------------ */

static uint32_t rr_ttl(const struct dnsw_rr *rr)
{
	return rr->ttl & 0x80000000u ? 0 : rr->ttl; /* RFC 2181 8: top bit set means 0 */
}

/* Append rr (read from msg) to w uncompressed; a record whose rdata does not
 * parse as its type is left out. Returns whether it went in. */
static bool put_plain_rr(struct dnsw_writer *w, struct span msg, const struct dnsw_rr *rr)
{
	size_t start = w->len;

	dnsw_put_bytes(w, rr->owner.wire, rr->owner.len);
	dnsw_put16(w, rr->type);
	dnsw_put16(w, rr->rclass);
	dnsw_put32(w, rr_ttl(rr));
	dnsw_put16(w, 0);
	if (w->overflow)
		return false;
	int n = dnsw_expand_rdata(msg, rr, w->buf + w->len, w->cap - w->len);
	bool bad_addr = (rr->type == DNSW_T_A && n != 4) || (rr->type == DNSW_T_AAAA && n != 16);
	if (n < 0 || bad_addr) {
		w->len = start;
		w->overflow = n == -ENOSPC;
		return false;
	}
	w->len += (size_t)n;
	dnsw_patch16(w, w->len - (size_t)n - 2, (uint16_t)n);
	return true;
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* A negative answer lives as long as its SOA record and SOA minimum. */
static uint32_t soa_ttl(const struct dnsw_writer *w, const struct dnsw_rr *rr)
{
	const uint8_t *min = w->buf + w->len - 4;

	return min32(rr_ttl(rr), (uint32_t)min[0] << 24 | (uint32_t)min[1] << 16 | (uint32_t)min[2] << 8 | min[3]);
}

int dnsw_normalize_reply(struct span msg, uint8_t *out, size_t cap, struct dnsw_reply *r)
{
	struct dnsw_writer w = { .buf = out, .cap = cap };
	struct dnsw_header h;
	struct dnsw_name skip;
	struct dnsw_rr rr;
	size_t off = DNSW_HEADER_LEN;

	memset(r, 0, sizeof(*r));
	r->ttl = UINT32_MAX;
	if (dnsw_read_header(msg, &h) < 0 || !(h.flags & DNSW_QR) || (h.flags & DNSW_TC))
		return -EBADMSG;
	r->rcode = DNSW_RCODE(h.flags);
	if (r->rcode != DNSW_NOERROR && r->rcode != DNSW_NXDOMAIN)
		return -EPROTO;
	for (unsigned i = 0; i < h.qdcount; i++)
		if (dnsw_read_name(msg, &off, &skip) < 0 || (off += 4) > msg.len)
			return -EBADMSG;
	for (unsigned i = 0; i < h.ancount; i++) {
		if (dnsw_read_rr(msg, &off, &rr) < 0)
			return -EBADMSG;
		if (rr.type != DNSW_T_OPT && put_plain_rr(&w, msg, &rr)) {
			r->nanswer++;
			r->ttl = min32(r->ttl, rr_ttl(&rr));
		}
	}
	for (unsigned i = 0; r->nanswer == 0 && i < h.nscount; i++) {
		if (dnsw_read_rr(msg, &off, &rr) < 0)
			return -EBADMSG;
		if (rr.type == DNSW_T_SOA && put_plain_rr(&w, msg, &rr)) {
			r->nauthority++;
			r->ttl = min32(r->ttl, soa_ttl(&w, &rr));
		}
	}
	r->len = w.len;
	return 0;
}
