/* log.c: human one-liners on stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__attribute__((format(printf, 1, 0))) static void vmsg(const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "sluice: %s\n", line);
}

void log_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

noreturn void log_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(status);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool log_limit_pass(struct log_limit *l, const char *key, int64_t interval_ms)
{
	int64_t now = mono_ms() + interval_ms; /* never 0: 0 marks a free slot */
	size_t oldest = 0;

	for (size_t i = 0; i < LOG_LIMIT_SLOTS; i++) {
		if (l->slot[i].ms && strncmp(l->slot[i].key, key, LOG_LIMIT_KEY - 1) == 0) {
			if (now - l->slot[i].ms < interval_ms)
				return false;
			l->slot[i].ms = now;
			return true;
		}
		if (l->slot[i].ms < l->slot[oldest].ms)
			oldest = i;
	}
	snprintf(l->slot[oldest].key, LOG_LIMIT_KEY, "%s", key);
	l->slot[oldest].ms = now;
	return true;
}
