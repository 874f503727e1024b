/* sni.h: the server name of a TLS ClientHello, for the transparent path. */
#ifndef SLUICE_SNI_H
#define SLUICE_SNI_H

#include <stddef.h>

#include "span.h"

/* Most bytes of handshake data gathered from the first records: a
 * ClientHello bigger than this is refused. */
#define PX_SNI_MAX_HELLO 16384
#define PX_SNI_NAME_MAX 255

/*
 * Find the server_name in the first bytes a client sent (buf: everything
 * read so far). The ClientHello may be split across reads and across TLS
 * records. Returns 0 with the name's raw bytes in name (NUL-terminated; the
 * caller canonicalizes it), -EAGAIN when more bytes are needed, -ENOENT for
 * a complete ClientHello without a host_name, or -EINVAL when the bytes are
 * not a TLS ClientHello (or break a length rule).
 */
int px_sni_parse(struct span buf, char name[PX_SNI_NAME_MAX + 1]);

#endif
