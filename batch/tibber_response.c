/* Tibber's answers into plain structs, and the queries that ask for them. */
#include "batch/tibber_response.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch/readings.h"

/* The fields of a node and of a price, asked for and read back under the same names. */
#define TIBBER_NODE_FIELDS "from to consumption cost unitPrice unitPriceVAT"
#define TIBBER_PRICE_FIELDS "startsAt total energy tax currency level"
#define TIBBER_CONSUMPTION_FIELDS                                                                  \
    "pageInfo { startCursor hasPreviousPage } nodes { " TIBBER_NODE_FIELDS " }"

static const char *const status_names[] = {
    [TIBBER_STATUS_OK] = "ok",
    [TIBBER_STATUS_UNAUTHENTICATED] = "unauthenticated",
    [TIBBER_STATUS_GRAPHQL_ERROR] = "graphql_error",
    [TIBBER_STATUS_MALFORMED] = "malformed",
    [TIBBER_STATUS_NO_HOME] = "no_home",
    [TIBBER_STATUS_NO_SUBSCRIPTION] = "no_subscription",
    [TIBBER_STATUS_HTTP] = "http",
    [TIBBER_STATUS_TRANSPORT] = "transport",
    [TIBBER_STATUS_BUDGET] = "budget",
    [TIBBER_STATUS_NO_MEMORY] = "no_memory",
};

const char *tibber_status_name(enum tibber_status status)
{
    if ((size_t)status < sizeof status_names / sizeof status_names[0] && status_names[status])
        return status_names[status];
    return "unknown";
}

void tibber_page_free(struct tibber_page *page)
{
    free(page->nodes);
    free(page->start_cursor);
    free(page->prices);
    *page = (struct tibber_page){0};
}

/* Copies Tibber's text into out for a log line: at most out_size - 1 bytes, control characters
 * as '?', so a hostile message cannot forge log lines. */
static void text_copy(char *out, size_t out_size, const char *text)
{
    size_t i = 0;
    for (; text[i] && i + 1 < out_size; i++)
        out[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
    out[i] = '\0';
}

static const char *string_of(const cJSON *object, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static bool code_is_authentication(const char *code)
{
    return code && (strcmp(code, "UNAUTHENTICATED") == 0 || strcmp(code, "UNAUTHORIZED") == 0 ||
                    strcmp(code, "FORBIDDEN") == 0);
}

/* errors[]: the first error's message and code, and whether any says the token was refused. */
static enum tibber_status errors_check(const cJSON *root, char *error, size_t error_size)
{
    const cJSON *errors = cJSON_GetObjectItemCaseSensitive(root, "errors");
    if (!errors || cJSON_IsNull(errors) || (cJSON_IsArray(errors) && !errors->child))
        return TIBBER_STATUS_OK;
    if (!cJSON_IsArray(errors)) {
        snprintf(error, error_size, "Tibber answered with \"errors\" that is not an array");
        return TIBBER_STATUS_GRAPHQL_ERROR;
    }
    bool authentication = false;
    const cJSON *item;
    cJSON_ArrayForEach(item, errors)
    {
        const cJSON *extensions = cJSON_GetObjectItemCaseSensitive(item, "extensions");
        if (code_is_authentication(string_of(extensions, "code")))
            authentication = true;
    }
    const cJSON *first = errors->child;
    const char *message = string_of(first, "message");
    const char *code = string_of(cJSON_GetObjectItemCaseSensitive(first, "extensions"), "code");
    char message_text[300], code_text[64];
    text_copy(message_text, sizeof message_text, message ? message : "(no message)");
    text_copy(code_text, sizeof code_text, code ? code : "none");
    int more = cJSON_GetArraySize(errors) - 1;
    snprintf(error, error_size, "Tibber answered with an error: %s (code %s)%s", message_text,
             code_text, more > 0 ? ", and more" : "");
    return authentication ? TIBBER_STATUS_UNAUTHENTICATED : TIBBER_STATUS_GRAPHQL_ERROR;
}

/* A time field (RFC 3339 with its offset) into UTC ns. Returns 0, 1 when null or absent, -1 when
 * it is something else. */
static int time_read(const cJSON *object, const char *name, int64_t *t_ns)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    if (!item || cJSON_IsNull(item))
        return 1;
    if (!cJSON_IsString(item) ||
        batch_timestamp_parse(item->valuestring, strlen(item->valuestring), t_ns) != 0)
        return -1;
    return 0;
}

/* A number field: its value, NAN when null or absent. Returns 0, or -1 for anything else. */
static int number_read(const cJSON *object, const char *name, double *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    *out = NAN;
    if (!item || cJSON_IsNull(item))
        return 0;
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return -1;
    *out = item->valuedouble;
    return 0;
}

/* A short string field into out ("" when null or absent). Returns 0, or -1 when it is not a
 * string or does not fit. */
static int text_read(const cJSON *object, const char *name, char *out, size_t out_size)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    out[0] = '\0';
    if (!item || cJSON_IsNull(item))
        return 0;
    if (!cJSON_IsString(item) || strlen(item->valuestring) >= out_size)
        return -1;
    text_copy(out, out_size, item->valuestring);
    return 0;
}

