/* http_auth_allows: each mode and dialect, every accepted credential form and the refusals. */
#include <criterion/criterion.h>
#include <string.h>

#include "relay/http_auth.h"

static char *tokens[] = {"s3cret-token", "second"};
static struct config_user users[] = {{"telegraf", "pa:ss"}, {"ha", "other"}};

static struct config_relay auth_config(enum config_auth auth)
{
    struct config_relay config;
    memset(&config, 0, sizeof config);
    config.auth = auth;
    if (auth == CONFIG_AUTH_TOKEN) {
        config.auth_tokens = tokens;
        config.auth_token_count = 2;
    } else if (auth == CONFIG_AUTH_BASIC) {
        config.auth_users = users;
        config.auth_user_count = 2;
    }
    return config;
}

static bool allows(enum config_auth auth, enum http_dialect dialect, const char *authorization,
                   const char *user, const char *password)
{
    struct config_relay config = auth_config(auth);
    struct http_auth_request request = {authorization, user, password};
    return http_auth_allows(&config, dialect, &request);
}

Test(http_auth, none_allows_everything)
{
    cr_assert(allows(CONFIG_AUTH_NONE, HTTP_DIALECT_V1, NULL, NULL, NULL));
    cr_assert(allows(CONFIG_AUTH_NONE, HTTP_DIALECT_V2, "Token whatever", NULL, NULL));
}

Test(http_auth, token_mode_v1)
{
    cr_assert_not(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, NULL, NULL, NULL));
    cr_assert(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, "Token s3cret-token", NULL, NULL));
    cr_assert(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, "token   second", NULL, NULL));
    cr_assert_not(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, "Token s3cret-toke", NULL, NULL));
    cr_assert_not(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, "Token s3cret-token2", NULL, NULL));
    cr_assert_not(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, "Token ", NULL, NULL));
    /* Bearer is the v2 form only. */
    cr_assert_not(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, "Bearer second", NULL, NULL));
    /* InfluxDB 2's v1 compatibility: the password is the token. */
    cr_assert(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, NULL, "anyone", "second"));
    cr_assert_not(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, NULL, "anyone", "third"));
    /* InfluxDB 1.x reads u and p before the Authorization header, when both are given. */
    cr_assert(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, "Token wrong", "anyone", "second"));
    cr_assert_not(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, "Token second", "anyone", "wrong"));
    cr_assert(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, "Token second", "anyone", ""));
    /* "dXNlcjpzZWNvbmQ=" is base64 of "user:second". */
    cr_assert(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, "Basic dXNlcjpzZWNvbmQ=", NULL, NULL));
}

Test(http_auth, token_mode_v2)
{
    cr_assert(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V2, "Token second", NULL, NULL));
    cr_assert(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V2, "Bearer s3cret-token", NULL, NULL));
    cr_assert_not(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V2, "Bearer wrong", NULL, NULL));
    /* u/p and Basic belong to v1. */
    cr_assert_not(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V2, NULL, "anyone", "second"));
    cr_assert_not(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V2, "Basic dXNlcjpzZWNvbmQ=", NULL, NULL));
}

Test(http_auth, basic_mode)
{
    /* "dGVsZWdyYWY6cGE6c3M=" is base64 of "telegraf:pa:ss"; "aGE6b3RoZXI" of "ha:other". */
    cr_assert(allows(CONFIG_AUTH_BASIC, HTTP_DIALECT_V1, "Basic dGVsZWdyYWY6cGE6c3M=", NULL, NULL));
    cr_assert(allows(CONFIG_AUTH_BASIC, HTTP_DIALECT_V1, "Basic aGE6b3RoZXI", NULL, NULL));
    cr_assert_not(allows(CONFIG_AUTH_BASIC, HTTP_DIALECT_V1, "Basic aGE6b3RoZXJ4", NULL, NULL));
    cr_assert_not(allows(CONFIG_AUTH_BASIC, HTTP_DIALECT_V1, "Basic !!!!", NULL, NULL));
    cr_assert(allows(CONFIG_AUTH_BASIC, HTTP_DIALECT_V1, NULL, "telegraf", "pa:ss"));
    cr_assert_not(allows(CONFIG_AUTH_BASIC, HTTP_DIALECT_V1, NULL, "telegraf", "other"));
    cr_assert_not(allows(CONFIG_AUTH_BASIC, HTTP_DIALECT_V1, NULL, "ha", NULL));
    cr_assert(allows(CONFIG_AUTH_BASIC, HTTP_DIALECT_V1, "Token ha:other", NULL, NULL));
    cr_assert(allows(CONFIG_AUTH_BASIC, HTTP_DIALECT_V2, "Token telegraf:pa:ss", NULL, NULL));
    cr_assert(allows(CONFIG_AUTH_BASIC, HTTP_DIALECT_V2, "Bearer ha:other", NULL, NULL));
    /* A bare token means nothing in basic mode. */
    cr_assert_not(allows(CONFIG_AUTH_BASIC, HTTP_DIALECT_V2, "Token other", NULL, NULL));
    /* A user name must match whole. */
    cr_assert_not(allows(CONFIG_AUTH_BASIC, HTTP_DIALECT_V1, NULL, "h", "other"));
}

Test(http_auth, unknown_scheme_is_refused)
{
    cr_assert_not(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, "Digest second", NULL, NULL));
    cr_assert_not(allows(CONFIG_AUTH_TOKEN, HTTP_DIALECT_V1, "Tokensecond", NULL, NULL));
}

Test(http_auth, equal_compares_whole_strings)
{
    cr_assert(http_auth_equal("abc", 3, "abc", 3));
    cr_assert_not(http_auth_equal("abc", 3, "abd", 3));
    cr_assert_not(http_auth_equal("abc", 3, "abcd", 4));
    cr_assert_not(http_auth_equal("abcd", 4, "abc", 3));
    cr_assert(http_auth_equal("", 0, "", 0));
    cr_assert_not(http_auth_equal("", 0, "a", 1));
}
