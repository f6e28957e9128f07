/* POSTs to Tibber's GraphQL endpoint with retries, backoff and a request budget. */
#include "batch/tibber_graphql.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef NEBENKOSTEN_VERSION
#define NEBENKOSTEN_VERSION "0"
#endif

struct tibber_client {
    const struct tibber_client_options *options;
    CURL *easy;
    struct curl_slist *headers;
    int requests, budget;
};

struct answer_sink {
    struct buffer *answer;
    bool too_large;
};

static size_t answer_collect(char *data, size_t size, size_t count, void *argument)
{
    struct answer_sink *sink = argument;
    size_t length = size * count;
    if (sink->answer->length + length > TIBBER_ANSWER_MAX_BYTES) {
        sink->too_large = true;
        return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
    }
    return buffer_append(sink->answer, data, length) == 0 ? length : 0;
}

struct tibber_client *tibber_client_create(const struct tibber_client_options *options, char *error,
                                           size_t error_size)
{
    struct tibber_client *client = calloc(1, sizeof *client);
    if (!client) {
        snprintf(error, error_size, "out of memory creating the Tibber client");
        return NULL;
    }
    client->options = options;
    client->budget = options->request_budget > 0 ? options->request_budget : TIBBER_REQUEST_BUDGET;
    client->easy = curl_easy_init();
    size_t token_length = strlen(options->token);
    char *authorization = malloc(token_length + 32);
    if (authorization) {
        snprintf(authorization, token_length + 32, "Authorization: Bearer %s", options->token);
        struct curl_slist *headers = NULL;
        const char *lines[] = {authorization, "Content-Type: application/json",
                               "Accept: application/json", "Expect:"};
        for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
            struct curl_slist *more = curl_slist_append(headers, lines[i]);
            if (!more) {
                curl_slist_free_all(headers);
                headers = NULL;
                break;
            }
            headers = more;
        }
        client->headers = headers;
        /* The token must not linger in freed memory longer than needed. */
        memset(authorization, 0, token_length + 32);
        free(authorization);
    }
    if (!client->easy || !client->headers) {
        snprintf(error, error_size, "out of memory creating the Tibber client");
        tibber_client_destroy(client);
        return NULL;
    }
    int64_t timeout_ms =
        options->timeout_ms > 0 ? options->timeout_ms : (int64_t)TIBBER_DEFAULT_TIMEOUT_MS;
    CURL *easy = client->easy;
    curl_easy_setopt(easy, CURLOPT_URL, options->url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, client->headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "nebenkosten/" NEBENKOSTEN_VERSION);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(timeout_ms < 10000 ? timeout_ms : 10000));
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, ""); /* gzip: pages of 744 hours shrink 10x */
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, answer_collect);
    return client;
}

void tibber_client_destroy(struct tibber_client *client)
{
    if (!client)
        return;
    if (client->easy)
        curl_easy_cleanup(client->easy);
    curl_slist_free_all(client->headers);
    free(client);
}

int tibber_client_requests(const struct tibber_client *client)
{
    return client->requests;
}

/* What Tibber said in an error answer: errors[0].message, a "message", or the first bytes,
 * control characters replaced. */
static void answer_words(const struct buffer *answer, char *out, size_t out_size)
{
    out[0] = '\0';
    if (answer->length == 0) {
        snprintf(out, out_size, "(empty answer)");
        return;
    }
    cJSON *root = cJSON_ParseWithLength(answer->data, answer->length);
    const cJSON *errors = cJSON_GetObjectItemCaseSensitive(root, "errors");
    const cJSON *message =
        cJSON_GetObjectItemCaseSensitive(cJSON_IsArray(errors) ? errors->child : root, "message");
    size_t length = 0;
    const char *text = answer->data;
    if (cJSON_IsString(message)) {
        text = message->valuestring;
        length = strlen(text);
    } else {
        length = answer->length;
    }
    size_t i = 0;
    for (; i < length && i + 1 < out_size && i < 200; i++)
        out[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? ' ' : text[i];
    out[i] = '\0';
    cJSON_Delete(root);
}

static bool curl_retryable(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR: /* e.g. a connection reset during the TLS handshake */
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
        return true;
    default:
        return false;
    }
}

static void sleep_ms(int64_t milliseconds)
{
    struct timespec delay = {.tv_sec = milliseconds / 1000,
                             .tv_nsec = (milliseconds % 1000) * 1000000L};
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR)
        ;
}

