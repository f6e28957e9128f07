/* Tibber's GraphQL answers (api.tibber.com/v1-beta/gql), parsed with cJSON into plain structs.
 *
 * The shapes understood, each covered by tests/unit/batch/test_tibber_response.c:
 * - the first page (tibber_query_first): {"data": {"viewer": {"homes": [{"id",
 *   "currentSubscription": {"priceInfo": {"today": [...], "tomorrow": [...]}} or null,
 *   "consumption": {"pageInfo": {"startCursor", "hasPreviousPage"}, "nodes": [...]} or null}]}}};
 * - a later page (tibber_query_page): {"data": {"viewer": {"home": {"id", "consumption": ...}}}};
 * - errors, also with HTTP 200: {"errors": [{"message", "extensions": {"code"}}], "data": ...}.
 *   An error anywhere fails the page (a partial answer is never used): UNAUTHENTICATED (or
 *   UNAUTHORIZED, FORBIDDEN) is the token, anything else a GraphQL error with Tibber's message.
 *
 * A consumption node is {from, to, consumption, cost, unitPrice, unitPriceVAT}; a price
 * {startsAt, total, energy, tax, currency, level}. Times carry their UTC offset
 * ("2024-10-27T02:00:00.000+01:00") and are kept as UTC ns, so the repeated local hour of the
 * October DST day and the skipped one of the March day come out as distinct, correct instants.
 * A null number is kept as NAN (JSON has no NaN, so NAN means null and nothing else): a null
 * consumption is an hour Tibber has not settled yet, never 0. */
#ifndef NEBENKOSTEN_BATCH_TIBBER_RESPONSE_H
#define NEBENKOSTEN_BATCH_TIBBER_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIBBER_NS_PER_HOUR (3600LL * 1000000000LL)
#define TIBBER_HOME_ID_SIZE 128
#define TIBBER_CURRENCY_SIZE 8
#define TIBBER_LEVEL_SIZE 24

/* What a request or an answer came to. Everything but OK fails the run. */
enum tibber_status {
    TIBBER_STATUS_OK = 0,
    TIBBER_STATUS_UNAUTHENTICATED, /* the token was refused (HTTP 401/403 or the error code) */
    TIBBER_STATUS_GRAPHQL_ERROR,   /* errors[] in the answer, or HTTP 400 */
    TIBBER_STATUS_MALFORMED,       /* not JSON, or not the shape asked for */
    TIBBER_STATUS_NO_HOME,         /* the account has no home */
    TIBBER_STATUS_NO_SUBSCRIPTION, /* no home has a current subscription */
    TIBBER_STATUS_HTTP,            /* an HTTP status that is not retried, or retries spent */
    TIBBER_STATUS_TRANSPORT,       /* connection, timeout, truncated answer: retries spent */
    TIBBER_STATUS_BUDGET,          /* the run's request budget is spent */
    TIBBER_STATUS_NO_MEMORY,
};
/* "ok", "unauthenticated", "graphql_error", ...: a static string. */
const char *tibber_status_name(enum tibber_status status);

/* One hour of consumption. NAN: null. */
struct tibber_node {
    int64_t from_ns, to_ns;
    double consumption, cost, unit_price, unit_price_vat;
};

/* One price interval (an hour, or a quarter hour when Tibber gives that resolution). */
struct tibber_price {
    int64_t starts_at_ns;
    double total, energy, tax;           /* NAN: null */
    char currency[TIBBER_CURRENCY_SIZE]; /* "" when null */
    char level[TIBBER_LEVEL_SIZE];       /* "" when null */
};

struct tibber_page {
    char home_id[TIBBER_HOME_ID_SIZE];
    size_t home_count;         /* homes the account has (first page), else 1 */
    size_t subscribed_homes;   /* of them, with a current subscription (first page) */
    bool consumption_missing;  /* "consumption" was null: Tibber has no meter data for the home */
    struct tibber_node *nodes; /* owned; in the order Tibber sent them */
    size_t node_count;
    char *start_cursor; /* owned; the cursor of the page's first node, NULL when absent */
    bool has_previous_page;
    bool prices_missing;         /* first page: priceInfo was null */
    struct tibber_price *prices; /* owned; today's, then tomorrow's (first page only) */
    size_t price_count;
};

/* Frees what page owns and zeroes it. */
void tibber_page_free(struct tibber_page *page);

/* Parses the answer text[0 .. length) (borrowed, need not be NUL-terminated) into *out (zeroed
 * first; free with tibber_page_free whatever the result). first_page: the answer to
 * tibber_query_first, of which the home whose id is home_id is taken (it must have a current
 * subscription), or the first home with a current subscription when home_id is NULL; else the
 * answer to tibber_query_page (home_id unused). home_id is borrowed. Returns TIBBER_STATUS_OK, or
 * another status with one line in error saying what was wrong (Tibber's own message and code for
 * errors[]; the node and field for a malformed answer). */
enum tibber_status tibber_response_parse(const char *text, size_t length, bool first_page,
                                         const char *home_id, struct tibber_page *out, char *error,
                                         size_t error_size);

/* The request bodies ({"query": ..., "variables": ...}, JSON): the first page asks for the homes
 * with their subscription, today's and tomorrow's prices (quarter-hourly where Tibber has them)
 * and the last `last` hours of consumption; a later page for the `last` hours before cursor of
 * home_id. Strings borrowed. Return an owned NUL-terminated string (cJSON_free), or NULL when
 * out of memory. */
char *tibber_query_first(int last);
char *tibber_query_page(const char *home_id, int last, const char *cursor);

#endif
