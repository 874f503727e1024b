/* metrics.h: counters for Prometheus, fed from the audit log's records, and
 * the loopback HTTP endpoint (GET /metrics) that serves them.
 *
 * One registry per process: `sluice proxy`, `sluice dns`, and `sluice serve`
 * with many servers, each audit stream feeding the same registry under its
 * own server name. Counting where the records are written
 * (audit_set_observer) makes /metrics agree with the log by construction:
 *   sluice_requests_total{server,event,decision,reason}
 *       records of event connect | http | transparent, phase decision
 *   sluice_bytes_total{server,direction}   direction up | down: the sum of
 *       bytes_up / bytes_down over every record that has them (close records)
 *   sluice_dns_queries_total{server,decision}   records of event dns
 *   sluice_packets_rejected_total{server,protocol}   records of event packet
 *   sluice_reloads_total{result}   records of event reload: ok (decision
 *       allow) | failed (deny); every server's reloads together
 *   sluice_connections_active{server}   a gauge read at each scrape from the
 *       sources registered with metrics_add_active (summed per server name)
 * The label-set table is bounded (METRICS_MAX_SERIES): once full, a record
 * that needs a new label set is not counted there but in
 * sluice_metrics_dropped_total, and one line goes to stderr.
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define METRICS_MAX_SERIES 4096  /* label sets over every family */
#define METRICS_MAX_SOURCES 1024 /* connections_active sources */
#define METRICS_LABEL_MAX 256    /* bytes of a label value kept; longer ones are cut */

struct metrics;
struct metrics_http;
struct audit;
struct audit_rec;
struct event_base;
struct evbuffer;

/* An empty registry. Returns 0 or -ENOMEM. */
int metrics_new(struct metrics **out);
void metrics_free(struct metrics *m);

/* Count one record written under server's name (see the table above). */
void metrics_observe(struct metrics *m, const char *server, const struct audit_rec *r);

/* Feed m from every record a writes (audit_set_observer with
 * metrics_observe). Records written before are not counted. */
void metrics_watch(struct metrics *m, struct audit *a);

/* A connections_active source: fn(arg) is read at each scrape under
 * server's name (px_server_active, for instance). Returns 0, -ENOSPC past
 * METRICS_MAX_SOURCES, or -ENOMEM. */
int metrics_add_active(struct metrics *m, const char *server, size_t (*fn)(const void *arg), const void *arg);

/* Forget the sources registered with arg (a server that goes away). */
void metrics_remove_active(struct metrics *m, const void *arg);

/* Append the registry in Prometheus text format 0.0.4 to out. Returns 0 or
 * -ENOMEM. */
int metrics_render(const struct metrics *m, struct evbuffer *out);

/* Escape a label value for the text format (\ " and newline), NUL-terminated
 * in out, cut before an escape that would not fit whole. Returns the length
 * written. size must be at least 1. */
size_t metrics_escape_label(const char *in, char *out, size_t size);

/*
 * Where --metrics listens: "PORT" or ":PORT" is 127.0.0.1:PORT; otherwise
 * "IP:PORT" or "[IPv6]:PORT" with an IP literal, loopback or not (an address
 * off loopback is taken only when written out). Writes a sockaddr in ss.
 * Returns its length, or -EINVAL with *why set; *loopback says which it is.
 */
int metrics_parse_listen(const char *text, struct sockaddr_storage *ss, bool *loopback, const char **why);

/*
 * Serve GET /metrics from m on text's address (metrics_parse_listen) on
 * base's loop. The request head is read with the proxy's strict parser (at
 * most METRICS_HEAD_MAX bytes, within METRICS_TIMEOUT_S seconds, at most
 * METRICS_MAX_CLIENTS scrapes at once: more are closed at accept); another
 * path gets 404, another method 405, a malformed head 400, an oversize one
 * 431; every answer closes the connection. Returns 0, -EINVAL for a bad
 * address, or -errno from socket calls.
 */
#define METRICS_HEAD_MAX 8192
#define METRICS_TIMEOUT_S 5
#define METRICS_MAX_CLIENTS 8
int metrics_http_new(struct event_base *base, const struct metrics *m, const char *text,
		     struct metrics_http **out);
void metrics_http_free(struct metrics_http *h);

#endif
