/* session.c: one client connection of the proxy, from request head to close.
 *
 * Every request runs the decision pipeline of DESIGN.md: strict parse, one
 * canonical host, policy, asynchronous resolution, address vetting, then a
 * dial of a vetted address. Every decision writes one audit record; an allowed
 * request writes a second one when it ends. All exits go through
 * session_close(), so there is one place that frees and one that logs.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "binding.h"
#include "engine.h"
#include "proxy_int.h"
#include "sni.h"

#define HIGH_WM (256 * 1024) /* input held per side before reading pauses */
#define READ_CHUNK 16384     /* asked of one read */
#define RESET_WAIT_MS 2000   /* a reset waits this long at most for earlier answers to arrive */

/* A deferred accept's first read, before the session has a bufferevent: one
 * process serves one connection at a time, and the bytes are parsed (or
 * copied into the bufferevent) before the next read. */
static char head_buf[HTTP_MAX_HEAD];

static void cli_read_cb(struct bufferevent *bev, void *arg);
static void cli_write_cb(struct bufferevent *bev, void *arg);
static void cli_event_cb(struct bufferevent *bev, short what, void *arg);
static void up_read_cb(struct bufferevent *bev, void *arg);
static void up_write_cb(struct bufferevent *bev, void *arg);
static void up_event_cb(struct bufferevent *bev, short what, void *arg);
static void on_head(struct px_session *s);
static bool cli_ready(struct px_session *s);
static void session_close(struct px_session *s, const char *reason);
static void on_peek(struct px_session *s, bool timed_out);
static void try_connect(struct px_session *s);
static void open_tunnel(struct px_session *s);
static void connected(struct px_session *s);
static void connect_failed(struct px_session *s, const char *detail);
static int wrap_dial(struct px_session *s);

static const char *event_name(const struct px_session *s)
{
	if (s->transparent)
		return "transparent";
	return s->is_connect ? "connect" : "http";
}

static void arm_timer(struct px_session *s, unsigned seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };

	evtimer_add(s->timer, &tv);
}

static void arm_timer_ms(struct px_session *s, unsigned ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(s->timer, &tv);
}

static void touch(struct px_session *s)
{
	s->last_active = audit_now_ms();
}

static const char *decision_word(const struct px_session *s)
{
	return s->report_only ? "would_deny" : "allow";
}

/* The client or upstream socket of the session, wherever it is held; -1. */
static int side_fd(const struct px_session *s, bool up)
{
	struct bufferevent *b = up ? s->up : s->cli;

	if (b)
		return bufferevent_getfd(b);
	return !up && s->cli_fd >= 0 ? s->cli_fd : px_relay_fd(s, up);
}

/* True when the peer of fd has reset the connection (an error is pending). */
static bool peer_reset(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	return fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0;
}

/* What of *count the kernel still holds unacknowledged on fd is taken off:
 * after an abnormal end it never reaches the peer. */
static void take_unsent(int fd, uint64_t *count)
{
	int q = 0;

	if (fd >= 0 && ioctl(fd, SIOCOUTQ, &q) == 0 && q > 0)
		*count -= (uint64_t)q < *count ? (uint64_t)q : *count;
}

/* The close record of an allowed request (abnormal ends carry a reason). The
 * byte counts are what each socket took; after an abnormal end, less what the
 * kernel still held unacknowledged for a side that will not take it: the
 * client's after any abnormal end, upstream's unless only the client left. A
 * client that has reset its connection ended the request early, whatever the
 * caller saw. */
static void log_close(struct px_session *s, const char *reason)
{
	if (!s->decision_logged)
		return;
	if (!reason && peer_reset(side_fd(s, false)))
		reason = "client_closed";
	if (reason)
		take_unsent(side_fd(s, false), &s->bytes_down);
	if (reason && strcmp(reason, "client_closed") != 0)
		take_unsent(side_fd(s, true), &s->bytes_up);
	struct audit_rec r = audit_rec_init(event_name(s), "close");
	r.session = s->id;
	r.host = s->host.text;
	r.port = s->port;
	r.method = s->method[0] ? s->method : NULL;
	r.remote = s->remote[0] ? s->remote : NULL;
	r.decision = decision_word(s);
	r.reason = reason;
	r.rule = s->verdict.rule ? s->verdict.rule->text : NULL;
	r.has_bytes = true;
	r.bytes_up = s->bytes_up;
	r.bytes_down = s->bytes_down > s->down_own ? s->bytes_down - s->down_own : 0;
	r.duration_ms = (long)(audit_now_ms() - s->t_start);
	r.connect_ms = s->connect_ms;
	r.ech = s->ech;
	audit_write_soon(s->srv->cfg.audit, &r);
	s->decision_logged = false;
}

/* ---- reading ------------------------------------------------------------ */

static struct px_reader *reader_of(struct px_session *s, struct bufferevent *bev)
{
	return bev == s->up ? &s->rup : &s->rcli;
}

/* Watch the socket while the session wants bytes and the input has room. */
static void reader_sync(struct px_reader *r, struct bufferevent *bev)
{
	if (!r->ev)
		return;
	if (r->want && evbuffer_get_length(bufferevent_get_input(bev)) < HIGH_WM)
		event_add(r->ev, NULL);
	else
		event_del(r->ev);
}

static void read_on(struct px_session *s, struct bufferevent *bev)
{
	struct px_reader *r = reader_of(s, bev);

	r->want = true;
	reader_sync(r, bev);
}

static void read_off(struct px_session *s, struct bufferevent *bev)
{
	struct px_reader *r = reader_of(s, bev);

	r->want = false;
	reader_sync(r, bev);
}

/* The input was drained from its limit: reading may go on. */
static void input_cb(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	struct px_reader *r = arg;

	(void)in;
	if (info->n_deleted && info->orig_size >= HIGH_WM && r->want)
		reader_sync(r, r->up ? r->s->up : r->s->cli);
}

/* Bytes left the side's output: the bufferevent wrote them to its socket
 * (nothing else drains an output). */
static void written_cb(struct evbuffer *out, const struct evbuffer_cb_info *info, void *arg)
{
	struct px_reader *r = arg;

	(void)out;
	*(r->up ? &r->s->bytes_up : &r->s->bytes_down) += info->n_deleted;
}

/* One read into the side's input, then the same callbacks a bufferevent
 * would make: data, or EOF/error (reading stops). */
static void reader_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_reader *r = arg;
	struct px_session *s = r->s;
	struct bufferevent *bev = r->up ? s->up : s->cli;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	size_t room = len < HIGH_WM ? HIGH_WM - len : 0;
	struct evbuffer_iovec v[2];
	ssize_t n = -1;

	(void)what;
	if (room == 0) { /* full: wait for the session to drain it */
		reader_sync(r, bev);
		return;
	}
	errno = ENOMEM;
	/* a socket bufferevent keeps its input's add side frozen between its own reads */
	evbuffer_unfreeze(in, 0);
	int nv = evbuffer_reserve_space(in, (ev_ssize_t)(room < READ_CHUNK ? room : READ_CHUNK), v, 2);
	if (nv > 0)
		n = readv(fd, (struct iovec *)v, nv);
	if (n > 0) {
		size_t left = (size_t)n;
		int used = 0;
		for (; used < nv && left > 0; used++) {
			if (v[used].iov_len > left)
				v[used].iov_len = left;
			left -= v[used].iov_len;
		}
		evbuffer_commit_space(in, v, used);
	}
	evbuffer_freeze(in, 0);
	if (n > 0) {
		if ((size_t)n >= room)
			reader_sync(r, bev); /* reached the limit: pause */
		(r->up ? up_read_cb : cli_read_cb)(bev, s);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	int err = errno;
	r->want = false;
	event_del(r->ev);
	EVUTIL_SET_SOCKET_ERROR(err);
	(r->up ? up_event_cb : cli_event_cb)(bev, BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR), s);
}

