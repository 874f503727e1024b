/* test_ca.c: the package cache's CA: files and modes, what it refuses to
 * load, the leaves it mints, the bound its name constraints put on a stolen
 * key, and real TLS handshakes through ca_server_ctx. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca.h"

/* One CA shared by the tests that only read it. */
struct fixture {
	char base[64];
	char dir[PATH_MAX];
	struct ca *ca;
};

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void tmpdir(char *buf, size_t size)
{
	snprintf(buf, size, "/tmp/sluice-test-ca.XXXXXX");
	assert_non_null(mkdtemp(buf));
}

static int group_setup(void **state)
{
	static struct fixture f;
	const char *err = NULL;

	umask(022);
	tmpdir(f.base, sizeof(f.base));
	snprintf(f.dir, sizeof(f.dir), "%s/ca", f.base);
	if (ca_load(f.dir, true, ca_registry_names, ca_nregistry_names, &f.ca, NULL, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err);
		rm_rf(f.base);
		return -1;
	}
	*state = &f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;

	ca_free(f->ca);
	rm_rf(f->base);
	return 0;
}

static mode_t mode_of(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	int n = snprintf(p, sizeof(p), "%s%s%s", dir, *name ? "/" : "", name);
	assert_true(n > 0 && (size_t)n < sizeof(p));
	assert_int_equal(stat(p, &st), 0);
	return st.st_mode & 07777;
}

/* ---- files ---- */

static void test_init_then_load(void **state)
{
	char base[64], dir[PATH_MAX];
	const char *err = NULL;
	struct ca *ca = NULL;
	bool created = true;

	(void)state;
	tmpdir(base, sizeof(base));
	snprintf(dir, sizeof(dir), "%s/a/b/ca", base);
	assert_int_equal(ca_init(dir, ca_registry_names, ca_nregistry_names, &err), 0);
	assert_int_equal(mode_of(dir, "key.pem"), 0600);
	assert_int_equal(mode_of(dir, "ca.pem"), 0644);
	assert_int_equal(mode_of(dir, ""), 0700);
	assert_int_equal(ca_init(dir, ca_registry_names, ca_nregistry_names, &err), -EEXIST);
	assert_non_null(strstr(err, "sluice ca show"));
	assert_int_equal(ca_load(dir, false, NULL, 0, &ca, &created, &err), 0);
	assert_false(created);
	assert_int_equal(strncmp(ca_pem(ca), "-----BEGIN CERTIFICATE-----\n", 28), 0);
	assert_non_null(strstr(ca_cert_path(ca), "/a/b/ca/ca.pem"));
	ca_free(ca);
	rm_rf(base);
}

static void test_load_creates(void **state)
{
	char base[64], dir[PATH_MAX];
	const char *err = NULL;
	struct ca *ca = NULL;
	bool created = false;

	(void)state;
	tmpdir(base, sizeof(base));
	snprintf(dir, sizeof(dir), "%s/ca", base);
	assert_int_equal(ca_load(dir, false, NULL, 0, &ca, &created, &err), -ENOENT);
	assert_non_null(strstr(err, "sluice ca init"));
	assert_int_equal(ca_load(dir, true, ca_registry_names, ca_nregistry_names, &ca, &created, &err), 0);
	assert_true(created);
	ca_free(ca);
	assert_int_equal(ca_load(dir, true, ca_registry_names, ca_nregistry_names, &ca, &created, &err), 0);
	assert_false(created);
	ca_free(ca);
	rm_rf(base);
}

static void test_init_refuses_bad_names(void **state)
{
	char base[64];
	const char *ip[] = { "10.0.0.1" }, *upper[] = { "PyPI.org" }, *empty[] = { "" };

	(void)state;
	tmpdir(base, sizeof(base));
	assert_int_equal(ca_init(base, ip, 1, NULL), -EINVAL);
	assert_int_equal(ca_init(base, upper, 1, NULL), -EINVAL);
	assert_int_equal(ca_init(base, empty, 1, NULL), -EINVAL);
	assert_int_equal(ca_init(base, ip, 0, NULL), -EINVAL);
	assert_int_equal(access(base, F_OK), 0);
	rm_rf(base);
}

/* ---- building certificates by hand, as a thief with the key would ---- */

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A certificate for pub: CN cn, issued by issuer (self-signed when NULL),
 * signed with sign_key, extensions as given (NULL: left out). */