static enum tibber_status malformed(char *error, size_t error_size, const char *what, size_t index,
                                    const char *field)
{
    snprintf(error, error_size, "Tibber's answer is malformed: %s %zu: \"%s\" is missing or not %s",
             what, index, field,
             strcmp(field, "from") == 0 || strcmp(field, "to") == 0 ||
                     strcmp(field, "startsAt") == 0
                 ? "a time with its UTC offset"
             : strcmp(field, "currency") == 0 || strcmp(field, "level") == 0 ? "a short string"
                                                                             : "a number or null");
    return TIBBER_STATUS_MALFORMED;
}

static enum tibber_status nodes_read(const cJSON *consumption, struct tibber_page *out, char *error,
                                     size_t error_size)
{
    const cJSON *page_info = cJSON_GetObjectItemCaseSensitive(consumption, "pageInfo");
    const char *cursor = string_of(page_info, "startCursor");
    if (cursor && !(out->start_cursor = strdup(cursor)))
        return TIBBER_STATUS_NO_MEMORY;
    out->has_previous_page =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(page_info, "hasPreviousPage"));
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(consumption, "nodes");
    if (!nodes || cJSON_IsNull(nodes))
        return TIBBER_STATUS_OK;
    if (!cJSON_IsArray(nodes)) {
        snprintf(error, error_size, "Tibber's answer is malformed: \"nodes\" is not an array");
        return TIBBER_STATUS_MALFORMED;
    }
    size_t count = (size_t)cJSON_GetArraySize(nodes);
    if (count == 0)
        return TIBBER_STATUS_OK;
    if (!(out->nodes = calloc(count, sizeof *out->nodes)))
        return TIBBER_STATUS_NO_MEMORY;
    const cJSON *item;
    cJSON_ArrayForEach(item, nodes)
    {
        size_t index = out->node_count;
        struct tibber_node *node = &out->nodes[index];
        if (time_read(item, "from", &node->from_ns) != 0)
            return malformed(error, error_size, "consumption node", index, "from");
        int to = time_read(item, "to", &node->to_ns);
        if (to < 0 || (to == 0 && node->to_ns <= node->from_ns))
            return malformed(error, error_size, "consumption node", index, "to");
        if (to == 1) /* Tibber always sends it; an hour is what was asked for. */
            node->to_ns = node->from_ns + TIBBER_NS_PER_HOUR;
        if (number_read(item, "consumption", &node->consumption) != 0)
            return malformed(error, error_size, "consumption node", index, "consumption");
        if (number_read(item, "cost", &node->cost) != 0)
            return malformed(error, error_size, "consumption node", index, "cost");
        if (number_read(item, "unitPrice", &node->unit_price) != 0)
            return malformed(error, error_size, "consumption node", index, "unitPrice");
        if (number_read(item, "unitPriceVAT", &node->unit_price_vat) != 0)
            return malformed(error, error_size, "consumption node", index, "unitPriceVAT");
        out->node_count++;
    }
    return TIBBER_STATUS_OK;
}

static enum tibber_status prices_read(const cJSON *price_info, struct tibber_page *out, char *error,
                                      size_t error_size)
{
    const cJSON *days[2] = {cJSON_GetObjectItemCaseSensitive(price_info, "today"),
                            cJSON_GetObjectItemCaseSensitive(price_info, "tomorrow")};
    size_t count = 0;
    for (int d = 0; d < 2; d++) {
        if (days[d] && !cJSON_IsNull(days[d]) && !cJSON_IsArray(days[d])) {
            snprintf(error, error_size, "Tibber's answer is malformed: priceInfo.%s is not a list",
                     d == 0 ? "today" : "tomorrow");
            return TIBBER_STATUS_MALFORMED;
        }
        count += cJSON_IsArray(days[d]) ? (size_t)cJSON_GetArraySize(days[d]) : 0;
    }
    if (count == 0)
        return TIBBER_STATUS_OK;
    if (!(out->prices = calloc(count, sizeof *out->prices)))
        return TIBBER_STATUS_NO_MEMORY;
    for (int d = 0; d < 2; d++) {
        const cJSON *list = cJSON_IsArray(days[d]) ? days[d] : NULL, *item;
        cJSON_ArrayForEach(item, list)
        {
            size_t index = out->price_count;
            struct tibber_price *price = &out->prices[index];
            if (time_read(item, "startsAt", &price->starts_at_ns) != 0)
                return malformed(error, error_size, "price", index, "startsAt");
            if (number_read(item, "total", &price->total) != 0)
                return malformed(error, error_size, "price", index, "total");
            if (number_read(item, "energy", &price->energy) != 0)
                return malformed(error, error_size, "price", index, "energy");
            if (number_read(item, "tax", &price->tax) != 0)
                return malformed(error, error_size, "price", index, "tax");
            if (text_read(item, "currency", price->currency, sizeof price->currency) != 0)
                return malformed(error, error_size, "price", index, "currency");
            if (text_read(item, "level", price->level, sizeof price->level) != 0)
                return malformed(error, error_size, "price", index, "level");
            out->price_count++;
        }
    }
    return TIBBER_STATUS_OK;
}