/* Give bev a reader, off until read_on. Returns 0 or -ENOMEM. */
static int reader_init(struct px_session *s, struct bufferevent *bev)
{
	struct px_reader *r = reader_of(s, bev);

	r->s = s;
	r->up = bev == s->up;
	r->want = false;
	r->ev = event_new(s->srv->base, bufferevent_getfd(bev), EV_READ | EV_PERSIST, reader_cb, r);
	if (!r->ev || !evbuffer_add_cb(bufferevent_get_input(bev), input_cb, r) ||
	    !evbuffer_add_cb(bufferevent_get_output(bev), written_cb, r))
		return -ENOMEM;
	return 0;
}

static void reader_free(struct px_reader *r)
{
	if (r->ev)
		event_free(r->ev);
	r->ev = NULL;
	r->want = false;
}

/* The client's bufferevent, made when the session first needs it, with
 * pending (bytes read already) in its input. Returns 0 or -ENOMEM. */
static int cli_need(struct px_session *s, struct span pending)
{
	if (s->cli)
		return 0;
	if (!s->head && !(s->head = evbuffer_new()))
		return -ENOMEM;
	s->cli = bufferevent_socket_new(s->srv->base, s->cli_fd, BEV_OPT_CLOSE_ON_FREE);
	if (!s->cli)
		return -ENOMEM; /* the session still holds cli_fd */
	s->cli_fd = -1;
	bufferevent_setcb(s->cli, NULL, cli_write_cb, cli_event_cb, s);
	if (reader_init(s, s->cli) < 0)
		return -ENOMEM;
	if (pending.len) {
		struct evbuffer *in = bufferevent_get_input(s->cli);
		evbuffer_unfreeze(in, 0); /* as if read from the socket */
		int rc = evbuffer_add(in, pending.p, pending.len);
		evbuffer_freeze(in, 0);
		if (rc < 0)
			return -ENOMEM;
	}
	read_on(s, s->cli);
	return 0;
}

/* Make sure the client has its bufferevent; false when it could not be
 * made (the session is closed then). */
static bool cli_ready(struct px_session *s)
{
	if (s->cli)
		return true;
	if (cli_need(s, span_of(NULL, 0)) == 0)
		return true;
	session_close(s, NULL);
	return false;
}

void px_readers_drop(struct px_session *s)
{
	reader_free(&s->rcli);
	reader_free(&s->rup);
}

static void free_dial(struct px_session *s)
{
	if (!s->dial)
		return;
	int fd = event_get_fd(s->dial);
	event_free(s->dial);
	close(fd);
	s->dial = NULL;
}

static void free_up(struct px_session *s)
{
	free_dial(s);
	reader_free(&s->rup);
	if (s->up)
		bufferevent_free(s->up);
	s->up = NULL;
	s->up_key[0] = '\0';
	s->up_reusable = false;
	s->up_eof = s->up_shut = false;
}

/* Forget the name resolution in flight, if any: its callback will not run. */
static void cancel_resolve(struct px_session *s)
{
	rsv_cancel(s->query);
	s->query = NULL;
	eng_lookup_cancel(s->elookup);
	s->elookup = NULL;
}

void px_session_free(struct px_session *s)
{
	cancel_resolve(s);
	px_relay_free(s);
	free_up(s);
	reader_free(&s->rcli);
	if (s->cli)
		bufferevent_free(s->cli);
	if (s->cli_fd >= 0)
		close(s->cli_fd);
	if (s->timer)
		event_free(s->timer);
	if (s->head)
		evbuffer_free(s->head);
	LIST_REMOVE(s, link);
	s->srv->nconns--;
	pol_unref(s->pol);
	free(s);
}

static void session_close(struct px_session *s, const char *reason)
{
	struct linger lg = { 1, 0 };

	log_close(s, reason);
	if (s->reset_on_close && s->cli)
		setsockopt(bufferevent_getfd(s->cli), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	px_session_free(s);
}

void px_session_close(struct px_session *s, const char *reason)
{
	session_close(s, reason);
}

void px_session_log_close(struct px_session *s, const char *reason)
{
	log_close(s, reason);
}

/* Everything queued for the client has gone to the kernel: close. A reset
 * first waits (briefly) for the kernel to deliver it, since a reset drops
 * what is still unacknowledged: earlier answers on a kept-alive connection. */
static void drained_close(struct px_session *s)
{
	int unacked = 0;

	if (s->reset_on_close && ioctl(bufferevent_getfd(s->cli), TIOCOUTQ, &unacked) == 0 && unacked > 0 &&
	    audit_now_ms() < s->reset_by) {
		arm_timer_ms(s, 10);
		return;
	}
	session_close(s, NULL);
}

/* Close once the client has been sent everything queued for it. */
static void drain_and_close(struct px_session *s)
{
	cancel_resolve(s);
	free_up(s);
	s->phase = PX_DRAIN;
	read_off(s, s->cli);
	if (evbuffer_get_length(bufferevent_get_output(s->cli)) == 0) {
		drained_close(s);
		return;
	}
	bufferevent_setcb(s->cli, NULL, cli_write_cb, cli_event_cb, s);
	bufferevent_enable(s->cli, EV_WRITE);
	arm_timer(s, s->srv->cfg.idle_timeout_s);
}

/* A transparent connection ends with a reset: the client sees a refusal at
 * once, as from the kernel's own reject, and no HTTP it did not ask for. On
 * a kept-alive HTTP connection the answers to earlier requests arrive first. */
static void reset_close(struct px_session *s)
{
	s->reset_on_close = true;
	s->reset_by = audit_now_ms() + RESET_WAIT_MS;
	drain_and_close(s);
}

static int status_of(enum pol_reason r)
{
	switch (r) {
	case POL_BAD_REQUEST:
		return 400;
	case POL_RESOLVE_FAILED:
	case POL_CONNECT_FAILED:
		return 502;
	case POL_LIMIT:
		return 503;
	default:
		return 403;
	}
}

static const char *status_text(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	default:
		return "Error";
	}
}

static void answer(struct bufferevent *bev, int status, const char *reason, const char *line)
{
	struct evbuffer *out = bufferevent_get_output(bev);

	evbuffer_add_printf(out,
			    "HTTP/1.1 %d %s\r\nX-Sluice-Reason: %s\r\nContent-Type: text/plain\r\n"
			    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
			    status, status_text(status), reason, strlen(line) + 1, line);
}

/*
 * Deny the current request with an HTTP status: one audit record, one line on
 * stderr, an answer naming the reason and the entry that would allow it, then
 * close. Every denial of the proxy goes through here. The transparent port
 * answers only a malformed HTTP request (400); it resets the rest.
 */
static void deny_status(struct px_session *s, enum pol_reason reason, int status, const char *blocked,
			const char *detail)
{
	char hint[320], line[768], port[8] = "";
	const char *host = s->host.text[0] ? s->host.text : "?";
	struct pol_verdict v = s->verdict;

	v.reason = reason;
	if (reason == POL_BAD_REQUEST || reason == POL_RESOLVE_FAILED || reason == POL_CONNECT_FAILED ||
	    reason == POL_LIMIT || reason == POL_NO_NAME || (reason == POL_BLOCKED_ADDRESS && detail))
		snprintf(hint, sizeof(hint), "%s", detail ? detail : "no policy entry changes this");
	else
		pol_hint(&v, host, s->port, blocked, hint, sizeof(hint));
	if (s->port)
		snprintf(port, sizeof(port), ":%u", s->port);
	snprintf(line, sizeof(line), "sluice: %s %s%s denied (%s): %s", s->method[0] ? s->method : "-", host,
		 port, pol_reason_key(reason), hint);

	struct audit_rec r = audit_rec_init(s->method[0] || s->transparent ? event_name(s) : "http", "decision");
	r.session = s->id;
	r.host = s->host.text[0] ? s->host.text : NULL;
	r.port = s->port;
	r.method = s->method[0] ? s->method : NULL;
	r.addrs = reason == POL_BLOCKED_ADDRESS ? s->addrs : NULL;
	r.naddrs = s->naddrs;
	r.decision = "deny";
	r.reason = pol_reason_key(reason);
	r.rule = v.rule ? v.rule->text : NULL;
	r.dns_ms = s->dns_ms;
	r.ech = s->ech;
	audit_write_soon(s->srv->cfg.audit, &r);
	log_msg("%s", line + strlen("sluice: "));
	s->decision_logged = false;
	if (!cli_ready(s))
		return;
	if (s->transparent && !(s->http && status == 400)) {
		reset_close(s);
		return;
	}
	answer(s->cli, status, pol_reason_key(reason), line);
	drain_and_close(s);
}

