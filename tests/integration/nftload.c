/* nftload.c: load table inet sluice into the current network namespace and
 * add bindings, for nft_test.sh.
 * usage: nftload STUB_PORT TRANSPARENT_PORT LOG_GROUP [ADDR PORT TTL]... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft.h"

int main(int argc, char **argv)
{
	struct nft_sock *s;
	int rc;

	if (argc < 4 || (argc - 4) % 3) {
		fprintf(stderr, "usage: nftload STUB_PORT TRANSPARENT_PORT LOG_GROUP [ADDR PORT TTL]...\n");
		return 2;
	}
	struct nft_conf c = { (uint16_t)atoi(argv[1]), (uint16_t)atoi(argv[2]), (uint16_t)atoi(argv[3]), true, false, 0 };
	if ((rc = nft_open(&s)) < 0 || (rc = nft_install(s, &c)) < 0) {
		fprintf(stderr, "nftload: install: %s\n", strerror(-rc));
		return 1;
	}
	for (int i = 4; i + 2 < argc; i += 3) {
		struct addr a;
		if (addr_parse(span_str(argv[i]), &a) < 0) {
			fprintf(stderr, "nftload: bad address %s\n", argv[i]);
			return 2;
		}
		if ((rc = nft_bind(s, &a, (uint16_t)atoi(argv[i + 1]), (uint32_t)atoi(argv[i + 2]))) < 0) {
			fprintf(stderr, "nftload: bind %s: %s\n", argv[i], strerror(-rc));
			return 1;
		}
	}
	nft_close(s);
	puts("ok");
	return 0;
}
