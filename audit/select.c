/* select.c: the review filters. Times are RFC 3339 or a span back from now
 * (90s, 30m, 24h, 7d, 2w); a host pattern is a name or "*.suffix" (any
 * depth below it, as in a policy) or "*". */
#include "select.h"

#include <errno.h>
#include <string.h>

void alog_filter_init(struct alog_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->since = INT64_MIN;
	f->until = INT64_MAX;
}

int alog_filter_server(struct alog_filter *f, const char *v, const char **why)
{
	if (f->nservers == ALOG_FILTER_MAX || !*v) {
		*why = !*v ? "an empty server name" : "too many --server";
		return -EINVAL;
	}
	f->servers[f->nservers++] = v;
	return 0;
}

static int relative(const char *v, int64_t now_ms, int64_t *out)
{
	static const struct { char unit; int64_t ms; } units[] = {
		{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 }, { 'w', 604800000 },
	};
	size_t n = strlen(v);
	unsigned long x;

	if (n < 2 || span_to_uint(span_of(v, n - 1), 0, 100000000, &x) < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (v[n - 1] == units[i].unit) {
			*out = now_ms - (int64_t)x * units[i].ms;
			return 0;
		}
	return -EINVAL;
}

int alog_filter_time(struct alog_filter *f, bool since, const char *v, int64_t now_ms, const char **why)
{
	int64_t t;

	if (alog_parse_time(span_str(v), &t) < 0 && relative(v, now_ms, &t) < 0) {
		*why = "not an RFC 3339 time or a span like 24h or 7d";
		return -EINVAL;
	}
	if (since)
		f->since = t;
	else
		f->until = t;
	return 0;
}

int alog_filter_host(struct alog_filter *f, const char *v, const char **why)
{
	struct host h;

	f->host_set = true;
	if (strcmp(v, "*") == 0) {
		f->host_any = true;
		return 0;
	}
	f->host_suffix = strncmp(v, "*.", 2) == 0;
	if (host_canonicalize(span_str(v + (f->host_suffix ? 2 : 0)), &h, why) < 0)
		return -EINVAL;
	if (f->host_suffix && h.kind != HOST_NAME) {
		*why = "*. before an address";
		return -EINVAL;
	}
	memcpy(f->host, h.text, sizeof(f->host));
	return 0;
}

static int bit_of(int k, unsigned *bits, const char **why, const char *msg)
{
	if (k < 0) {
		*why = msg;
		return -EINVAL;
	}
	*bits |= 1u << k;
	return 0;
}

int alog_filter_decision(struct alog_filter *f, const char *v, const char **why)
{
	return bit_of(alog_decision_of(span_str(v)), &f->decisions, why, "not allow, deny or would_deny");
}

int alog_filter_event(struct alog_filter *f, const char *v, const char **why)
{
	return bit_of(alog_event_of(span_str(v)), &f->events, why,
		      "not connect, http, transparent, dns or packet");
}

bool alog_filter_host_match(const struct alog_filter *f, struct span h)
{
	size_t sl = strlen(f->host);

	if (!f->host_set || f->host_any)
		return !f->host_set || h.len > 0;
	if (!f->host_suffix)
		return h.len == sl && span_ieq(h, f->host);
	return h.len > sl + 1 && h.p[h.len - sl - 1] == '.' && span_ieq(span_sub(h, h.len - sl, sl), f->host);
}

static bool server_match(const struct alog_filter *f, struct span s)
{
	if (!f->nservers)
		return true;
	for (size_t i = 0; i < f->nservers; i++)
		if (strlen(f->servers[i]) == s.len && memcmp(f->servers[i], s.p, s.len) == 0)
			return true;
	return false;
}

bool alog_filter_match(const struct alog_filter *f, const struct alog_rec *r)
{
	if (r->ts_ms < f->since || r->ts_ms >= f->until)
		return false;
	if (f->events && !(f->events & 1u << r->event))
		return false;
	if (f->decisions && !(f->decisions & 1u << r->decision))
		return false;
	return server_match(f, r->server) && (!f->host_set || alog_filter_host_match(f, r->host));
}