/* End an allowed request that failed: its close record with reason, then
 * status with a one-line body (the transparent port: a reset). */
static void fail_request(struct px_session *s, int status, const char *reason, const char *line)
{
	log_close(s, reason);
	if (!cli_ready(s))
		return;
	if (s->transparent) {
		reset_close(s);
		return;
	}
	answer(s->cli, status, reason, line);
	drain_and_close(s);
}

static void deny(struct px_session *s, enum pol_reason reason, const char *blocked, const char *detail)
{
	deny_status(s, reason, status_of(reason), blocked, detail);
}

static void log_decision(struct px_session *s)
{
	struct audit_rec r = audit_rec_init(event_name(s), "decision");

	r.session = s->id;
	r.host = s->host.text;
	r.port = s->port;
	r.method = s->method[0] ? s->method : NULL;
	r.addrs = s->addrs;
	r.naddrs = s->naddrs;
	r.decision = decision_word(s);
	r.reason = pol_reason_key(s->report_only ? s->verdict.reason : POL_ALLOWED);
	r.rule = s->verdict.rule ? s->verdict.rule->text : NULL;
	r.dns_ms = s->dns_ms;
	r.ech = s->ech;
	audit_write_soon(s->srv->cfg.audit, &r);
	s->decision_logged = true;
	if (s->report_only)
		log_msg("report: %s %s:%u would be denied (%s)", s->method, s->host.text, s->port,
			pol_reason_key(s->verdict.reason));
}

/* ---- relaying ---------------------------------------------------------- */

/* Move n bytes of src to to. While to has nothing queued they are written at
 * once: a send the socket takes whole costs one writev and arms no write
 * event. What is left, and any error, take the bufferevent's own way (its
 * output counts what it writes: written_cb). */
static void send_from(struct px_session *s, struct bufferevent *to, struct evbuffer *src, size_t n)
{
	struct evbuffer *out = bufferevent_get_output(to);

	if (n && evbuffer_get_length(out) == 0 && (bufferevent_get_enabled(to) & EV_WRITE)) {
		int w = evbuffer_write_atmost(src, bufferevent_getfd(to), (ssize_t)n);
		if (w > 0) {
			n -= (size_t)w;
			*(to == s->up ? &s->bytes_up : &s->bytes_down) += (uint64_t)w;
		}
	}
	if (n)
		evbuffer_remove_buffer(src, out, n);
}

/* Move what from has read to to, pausing from when to is backed up. */
static void relay(struct px_session *s, struct bufferevent *from, struct bufferevent *to)
{
	struct evbuffer *in = bufferevent_get_input(from);

	send_from(s, to, in, evbuffer_get_length(in));
	if (evbuffer_get_length(bufferevent_get_output(to)) >= HIGH_WM)
		read_off(s, from);
}

/* After to's output drained: resume reading its peer; pass on a half-close. */
static void drained(struct px_session *s, struct bufferevent *to)
{
	bool to_up = to == s->up;
	struct bufferevent *peer = to_up ? s->cli : s->up;
	bool peer_eof = to_up ? s->cli_eof : s->up_eof;
	bool *shut = to_up ? &s->up_shut : &s->cli_shut;

	if (evbuffer_get_length(bufferevent_get_output(to)) != 0)
		return;
	if (peer_eof && !*shut && s->phase == PX_TUNNEL) {
		shutdown(bufferevent_getfd(to), SHUT_WR);
		*shut = true;
	}
	if (!peer_eof && peer && s->phase != PX_DRAIN)
		read_on(s, peer);
}

/* How many of in's bytes belong to body b (counted in *counter, if given);
 * -EINVAL on bad chunking. */
static long body_bytes(struct px_body *b, struct evbuffer *in, uint64_t *counter)
{
	size_t avail = evbuffer_get_length(in), n = 0;

	switch (b->kind) {
	case HTTP_BODY_NONE:
		b->done = true;
		return 0;
	case HTTP_BODY_CLOSE:
		n = avail;
		break;
	case HTTP_BODY_LENGTH:
		n = avail < b->left ? avail : (size_t)b->left;
		b->left -= n;
		b->done = b->left == 0;
		break;
	case HTTP_BODY_CHUNKED: {
		struct evbuffer_iovec v[16];
		struct evbuffer_ptr at;
		/* 16 pieces at a time, all of them: no byte waits for a read that may never come */
		while (n < avail && !b->done && evbuffer_ptr_set(in, &at, n, EVBUFFER_PTR_SET) == 0) {
			int nv = evbuffer_peek(in, -1, &at, v, 16);
			for (int i = 0; i < nv && i < 16 && !b->done; i++) {
				long used = http_chunked_scan(&b->ch, v[i].iov_base, v[i].iov_len, &b->done);
				if (used < 0)
					return -EINVAL;
				n += (size_t)used;
			}
			if (nv <= 0)
				break;
		}
		break;
	}
	}
	if (counter)
		*counter += n;
	return (long)n;
}

/* Send lead (a head, possibly empty) and then n bytes of from's input to to,
 * in one write when the socket takes them; pause from when to is backed up. */
static void send_body(struct px_session *s, struct bufferevent *from, struct bufferevent *to, size_t n)
{
	struct evbuffer *in = bufferevent_get_input(from), *lead = s->head;

	if (evbuffer_get_length(lead)) {
		evbuffer_remove_buffer(in, lead, n);
		send_from(s, to, lead, evbuffer_get_length(lead));
	} else {
		send_from(s, to, in, n);
	}
	if (evbuffer_get_length(bufferevent_get_output(to)) >= HIGH_WM)
		read_off(s, from);
}

/* ---- HTTP exchange ----------------------------------------------------- */

/* The answer is whole: once the client has been sent all of it, the close
 * record (its bytes_down then counts the whole answer) and the next request. */
static void exchange_done(struct px_session *s)
{
	s->done_pending = evbuffer_get_length(bufferevent_get_output(s->cli)) > 0;
	if (s->done_pending)
		return; /* cli_write_cb comes back here */
	log_close(s, NULL);
	bool up_clean = s->up && s->up_reusable && evbuffer_get_length(bufferevent_get_input(s->up)) == 0;
	if (!up_clean)
		free_up(s);
	if (!s->client_keep || (s->cli_eof && evbuffer_get_length(bufferevent_get_input(s->cli)) == 0)) {
		drain_and_close(s);
		return;
	}
	s->phase = PX_HEAD;
	s->bytes_up = s->bytes_down = s->resp_read = 0;
	evbuffer_drain(s->head, evbuffer_get_length(s->head));
	read_on(s, s->cli);
	arm_timer(s, s->srv->cfg.head_timeout_s);
	if (evbuffer_get_length(bufferevent_get_input(s->cli)))
		on_head(s);
}

static void maybe_done(struct px_session *s)
{
	if (s->req.done && s->resp.done && s->phase == PX_EXCHANGE)
		exchange_done(s);
}

/*
 * A request body with bad chunked framing: none of the bytes read with the
 * fault go upstream, whose connection is dropped; the close record carries
 * bad_request. The client gets 400 while no byte of an answer has gone to
 * it (on the transparent port too: the request is malformed), else a close.
 */
static void bad_body(struct px_session *s)
{
	const struct http_chunked *c = &s->req.ch;
	char line[512];

	snprintf(line, sizeof(line), "sluice: %s %s:%u denied (bad_request): %s (body byte %llu, 0x%02x)",
		 s->method, s->host.text, s->port, c->why, (unsigned long long)c->at, c->byte);
	log_msg("%s", line + strlen("sluice: "));
	free_up(s);
	if (s->resp_read) {
		session_close(s, "bad_request");
		return;
	}
	log_close(s, "bad_request");
	answer(s->cli, 400, "bad_request", line);
	drain_and_close(s);
}

