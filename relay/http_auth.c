/* Client authentication: parses the credential a request presents and checks it against the
 * tokens or user:password pairs of relay.env in constant time. */
#include "relay/http_auth.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

/* Longest credential looked at; longer ones are refused without comparing. */
#define HTTP_AUTH_CREDENTIAL_MAX 1024

/* A credential as (pointer, length) slices into the request or a decode buffer. */
struct http_auth_credential {
    const char *user;
    size_t user_length;
    const char *secret; /* token, or password when user is set */
    size_t secret_length;
    bool has_user;
};

bool http_auth_equal(const char *a, size_t a_length, const char *b, size_t b_length)
{
    /* Walk the whole of a whatever b holds, so timing shows only the lengths. */
    unsigned int difference = a_length != b_length;
    for (size_t i = 0; i < a_length; i++) {
        unsigned char other = i < b_length ? (unsigned char)b[i] : 0;
        difference |= (unsigned char)a[i] ^ other;
    }
    return difference == 0;
}

/* Value of one base64 character, or -1. */
static int http_auth_base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes base64 text (padding optional) into out (HTTP_AUTH_CREDENTIAL_MAX bytes). Returns the
 * decoded length or -1. */
static long http_auth_base64_decode(const char *text, size_t length, char *out)
{
    while (length > 0 && text[length - 1] == '=')
        length--;
    if (length % 4 == 1 || length / 4 * 3 + 3 > HTTP_AUTH_CREDENTIAL_MAX)
        return -1;
    uint32_t accumulator = 0;
    int bits = 0;
    long written = 0;
    for (size_t i = 0; i < length; i++) {
        int value = http_auth_base64_value((unsigned char)text[i]);
        if (value < 0)
            return -1;
        accumulator = (accumulator << 6) | (uint32_t)value;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[written++] = (char)((accumulator >> bits) & 0xff);
        }
    }
    return written;
}

/* Splits "user:password" at the first ':' into credential. */
static void http_auth_split(const char *text, size_t length, struct http_auth_credential *out)
{
    const char *colon = memchr(text, ':', length);
    out->secret = text;
    out->secret_length = length;
    out->has_user = false;
    if (colon) {
        out->has_user = true;
        out->user = text;
        out->user_length = (size_t)(colon - text);
        out->secret = colon + 1;
        out->secret_length = length - out->user_length - 1;
    }
}

/* Whether the header starts with scheme (case-insensitive) and a space; *rest is what follows
 * the spaces. */
static bool http_auth_scheme(const char *header, const char *scheme, const char **rest)
{
    size_t length = strlen(scheme);
    if (strncasecmp(header, scheme, length) != 0 || header[length] != ' ')
        return false;
    const char *cursor = header + length;
    while (*cursor == ' ')
        cursor++;
    *rest = cursor;
    return true;
}

static bool http_auth_token_known(const struct config_relay *config, const char *secret,
                                  size_t length)
{
    bool found = false;
    for (size_t i = 0; i < config->auth_token_count; i++) {
        const char *token = config->auth_tokens[i];
        found |= http_auth_equal(secret, length, token, strlen(token));
    }
    return found;
}

static bool http_auth_user_known(const struct config_relay *config,
                                 const struct http_auth_credential *credential)
{
    bool found = false;
    for (size_t i = 0; i < config->auth_user_count; i++) {
        const struct config_user *user = &config->auth_users[i];
        bool name = http_auth_equal(credential->user, credential->user_length, user->name,
                                    strlen(user->name));
        bool password = http_auth_equal(credential->secret, credential->secret_length,
                                        user->password, strlen(user->password));
        found |= name & password;
    }
    return found;
}

/* Checks a credential; bearer says it came as a token scheme (Token/Bearer), where token mode
 * compares the whole text. */
static bool http_auth_credential_check(const struct config_relay *config, const char *text,
                                       size_t length, bool bearer)
{
    if (length == 0 || length > HTTP_AUTH_CREDENTIAL_MAX)
        return false;
    struct http_auth_credential credential;
    http_auth_split(text, length, &credential);
    if (config->auth == CONFIG_AUTH_TOKEN) {
        if (bearer && http_auth_token_known(config, text, length))
            return true;
        return credential.has_user &&
               http_auth_token_known(config, credential.secret, credential.secret_length);
    }
    return credential.has_user && http_auth_user_known(config, &credential);
}

/* u and p from a v1 query, joined so both modes see "user:password". */
static bool http_auth_query_check(const struct config_relay *config, const char *user,
                                  const char *password)
{
    size_t user_length = strlen(user);
    size_t password_length = strlen(password);
    if (user_length + password_length + 1 > HTTP_AUTH_CREDENTIAL_MAX)
        return false;
    char joined[HTTP_AUTH_CREDENTIAL_MAX];
    memcpy(joined, user, user_length);
    joined[user_length] = ':';
    memcpy(joined + user_length + 1, password, password_length);
    return http_auth_credential_check(config, joined, user_length + password_length + 1, false);
}

bool http_auth_allows(const struct config_relay *config, enum http_dialect dialect,
                      const struct http_auth_request *request)
{
    if (config->auth == CONFIG_AUTH_NONE)
        return true;
    /* As InfluxDB 1.x decides: u and p in the query, when both are given, before the header. */
    if (dialect == HTTP_DIALECT_V1 && request->user && request->password &&
        request->user[0] != '\0' && request->password[0] != '\0')
        return http_auth_query_check(config, request->user, request->password);
    const char *header = request->authorization;
    const char *rest = NULL;
    if (header) {
        if (http_auth_scheme(header, "Token", &rest) ||
            (dialect == HTTP_DIALECT_V2 && http_auth_scheme(header, "Bearer", &rest)))
            return http_auth_credential_check(config, rest, strlen(rest), true);
        if (dialect == HTTP_DIALECT_V1 && http_auth_scheme(header, "Basic", &rest)) {
            char decoded[HTTP_AUTH_CREDENTIAL_MAX];
            long length = http_auth_base64_decode(rest, strlen(rest), decoded);
            return length > 0 && http_auth_credential_check(config, decoded, (size_t)length, false);
        }
    }
    return false;
}

bool http_auth_request_allowed(const struct config_relay *config, struct http_request *request)
{
    if (config->auth == CONFIG_AUTH_NONE)
        return true;
    const char *query = http_request_query(request);
    struct evkeyvalq parameters;
    TAILQ_INIT(&parameters);
    if (query)
        (void)http_query_parse(query, &parameters); /* unparsable: no u/p, refused below */
    struct http_auth_request credentials = {
        .authorization = evhttp_find_header(http_request_input_headers(request), "Authorization"),
        .user = evhttp_find_header(&parameters, "u"),
        .password = evhttp_find_header(&parameters, "p"),
    };
    bool allowed = http_auth_allows(config, HTTP_DIALECT_V1, &credentials) ||
                   http_auth_allows(config, HTTP_DIALECT_V2, &credentials);
    evhttp_clear_headers(&parameters);
    return allowed;
}
