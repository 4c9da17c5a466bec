#ifndef DPLOY_CCURL_SHIM_H
#define DPLOY_CCURL_SHIM_H
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call.
   One typed wrapper per argument type, as GRDB does for sqlite3_config. */

typedef size_t (*dploy_curl_data_callback)(char *data, size_t size, size_t count, void *userdata);

static inline CURLcode dploy_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode dploy_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode dploy_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode dploy_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode dploy_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode dploy_curl_setopt_data_callback(CURL *handle, CURLoption option, dploy_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode dploy_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode dploy_curl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

/* Pinning by certificate fingerprint (what `openssl x509 -fingerprint -sha256` and iLO's
   certificate page show). curl can pin a public key but not a certificate, so the check is
   installed into OpenSSL through CURLOPT_SSL_CTX_FUNCTION: OpenSSL calls it while verifying
   the server's certificate, inside the handshake, so a mismatch ends the connection before a
   byte of the request (or a password) is written. It replaces the CA check: a certificate
   that hashes to the pin is the one the operator meant, self-signed or not. The state lives
   as long as the curl handle (its connections are the handle's own), never a transfer. */
struct dploy_certificate_pin {
    unsigned char expected[32];
    unsigned char seen[32];
    int checked;  /* a leaf certificate was hashed into `seen` */
    int matched;
};

static inline int dploy_verify_certificate_pin(X509_STORE_CTX *store, void *arg) {
    struct dploy_certificate_pin *pin = (struct dploy_certificate_pin *)arg;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);
    unsigned int length = 0;
    pin->checked = 0;
    pin->matched = 0;
    if (leaf == NULL || X509_digest(leaf, EVP_sha256(), pin->seen, &length) != 1 || length != 32) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    pin->checked = 1;
    pin->matched = CRYPTO_memcmp(pin->seen, pin->expected, 32) == 0;
    X509_STORE_CTX_set_error(store, pin->matched ? X509_V_OK : X509_V_ERR_CERT_REJECTED);
    return pin->matched;
}

static inline CURLcode dploy_ssl_ctx_pin_certificate(CURL *handle, void *ssl_ctx, void *arg) {
    (void)handle;
    /* curl has set SSL_VERIFY_NONE (VERIFYPEER off, since no CA check is wanted); PEER makes
       OpenSSL abort the handshake when the callback says no. */
    SSL_CTX_set_verify((SSL_CTX *)ssl_ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback((SSL_CTX *)ssl_ctx, dploy_verify_certificate_pin, arg);
    return CURLE_OK;
}

/* Installs the check for the handle's next transfer (set again after every curl_easy_reset).
   TLS session resumption is turned off with it: a resumed session presents no certificate,
   so every new connection is checked in full. */
static inline CURLcode dploy_curl_pin_certificate(CURL *handle, struct dploy_certificate_pin *pin) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_SSL_CTX_FUNCTION, dploy_ssl_ctx_pin_certificate);
    if (code != CURLE_OK) return code;
    code = curl_easy_setopt(handle, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_SSL_CTX_DATA, (void *)pin);
}

#endif