/* The client stays readable for the whole exchange (no epoll change per
 * request): pipelined requests wait in its input, which its watermark bounds. */
static void forward_request_body(struct px_session *s)
{
	if (s->req.done)
		return;
	long n = body_bytes(&s->req, bufferevent_get_input(s->cli), NULL);
	if (n < 0) {
		bad_body(s);
		return;
	}
	send_body(s, s->cli, s->up, (size_t)n);
	if (!s->req.done && s->cli_eof) {
		session_close(s, "client_closed"); /* the body ended with the connection */
		return;
	}
	maybe_done(s);
}

/* Queue the response head for the client without hop-by-hop fields: it goes
 * out with the first body bytes. */
static void queue_response_head(struct px_session *s, const struct http_head *h)
{
	struct evbuffer *out = s->head; /* the request head has gone upstream */

	evbuffer_add_printf(out, "HTTP/1.1 %u %.*s\r\n", h->status, (int)h->reason.len, h->reason.p);
	for (size_t i = 0; i < h->nh; i++)
		if (!http_is_hop_by_hop(h, h->h[i].name))
			evbuffer_add_printf(out, "%.*s: %.*s\r\n", (int)h->h[i].name.len, h->h[i].name.p,
					    (int)h->h[i].value.len, h->h[i].value.p);
	if (h->status >= 200 && !s->client_keep)
		evbuffer_add(out, "Connection: close\r\n", 19);
	if (h->status == 101) /* the upgrade read_response_head accepted */
		evbuffer_add_printf(out, "Connection: upgrade\r\nUpgrade: %.*s\r\n", (int)h->upgrade.len, h->upgrade.p);
	evbuffer_add(out, "\r\n", 2);
}

/* Parse response heads (passing 1xx on) until a final one: 1, or 2 for a
 * 101 to the WebSocket upgrade the request asked for; 0 to wait. */
static int read_response_head(struct px_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->up);

	while (!s->resp_head_seen) {
		size_t len = evbuffer_get_length(in);
		if (len == 0)
			return 0;
		size_t take = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
		const char *p = (const char *)evbuffer_pullup(in, (ssize_t)take);
		struct http_head h;
		const char *why = "head too large";
		long n = http_parse_response(span_of(p, take), span_str(s->method), &h, &why);
		if (n == 0)
			return 0;
		if (n < 0) {
			log_msg("%s: bad response from %s:%u: %s", s->id, s->host.text, s->port, why);
			return -EINVAL;
		}
		if (h.status == 101 && (!s->upgrade || !span_ieq(h.upgrade, "websocket"))) {
			log_msg("%s: upstream switched protocols without a WebSocket upgrade request", s->id);
			return -EINVAL;
		}
		queue_response_head(s, &h);
		s->resp_read += (uint64_t)n;
		if (h.status == 101) { /* the rest are WebSocket frames, both ways */
			evbuffer_drain(in, (size_t)n);
			send_from(s, s->cli, s->head, evbuffer_get_length(s->head));
			s->resp_head_seen = s->resp.done = true;
			s->client_keep = s->up_reusable = false;
			return 2;
		}
		if (h.status < 200) { /* 100 Continue and the like: the client waits for it */
			send_from(s, s->cli, s->head, evbuffer_get_length(s->head));
		} else {
			s->resp_head_seen = true;
			s->resp.kind = h.body;
			s->resp.left = h.length;
			s->resp.done = h.body == HTTP_BODY_NONE;
			s->up_reusable = h.keep_alive && h.body != HTTP_BODY_CLOSE;
			if (h.body == HTTP_BODY_CLOSE)
				s->client_keep = false;
		}
		evbuffer_drain(in, (size_t)n);
	}
	return 1;
}

static void forward_response(struct px_session *s)
{
	if (!s->resp_head_seen) {
		int rc = read_response_head(s);
		if (rc < 0) {
			if (s->resp_read == 0) {
				fail_request(s, 502, "connect_failed", "sluice: invalid response from upstream");
			} else {
				session_close(s, "bad_request");
			}
			return;
		}
		if (rc == 0)
			return;
		if (rc == 2) {
			open_tunnel(s);
			return;
		}
	}
	long n = s->resp.done ? 0 : body_bytes(&s->resp, bufferevent_get_input(s->up), &s->resp_read);
	if (n < 0) {
		log_msg("%s: bad chunked response from %s", s->id, s->host.text);
		session_close(s, "bad_request");
		return;
	}
	send_body(s, s->up, s->cli, (size_t)n);
	maybe_done(s);
}

/* From now on bytes go both ways as they come: a CONNECT tunnel, the
 * transparent port's TLS or unnamed connection, or an accepted WebSocket
 * upgrade (no more HTTP requests on this connection: nothing more to decide). */
static void open_tunnel(struct px_session *s)
{
	s->phase = PX_TUNNEL;
	arm_timer(s, s->srv->cfg.idle_timeout_s);
	touch(s);
	if (s->up && evbuffer_get_length(bufferevent_get_input(s->cli)))
		relay(s, s->cli, s->up); /* sent before the tunnel opened */
	if (s->up && evbuffer_get_length(bufferevent_get_input(s->up)))
		relay(s, s->up, s->cli); /* sent with the 101 */
	if (px_relay_start(s, s->dial ? event_get_fd(s->dial) : -1) == 0) {
		if (s->dial)
			event_free(s->dial); /* fired, so not pending: the relay watches its socket now */
		s->dial = NULL;
		return;
	}
	if (!cli_ready(s))
		return;
	if (!s->up && wrap_dial(s) < 0) {
		session_close(s, NULL);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_input(s->cli)))
		relay(s, s->cli, s->up);
	bufferevent_setcb(s->up, NULL, up_write_cb, up_event_cb, s);
	read_on(s, s->up);
	read_on(s, s->cli);
}

static void start_exchange(struct px_session *s)
{
	s->phase = PX_EXCHANGE;
	s->resp_head_seen = false;
	memset(&s->resp, 0, sizeof(s->resp));
	bufferevent_setcb(s->up, NULL, up_write_cb, up_event_cb, s);
	s->resp_read = 0;
	s->done_pending = false;
	read_on(s, s->up); /* EV_WRITE is on from the start */
	send_from(s, s->up, s->head, evbuffer_get_length(s->head));
	read_on(s, s->cli);
	arm_timer(s, s->srv->cfg.idle_timeout_s);
	touch(s);
	forward_request_body(s);
}

/* ---- upstream connection ----------------------------------------------- */

static void connected(struct px_session *s)
{
	int64_t now = audit_now_ms();

	s->connect_ms = (long)(now - s->t_connect);
	s->up_eof = s->up_shut = false;
	if (!s->is_connect) {
		snprintf(s->up_key, sizeof(s->up_key), "%s:%u", s->host.text, s->port);
		start_exchange(s);
		return;
	}
	if (!s->transparent) { /* written at once: the tunnel may leave the bufferevents next */
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		size_t sent = 0;
		if (!s->cli) { /* no bufferevent yet: straight to the socket, which has sent nothing */
			ssize_t w = send(s->cli_fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL);
			sent = w > 0 ? (size_t)w : 0;
			s->bytes_down += sent;
		}
		if (sent < sizeof(ok) - 1) { /* the rest (or an error) the bufferevent's way */
			if (!cli_ready(s))
				return;
			evbuffer_add(s->head, ok + sent, sizeof(ok) - 1 - sent);
			send_from(s, s->cli, s->head, sizeof(ok) - 1 - sent);
		}
		s->down_own = sizeof(ok) - 1; /* the proxy's answer, not the tunnel's bytes */
	}
	open_tunnel(s);
}

static void connect_failed(struct px_session *s, const char *detail)
{
	free_up(s);
	if (s->next_addr < s->naddrs) {
		try_connect(s);
		return;
	}
	log_msg("%s: cannot reach %s:%u: %s", s->id, s->host.text, s->port, detail);
	char line[512];
	snprintf(line, sizeof(line), "sluice: %s:%u could not be reached (%s)", s->host.text, s->port, detail);
	fail_request(s, 502, "connect_failed", line);
}

