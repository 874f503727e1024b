/* ca_tls.c: the TLS server side of interception: a context whose ClientHello
 * callback picks the leaf for the client's SNI, which must be permitted by
 * the CA and equal the name the connection was decided for. See ca.h. */
#include "ca.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/tls1.h>

#include "host.h"
#include "span.h"
#include "tlswire.h"

static CRYPTO_ONCE ex_once = CRYPTO_ONCE_STATIC_INIT;
static int ex_expect = -1; /* char *, OPENSSL_free'd with the SSL */
static int ex_refusal = -1; /* const char *, static */

static void free_expect_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	OPENSSL_free(ptr);
}

static void ex_init(void)
{
	ex_expect = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_expect_cb);
	ex_refusal = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static bool ex_ready(void)
{
	return CRYPTO_THREAD_run_once(&ex_once, ex_init) && ex_expect >= 0 && ex_refusal >= 0;
}

int ca_expect_name(SSL *ssl, const char *name)
{
	char *dup;

	if (!ssl || !name || !*name || !ex_ready())
		return -EINVAL;
	dup = OPENSSL_strdup(name);
	if (!dup)
		return -ENOMEM;
	OPENSSL_free(SSL_get_ex_data(ssl, ex_expect));
	if (!SSL_set_ex_data(ssl, ex_expect, dup)) {
		OPENSSL_free(dup);
		SSL_set_ex_data(ssl, ex_expect, NULL);
		return -ENOMEM;
	}
	return 0;
}

const char *ca_refusal(const SSL *ssl)
{
	return ex_ready() ? SSL_get_ex_data(ssl, ex_refusal) : NULL;
}

/* The client's SNI, canonicalized into out. NULL, or why it is unusable. */
static const char *client_sni(SSL *ssl, struct host *out)
{
	const unsigned char *p;
	size_t len;
	char name[TLS_NAME_MAX + 1];
	const char *why;
	int rc;

	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len))
		return "no SNI";
	rc = tls_server_name(span_of((const char *)p, len), name);
	if (rc == -ENOENT)
		return "no SNI";
	if (rc < 0 || host_canonicalize(span_str(name), out, &why) < 0)
		return "malformed SNI";
	if (out->kind != HOST_NAME)
		return "SNI is an IP address";
	return NULL;
}

/* Pick and install the leaf; NULL, or why the handshake is refused (with
 * *alert set for the client). */
static const char *choose_leaf(SSL *ssl, struct ca *ca, int *alert)
{
	struct host h;
	const char *why = client_sni(ssl, &h);
	const char *expect = SSL_get_ex_data(ssl, ex_expect);
	X509 *cert;
	EVP_PKEY *key;

	*alert = SSL_AD_UNRECOGNIZED_NAME;
	if (why)
		return why;
	if (!expect)
		return "no expected name set for the connection";
	if (strcmp(h.text, expect) != 0)
		return "SNI differs from the requested host";
	if (!ca_permits(ca, h.text))
		return "SNI not permitted by the CA's name constraints";
	*alert = SSL_AD_INTERNAL_ERROR;
	if (ca_leaf(ca, h.text, &cert, &key) < 0)
		return "cannot mint a leaf certificate";
	if (SSL_use_certificate(ssl, cert) != 1 || SSL_use_PrivateKey(ssl, key) != 1)
		return "cannot install the leaf certificate";
	return NULL;
}

static int client_hello_cb(SSL *ssl, int *alert, void *arg)
{
	const char *why;

	if (!ex_ready()) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	why = choose_leaf(ssl, arg, alert);
	if (!why)
		return SSL_CLIENT_HELLO_SUCCESS;
	SSL_set_ex_data(ssl, ex_refusal, (void *)why);
	return SSL_CLIENT_HELLO_ERROR;
}

/* ALPN: "http/1.1" when the client offers it, else no ALPN at all. */
static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
		   unsigned int inlen, void *arg)
{
	static const char h11[] = "http/1.1";
	struct span list = span_of((const char *)in, inlen);
	size_t off = 0;

	(void)ssl, (void)arg;
	while (off < list.len) {
		size_t n = (unsigned char)list.p[off];
		if (n == 0 || n > list.len - off - 1)
			return SSL_TLSEXT_ERR_NOACK;
		if (n == sizeof(h11) - 1 && memcmp(list.p + off + 1, h11, n) == 0) {
			*out = (const unsigned char *)h11;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
		off += 1 + n;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

int ca_server_ctx(struct ca *ca, SSL_CTX **out)
{
	SSL_CTX *ctx;

	if (!ca || !ex_ready())
		return -EINVAL;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return -ENOMEM;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		SSL_CTX_free(ctx);
		return -ENOMEM;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, ca);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	*out = ctx;
	return 0;
}
