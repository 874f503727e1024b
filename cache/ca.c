/* ca.c: sluice's CA on disk (made, loaded, checked) and the leaf
 * certificates it mints for intercepted registry names. See ca.h. */
#include "ca.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "host.h"

#define CA_FILE_MAX (64 * 1024)      /* a PEM file bigger than this is refused */
#define CA_DAYS (3652)               /* ten years */
#define LEAF_SECS (7 * 86400)
#define LEAF_RENEW_SECS (86400)      /* re-mint when less than this is left */
#define CN_MAX 64                    /* ub-common-name, RFC 5280 */

const char *const ca_registry_names[] = {
	"registry.npmjs.org", "registry.yarnpkg.com", "deb.debian.org", "security.debian.org",
	"pypi.org", "files.pythonhosted.org", "proxy.golang.org", "crates.io",
	"index.crates.io", "static.crates.io",
};
const size_t ca_nregistry_names = sizeof(ca_registry_names) / sizeof(ca_registry_names[0]);

struct ca_slot {
	uint32_t hash;
	char name[HOST_NAME_LEN + 1];
	X509 *cert;
	time_t not_after;
};

struct ca {
	char dir[PATH_MAX];
	char cert_path[PATH_MAX];
	char key_path[PATH_MAX];
	X509 *cert;
	EVP_PKEY *key;
	EVP_PKEY *leaf_key;
	char *pem;
	char names[CA_MAX_NAMES][HOST_NAME_LEN + 1]; /* permitted DNS subtrees, from the cert */
	size_t nnames;
	struct ca_slot leaves[CA_MAX_LEAVES];
	size_t nleaves;
	size_t next_evict; /* once full, slots are reused in the order first filled */
};

static _Thread_local char errbuf[PATH_MAX + 256];

__attribute__((format(printf, 2, 3))) static void seterr(const char **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	if (err)
		*err = errbuf;
}

int ca_default_dir(char *buf, size_t size)
{
	const char *home = getenv("HOME");
	struct passwd pw, *res = NULL;
	char pwbuf[4096];
	int n;

	if (geteuid() == 0) {
		n = snprintf(buf, size, "/var/lib/sluice/ca");
		return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
	}
	if (!home || !*home) {
		if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &res) != 0 || !res ||
		    !res->pw_dir || !*res->pw_dir)
			return -ENOENT;
		home = res->pw_dir;
	}
	n = snprintf(buf, size, "%s/.local/state/sluice/ca", home);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- making a CA ---- */

/* mkdir -p, each missing component mode 0700. 0 or -errno. */
static int mkdir_p(const char *dir)
{
	char p[PATH_MAX];
	struct stat st;
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
		p[i] = c;
	}
	if (stat(dir, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* A random positive 128-bit serial. 0 or -ENOMEM. */
static int set_serial(X509 *x)
{
	unsigned char b[16];
	BIGNUM *bn = NULL;
	int rc = -ENOMEM;

	do {
		if (RAND_bytes(b, sizeof(b)) != 1)
			return -EIO;
		BN_free(bn);
		bn = BN_bin2bn(b, sizeof(b), NULL);
	} while (bn && BN_is_zero(bn));
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		rc = 0;
	BN_free(bn);
	return rc;
}

/* Serial, validity [now+from_secs, now+days+secs], subject CN (none when cn
 * is NULL), issuer, version 3 and public key. 0 or -ENOMEM. */
static int set_basics(X509 *x, const char *cn, X509_NAME *issuer, EVP_PKEY *pub, long from_secs,
		      int days, long secs)
{
	X509_NAME *subj = X509_get_subject_name(x);

	if (!X509_set_version(x, X509_VERSION_3) || set_serial(x) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), from_secs) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, secs, NULL) || !X509_set_pubkey(x, pub))
		return -ENOMEM;
	if (cn && !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0))
		return -ENOMEM;
	if (!X509_set_issuer_name(x, issuer ? issuer : subj))
		return -ENOMEM;
	return 0;
}