static X509 *make_cert(const char *cn, X509 *issuer, EVP_PKEY *sign_key, EVP_PKEY *pub, const char *bc,
		       const char *san, const char *nc)
{
	X509 *x = X509_new();

	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pub);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8, (const unsigned char *)cn,
				   -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	if (bc)
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, bc);
	if (san)
		add_ext(x, issuer ? issuer : x, NID_subject_alt_name, san);
	if (nc)
		add_ext(x, issuer ? issuer : x, NID_name_constraints, nc);
	assert_true(X509_sign(x, sign_key, EVP_sha256()) > 0);
	return x;
}

static EVP_PKEY *read_key(const char *dir)
{
	char p[PATH_MAX];
	FILE *f;
	EVP_PKEY *k;

	snprintf(p, sizeof(p), "%s/key.pem", dir);
	f = fopen(p, "r");
	assert_non_null(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

/* X509_verify_cert of leaf against the CA alone; host checked when given.
 * Returns the verify error (X509_V_OK on success). */
static int verify(X509 *ca, X509 *leaf, const char *host)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok, e;

	assert_non_null(st);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(st, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, NULL), 1);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	if (host)
		assert_int_equal(X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0), 1);
	ok = X509_verify_cert(ctx);
	e = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	assert_true(ok == 1 ? e == X509_V_OK : e != X509_V_OK);
	return e;
}

/* ---- what the CA signs ---- */

static void test_permits(void **state)
{
	struct fixture *f = *state;

	assert_true(ca_permits(f->ca, "registry.npmjs.org"));
	assert_true(ca_permits(f->ca, "pypi.org"));
	assert_true(ca_permits(f->ca, "www.pypi.org"));
	assert_true(ca_permits(f->ca, "a.b.static.crates.io"));
	assert_false(ca_permits(f->ca, "xpypi.org"));
	assert_false(ca_permits(f->ca, "pypi.org.evil.example"));
	assert_false(ca_permits(f->ca, "npmjs.org"));
	assert_false(ca_permits(f->ca, "example.com"));
	assert_false(ca_permits(f->ca, "PyPI.org"));
	assert_false(ca_permits(f->ca, "1.2.3.4"));
	assert_false(ca_permits(f->ca, "::1"));
	assert_false(ca_permits(f->ca, ""));
	assert_false(ca_permits(f->ca, NULL));
}

static void test_leaf_verifies(void **state)
{
	struct fixture *f = *state;
	X509 *leaf;
	EVP_PKEY *key;
	int days, secs;

	assert_int_equal(ca_leaf(f->ca, "registry.npmjs.org", &leaf, &key), 0);
	assert_int_equal(verify(ca_cert(f->ca), leaf, "registry.npmjs.org"), X509_V_OK);
	assert_int_equal(verify(ca_cert(f->ca), leaf, "pypi.org"), X509_V_ERR_HOSTNAME_MISMATCH);
	assert_int_equal(X509_check_private_key(leaf, key), 1);
	assert_int_equal(X509_check_ca(leaf), 0);

	GENERAL_NAMES *san = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	assert_non_null(san);
	assert_int_equal(sk_GENERAL_NAME_num(san), 1);
	GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, 0);
	assert_int_equal(gn->type, GEN_DNS);
	assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.dNSName), "registry.npmjs.org");
	GENERAL_NAMES_free(san);

	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(leaf)), 1);
	assert_true(days == 6 || (days == 7 && secs == 0));
	assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(leaf), NULL), 1);
	assert_true(days == 0 && secs >= 3600 && secs < 3700);
}

static void test_leaf_refused(void **state)
{
	struct fixture *f = *state;
	X509 *leaf = NULL;
	EVP_PKEY *key = NULL;

	assert_int_equal(ca_leaf(f->ca, "example.com", &leaf, &key), -EPERM);
	assert_int_equal(ca_leaf(f->ca, "registry.npmjs.org.example.com", &leaf, &key), -EPERM);
	assert_int_equal(ca_leaf(f->ca, "1.2.3.4", &leaf, &key), -EPERM);
	assert_int_equal(ca_leaf(f->ca, "Registry.npmjs.org", &leaf, &key), -EINVAL);
	assert_int_equal(ca_leaf(f->ca, "pypi.org/x", &leaf, &key), -EINVAL);
	assert_null(leaf);
	assert_null(key);
}

