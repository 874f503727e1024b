/* sni.h: the server name of a TLS ClientHello, for the transparent path. */
#ifndef SLUICE_SNI_H
#define SLUICE_SNI_H

#include <stdbool.h>
#include <stddef.h>

#include "span.h"

/* Most bytes of handshake data gathered from the first records: a
 * ClientHello bigger than this is refused. */
#define PX_SNI_MAX_HELLO 16384
#define PX_SNI_NAME_MAX 255

/* What a ClientHello says about the server it wants. */
struct px_sni {
	char name[PX_SNI_NAME_MAX + 1]; /* host_name's raw bytes, NUL-terminated (the caller
					 * canonicalizes); "" when there is none */
	bool ech; /* an encrypted_client_hello extension (final, draft or ESNI codepoint):
		   * name, if any, is only the outer, public name, not the server reached */
};

/*
 * Read the ClientHello in the first bytes a client sent (buf: everything
 * read so far). The ClientHello may be split across reads and across TLS
 * records; bytes after it (early data, a ChangeCipherSpec) are not looked at.
 * Returns:
 *   0          a complete ClientHello with a host_name, in out->name;
 *   -EAGAIN    more bytes are needed;
 *   -ENOENT    a complete ClientHello without a host_name;
 *   -ENOTUNIQ  an ambiguous one: two server_name extensions, two entries of
 *              one name type in the server_name list, or any extension type
 *              twice (RFC 8446 4.2, RFC 6066 3);
 *   -EINVAL    not a TLS ClientHello, or a length rule broken.
 * out->ech is meaningful with 0 and -ENOENT; out is cleared on every call.
 * Any answer but -EAGAIN is final: more bytes never change it.
 */
int px_sni_read(struct span buf, struct px_sni *out);

/* px_sni_read without the ECH flag, for callers not moved to it yet: same
 * return values, out->name copied to name. An ECH ClientHello reads as its
 * outer name. To be removed once proxy/session.c calls px_sni_read. */
int px_sni_parse(struct span buf, char name[PX_SNI_NAME_MAX + 1]);

#endif
