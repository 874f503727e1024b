/* log.h: one-line human messages on stderr (never stdout: under `sluice run`
 * stdout is the wrapped program's MCP stream). */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdnoreturn.h>

/* "sluice: <message>" on stderr. */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print like log_msg and exit with status; only during start-up. */
noreturn void log_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