/* A tunnel's upstream connected on its own socket, with no bufferevent (the
 * relay takes it as it is). The event asks for reading too: a failed connect
 * reports both, a good one writability alone unless bytes came already, so
 * SO_ERROR is asked only when the socket is readable. */
static void dial_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_session *s = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if ((what & EV_READ) && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		connect_failed(s, strerror(err));
		return;
	}
	connected(s);
}

/* The dialled socket in a bufferevent, for the bufferevent relay. */
static int wrap_dial(struct px_session *s)
{
	int fd = event_get_fd(s->dial);

	event_free(s->dial);
	s->dial = NULL;
	s->up = bufferevent_socket_new(s->srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!s->up) {
		close(fd);
		return -ENOMEM;
	}
	return reader_init(s, s->up);
}

/* What a connect that returned EINPROGRESS has come to already, as the
 * dial event would report it (0: still under way). A near upstream (the
 * same host, a LAN) has often answered by the time connect() returns: the
 * kernel handles the handshake's replies before it gives the socket back. */
static short dial_done(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

	if (poll(&p, 1, 0) != 1 || !(p.revents & (POLLOUT | POLLERR | POLLHUP)))
		return 0;
	return (short)(EV_WRITE | (p.revents & (POLLIN | POLLERR | POLLHUP) ? EV_READ : 0));
}

/* Connect a tunnel's upstream on a socket of its own: 1 when it connected
 * (or failed) at once and s->dial is not watched yet, 0 while under way,
 * -errno. *what says which of the two it was, as dial_cb's argument. */
static int dial(struct px_session *s, const struct sockaddr *sa, socklen_t len, short *what)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	*what = EV_WRITE;
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS) {
			int err = -errno;
			close(fd);
			return err;
		}
		*what = dial_done(fd);
	}
	s->dial = event_new(s->srv->base, fd, EV_READ | EV_WRITE, dial_cb, s);
	if (s->dial && *what)
		return 1;
	if (!s->dial || event_add(s->dial, NULL) < 0) {
		if (s->dial)
			event_free(s->dial);
		s->dial = NULL;
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

static void try_connect(struct px_session *s)
{
	struct sockaddr_storage ss;
	const struct addr *a = &s->addrs[s->next_addr++];
	socklen_t len = addr_to_sockaddr(a, s->port, &ss);
	int err = 0;
	short what = 0;

	s->phase = PX_CONNECT;
	s->t_connect = audit_now_ms();
	addr_format(a, s->remote, sizeof(s->remote));
	if (s->is_connect) { /* a tunnel: relayed off the bufferevents once connected */
		int rc = dial(s, (struct sockaddr *)&ss, len, &what);
		if (rc == 1) {
			dial_cb(event_get_fd(s->dial), what, s); /* no loop pass for a known outcome */
			return;
		}
		err = -rc;
	} else {
		s->up = bufferevent_socket_new(s->srv->base, -1, BEV_OPT_CLOSE_ON_FREE);
		if (!s->up) {
			connect_failed(s, "out of memory");
			return;
		}
		bufferevent_setcb(s->up, NULL, NULL, up_event_cb, s);
		if (bufferevent_socket_connect(s->up, (struct sockaddr *)&ss, (int)len) < 0)
			err = errno;
		else if (reader_init(s, s->up) < 0)
			err = ENOMEM;
	}
	if (err == EMFILE || err == ENFILE) {
		free_up(s);
		fail_request(s, 503, "limit", "sluice: out of file descriptors, try again");
		return;
	}
	if (err) {
		connect_failed(s, err == ENOMEM ? "out of memory" : strerror(err));
		return;
	}
	if (!cli_ready(s)) /* the loop comes back: the client is watched meanwhile */
		return;
	arm_timer(s, s->srv->cfg.connect_timeout_s);
}

static void proceed(struct px_session *s, const struct addr *in, size_t n)
{
	char blocked[ADDR_TEXT_MAX];
	const struct addr *first_blocked;

	s->next_addr = 0;
	s->naddrs = pol_vet(s->pol, in, n, s->port, s->addrs, &first_blocked);
	if (s->naddrs == 0 && !first_blocked) {
		deny(s, POL_RESOLVE_FAILED, NULL, "no address");
		return;
	}
	if (s->naddrs == 0) {
		addr_format(first_blocked, blocked, sizeof(blocked));
		/* log the answers that were refused, so the auditor sees the rebinding */
		for (size_t i = 0; i < n && i < RSV_MAX_ADDRS; i++)
			s->addrs[i] = in[i];
		s->naddrs = n;
		deny(s, POL_BLOCKED_ADDRESS, blocked, NULL);
		return;
	}
	log_decision(s);
	if (s->up && strcmp(s->up_key, "") != 0) {
		char key[sizeof(s->up_key)];
		snprintf(key, sizeof(key), "%s:%u", s->host.text, s->port);
		if (strcmp(key, s->up_key) == 0 && !s->is_connect) {
			s->connect_ms = 0;
			start_exchange(s);
			return;
		}
	}
	free_up(s);
	try_connect(s);
}

static void resolved_cb(const struct rsv_result *res, void *arg)
{
	struct px_session *s = arg;

	s->query = NULL;
	s->elookup = NULL;
	s->dns_ms = (long)(audit_now_ms() - s->t_dns);
	if (res->naddrs == 0 && res->nrefused) {
		/* only addresses the engine's client took out (engine.h: on none
		 * of the container's networks): blocked, logged with the first */
		char blocked[ADDR_TEXT_MAX];
		addr_format(&res->refused, blocked, sizeof(blocked));
		s->addrs[0] = res->refused;
		s->naddrs = 1;
		char detail[300];
		snprintf(detail, sizeof(detail), "Docker's DNS gave %s, on none of the container's networks or the "
			 "host's own (forged from inside it?); no policy entry changes this", blocked);
		deny(s, POL_BLOCKED_ADDRESS, blocked, detail);
		return;
	}
	if (res->status < 0) {
		char detail[300];
		snprintf(detail, sizeof(detail), "%s did not resolve (%s)", s->host.text,
			 res->status == -ENOENT ? "no such name or no address" :
			 res->status == -ETIMEDOUT ? "timed out" : "resolver error");
		deny(s, POL_RESOLVE_FAILED, NULL, detail);
		return;
	}
	proceed(s, res->addrs, res->naddrs);
}

/* ---- decision ---------------------------------------------------------- */

/* A transparent connection named by a single-label name (a container's
 * service, which only the container engine's resolver knows): the address
 * the DNS stub handed out for that very name, which is where the
 * connection was made to. NULL otherwise: the name is resolved (resolve()). */
static const struct addr *engine_bound(struct px_session *s)
{
	const struct px_config *cfg = &s->srv->cfg;
	const char *names[BND_MAX_NAMES];

	if (!s->transparent || !cfg->bindings || !host_single_label(&s->host))
		return NULL;
	size_t n = bnd_find(cfg->bindings, &s->orig, names, BND_MAX_NAMES);
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], s->host.text) == 0)
			return &s->orig;
	return NULL;
}

/* Resolve s->host: a single-label name (a container's service; the
 * internet has none) by the container engine's resolver when the session
 * serves one, never the shared resolver, whose cache every container's
 * answers would share; every other name by the shared resolver. Either
 * way the addresses are vetted in proceed(). */
static void resolve(struct px_session *s)
{
	const struct px_config *cfg = &s->srv->cfg;
	struct rsv_result now;
	int rc;

	s->phase = PX_RESOLVE;
	s->t_dns = audit_now_ms();
	if (cfg->engine && host_single_label(&s->host)) {
		rc = eng_lookup(cfg->engine, s->host.text, resolved_cb, s, &s->elookup);
		if (rc < 0) {
			deny(s, POL_RESOLVE_FAILED, NULL,
			     rc == -EAGAIN ? "the container's DNS has too many lookups in flight" : "no name to ask");
			return;
		}
	} else {
		rc = rsv_lookup(cfg->rsv, s->host.text, &now, resolved_cb, s, &s->query);
		if (rc == 1) {
			resolved_cb(&now, s);
			return;
		}
		if (rc < 0) {
			deny(s, POL_RESOLVE_FAILED, NULL, "resolver unavailable");
			return;
		}
	}
	if (cli_ready(s)) /* closed, it cancels the lookup */
		arm_timer(s, cfg->connect_timeout_s * 3);
}