/* Add an extension written in OpenSSL's config syntax; issuer may equal x. */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -ENOMEM;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -ENOMEM;
}

/* One GENERAL_NAME: a DNS name (len bytes of p) or an IP address+mask. */
static GENERAL_NAME *gen_name(int type, const void *p, int len)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_STRING *s = type == GEN_DNS ? ASN1_IA5STRING_new() : ASN1_OCTET_STRING_new();

	if (!gn || !s || !ASN1_STRING_set(s, p, len)) {
		GENERAL_NAME_free(gn);
		ASN1_STRING_free(s);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, type, s);
	return gn;
}

static int add_subtree(STACK_OF(GENERAL_SUBTREE) **sk, int type, const void *p, int len)
{
	GENERAL_SUBTREE *st = GENERAL_SUBTREE_new();
	GENERAL_NAME *gn = gen_name(type, p, len);

	if (!*sk)
		*sk = sk_GENERAL_SUBTREE_new_null();
	if (!st || !gn || !*sk || !sk_GENERAL_SUBTREE_push(*sk, st)) {
		GENERAL_SUBTREE_free(st);
		GENERAL_NAME_free(gn);
		return -ENOMEM;
	}
	GENERAL_NAME_free(st->base);
	st->base = gn;
	return 0;
}

/* Critical nameConstraints: permitted DNS names[0..n), excluded all of
 * IPv4 (0.0.0.0/0) and IPv6 (::/0), as address+mask octets. */
static int add_name_constraints(X509 *x, const char *const *names, size_t n)
{
	static const unsigned char zero[32];
	NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
	int rc = nc ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = add_subtree(&nc->permittedSubtrees, GEN_DNS, names[i], (int)strlen(names[i]));
	if (rc == 0)
		rc = add_subtree(&nc->excludedSubtrees, GEN_IPADD, zero, 8);
	if (rc == 0)
		rc = add_subtree(&nc->excludedSubtrees, GEN_IPADD, zero, 32);
	if (rc == 0 && !X509_add1_ext_i2d(x, NID_name_constraints, nc, 1, X509V3_ADD_DEFAULT))
		rc = -ENOMEM;
	NAME_CONSTRAINTS_free(nc);
	return rc;
}

/* "sluice package cache CA <hostname> <date>", cut to fit CN's 64. */
static void ca_cn(char *cn, size_t size)
{
	char host[HOST_NAME_LEN + 1] = "localhost";
	char date[16];
	time_t now = time(NULL);
	struct tm tm;

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	int room = (int)(CN_MAX - strlen("sluice package cache CA  ") - strlen(date));
	snprintf(cn, size, "sluice package cache CA %.*s %s", room, host, date);
}

