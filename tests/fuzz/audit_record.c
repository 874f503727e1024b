/* audit_record.c: libFuzzer harness for the audit record writer: random
 * strings in every field (and random numbers) give exactly the bytes jansson
 * gave, and the line parses back to the same values. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSTR 16

/* The input's next NUL-free piece (pieces are separated by 0xff). */
static char *piece(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *s = *p;
	size_t n = 0;

	while (s + n < end && s[n] != 0xff)
		n++;
	char *out = malloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; out && i < n; i++)
		if (s[i])
			out[k++] = (char)s[i];
	if (out)
		out[k] = '\0';
	*p = s + n + (s + n < end);
	return out;
}

static void check_back(const char *line, size_t n, const char *key, const char *want)
{
	json_t *o = json_loadb(line, n, 0, NULL);
	json_t *v = o ? json_object_get(o, key) : NULL;

	if (!o)
		__builtin_trap(); /* every line parses */
	json_t *exact = json_string(want); /* NULL: not UTF-8, kept as \xNN text */
	if (want && exact && (!json_is_string(v) || strcmp(json_string_value(v), want) != 0))
		__builtin_trap();
	json_decref(exact);
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *s[NSTR];
	uint64_t nums[3] = { 0 };

	if (size >= 24) {
		memcpy(nums, end - 24, 24);
		end -= 24;
	}
	for (size_t i = 0; i < NSTR; i++)
		s[i] = piece(&p, end);
	struct audit_rec r = audit_rec_init(s[0], s[1]);
	r.session = s[2], r.host = s[3], r.sni = s[4], r.method = s[5], r.remote = s[6], r.decision = s[7];
	r.reason = s[8], r.rule = s[9], r.qtype = s[10], r.rcode = s[11], r.protocol = s[12], r.cache = s[13];
	r.package = s[14];
	r.port = (uint16_t)nums[0];
	r.has_bytes = nums[0] & 0x10000;
	r.bytes_up = nums[1], r.bytes_down = nums[2];
	r.duration_ms = (long)(nums[0] >> 32) - 5, r.dns_ms = (long)(nums[1] % 7) - 1, r.ech = nums[2] & 1;
	struct addr addrs[2] = { { .family = AF_INET, .v4 = { (uint32_t)nums[1] } }, { .family = AF_INET6 } };
	memcpy(&addrs[1].v6, &nums[1], 16);
	if (nums[0] & 0x20000)
		r.addrs = addrs, r.naddrs = 2;

	char buf[4096];
	size_t n = audit_format(buf, sizeof(buf), "2026-12-01T16:26:32.123Z", s[15], &r);
	char *line = n <= sizeof(buf) ? buf : malloc(n);
	if (line && line != buf)
		audit_format(line, n, "2026-12-01T16:26:32.123Z", s[15], &r);
	char *want = audit_format_jansson("2026-12-01T16:26:32.123Z", s[15], &r);
	if (line && want && (strlen(want) != n || memcmp(want, line, n) != 0))
		__builtin_trap(); /* byte for byte jansson's */
	if (line) {
		check_back(line, n, "host", r.host);
		check_back(line, n, "server", s[15]);
		check_back(line, n, "package", r.package);
	}
	free(want);
	if (line != buf)
		free(line);
	for (size_t i = 0; i < NSTR; i++)
		free(s[i]);
	return 0;
}