/* Policy on s->host and s->port, then resolve (or, when known is given, dial
 * that address: the transparent port's DNS binding). */
static void decide(struct px_session *s, const struct addr *known)
{
	const struct px_config *cfg = &s->srv->cfg;

	if (!audit_ok(cfg->audit)) {
		fail_request(s, 503, "limit", "sluice: the audit log cannot be written; refusing new requests");
		return;
	}
	pol_decide(s->pol, &s->host, s->port, &s->verdict);
	s->report_only = false;
	if (!s->verdict.allow) {
		/* report mode relaxes the allowlist, never the metadata or address blocks */
		if (s->pol->mode != POL_REPORT || s->verdict.reason == POL_METADATA_HOST) {
			deny(s, s->verdict.reason, NULL, NULL);
			return;
		}
		s->report_only = true;
	}
	s->dns_ms = -1;
	s->connect_ms = -1;
	if (!known)
		known = engine_bound(s);
	/* a registry's TLS is the package cache's: upstream is dialed only for a miss */
	if (!known && s->is_connect && !(s->transparent && s->http) && px_cache_wants(cfg, s->pol, &s->host, s->port, true)) {
		if (!cli_ready(s) || px_cx_take(s, true) == 0)
			return;
	}
	if (known) {
		proceed(s, known, 1);
		return;
	}
	if (s->host.kind == HOST_IP) {
		proceed(s, &s->host.ip, 1);
		return;
	}
	resolve(s);
}

/* "http://authority/path?query" → host, port, and origin-form in *path.
 * Returns -EPROTO for an unusable target, -EINVAL for an unusable host. */
static int parse_absolute(struct px_session *s, struct span target, struct span *path, const char **why)
{
	if (target.len < 7 || !span_ieq(span_sub(target, 0, 7), "http://")) {
		*why = "only absolute http:// targets and CONNECT are proxied";
		return -EPROTO;
	}
	struct span rest = span_sub(target, 7, target.len);
	size_t end = 0;
	while (end < rest.len && rest.p[end] != '/' && rest.p[end] != '?' && rest.p[end] != '#')
		end++;
	struct span auth = span_sub(rest, 0, end);
	*path = span_sub(rest, end, rest.len);
	if (span_find(auth, '@') >= 0) {
		*why = "userinfo in the request target";
		return -EPROTO;
	}
	if (span_find(*path, '#') >= 0) {
		*why = "fragment in the request target";
		return -EPROTO;
	}
	return host_parse_authority(auth, 80, &s->host, &s->port, why);
}

/* A transparent request's authority: an origin-form target's Host, or an
 * absolute-form target's authority (RFC 9112 3.2.2), on the port the client
 * connected to. Returns as parse_absolute. */
static int transparent_authority(struct px_session *s, const struct http_head *h, struct span *path,
				 const char **why)
{
	int rc;

	if (h->target.len && h->target.p[0] == '/') {
		struct span host = http_header_value(h, "host");
		if (!host.p) {
			*why = "no Host header to name the request by";
			return -EPROTO;
		}
		*path = h->target;
		rc = host_parse_authority(host, s->orig_port, &s->host, &s->port, why);
	} else if (h->target.len >= 7 && span_ieq(span_sub(h->target, 0, 7), "http://")) {
		rc = parse_absolute(s, h->target, path, why);
	} else {
		*why = "the transparent port takes origin-form and http:// targets";
		return -EPROTO;
	}
	if (rc == 0 && s->port != s->orig_port) {
		*why = "the request names another port than the one connected to";
		return -EPROTO;
	}
	return rc;
}

/* Where a request goes (s->host, s->port) and, for HTTP, its origin-form
 * path. Returns as parse_absolute. */
static int request_authority(struct px_session *s, const struct http_head *h, struct span *path,
			     const char **why)
{
	if (s->transparent)
		return transparent_authority(s, h, path, why);
	if (s->is_connect)
		return host_parse_authority(h->target, 0, &s->host, &s->port, why);
	return parse_absolute(s, h->target, path, why);
}

/* The host of an unusable request as the client wrote it, for the record:
 * the Host header's value (transparent), or the target without ":port". */
static void requested_host(struct px_session *s, const struct http_head *h)
{
	struct span t = s->transparent ? http_header_value(h, "host") : h->target;
	long colon = span_rfind(t, ':');
	unsigned long ignored;

	if (!t.p)
		return;
	if ((s->is_connect || s->transparent) && colon > 0 &&
	    (t.p[colon - 1] == ']' || span_find(t, ':') == colon) &&
	    span_to_uint(span_sub(t, (size_t)colon + 1, t.len), 1, 65535, &ignored) == 0)
		t.len = (size_t)colon;
	span_copy(t, s->host.text, sizeof(s->host.text));
}

/* The head sent upstream: origin-form, Host forced to the authority. */
static void build_request(struct px_session *s, const struct http_head *h, struct span path)
{
	struct evbuffer *b = s->head;
	bool v6 = s->host.kind == HOST_IP && s->host.ip.family == AF_INET6;

	evbuffer_add_printf(b, "%s %s%.*s HTTP/1.1\r\nHost: %s%s%s", s->method,
			    path.len && path.p[0] == '/' ? "" : "/", (int)path.len, path.p, v6 ? "[" : "",
			    s->host.text, v6 ? "]" : "");
	if (s->port != 80)
		evbuffer_add_printf(b, ":%u", s->port);
	evbuffer_add(b, "\r\n", 2);
	for (size_t i = 0; i < h->nh; i++) {
		struct span n = h->h[i].name;
		if (span_ieq(n, "host") || http_is_hop_by_hop(h, n))
			continue;
		evbuffer_add_printf(b, "%.*s: %.*s\r\n", (int)n.len, n.p, (int)h->h[i].value.len,
				    h->h[i].value.p);
	}
	if (s->upgrade)
		evbuffer_add_printf(b, "Connection: upgrade\r\nUpgrade: websocket\r\n");
	evbuffer_add(b, "\r\n", 2);
}

/* A request head in b: the client's input, or (no bufferevent yet) the
 * bytes its first read took. Without a bufferevent only a whole CONNECT
 * head with nothing after it goes on; anything else gets one first. */
static void on_head_bytes(struct px_session *s, struct span b)
{
	struct http_head h;
	const char *why = "request head too large";

	long n = http_parse_request(b, &h, &why);
	bool bare_connect = n > 0 && (size_t)n == b.len && h.method.len == 7 && memcmp(h.method.p, "CONNECT", 7) == 0;
	if (!s->cli && !bare_connect && cli_need(s, b) < 0) {
		session_close(s, NULL);
		return;
	}
	if (n == 0)
		return;
	s->t_start = audit_now_ms();
	s->host.text[0] = '\0';
	s->method[0] = '\0';
	s->port = s->transparent ? s->orig_port : 0;
	s->naddrs = 0;
	s->dns_ms = -1;
	s->upgrade = false;
	memset(&s->verdict, 0, sizeof(s->verdict));
	if (n < 0) {
		s->is_connect = false;
		deny(s, POL_BAD_REQUEST, NULL, why);
		return;
	}
	span_copy(h.method, s->method, sizeof(s->method));
	s->is_connect = !s->transparent && strcmp(s->method, "CONNECT") == 0;
	struct span path = { NULL, 0 };
	int rc = request_authority(s, &h, &path, &why);
	if (rc < 0) {
		requested_host(s, &h);
		/* a well-framed request for an unusable host is a policy answer (403) */
		deny_status(s, POL_BAD_REQUEST, rc == -EINVAL ? 403 : 400, NULL, why);
		return;
	}
	if (s->is_connect && h.body != HTTP_BODY_NONE) {
		deny(s, POL_BAD_REQUEST, NULL, "CONNECT with a body");
		return;
	}
	if (!s->is_connect && px_cache_wants(&s->srv->cfg, s->pol, &s->host, s->port, false) && px_cx_take(s, false) == 0)
		return; /* a plain registry request: the cache reads it, from the head on */
	if (!s->is_connect) {
		/* WebSocket only: an upgrade to h2c or the like would carry requests
		 * for other hosts undecided; every other Upgrade is dropped, as before */
		s->upgrade = span_ieq(h.upgrade, "websocket") && span_ieq(h.method, "GET");
		build_request(s, &h, path);
		s->req.kind = h.body;
		s->req.left = h.length;
		s->req.done = h.body == HTTP_BODY_NONE;
		memset(&s->req.ch, 0, sizeof(s->req.ch));
		s->client_keep = h.keep_alive && h.minor == 1;
	}
	if (s->cli)
		evbuffer_drain(bufferevent_get_input(s->cli), (size_t)n);
	decide(s, NULL);
}

