/* store_record.c: libFuzzer harness for the package cache's records, the
 * JSON files in DIR/meta that every process sharing a store reads and any
 * of them (or anyone with write access to the directory) may have written.
 *
 * The bytes are a record, parsed as any key's and as key "a"'s. Property:
 * what parses has every text field NUL-terminated inside its buffer and
 * free of control bytes (they go into answer heads as they are), a hex
 * blob name, and is "a"'s only when it parses as any key's too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The text in buf (size bytes) ends inside it and holds no control byte. */
static void check_text(const char *buf, size_t size)
{
	const char *end = memchr(buf, '\0', size);

	if (!end)
		__builtin_trap();
	for (const char *c = buf; c < end; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			__builtin_trap();
}

static void check_entry(const struct cache_entry *e)
{
	check_text(e->etag, sizeof(e->etag));
	check_text(e->last_modified, sizeof(e->last_modified));
	check_text(e->content_type, sizeof(e->content_type));
	check_text(e->content_encoding, sizeof(e->content_encoding));
	check_text(e->package, sizeof(e->package));
	check_text(e->blob, sizeof(e->blob));
	if (strlen(e->blob) != 64 || strspn(e->blob, "0123456789abcdef") != 64)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cache_entry any, a;
	int rc_any = cache_record_parse((const char *)data, size, NULL, &any);
	int rc_a = cache_record_parse((const char *)data, size, "a", &a);

	if (rc_any == 0)
		check_entry(&any);
	if (rc_a == 0) {
		check_entry(&a);
		if (rc_any != 0 || memcmp(&a, &any, sizeof(a)) != 0)
			__builtin_trap();
	}
	return 0;
}