static void test_leaf_cached(void **state)
{
	struct fixture *f = *state;
	X509 *a, *b, *c, *first, *again;
	EVP_PKEY *ka, *kb, *kc;
	char name[64];

	assert_int_equal(ca_leaf(f->ca, "pypi.org", &a, &ka), 0);
	assert_int_equal(ca_leaf(f->ca, "pypi.org", &b, &kb), 0);
	assert_ptr_equal(a, b);
	assert_ptr_equal(ka, kb);
	assert_int_equal(ca_leaf(f->ca, "files.pythonhosted.org", &c, &kc), 0);
	assert_ptr_not_equal(a, c);
	assert_ptr_equal(ka, kc); /* one leaf key per process */

	/* Fill the table: the first name minted is dropped, and minted anew. */
	assert_int_equal(ca_leaf(f->ca, "n0.deb.debian.org", &first, &ka), 0);
	X509_up_ref(first);
	for (int i = 1; i <= CA_MAX_LEAVES; i++) {
		snprintf(name, sizeof(name), "n%d.deb.debian.org", i);
		assert_int_equal(ca_leaf(f->ca, name, &c, &kc), 0);
	}
	assert_int_equal(ca_leaf(f->ca, "n0.deb.debian.org", &again, &ka), 0);
	assert_ptr_not_equal(first, again);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(first), X509_get0_serialNumber(again)), 0);
	X509_free(first);
}

/* The point of the constraints: with the CA's key but outside ca_leaf, a
 * certificate for another site, or for an IP address, is still refused. */
static void test_stolen_key_is_bounded(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *cakey = read_key(f->dir);
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *ca = ca_cert(f->ca);
	X509 *evil = make_cert("evil.example", ca, cakey, k, "CA:FALSE", "DNS:evil.example", NULL);
	X509 *nosan = make_cert("evil.example", ca, cakey, k, "CA:FALSE", NULL, NULL);
	X509 *ip = make_cert("registry.npmjs.org", ca, cakey, k, "CA:FALSE", "IP:93.184.216.34", NULL);
	X509 *ip6 = make_cert("registry.npmjs.org", ca, cakey, k, "CA:FALSE", "IP:2001:db8::1", NULL);
	X509 *good = make_cert("registry.npmjs.org", ca, cakey, k, "CA:FALSE", "DNS:registry.npmjs.org", NULL);

	assert_int_equal(verify(ca, evil, NULL), X509_V_ERR_PERMITTED_VIOLATION);
	assert_int_equal(verify(ca, evil, "evil.example"), X509_V_ERR_PERMITTED_VIOLATION);
	assert_int_equal(verify(ca, nosan, NULL), X509_V_ERR_PERMITTED_VIOLATION);
	assert_int_equal(verify(ca, ip, NULL), X509_V_ERR_EXCLUDED_VIOLATION);
	assert_int_equal(verify(ca, ip6, NULL), X509_V_ERR_EXCLUDED_VIOLATION);
	/* the same construction inside the constraints passes: the refusals
	 * above are the constraints', not the builder's */
	assert_int_equal(verify(ca, good, "registry.npmjs.org"), X509_V_OK);
	X509_free(evil);
	X509_free(nosan);
	X509_free(ip);
	X509_free(ip6);
	X509_free(good);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cakey);
}

/* ---- what load refuses ---- */