static void on_head(struct px_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->cli);
	size_t len = evbuffer_get_length(in);
	size_t take = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;

	on_head_bytes(s, span_of((const char *)evbuffer_pullup(in, (ssize_t)take), take));
}

/* ---- the transparent port ------------------------------------------------ */

#define PEEK_MS 300 /* no bytes by then: a server-speaks-first protocol */
/* linux/netfilter_ipv4.h and ip6_tables.h clash with the libc headers */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

enum peek { PEEK_TLS, PEEK_TLS_UNNAMED, PEEK_TLS_AMBIGUOUS, PEEK_HTTP, PEEK_OTHER };

/* What a connection's first bytes are: PEEK_TLS with the server name in
 * sni, PEEK_TLS_UNNAMED (a ClientHello without one: the binding names it),
 * PEEK_TLS_AMBIGUOUS (two names, or a repeated extension: refused),
 * PEEK_HTTP (every request names itself), PEEK_OTHER (the binding names
 * it), or -EAGAIN when more bytes could tell. sni->ech says the hello was
 * encrypted. To port 80 whatever is not TLS is HTTP: there an HTTP server
 * reads it, however odd it looks. */
static int peek_kind(struct span b, bool port80, struct px_sni *sni)
{
	memset(sni, 0, sizeof(*sni));
	if (b.len == 0)
		return -EAGAIN;
	if ((uint8_t)b.p[0] == 0x16) {
		switch (px_sni_read(b, sni)) {
		case 0: return PEEK_TLS;
		case -EAGAIN: return -EAGAIN;
		case -ENOENT: return PEEK_TLS_UNNAMED;
		case -ENOTUNIQ: return PEEK_TLS_AMBIGUOUS;
		default: return PEEK_OTHER;
		}
	}
	int http = http_sniff_request(b);
	if (http == 1 || port80)
		return PEEK_HTTP;
	return http < 0 ? http : PEEK_OTHER;
}

/* No name in the bytes: the DNS stub's binding for the original address,
 * else an IP/CIDR entry for the address itself, else no_name. */
static void transparent_unnamed(struct px_session *s)
{
	const struct px_config *cfg = &s->srv->cfg;
	const char *names[BND_MAX_NAMES];
	size_t n = cfg->bindings ? bnd_find(cfg->bindings, &s->orig, names, BND_MAX_NAMES) : 0;
	const char *why;
	struct pol_verdict v;

	for (size_t i = 0; i < n; i++) {
		if (host_canonicalize(span_str(names[i]), &s->host, &why) < 0)
			continue;
		pol_decide(s->pol, &s->host, s->port, &v);
		if (v.allow || i + 1 == n) {
			decide(s, &s->orig); /* dial the address the stub handed out */
			return;
		}
	}
	s->host.kind = HOST_IP;
	s->host.ip = s->orig;
	addr_format(&s->orig, s->host.text, sizeof(s->host.text));
	pol_decide(s->pol, &s->host, s->port, &v);
	if (v.allow) {
		decide(s, NULL);
		return;
	}
	deny(s, POL_NO_NAME, NULL, "no TLS server name, HTTP Host or DNS answer names this address");
}

static void on_peek(struct px_session *s, bool timed_out)
{
	struct evbuffer *in = bufferevent_get_input(s->cli);
	size_t len = evbuffer_get_length(in), max = PX_SNI_MAX_HELLO + 5;
	size_t take = len < max ? len : max;
	struct span b = span_of((const char *)evbuffer_pullup(in, (ssize_t)take), take);
	struct px_sni sni;
	const char *why;
	bool port80 = s->orig_port == 80;
	int rc = peek_kind(b, port80, &sni);

	if (rc == -EAGAIN && take < max) {
		if (!timed_out)
			return;
		/* bytes have started (or, to port 80, must come: an HTTP client
		 * speaks first): give them the head timeout */
		if ((len > 0 || port80) && !s->peek_extended) {
			s->peek_extended = true;
			arm_timer(s, s->srv->cfg.head_timeout_s);
			return;
		}
		if (len == 0 && port80) {
			session_close(s, NULL); /* no request came: as the explicit proxy's head timeout */
			return;
		}
	}
	evtimer_del(s->timer);
	if (rc == PEEK_HTTP) { /* decided request by request, as the explicit proxy's */
		s->http = true;
		s->is_connect = false;
		s->phase = PX_HEAD;
		if (!s->peek_extended)
			arm_timer(s, s->srv->cfg.head_timeout_s);
		on_head(s);
		return;
	}
	read_off(s, s->cli); /* the bytes stay queued for upstream */
	s->t_start = audit_now_ms();
	s->dns_ms = -1;
	s->ech = sni.ech;
	if (rc == PEEK_TLS_AMBIGUOUS) {
		deny(s, POL_BAD_REQUEST, NULL, "the ClientHello names more than one server or repeats an extension");
		return;
	}
	if (sni.ech && !s->pol->ech_allow) {
		if (sni.name[0] && host_canonicalize(span_str(sni.name), &s->host, &why) < 0)
			s->host.text[0] = '\0';
		deny(s, POL_NO_NAME, NULL,
		     "an encrypted ClientHello hides the server's name (the policy's ech: allow decides it by the outer name)");
		return;
	}
	if (rc != PEEK_TLS) {
		transparent_unnamed(s);
		return;
	}
	if (host_canonicalize(span_str(sni.name), &s->host, &why) < 0) {
		span_copy(span_str(sni.name), s->host.text, sizeof(s->host.text));
		deny(s, POL_BAD_REQUEST, NULL, why);
		return;
	}
	decide(s, NULL);
}

/* The original destination of a redirected connection. */
static int original_dst(int fd, struct addr *a, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len) < 0) {
		len = sizeof(ss);
		if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len) < 0)
			return -errno;
	}
	return addr_from_sockaddr((struct sockaddr *)&ss, a, port);
}

/* ---- callbacks --------------------------------------------------------- */

static void cli_read_cb(struct bufferevent *bev, void *arg)
{
	struct px_session *s = arg;

	(void)bev;
	touch(s);
	switch (s->phase) {
	case PX_PEEK:
		on_peek(s, false);
		break;
	case PX_HEAD:
		on_head(s);
		break;
	case PX_TUNNEL:
		relay(s, s->cli, s->up);
		break;
	case PX_EXCHANGE:
		forward_request_body(s);
		break;
	case PX_RESOLVE:
	case PX_CONNECT:
		break; /* bytes sent early wait in the input for the tunnel or the exchange */
	default:
		read_off(s, s->cli);
		break;
	}
}

static void up_read_cb(struct bufferevent *bev, void *arg)
{
	struct px_session *s = arg;

	(void)bev;
	touch(s);
	if (s->phase == PX_TUNNEL)
		relay(s, s->up, s->cli);
	else if (s->phase == PX_EXCHANGE)
		forward_response(s);
	else
		read_off(s, s->up);
}

static void cli_write_cb(struct bufferevent *bev, void *arg)
{
	struct px_session *s = arg;

	if (s->phase == PX_DRAIN) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			drained_close(s);
		return;
	}
	if (s->phase == PX_EXCHANGE && s->done_pending) {
		touch(s);
		exchange_done(s);
		return;
	}
	drained(s, s->cli);
	if (s->phase == PX_TUNNEL && s->cli_eof && s->up_eof && s->up_shut && s->cli_shut)
		session_close(s, NULL);
}

