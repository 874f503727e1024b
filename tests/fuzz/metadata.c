/* metadata.c: libFuzzer harness for what the package cache reads from
 * upstream and from request paths: the metadata bodies it learns hashes from
 * (npm packuments, PyPI simple pages, Debian Packages, gzip-encoded or not),
 * and the paths it matches rules against and names packages by.
 *
 * The first byte picks the ecosystem and the encoding; the rest is the body,
 * and also, cut at the first NUL, a path.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rules.h"
#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ecos[] = { "npm", "pypi", "debian", "crates", "go" };
	static const char *const paths[] = { "/x", "/simple/x/", "/debian/dists/b/main/binary-amd64/Packages",
					     "/debian/dists/b/main/binary-amd64/Packages.gz", "/crates/x" };
	struct cache_expect *x;
	struct cache_hash h;
	char pkg[256];

	if (size < 1 || cache_expect_new(64, &x) < 0)
		return 0;
	unsigned pick = data[0] % 5;
	struct pol_cache_rule r = { .immutable = (data[0] & 0x40) != 0 };
	memcpy(r.ecosystem, ecos[pick], strlen(ecos[pick]) + 1);
	struct span body = span_of((const char *)data + 1, size - 1);
	cache_expect_learn(x, &r, "registry.npmjs.org", span_str(paths[pick]), (data[0] & 0x80) ? "gzip" : NULL,
			   body);
	long nul = span_find(body, '\0');
	struct span path = nul >= 0 ? span_sub(body, 0, (size_t)nul) : body;
	(void)cache_expect_find(x, "registry.npmjs.org", path, &h);
	(void)cache_hash_sri(path, &h);
	cache_package(&r, path, pkg, sizeof(pkg));
	for (const char *c = pkg; *c; c++) /* only printable ASCII, nothing a log must escape */
		if (*c <= ' ' || *c > '~' || *c == '"' || *c == '\\')
			__builtin_trap();
	(void)cache_glob(span_str("/**/pool/*/**.deb"), path);
	(void)cache_glob(path.len < 300 ? path : span_sub(path, 0, 300), span_str("/debian/pool/main/h/hello.deb"));
	cache_expect_free(x);
	return 0;
}