/* The home's id and consumption connection. */
static enum tibber_status home_read(const cJSON *home, struct tibber_page *out, char *error,
                                    size_t error_size)
{
    const char *id = string_of(home, "id");
    if (!id || strlen(id) >= sizeof out->home_id) {
        snprintf(error, error_size, "Tibber's answer is malformed: a home without a usable \"id\"");
        return TIBBER_STATUS_MALFORMED;
    }
    text_copy(out->home_id, sizeof out->home_id, id);
    const cJSON *consumption = cJSON_GetObjectItemCaseSensitive(home, "consumption");
    if (!consumption || cJSON_IsNull(consumption)) {
        out->consumption_missing = true;
        return TIBBER_STATUS_OK;
    }
    if (!cJSON_IsObject(consumption)) {
        snprintf(error, error_size, "Tibber's answer is malformed: \"consumption\" is no object");
        return TIBBER_STATUS_MALFORMED;
    }
    return nodes_read(consumption, out, error, error_size);
}

/* "a, b, c": the ids of the account's homes for a message, as many as fit in out. */
static void home_ids_list(const cJSON *homes, char *out, size_t out_size)
{
    size_t used = 0;
    const cJSON *home;
    out[0] = '\0';
    cJSON_ArrayForEach(home, homes)
    {
        char id[TIBBER_HOME_ID_SIZE];
        const char *text = string_of(home, "id");
        text_copy(id, sizeof id, text ? text : "?");
        int length = snprintf(out + used, out_size - used, "%s%s", used > 0 ? ", " : "", id);
        if (length < 0 || (size_t)length >= out_size - used) {
            out[used] = '\0';
            return;
        }
        used += (size_t)length;
    }
}

/* The first page: the home asked for by id (tibber.home_id) or, without one, the first home with
 * a current subscription; its prices and consumption. An account can hold several subscribed
 * homes (a second meter for a heat pump is a home of its own), so the first one is not always
 * the household's meter. */
static enum tibber_status homes_read(const cJSON *viewer, const char *home_id,
                                     struct tibber_page *out, char *error, size_t error_size)
{
    const cJSON *homes = cJSON_GetObjectItemCaseSensitive(viewer, "homes");
    if (!cJSON_IsArray(homes) || !homes->child) {
        snprintf(error, error_size,
                 "the Tibber account has no home: the token belongs to an account without a "
                 "home (check that TIBBER_API_TOKEN is the token of the household's account)");
        return TIBBER_STATUS_NO_HOME;
    }
    const cJSON *chosen = NULL, *named = NULL, *home;
    cJSON_ArrayForEach(home, homes)
    {
        out->home_count++;
        const cJSON *subscription = cJSON_GetObjectItemCaseSensitive(home, "currentSubscription");
        const char *id = string_of(home, "id");
        if (home_id && !named && id && strcmp(id, home_id) == 0)
            named = home;
        if (cJSON_IsObject(subscription)) {
            out->subscribed_homes++;
            if (!chosen)
                chosen = home;
        }
    }
    if (home_id && !named) {
        char wanted[TIBBER_HOME_ID_SIZE], ids[600];
        text_copy(wanted, sizeof wanted, home_id);
        home_ids_list(homes, ids, sizeof ids);
        snprintf(error, error_size,
                 "tibber.home_id %s is not a home of the Tibber account (its homes: %s): set it "
                 "to the household's home, or remove it to use the first home with a "
                 "subscription",
                 wanted, ids);
        return TIBBER_STATUS_NO_HOME;
    }
    if (named)
        chosen = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(named, "currentSubscription"))
                     ? named
                     : NULL;
    if (!chosen) {
        char id[TIBBER_HOME_ID_SIZE];
        const char *first_id = string_of(named ? named : homes->child, "id");
        text_copy(id, sizeof id, first_id ? first_id : "?");
        char subscribed[32] = "none";
        if (out->subscribed_homes > 0)
            snprintf(subscribed, sizeof subscribed, "%zu", out->subscribed_homes);
        snprintf(error, error_size,
                 "the Tibber home %s has no current subscription, so Tibber has neither "
                 "consumption nor prices for it (%zu home%s, %s with a subscription)",
                 id, out->home_count, out->home_count == 1 ? "" : "s", subscribed);
        return TIBBER_STATUS_NO_SUBSCRIPTION;
    }
    enum tibber_status status = home_read(chosen, out, error, error_size);
    if (status != TIBBER_STATUS_OK)
        return status;
    const cJSON *price_info = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(chosen, "currentSubscription"), "priceInfo");
    if (!cJSON_IsObject(price_info)) {
        out->prices_missing = true;
        return TIBBER_STATUS_OK;
    }
    return prices_read(price_info, out, error, error_size);
}

