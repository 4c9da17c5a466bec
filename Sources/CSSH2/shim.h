#ifndef DPLOY_CSSH2_SHIM_H
#define DPLOY_CSSH2_SHIM_H
#include <libssh2.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Many libssh2 calls are function-like macros over their _ex forms, which Swift cannot
   import; keyboard-interactive needs a C callback. One small typed wrapper each. */

static inline LIBSSH2_CHANNEL *dploy_ssh2_channel_open_session(LIBSSH2_SESSION *session) {
    return libssh2_channel_open_session(session);
}

static inline int dploy_ssh2_channel_exec(LIBSSH2_CHANNEL *channel, const char *command, unsigned int length) {
    return libssh2_channel_process_startup(channel, "exec", sizeof("exec") - 1, command, length);
}

static inline int dploy_ssh2_userauth_password(LIBSSH2_SESSION *session, const char *user, unsigned int user_length,
                                               const char *password, unsigned int password_length) {
    return libssh2_userauth_password_ex(session, user, user_length, password, password_length, NULL);
}

/* Keyboard-interactive, answering every prompt that does not echo (the password prompt)
   with the password, and echoing prompts with nothing. The password is the session's
   abstract pointer (a NUL-terminated copy the Swift side owns for the session's life). */
static void dploy_ssh2_kbdint_answer(const char *name, int name_len, const char *instruction, int instruction_len,
                                     int num_prompts, const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts,
                                     LIBSSH2_USERAUTH_KBDINT_RESPONSE *responses, void **abstract) {
    (void)name; (void)name_len; (void)instruction; (void)instruction_len;
    const char *password = abstract && *abstract ? (const char *)*abstract : "";
    for (int i = 0; i < num_prompts; i++) {
        const char *answer = prompts[i].echo ? "" : password;
        responses[i].text = strdup(answer);
        responses[i].length = responses[i].text ? (unsigned int)strlen(answer) : 0;
    }
}

static inline int dploy_ssh2_userauth_keyboard_interactive(LIBSSH2_SESSION *session, const char *user,
                                                           unsigned int user_length) {
    return libssh2_userauth_keyboard_interactive_ex(session, user, user_length, dploy_ssh2_kbdint_answer);
}

static inline LIBSSH2_SESSION *dploy_ssh2_session_init(void *abstract) {
    return libssh2_session_init_ex(NULL, NULL, NULL, abstract);
}

static inline int dploy_ssh2_session_disconnect(LIBSSH2_SESSION *session, const char *description) {
    return libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, description, "");
}

/* The fields of a known_hosts entry Swift needs, without touching the struct layout. */
static inline const char *dploy_ssh2_knownhost_key(const struct libssh2_knownhost *entry) {
    return entry ? entry->key : NULL;
}

/* SHA-256 over a stored key blob (the fingerprint of a known_hosts entry); libssh2
   hashes the server's key itself with libssh2_hostkey_hash. */
static inline int dploy_sha256(const void *data, size_t length, unsigned char out[32]) {
    unsigned int written = 0;
    return EVP_Digest(data, length, out, &written, EVP_sha256(), NULL) == 1 && written == 32 ? 0 : -1;
}

#endif