static void write_pem(const char *dir, const char *name, mode_t mode, X509 *cert, EVP_PKEY *key)
{
	char p[PATH_MAX];
	int fd;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

/* A CA in a new directory made by hand with the given nameConstraints. */
static void hand_made_ca(char *base, size_t size, const char *bc, const char *nc)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x;

	tmpdir(base, size);
	x = make_cert("hand-made CA", NULL, k, k, bc, NULL, nc);
	write_pem(base, "ca.pem", 0644, x, NULL);
	write_pem(base, "key.pem", 0600, NULL, k);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void expect_refused(const char *dir, const char *why)
{
	const char *err = NULL;
	struct ca *ca = NULL;

	assert_int_equal(ca_load(dir, true, ca_registry_names, ca_nregistry_names, &ca, NULL, &err), -EINVAL);
	assert_null(ca);
	assert_non_null(err);
	if (!strstr(err, why))
		fail_msg("refusal '%s' does not say '%s'", err, why);
	assert_null(strchr(err, '\n'));
}

static void test_load_refuses_open_key(void **state)
{
	char base[64], p[PATH_MAX];

	(void)state;
	hand_made_ca(base, sizeof(base), "critical,CA:TRUE", "critical,permitted;DNS:pypi.org");
	snprintf(p, sizeof(p), "%s/key.pem", base);
	assert_int_equal(chmod(p, 0644), 0);
	expect_refused(base, "chmod 600");
	assert_int_equal(chmod(p, 0640), 0);
	expect_refused(base, "readable by others");
	assert_int_equal(chmod(p, 0600), 0);
	struct ca *ca = NULL;
	assert_int_equal(ca_load(base, false, NULL, 0, &ca, NULL, NULL), 0); /* the control */
	assert_true(ca_permits(ca, "pypi.org"));
	assert_false(ca_permits(ca, "crates.io"));
	ca_free(ca);
	rm_rf(base);
}

static void test_load_refuses_unconstrained(void **state)
{
	char base[64];

	(void)state;
	hand_made_ca(base, sizeof(base), "critical,CA:TRUE", NULL);
	expect_refused(base, "has no usable name constraints: move it away and run `sluice ca init`");
	rm_rf(base);
	hand_made_ca(base, sizeof(base), "critical,CA:TRUE", "permitted;DNS:pypi.org"); /* not critical */
	expect_refused(base, "name constraints");
	rm_rf(base);
	hand_made_ca(base, sizeof(base), "critical,CA:TRUE", "critical,excluded;DNS:evil.example");
	expect_refused(base, "name constraints");
	rm_rf(base);
	hand_made_ca(base, sizeof(base), "critical,CA:TRUE", "critical,permitted;email:a@pypi.org");
	expect_refused(base, "name constraints");
	rm_rf(base);
	hand_made_ca(base, sizeof(base), "critical,CA:FALSE", "critical,permitted;DNS:pypi.org");
	expect_refused(base, "not a CA");
	rm_rf(base);
}

static void test_load_refuses_other_key(void **state)
{
	char base[64];
	EVP_PKEY *other = EVP_EC_gen("P-256");

	(void)state;
	hand_made_ca(base, sizeof(base), "critical,CA:TRUE", "critical,permitted;DNS:pypi.org");
	write_pem(base, "key.pem", 0600, NULL, other);
	expect_refused(base, "does not match");
	EVP_PKEY_free(other);
	rm_rf(base);
}

/* ---- TLS ---- */

struct hs {
	const char *sni;     /* NULL: none sent */
	const char *expect;  /* NULL: ca_expect_name not called */
	const char *alpn;    /* wire format, NULL: none offered */
	int max_version;     /* 0: any */
	/* results */
	char selected[32];
	const char *refusal;
	long verify;
};

static SSL_CTX *client_ctx(X509 *ca)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	assert_non_null(c);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(c), ca), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	return c;
}

/* Step one side; 1 done, 0 wants more, -1 failed. */
static int step(SSL *s, int *state)
{
	int r, e;

	if (*state)
		return *state;
	r = SSL_do_handshake(s);
	if (r == 1)
		return *state = 1;
	e = SSL_get_error(s, r);
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : (*state = -1);
}

/* A handshake over a socketpair between a client trusting the CA and a
 * ca_server_ctx server. 0 when both sides finish, -1 otherwise. */
