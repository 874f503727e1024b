/* format_check.c: the audit writer's old way, a jansson object dumped with
 * JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII, kept only in the
 * checking builds (SLUICE_AUDIT_CHECK: the ASan and fuzz builds), where
 * audit_write formats every record both ways and stops the process when the
 * two differ by one byte. Every record any test writes is checked so. */
#include "format.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Untrusted text that is not valid UTF-8 is kept, with odd bytes as \xNN. */
static json_t *safe_string(const char *v)
{
	json_t *s = json_string(v);

	if (s)
		return s;
	size_t n = strlen(v);
	char *buf = malloc(n * 4 + 1), *w = buf;
	if (!buf)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c >= 0x20 && c < 0x7f)
			*w++ = (char)c;
		else
			w += sprintf(w, "\\x%02x", c);
	}
	*w = '\0';
	s = json_string(buf);
	free(buf);
	return s;
}

static void put_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, safe_string(v));
}

static void put_ms(json_t *o, const char *key, long v)
{
	if (v >= 0)
		json_object_set_new(o, key, json_integer(v));
}

static json_t *build(const char *ts, const char *server, const struct audit_rec *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "ts", json_string(ts));
	put_str(o, "event", r->event);
	put_str(o, "phase", r->phase);
	put_str(o, "server", server);
	put_str(o, "session", r->session);
	put_str(o, "host", r->host);
	if (r->port)
		json_object_set_new(o, "port", json_integer(r->port));
	put_str(o, "sni", r->sni);
	put_str(o, "method", r->method);
	if (r->addrs) {
		json_t *arr = json_array();
		for (size_t i = 0; i < r->naddrs; i++) {
			char t[ADDR_TEXT_MAX];
			addr_format(&r->addrs[i], t, sizeof(t));
			json_array_append_new(arr, json_string(t));
		}
		json_object_set_new(o, "addrs", arr);
	}
	put_str(o, "remote", r->remote);
	put_str(o, "decision", r->decision);
	put_str(o, "reason", r->reason);
	put_str(o, "rule", r->rule);
	if (r->has_bytes) {
		json_object_set_new(o, "bytes_up", json_integer((json_int_t)r->bytes_up));
		json_object_set_new(o, "bytes_down", json_integer((json_int_t)r->bytes_down));
	}
	put_ms(o, "duration_ms", r->duration_ms);
	put_ms(o, "dns_ms", r->dns_ms);
	put_ms(o, "connect_ms", r->connect_ms);
	put_str(o, "qtype", r->qtype);
	put_str(o, "rcode", r->rcode);
	put_str(o, "protocol", r->protocol);
	put_str(o, "cache", r->cache);
	put_str(o, "package", r->package);
	if (r->ech)
		json_object_set_new(o, "ech", json_true());
	return o;
}

char *audit_format_jansson(const char *ts, const char *server, const struct audit_rec *r)
{
	json_t *o = build(ts, server, r);
	char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;

	json_decref(o);
	return line;
}