/* The self-signed CA certificate for key. 0 or -errno. */
static int make_ca_cert(EVP_PKEY *key, const char *const *names, size_t n, X509 **out)
{
	X509 *x = X509_new();
	char cn[CN_MAX + 1];
	int rc = x ? 0 : -ENOMEM;

	ca_cn(cn, sizeof(cn));
	if (rc == 0)
		rc = set_basics(x, cn, NULL, key, -3600, CA_DAYS, 0);
	if (rc == 0)
		rc = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
	if (rc == 0)
		rc = add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (rc == 0)
		rc = add_ext(x, x, NID_subject_key_identifier, "hash");
	if (rc == 0)
		rc = add_name_constraints(x, names, n);
	if (rc == 0 && !X509_sign(x, key, EVP_sha256()))
		rc = -ENOMEM;
	if (rc < 0) {
		X509_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

/* Write the bytes of mem to dirfd/tmp (created O_EXCL with mode), fsync,
 * and rename it to dirfd/final. 0 or -errno. */
static int write_file(int dirfd, const char *tmp, const char *final, mode_t mode, BIO *mem)
{
	char *p;
	long len = BIO_get_mem_data(mem, &p);
	int fd, rc = 0;

	unlinkat(dirfd, tmp, 0); /* a leftover of a crashed init; we hold the lock */
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (rc == 0 && len > 0) {
		ssize_t w = write(fd, p, (size_t)len);
		if (w < 0 && errno != EINTR)
			rc = -errno;
		else if (w > 0)
			p += w, len -= w;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dirfd, tmp, dirfd, final) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dirfd, tmp, 0);
	return rc;
}

/* Write key.pem then ca.pem into dirfd. 0 or -errno. */
static int write_ca(int dirfd, EVP_PKEY *key, X509 *cert)
{
	BIO *k = BIO_new(BIO_s_secmem());
	BIO *c = BIO_new(BIO_s_mem());
	int rc = k && c ? 0 : -ENOMEM;

	if (rc == 0 && (!PEM_write_bio_PrivateKey(k, key, NULL, NULL, 0, NULL, NULL) ||
			!PEM_write_bio_X509(c, cert)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = write_file(dirfd, ".key.pem.tmp", "key.pem", 0600, k);
	if (rc == 0)
		rc = write_file(dirfd, ".ca.pem.tmp", "ca.pem", 0644, c);
	if (rc == 0 && fsync(dirfd) < 0)
		rc = -errno;
	BIO_free(k);
	BIO_free(c);
	return rc;
}

/* Every name canonical and a DNS name, 1..CA_MAX_NAMES of them. */
static int check_names(const char *const *names, size_t n, const char **err)
{
	struct host h;
	const char *why = "";

	if (n == 0 || n > CA_MAX_NAMES) {
		seterr(err, "a CA permits 1 to %d names, not %zu", CA_MAX_NAMES, n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (host_canonicalize(span_str(names[i]), &h, &why) < 0 || h.kind != HOST_NAME ||
		    strcmp(h.text, names[i]) != 0) {
			seterr(err, "cannot permit '%s': %s", names[i], h.kind == HOST_IP ? "an IP address" : why);
			return -EINVAL;
		}
	}
	return 0;
}

/* Make key and certificate and write them, dirfd locked. 0 or -errno. */
static int init_locked(int dirfd, const char *dir, const char *const *names, size_t n, const char **err)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc;

	if (faccessat(dirfd, "ca.pem", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		seterr(err, "a CA exists in %s; `sluice ca show` prints it", dir);
		return -EEXIST;
	}
	key = EVP_EC_gen("P-256");
	rc = key ? make_ca_cert(key, names, n, &cert) : -ENOMEM;
	if (rc == 0)
		rc = write_ca(dirfd, key, cert);
	if (rc < 0)
		seterr(err, "cannot make a CA in %s: %s", dir, strerror(-rc));
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int ca_init(const char *dir, const char *const *names, size_t n, const char **err)
{
	int dirfd, rc = check_names(names, n, err);

	if (rc < 0)
		return rc;
	rc = mkdir_p(dir);
	if (rc < 0) {
		seterr(err, "cannot create %s: %s", dir, strerror(-rc));
		return rc;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || flock(dirfd, LOCK_EX) < 0) {
		rc = -errno;
		seterr(err, "cannot open %s: %s", dir, strerror(-rc));
		goto out;
	}
	rc = init_locked(dirfd, dir, names, n, err);
out:
	if (dirfd >= 0)
		close(dirfd); /* drops the flock */
	return rc;
}

/* ---- loading a CA ---- */

/* Read a regular file of at most CA_FILE_MAX bytes into a secure-heap BIO.
 * *mode gets its permission bits. 0 or -errno. */
static int read_file(const char *path, BIO **out, mode_t *mode)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char buf[4096];
	ssize_t r;
	size_t total = 0;
	BIO *b = NULL;
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = -EINVAL;
	else if (st.st_size > CA_FILE_MAX)
		rc = -EFBIG;
	if (rc < 0)
		goto err;
	b = BIO_new(BIO_s_secmem());
	while (b && (r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (total += (size_t)r) > CA_FILE_MAX || BIO_write(b, buf, (int)r) != r) {
			rc = r < 0 ? -errno : -EFBIG;
			goto err;
		}
	}
	rc = b ? 0 : -ENOMEM;
	*mode = st.st_mode & 07777;
	*out = b;
	b = NULL;
err:
	OPENSSL_cleanse(buf, sizeof(buf));
	BIO_free(b);
	close(fd);
	return rc;
}

/* Read ca.pem into ca->cert and ca->pem. 0 or -errno. */
static int load_cert(struct ca *ca, const char **err)
{
	BIO *in = NULL, *out = NULL;
	mode_t mode;
	char *p;
	int rc = read_file(ca->cert_path, &in, &mode);

	if (rc == -ENOENT) {
		seterr(err, "no CA in %s: run `sluice ca init`", ca->dir);
		return rc;
	}
	if (rc < 0) {
		seterr(err, "cannot read %s: %s", ca->cert_path, strerror(-rc));
		return rc;
	}
	ca->cert = PEM_read_bio_X509(in, NULL, NULL, NULL);
	out = BIO_new(BIO_s_mem());
	rc = -EINVAL;
	if (!ca->cert) {
		seterr(err, "%s is not a PEM certificate: move %s away and run `sluice ca init`",
		       ca->cert_path, ca->dir);
	} else if (out && PEM_write_bio_X509(out, ca->cert)) {
		long len = BIO_get_mem_data(out, &p);
		ca->pem = strndup(p, (size_t)len);
		rc = ca->pem ? 0 : -ENOMEM;
	}
	BIO_free(in);
	BIO_free(out);
	return rc;
}

/* Read key.pem into ca->key, refusing one others may read. 0 or -errno. */
static int load_key(struct ca *ca, const char **err)
{
	const char *path = ca->key_path;
	BIO *in = NULL;
	mode_t mode;
	int rc = read_file(path, &in, &mode);

	if (rc < 0) {
		seterr(err, "cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = -EINVAL;
	if (mode & 077)
		seterr(err, "%s is readable by others (mode %04o): chmod 600 %s", path, (unsigned)mode, path);
	else if (!(ca->key = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL)))
		seterr(err, "%s is not a PEM private key: move %s away and run `sluice ca init`", path, ca->dir);
	else if (X509_check_private_key(ca->cert, ca->key) != 1)
		seterr(err, "%s does not match %s: move %s away and run `sluice ca init`", path,
		       ca->cert_path, ca->dir);
	else
		rc = 0;
	BIO_free(in);
	return rc;
}

/* Copy one permitted subtree's DNS base into ca->names. 0 or -EINVAL. */
static int keep_subtree(struct ca *ca, const GENERAL_SUBTREE *st)
{
	const ASN1_IA5STRING *s;
	char *name;
	int len;

	if (st->base->type != GEN_DNS)
		return 0;
	s = st->base->d.dNSName;
	len = ASN1_STRING_length(s);
	if (len < 1 || len > HOST_NAME_LEN || ca->nnames >= CA_MAX_NAMES ||
	    memchr(ASN1_STRING_get0_data(s), '\0', (size_t)len))
		return -EINVAL; /* an empty base would permit every name */
	name = ca->names[ca->nnames++];
	memcpy(name, ASN1_STRING_get0_data(s), (size_t)len);
	name[len] = '\0';
	for (char *c = name; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c + 32);
	return 0;
}

/* The certificate's critical nameConstraints, permitted DNS names kept. */
static int load_constraints(struct ca *ca, const char **err)
{
	int crit = -1, rc = 0;
	NAME_CONSTRAINTS *nc = X509_get_ext_d2i(ca->cert, NID_name_constraints, &crit, NULL);
	int n = nc ? sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) : 0;

	for (int i = 0; rc == 0 && i < n; i++)
		rc = keep_subtree(ca, sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i));
	NAME_CONSTRAINTS_free(nc);
	if (rc == 0 && crit == 1 && ca->nnames > 0)
		return 0;
	ca->nnames = 0;
	seterr(err, "CA at %s has no usable name constraints: move it away and run `sluice ca init`", ca->dir);
	return -EINVAL;
}

/* A CA certificate, valid now. 0 or -EINVAL. */
static int check_validity(struct ca *ca, const char **err)
{
	if (X509_check_ca(ca->cert) != 1) {
		seterr(err, "%s is not a CA certificate: move %s away and run `sluice ca init`", ca->cert_path,
		       ca->dir);
		return -EINVAL;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(ca->cert)) <= 0) {
		seterr(err, "the CA in %s has expired: move it away and run `sluice ca init`", ca->dir);
		return -EINVAL;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(ca->cert)) >= 0) {
		seterr(err, "the CA in %s is not valid yet: check the clock", ca->dir);
		return -EINVAL;
	}
	return 0;
}

static int load_all(struct ca *ca, const char **err)
{
	int rc = load_cert(ca, err);

	if (rc == 0)
		rc = load_key(ca, err);
	if (rc == 0)
		rc = check_validity(ca, err);
	if (rc == 0)
		rc = load_constraints(ca, err);
	if (rc == 0 && !(ca->leaf_key = EVP_EC_gen("P-256"))) {
		seterr(err, "cannot make the leaf key");
		rc = -ENOMEM;
	}
	return rc;
}

/* ca->dir, cert_path and key_path. 0 or -ENAMETOOLONG. */
static int set_paths(struct ca *ca, const char *dir)
{
	size_t len = strlen(dir);

	if (len + sizeof("/key.pem") > sizeof(ca->dir))
		return -ENAMETOOLONG;
	memcpy(ca->dir, dir, len + 1);
	snprintf(ca->cert_path, sizeof(ca->cert_path), "%.*s/ca.pem", (int)len, dir);
	snprintf(ca->key_path, sizeof(ca->key_path), "%.*s/key.pem", (int)len, dir);
	return 0;
}

int ca_load(const char *dir, bool create, const char *const *names, size_t n, struct ca **out,
	    bool *created, const char **err)
{
	struct ca *ca = calloc(1, sizeof(*ca));
	int rc = ca ? 0 : -ENOMEM;

	if (created)
		*created = false;
	if (rc == 0)
		rc = set_paths(ca, dir);
	if (rc == 0 && create && access(ca->cert_path, F_OK) < 0 && errno == ENOENT) {
		rc = ca_init(dir, names, n, err);
		if (rc == 0 && created)
			*created = true;
		if (rc == -EEXIST) /* another process made it first */
			rc = 0;
	}
	if (rc == 0)
		rc = load_all(ca, err);
	if (rc < 0) {
		if (rc == -ENOMEM || rc == -ENAMETOOLONG)
			seterr(err, "cannot load the CA in %s: %s", dir, strerror(-rc));
		ca_free(ca);
		return rc;
	}
	*out = ca;
	return 0;
}

void ca_free(struct ca *ca)
{
	if (!ca)
		return;
	for (size_t i = 0; i < ca->nleaves; i++)
		X509_free(ca->leaves[i].cert);
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	EVP_PKEY_free(ca->leaf_key);
	free(ca->pem);
	free(ca);
}

const char *ca_pem(const struct ca *ca)
{
	return ca->pem;
}

const char *ca_cert_path(const struct ca *ca)
{
	return ca->cert_path;
}

X509 *ca_cert(const struct ca *ca)
{
	return ca->cert;
}

/* ---- what the CA may sign ---- */

/* name equals base, or is a subdomain of it at a label boundary; a base
 * with a leading dot (not ours, but valid X.509) permits subdomains only. */
static bool in_subtree(const char *name, const char *base)
{
	size_t nl = strlen(name), bl = strlen(base);

	if (base[0] == '.')
		return nl > bl && strcmp(name + nl - bl, base) == 0;
	if (nl == bl)
		return strcmp(name, base) == 0;
	return nl > bl && name[nl - bl - 1] == '.' && strcmp(name + nl - bl, base) == 0;
}

/* 0 when name is a canonical DNS name, -EPERM for an IP, -EINVAL otherwise. */
static int canonical_name(const char *name)
{
	struct host h;
	const char *why;

	if (!name || host_canonicalize(span_str(name), &h, &why) < 0)
		return -EINVAL;
	if (h.kind != HOST_NAME)
		return -EPERM;
	return strcmp(h.text, name) == 0 ? 0 : -EINVAL;
}

bool ca_permits(const struct ca *ca, const char *name)
{
	if (canonical_name(name) < 0)
		return false;
	for (size_t i = 0; i < ca->nnames; i++)
		if (in_subtree(name, ca->names[i]))
			return true;
	return false;
}

/* ---- leaves ---- */

/* subjectAltName with the one DNS name; critical when the subject is empty. */
static int add_san(X509 *x, const char *name, bool critical)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = gen_name(GEN_DNS, name, (int)strlen(name));
	int rc = -ENOMEM;

	if (gens && gn && sk_GENERAL_NAME_push(gens, gn)) {
		gn = NULL;
		if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, critical, X509V3_ADD_DEFAULT))
			rc = 0;
	}
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(gens);
	return rc;
}