static void up_write_cb(struct bufferevent *bev, void *arg)
{
	struct px_session *s = arg;

	(void)bev;
	drained(s, s->up);
	if (s->phase == PX_TUNNEL && s->cli_eof && s->up_eof && s->up_shut && s->cli_shut)
		session_close(s, NULL);
}

/* One side of a tunnel reached EOF: pass the half-close on once flushed. */
static void tunnel_eof(struct px_session *s, bool from_client)
{
	if (from_client) {
		s->cli_eof = true;
		relay(s, s->cli, s->up);
		drained(s, s->up);
	} else {
		s->up_eof = true;
		relay(s, s->up, s->cli);
		drained(s, s->cli);
	}
	if (s->cli_eof && s->up_eof && s->up_shut && s->cli_shut)
		session_close(s, NULL);
}

static void cli_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct px_session *s = arg;

	(void)bev;
	if ((what & BEV_EVENT_EOF) && s->phase == PX_TUNNEL) {
		tunnel_eof(s, true);
		return;
	}
	/* a half-close after a whole request: answer it (or open its tunnel,
	 * which passes the half-close on), then close */
	if ((what & BEV_EVENT_EOF) && (!s->transparent || s->http) &&
	    (s->phase == PX_RESOLVE || s->phase == PX_CONNECT || (s->phase == PX_EXCHANGE && s->req.done))) {
		s->cli_eof = true;
		return;
	}
	/* error, or EOF outside a tunnel: the client is gone (its close record,
	 * if the request was allowed, says so) */
	session_close(s, "client_closed");
}

static void up_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct px_session *s = arg;

	(void)bev;
	if (s->phase == PX_CONNECT) {
		if (what & BEV_EVENT_CONNECTED)
			connected(s);
		else
			connect_failed(s, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return;
	}
	if (s->phase == PX_TUNNEL && (what & BEV_EVENT_EOF)) {
		tunnel_eof(s, false);
		return;
	}
	if (s->phase == PX_EXCHANGE && s->done_pending) {
		free_up(s); /* the answer is whole; the client is still being sent it */
		return;
	}
	if (s->phase == PX_EXCHANGE && (what & BEV_EVENT_EOF) && s->resp_head_seen &&
	    s->resp.kind == HTTP_BODY_CLOSE) {
		long n = body_bytes(&s->resp, bufferevent_get_input(s->up), &s->resp_read);
		send_body(s, s->up, s->cli, n > 0 ? (size_t)n : 0);
		s->resp.done = true;
		s->req.done = true;
		s->client_keep = false;
		s->up_reusable = false;
		maybe_done(s);
		return;
	}
	if (s->phase == PX_HEAD || s->phase == PX_DRAIN) {
		free_up(s); /* an idle kept-alive upstream went away */
		return;
	}
	if (s->phase == PX_EXCHANGE && !s->resp_head_seen && s->resp_read == 0) {
		fail_request(s, 502, "connect_failed", "sluice: upstream closed the connection without answering");
		return;
	}
	session_close(s, NULL);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_session *s = arg;
	const struct px_config *cfg = &s->srv->cfg;

	(void)fd;
	(void)what;
	switch (s->phase) {
	case PX_RESOLVE:
		cancel_resolve(s);
		deny(s, POL_RESOLVE_FAILED, NULL, "name resolution timed out");
		return;
	case PX_CONNECT:
		connect_failed(s, "connect timed out");
		return;
	case PX_TUNNEL:
	case PX_EXCHANGE: {
		int64_t idle = audit_now_ms() - s->last_active;
		if (idle < (int64_t)cfg->idle_timeout_s * 1000) {
			arm_timer(s, (unsigned)((cfg->idle_timeout_s * 1000 - idle) / 1000 + 1));
			return;
		}
		session_close(s, "limit");
		return;
	}
	case PX_PEEK:
		on_peek(s, true);
		return;
	case PX_DRAIN:
		if (s->reset_on_close && evbuffer_get_length(bufferevent_get_output(s->cli)) == 0)
			drained_close(s); /* waiting for the kernel to deliver before the reset */
		else
			session_close(s, NULL); /* drain timeout */
		return;
	default:
		session_close(s, NULL);
		return;
	}
}

/* "%08x-%llu" of the server's epoch and the session's number, without the
 * printf it cost (over a thousand instructions a session). */
static void session_id(char out[32], unsigned epoch, unsigned long long n)
{
	static const char hexd[] = "0123456789abcdef";
	char num[24], *e = num + sizeof(num), *p = e;

	for (int i = 0; i < 8; i++)
		out[i] = hexd[(epoch >> (28 - 4 * i)) & 15];
	out[8] = '-';
	do
		*--p = (char)('0' + n % 10);
	while (n /= 10);
	memcpy(out + 9, p, (size_t)(e - p));
	out[9 + (e - p)] = '\0';
}

/* A session for an accepted client, or NULL (the fd is closed); lazy: its
 * bufferevent is made when first needed (cli_need). */
static struct px_session *session_new(struct px_server *srv, const struct policy *pol, evutil_socket_t fd,
				      bool lazy)
{
	struct px_session *s = calloc(1, sizeof(*s));

	if (!s) {
		px_refuse_fd(fd, 503, "limit");
		return NULL;
	}
	s->srv = srv;
	s->phase = PX_HEAD; /* an explicit proxy's client: the transparent start peeks first */
	s->pol = pol_ref(pol);
	srv->nconns++;
	LIST_INSERT_HEAD(&srv->sessions, s, link);
	session_id(s->id, srv->epoch, ++srv->next_id);
	s->cli_fd = fd; /* px_session_free closes it until a bufferevent takes it */
	s->timer = evtimer_new(srv->base, timer_cb, s);
	s->dns_ms = s->connect_ms = -1;
	if (!s->timer || (!lazy && cli_need(s, span_of(NULL, 0)) < 0)) {
		px_session_free(s);
		return NULL;
	}
	return s;
}

void px_session_start(struct px_server *srv, evutil_socket_t fd, const struct sockaddr *sa, bool has_data)
{
	struct px_session *s = session_new(srv, srv->cfg.pol, fd, has_data);

	(void)sa;
	if (!s)
		return;
	arm_timer(s, srv->cfg.head_timeout_s);
	if (!has_data)
		return;
	/* the request is there: read now, one loop pass less than waiting for
	 * the event, into a plain buffer (a CONNECT tunnelled at once never
	 * makes the bufferevent) */
	ssize_t n = recv(fd, head_buf, sizeof(head_buf), 0);
	if (n <= 0) {
		if (cli_ready(s)) /* EOF, an error, or nothing after all: the reader's own way */
			reader_cb(fd, EV_READ, &s->rcli);
		return;
	}
	touch(s);
	on_head_bytes(s, span_of(head_buf, (size_t)n));
}

void px_session_resume(struct px_server *srv, const struct policy *pol, evutil_socket_t fd,
		       struct evbuffer *pending)
{
	struct px_session *s = session_new(srv, pol, fd, false);

	if (!s)
		return;
	struct evbuffer *in = bufferevent_get_input(s->cli);
	evbuffer_unfreeze(in, 0); /* as if read from the socket */
	evbuffer_add_buffer(in, pending);
	evbuffer_freeze(in, 0);
	arm_timer(s, srv->cfg.head_timeout_s);
	on_head(s);
}

void px_session_start_transparent(struct px_server *srv, evutil_socket_t fd)
{
	struct px_session *s = session_new(srv, srv->cfg.pol, fd, false);

	if (!s)
		return;
	s->transparent = true;
	s->is_connect = true; /* once decided, relayed as a tunnel (unless it speaks HTTP) */
	s->phase = PX_PEEK;
	if (original_dst(fd, &s->orig, &s->orig_port) < 0) {
		deny(s, POL_BAD_REQUEST, NULL, "no original destination");
		return;
	}
	s->port = s->orig_port;
	arm_timer_ms(s, PEEK_MS);
}