enum tibber_status tibber_response_parse(const char *text, size_t length, bool first_page,
                                         const char *home_id, struct tibber_page *out, char *error,
                                         size_t error_size)
{
    *out = (struct tibber_page){0};
    cJSON *root = cJSON_ParseWithLength(text, length);
    if (!root) {
        char start[64];
        size_t shown = length < sizeof start - 1 ? length : sizeof start - 1;
        memcpy(start, text, shown);
        start[shown] = '\0';
        text_copy(start, sizeof start, start);
        snprintf(error, error_size,
                 "Tibber's answer is not JSON (%zu bytes, starting \"%s\"): a proxy or an outage "
                 "page answered instead of the API",
                 length, start);
        return TIBBER_STATUS_MALFORMED;
    }
    enum tibber_status status = errors_check(root, error, error_size);
    if (status != TIBBER_STATUS_OK)
        goto cleanup;
    const cJSON *viewer =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "data"), "viewer");
    if (!cJSON_IsObject(viewer)) {
        snprintf(error, error_size, "Tibber's answer is malformed: no data.viewer object");
        status = TIBBER_STATUS_MALFORMED;
        goto cleanup;
    }
    if (first_page) {
        status = homes_read(viewer, home_id, out, error, error_size);
    } else {
        const cJSON *home = cJSON_GetObjectItemCaseSensitive(viewer, "home");
        if (!cJSON_IsObject(home)) {
            snprintf(error, error_size,
                     "the Tibber home of the first page is gone from the account (data.viewer."
                     "home is null)");
            status = TIBBER_STATUS_NO_HOME;
        } else {
            out->home_count = 1;
            out->subscribed_homes = 1;
            status = home_read(home, out, error, error_size);
        }
    }
cleanup:
    if (status == TIBBER_STATUS_NO_MEMORY)
        snprintf(error, error_size, "out of memory reading Tibber's answer");
    cJSON_Delete(root);
    return status;
}

static char *query_build(const char *query, const char *home_id, int last, const char *cursor)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *variables = cJSON_CreateObject();
    char *text = NULL;
    if (!root || !variables) {
        cJSON_Delete(variables);
        goto cleanup;
    }
    cJSON_AddItemToObject(root, "variables", variables);
    if (!cJSON_AddStringToObject(root, "query", query) ||
        !cJSON_AddNumberToObject(variables, "last", last) ||
        (home_id && !cJSON_AddStringToObject(variables, "home", home_id)) ||
        (cursor && !cJSON_AddStringToObject(variables, "before", cursor)))
        goto cleanup;
    text = cJSON_PrintUnformatted(root);
cleanup:
    cJSON_Delete(root);
    return text;
}

char *tibber_query_first(int last)
{
    /* One request for everything a normal run needs: the homes (to pick one), its prices and
     * the hours. QUARTER_HOURLY gives 15-minute prices where the market has them and the
     * hourly ones elsewhere; the points carry their own start times either way. */
    static const char query[] =
        "query($last: Int!) { viewer { homes { id currentSubscription { priceInfo(resolution: "
        "QUARTER_HOURLY) { today { " TIBBER_PRICE_FIELDS " } tomorrow { " TIBBER_PRICE_FIELDS
        " } } } consumption(resolution: HOURLY, last: $last) { " TIBBER_CONSUMPTION_FIELDS
        " } } } }";
    return query_build(query, NULL, last, NULL);
}

char *tibber_query_page(const char *home_id, int last, const char *cursor)
{
    static const char query[] =
        "query($home: ID!, $last: Int!, $before: String!) { viewer { home(id: $home) { id "
        "consumption(resolution: HOURLY, last: $last, before: $before) "
        "{ " TIBBER_CONSUMPTION_FIELDS " } } } }";
    return query_build(query, home_id, last, cursor);
}