/* One answer that was not a 2xx: its status, and whether another try may help. */
static enum tibber_status http_failure(long http_status, const struct buffer *answer,
                                       bool *retryable, char *message, size_t message_size)
{
    char words[256];
    answer_words(answer, words, sizeof words);
    *retryable = false;
    if (http_status == 401 || http_status == 403) {
        snprintf(message, message_size, "Tibber refused the token (HTTP %ld: %s)", http_status,
                 words);
        return TIBBER_STATUS_UNAUTHENTICATED;
    }
    if (http_status == 429 || http_status >= 500) {
        *retryable = true;
        snprintf(message, message_size, "HTTP %ld from Tibber: %s", http_status, words);
        return TIBBER_STATUS_HTTP;
    }
    if (http_status >= 400) {
        /* GraphQL servers answer a query they reject with 400 and errors[]. */
        struct tibber_page page;
        enum tibber_status status =
            tibber_response_parse(answer->data ? answer->data : "", answer->length, true, NULL,
                                  &page, message, message_size);
        tibber_page_free(&page);
        if (status == TIBBER_STATUS_UNAUTHENTICATED || status == TIBBER_STATUS_GRAPHQL_ERROR) {
            size_t used = strlen(message);
            snprintf(message + used, message_size - used, " (HTTP %ld)", http_status);
            return status;
        }
    }
    snprintf(message, message_size, "HTTP %ld from Tibber: %s", http_status, words);
    return TIBBER_STATUS_HTTP;
}

/* The attempts of one request; the options pointing at the caller's stack are set by
 * tibber_client_post around it. */
static enum tibber_status post_attempts(struct tibber_client *client, struct answer_sink *sink,
                                        char *curl_error, char *error, size_t error_size)
{
    CURL *easy = client->easy;
    char message[600] = "";
    for (int attempt = 1;; attempt++) {
        if (client->requests >= client->budget) {
            snprintf(error, error_size,
                     "the run's budget of %d requests to Tibber is spent (Tibber allows 100 per 5 "
                     "minutes per IP)%s%s",
                     client->budget, attempt > 1 ? "; the last answer: " : "", message);
            return TIBBER_STATUS_BUDGET;
        }
        buffer_clear(sink->answer);
        sink->too_large = false;
        curl_error[0] = '\0';
        CURLcode code = curl_easy_perform(easy);
        client->requests++;
        bool retryable = false;
        long http_status = 0;
        enum tibber_status status;
        if (sink->too_large) {
            snprintf(message, sizeof message, "Tibber's answer is larger than %u bytes",
                     TIBBER_ANSWER_MAX_BYTES);
            status = TIBBER_STATUS_MALFORMED;
        } else if (code == CURLE_OK) {
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
            if (http_status >= 200 && http_status < 300)
                return TIBBER_STATUS_OK;
            status = http_failure(http_status, sink->answer, &retryable, message, sizeof message);
        } else {
            retryable = curl_retryable(code);
            snprintf(message, sizeof message, "%s%s",
                     code == CURLE_OPERATION_TIMEDOUT ? "no complete answer from Tibber in time: "
                     : code == CURLE_PARTIAL_FILE     ? "Tibber's answer was cut short: "
                                                      : "cannot reach Tibber: ",
                     curl_error[0] ? curl_error : curl_easy_strerror(code));
            status = TIBBER_STATUS_TRANSPORT;
        }
        if (!retryable || attempt >= TIBBER_MAX_ATTEMPTS) {
            snprintf(error, error_size, "%s%s", message,
                     attempt > 1 ? " (the last of several attempts)" : "");
            return status;
        }
        curl_off_t retry_after = 0;
        if (code == CURLE_OK)
            curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after);
        if (retry_after > TIBBER_RETRY_AFTER_MAX_S) {
            snprintf(error, error_size,
                     "%s; Tibber asks to wait %ld s before the next request, longer than a run "
                     "waits: the next scheduled run tries again",
                     message, (long)retry_after);
            return status;
        }
        int64_t delay_ms = retry_after > 0 ? (int64_t)retry_after * 1000
                                           : (int64_t)TIBBER_BACKOFF_INITIAL_MS << (attempt - 1);
        log_warning(client->options->logger, "Tibber request failed; retrying",
                    LOG_STRING("error", message), LOG_INTEGER("attempt", attempt),
                    LOG_INTEGER("attempts", TIBBER_MAX_ATTEMPTS),
                    LOG_INTEGER("delay_ms", delay_ms));
        sleep_ms(delay_ms);
    }
}

enum tibber_status tibber_client_post(struct tibber_client *client, const char *body, size_t length,
                                      struct buffer *answer, char *error, size_t error_size)
{
    CURL *easy = client->easy;
    char curl_error[CURL_ERROR_SIZE];
    struct answer_sink sink = {.answer = answer};
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)length);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_error);
    enum tibber_status status = post_attempts(client, &sink, curl_error, error, error_size);
    /* The handle outlives this call; it must not point into this stack frame. */
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);
    return status;
}
