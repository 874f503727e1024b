/* log.h: one-line human messages on stderr (never stdout: under `sluice run`
 * stdout is the wrapped program's MCP stream). */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdnoreturn.h>

#define LOG_LIMIT_SLOTS 8
#define LOG_LIMIT_KEY 256

/* A rate limit for stderr lines about one thing (a denied name, a
 * destination): at most one line per key per interval, over the last
 * LOG_LIMIT_SLOTS keys (the oldest is forgotten first). Zeroed to start. */
struct log_limit {
	struct {
		char key[LOG_LIMIT_KEY];
		int64_t ms;
	} slot[LOG_LIMIT_SLOTS];
};

/* Whether a line about key may be printed now (and, if so, it is counted
 * as printed): false while one was within interval_ms. The one limiter for
 * every repeated stderr line; the audit log always has every record. */
bool log_limit_pass(struct log_limit *l, const char *key, int64_t interval_ms);

/* "sluice: <message>" on stderr. */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print like log_msg and exit with status; only during start-up. */
noreturn void log_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