/* A leaf for name: CN=name (when it fits), SAN DNS:name, 7 days. */
static int mint(struct ca *ca, const char *name, X509 **out)
{
	X509 *x = X509_new();
	bool has_cn = strlen(name) <= CN_MAX;
	int rc = x ? 0 : -ENOMEM;

	if (rc == 0)
		rc = set_basics(x, has_cn ? name : NULL, X509_get_subject_name(ca->cert), ca->leaf_key, -3600,
				0, LEAF_SECS);
	if (rc == 0)
		rc = add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE");
	if (rc == 0)
		rc = add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature");
	if (rc == 0)
		rc = add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth");
	if (rc == 0)
		rc = add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always");
	if (rc == 0)
		rc = add_san(x, name, !has_cn);
	if (rc == 0 && !X509_sign(x, ca->key, EVP_sha256()))
		rc = -ENOMEM;
	if (rc < 0) {
		X509_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot holding name, or NULL. A linear scan of at most CA_MAX_LEAVES
 * hashes: cheap next to a handshake. */
static struct ca_slot *find_slot(struct ca *ca, const char *name, uint32_t hash)
{
	for (size_t i = 0; i < ca->nleaves; i++)
		if (ca->leaves[i].hash == hash && strcmp(ca->leaves[i].name, name) == 0)
			return &ca->leaves[i];
	return NULL;
}

/* A slot for a new name: a free one, else the first filled of the rest. */
static struct ca_slot *take_slot(struct ca *ca)
{
	struct ca_slot *s;

	if (ca->nleaves < CA_MAX_LEAVES)
		return &ca->leaves[ca->nleaves++];
	s = &ca->leaves[ca->next_evict];
	ca->next_evict = (ca->next_evict + 1) % CA_MAX_LEAVES;
	X509_free(s->cert);
	s->cert = NULL;
	return s;
}

int ca_leaf(struct ca *ca, const char *name, X509 **cert, EVP_PKEY **key)
{
	int rc = canonical_name(name);
	uint32_t hash;
	time_t now = time(NULL);
	struct ca_slot *s;
	X509 *x;

	if (rc < 0)
		return rc;
	if (!ca_permits(ca, name))
		return -EPERM;
	hash = fnv1a(name);
	s = find_slot(ca, name, hash);
	if (!s || s->not_after - now < LEAF_RENEW_SECS) {
		rc = mint(ca, name, &x);
		if (rc < 0)
			return rc;
		if (!s)
			s = take_slot(ca);
		X509_free(s->cert);
		s->cert = x;
		s->hash = hash;
		s->not_after = now + LEAF_SECS;
		snprintf(s->name, sizeof(s->name), "%s", name);
	}
	*cert = s->cert;
	*key = ca->leaf_key;
	return 0;
}
