/* select.h: which records a review looks at (--server, --since, --until,
 * --host, --decision, --event), parsed from the option values. */
#ifndef SLUICE_SELECT_H
#define SLUICE_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"
#include "record.h"

#define ALOG_FILTER_MAX 16

struct alog_filter {
	const char *servers[ALOG_FILTER_MAX];
	size_t nservers;
	int64_t since, until; /* ms; INT64_MIN / INT64_MAX when unset */
	bool host_set, host_suffix, host_any;
	char host[HOST_NAME_LEN + 1]; /* the name, or the suffix without "*." */
	unsigned decisions, events;   /* bits of the enums; 0: all */
};

void alog_filter_init(struct alog_filter *f);

/* Each setter takes an option's value; now_ms anchors relative times.
 * Returns 0 or -EINVAL with *why set to a static message. */
int alog_filter_server(struct alog_filter *f, const char *v, const char **why);
int alog_filter_time(struct alog_filter *f, bool since, const char *v, int64_t now_ms, const char **why);
int alog_filter_host(struct alog_filter *f, const char *v, const char **why);
int alog_filter_decision(struct alog_filter *f, const char *v, const char **why);
int alog_filter_event(struct alog_filter *f, const char *v, const char **why);

/* Whether the record passes. */
bool alog_filter_match(const struct alog_filter *f, const struct alog_rec *r);

/* Whether a host name passes the --host pattern alone. */
bool alog_filter_host_match(const struct alog_filter *f, struct span host);

#endif