static int handshake(struct ca *ca, struct hs *h)
{
	int sv[2], cs = 0, ss = 0;
	SSL_CTX *sctx = NULL, *cctx = client_ctx(ca_cert(ca));
	SSL *c, *s;
	const unsigned char *sel;
	unsigned int sellen = 0;

	assert_int_equal(ca_server_ctx(ca, &sctx), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	c = SSL_new(cctx);
	s = SSL_new(sctx);
	assert_true(c && s && SSL_set_fd(c, sv[0]) && SSL_set_fd(s, sv[1]));
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	assert_int_equal(SSL_set1_host(c, h->sni ? h->sni : "registry.npmjs.org"), 1);
	if (h->sni)
		assert_int_equal(SSL_set_tlsext_host_name(c, h->sni), 1);
	if (h->alpn)
		assert_int_equal(SSL_set_alpn_protos(c, (const unsigned char *)h->alpn, strlen(h->alpn)), 0);
	if (h->max_version)
		SSL_set_max_proto_version(c, h->max_version);
	if (h->expect)
		assert_int_equal(ca_expect_name(s, h->expect), 0);
	for (int i = 0; i < 50 && !(cs == 1 && ss == 1) && cs >= 0 && ss >= 0; i++)
		step(c, &cs), step(s, &ss);
	SSL_get0_alpn_selected(c, &sel, &sellen);
	snprintf(h->selected, sizeof(h->selected), "%.*s", (int)sellen, sel ? (const char *)sel : "");
	h->refusal = ca_refusal(s);
	h->verify = SSL_get_verify_result(c);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	close(sv[0]);
	close(sv[1]);
	ERR_clear_error();
	return cs == 1 && ss == 1 ? 0 : -1;
}

static void test_tls_handshake(void **state)
{
	struct fixture *f = *state;
	struct hs h = { .sni = "registry.npmjs.org", .expect = "registry.npmjs.org", .alpn = "\x02h2\x08http/1.1" };
	struct hs h12 = h, noalpn = h, h2only = h;

	assert_int_equal(handshake(f->ca, &h), 0);
	assert_string_equal(h.selected, "http/1.1");
	assert_int_equal(h.verify, X509_V_OK);
	assert_null(h.refusal);

	h12.max_version = TLS1_2_VERSION;
	assert_int_equal(handshake(f->ca, &h12), 0);
	assert_string_equal(h12.selected, "http/1.1");

	noalpn.alpn = NULL;
	assert_int_equal(handshake(f->ca, &noalpn), 0);
	assert_string_equal(noalpn.selected, "");
	h2only.alpn = "\x02h2";
	assert_int_equal(handshake(f->ca, &h2only), 0); /* goes on without ALPN */
	assert_string_equal(h2only.selected, "");
}

static void test_tls_refusals(void **state)
{
	struct fixture *f = *state;
	struct hs wrong = { .sni = "pypi.org", .expect = "registry.npmjs.org" };
	struct hs none = { .sni = NULL, .expect = "registry.npmjs.org" };
	struct hs outside = { .sni = "example.com", .expect = "example.com" };
	struct hs unset = { .sni = "registry.npmjs.org", .expect = NULL };
	struct hs old = { .sni = "registry.npmjs.org", .expect = "registry.npmjs.org",
			  .max_version = TLS1_1_VERSION };

	assert_int_equal(handshake(f->ca, &wrong), -1);
	assert_string_equal(wrong.refusal, "SNI differs from the requested host");
	assert_int_equal(handshake(f->ca, &none), -1);
	assert_string_equal(none.refusal, "no SNI");
	assert_int_equal(handshake(f->ca, &outside), -1);
	assert_string_equal(outside.refusal, "SNI not permitted by the CA's name constraints");
	assert_int_equal(handshake(f->ca, &unset), -1);
	assert_string_equal(unset.refusal, "no expected name set for the connection");
	assert_int_equal(handshake(f->ca, &old), -1);
}

static void test_expect_name_replaced(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *ctx;
	SSL *s;

	assert_int_equal(ca_server_ctx(f->ca, &ctx), 0);
	s = SSL_new(ctx);
	assert_non_null(s);
	assert_int_equal(ca_expect_name(s, "pypi.org"), 0);
	assert_int_equal(ca_expect_name(s, "crates.io"), 0); /* the first is freed (ASan) */
	assert_int_equal(ca_expect_name(s, ""), -EINVAL);
	assert_null(ca_refusal(s));
	SSL_free(s);
	SSL_CTX_free(ctx);
}

static void test_default_dir(void **state)
{
	char buf[PATH_MAX], small[8];
	const char *home = getenv("HOME");
	char *saved = home ? strdup(home) : NULL;

	(void)state;
	setenv("HOME", "/home/someone", 1);
	assert_int_equal(ca_default_dir(buf, sizeof(buf)), 0);
	assert_string_equal(buf, geteuid() == 0 ? "/var/lib/sluice/ca" : "/home/someone/.local/state/sluice/ca");
	assert_int_equal(ca_default_dir(small, sizeof(small)), -ENAMETOOLONG);
	unsetenv("HOME");
	assert_int_equal(ca_default_dir(buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "sluice/ca"));
	if (saved)
		setenv("HOME", saved, 1);
	free(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_then_load),
		cmocka_unit_test(test_load_creates),
		cmocka_unit_test(test_init_refuses_bad_names),
		cmocka_unit_test(test_permits),
		cmocka_unit_test(test_leaf_verifies),
		cmocka_unit_test(test_leaf_refused),
		cmocka_unit_test(test_leaf_cached),
		cmocka_unit_test(test_stolen_key_is_bounded),
		cmocka_unit_test(test_load_refuses_open_key),
		cmocka_unit_test(test_load_refuses_unconstrained),
		cmocka_unit_test(test_load_refuses_other_key),
		cmocka_unit_test(test_tls_handshake),
		cmocka_unit_test(test_tls_refusals),
		cmocka_unit_test(test_expect_name_replaced),
		cmocka_unit_test(test_default_dir),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
