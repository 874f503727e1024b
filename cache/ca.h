/* ca.h: sluice's own certificate authority for the package cache.
 *
 * The CA (ECDSA P-256, key mode 0600) carries X.509 name constraints that
 * permit only the registry names a shipped preset marks cacheable, so its key
 * cannot vouch for any other site. Leaf certificates for intercepted names are
 * minted on demand with one ECDSA P-256 key per process and kept in memory.
 *
 * DOC: Files (DIR is --ca DIR)
 *   DIR/ca.pem    the certificate, mode 0644; its presence means a CA exists
 *   DIR/key.pem   the key (PKCS#8 PEM), created mode 0600, never chmod'ed
 * Both are written to temporary names and renamed under an flock on DIR, the
 * key first, so a crash leaves either no ca.pem or a complete CA.
 *
 * DOC: Name constraints
 * The certificate's critical nameConstraints extension permits one DNS
 * subtree per name (the name and its subdomains) and excludes every IPv4 and
 * IPv6 address. ca_permits and ca_leaf follow the constraints read back from
 * the certificate, not the list given to ca_init, so what sluice signs is
 * what a client will accept.
 *
 * A struct ca is not thread-safe: use one per thread, or serialize calls.
 * The one-line reasons given through *err live in a per-thread buffer, valid
 * until the next ca_ call in that thread.
 */
#ifndef SLUICE_CACHE_CA_H
#define SLUICE_CACHE_CA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

struct ca;

/* Leaf certificates kept in memory; when full, the oldest minted is dropped. */
#define CA_MAX_LEAVES 1024
/* Permitted subtrees a loaded CA may carry; a certificate with more is refused. */
#define CA_MAX_NAMES 64

/* The registry names the CA permits (the presets' cacheable hosts). */
extern const char *const ca_registry_names[];
extern const size_t ca_nregistry_names;

/* The default directory: /var/lib/sluice/ca for root, else
 * $HOME/.local/state/sluice/ca (the passwd entry's home when HOME is unset).
 * Writes into buf; 0, -ENOENT (no home) or -ENAMETOOLONG. */
int ca_default_dir(char *buf, size_t size);

/*
 * Make a new CA in dir (created mode 0700 with its parents; ca.pem mode 0644,
 * key.pem mode 0600) permitting the names in names[0..n), each a canonical DNS name.
 * Fails with -EEXIST when dir already holds one, -EINVAL for a bad name or
 * n outside 1..CA_MAX_NAMES. 0 or -errno; *err (may be NULL) gets a one-line
 * reason.
 */
int ca_init(const char *dir, const char *const *names, size_t n, const char **err);

/*
 * Load the CA in dir. Refuses (-EINVAL, *err says why and names the fix) a CA
 * whose key does not match the certificate or is group/world accessible,
 * whose certificate is not a CA, is expired or not yet valid, or lacks a
 * critical nameConstraints extension with a permitted DNS subtree. -ENOENT
 * when there is no ca.pem and create is false. With create, a missing CA is
 * made first with names[0..n) (*created, which may be NULL, is set).
 * Also makes the process's leaf key. 0 or -errno.
 */
int ca_load(const char *dir, bool create, const char *const *names, size_t n, struct ca **out,
	    bool *created, const char **err);

/* Free ca, its cached leaves and its leaf key. NULL is allowed. */
void ca_free(struct ca *ca);

/* The CA certificate as PEM (owned by ca), and its file's path. */
const char *ca_pem(const struct ca *ca);
const char *ca_cert_path(const struct ca *ca);

/* The CA certificate (owned by ca; X509_up_ref to keep it longer). */
X509 *ca_cert(const struct ca *ca);

/* Whether the CA's name constraints permit name (canonical, lowercase): it
 * equals a permitted name or is a subdomain of one at a label boundary. An
 * IP literal, or anything host_canonicalize rejects, is never permitted. */
bool ca_permits(const struct ca *ca, const char *name);

/*
 * The leaf for name (minted on first use, cached: at most CA_MAX_LEAVES
 * names, the oldest dropped; re-minted when less than a day of its seven
 * is left): a certificate valid for name only (CN and one SAN DNS:name),
 * signed by the CA. Returns 0 with *cert and *key borrowed:
 *   *key stays valid until ca_free (one leaf key per process);
 *   *cert stays valid until the next ca_leaf call, which may evict or
 *   re-mint it. SSL_use_certificate takes its own reference, so installing
 *   it at once is safe; a caller that keeps it longer takes X509_up_ref.
 * -EPERM when the constraints do not permit name, -EINVAL when it is not a
 * canonical name, or -errno.
 */
int ca_leaf(struct ca *ca, const char *name, X509 **cert, EVP_PKEY **key);

/*
 * A TLS server context for intercepted connections (ca_tls.c): TLS 1.2 at
 * least, ALPN selecting only "http/1.1" (a client that does not offer it
 * goes on without ALPN), and a ClientHello callback that reads the SNI,
 * canonicalizes it, and installs ca_leaf's certificate and key. The
 * handshake fails when there is no SNI, when it is malformed or not
 * permitted, or when it differs from the name set with ca_expect_name (also
 * when none was set). ca must outlive the context. 0 or -errno; the caller
 * frees *out with SSL_CTX_free.
 */
int ca_server_ctx(struct ca *ca, SSL_CTX **out);

/* Set the name (canonical) the client's SNI must equal on ssl, which was made
 * from a ca_server_ctx context; freed with ssl. 0, -EINVAL or -ENOMEM. */
int ca_expect_name(SSL *ssl, const char *name);

/* Why ca_server_ctx's ClientHello callback refused ssl's handshake (a static
 * string, for the audit record), or NULL when it did not. */
const char *ca_refusal(const SSL *ssl);

#endif
