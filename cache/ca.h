/* ca.h: sluice's own certificate authority for the package cache.
 *
 * The CA (ECDSA P-256, key mode 0600) carries X.509 name constraints that
 * permit only the registry names a shipped preset marks cacheable, so its key
 * cannot vouch for any other site. Leaf certificates for intercepted names are
 * minted on demand with one ECDSA P-256 key per process and kept in memory.
 */
#ifndef SLUICE_CACHE_CA_H
#define SLUICE_CACHE_CA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

struct ca;

/* The default directory: /var/lib/sluice/ca for root, else
 * $HOME/.local/state/sluice/ca. Writes into buf; 0 or -ENAMETOOLONG. */
int ca_default_dir(char *buf, size_t size);

/*
 * Make a new CA in dir (ca.pem, key.pem mode 0600) permitting the names in
 * names[0..n). Fails with -EEXIST when dir already holds one. 0 or -errno;
 * *err (may be NULL) gets a one-line reason.
 */
int ca_init(const char *dir, const char *const *names, size_t n, const char **err);

/*
 * Load the CA in dir. Refuses (-EINVAL, *err says why) a CA whose key is
 * unreadable, does not match the certificate, is group/world readable, or
 * whose certificate lacks name constraints. With create, a missing CA is made
 * first (*created is set). 0 or -errno.
 */
int ca_load(const char *dir, bool create, const char *const *names, size_t n, struct ca **out,
	    bool *created, const char **err);
void ca_free(struct ca *ca);

/* The CA certificate as PEM (owned by ca), and its file's path. */
const char *ca_pem(const struct ca *ca);
const char *ca_cert_path(const struct ca *ca);

/* Whether the CA's name constraints permit name (canonical, lowercase). */
bool ca_permits(const struct ca *ca, const char *name);

/*
 * The leaf for name (minted on first use, cached: at most 1024 names, the
 * oldest dropped): a certificate valid for name only, signed by the CA.
 * Returns 0 with *cert and *key borrowed from the cache (valid until
 * ca_free), or -EPERM when the constraints do not permit name, or -errno.
 */
int ca_leaf(struct ca *ca, const char *name, X509 **cert, EVP_PKEY **key);

#endif
