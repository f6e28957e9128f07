/* libFuzzer target for the parser of Tibber's GraphQL answers: the first input byte chooses the
 * page kind (first page or a later one) and whether a home id is asked for; the rest is the
 * answer. What must always hold: no crash, out-of-bounds read or leak; a status that is known,
 * with a message unless it is OK; on OK a page whose counts match its arrays, whose strings are
 * terminated and whose times and numbers come from the answer (finite or NAN for null). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch/tibber_response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_tibber_response: invariant broken: %s\n", what);
        abort();
    }
}

static void fuzz_number_check(double value)
{
    fuzz_require(isnan(value) || isfinite(value), "a number is finite or NAN (null)");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool first_page = data[0] & 1;
    const char *home_id = data[0] & 2 ? "home-1" : NULL;
    size_t length = size - 1;
    /* An exactly sized copy, not terminated: reads past the end are caught by ASan. */
    char *text = malloc(length ? length : 1);
    fuzz_require(text != NULL, "memory");
    memcpy(text, data + 1, length);
    struct tibber_page page;
    char error[256] = "";
    enum tibber_status status =
        tibber_response_parse(text, length, first_page, home_id, &page, error, sizeof error);
    fuzz_require(status <= TIBBER_STATUS_NO_MEMORY, "known status");
    fuzz_require(strcmp(tibber_status_name(status), "unknown") != 0, "status has a name");
    fuzz_require(status == TIBBER_STATUS_OK || error[0] != '\0', "an error has a message");
    fuzz_require(strlen(error) < sizeof error, "message terminated");
    if (status == TIBBER_STATUS_OK) {
        fuzz_require(memchr(page.home_id, '\0', sizeof page.home_id) != NULL, "home id terminated");
        fuzz_require(page.node_count == 0 || page.nodes != NULL, "nodes match their count");
        fuzz_require(page.price_count == 0 || page.prices != NULL, "prices match their count");
        fuzz_require(!first_page || page.subscribed_homes <= page.home_count,
                     "subscribed homes among the homes");
        fuzz_require(!home_id || !first_page || strcmp(page.home_id, home_id) == 0,
                     "the home asked for");
        for (size_t i = 0; i < page.node_count; i++) {
            fuzz_number_check(page.nodes[i].consumption);
            fuzz_number_check(page.nodes[i].cost);
            fuzz_number_check(page.nodes[i].unit_price);
            fuzz_number_check(page.nodes[i].unit_price_vat);
        }
        for (size_t i = 0; i < page.price_count; i++) {
            const struct tibber_price *price = &page.prices[i];
            fuzz_number_check(price->total);
            fuzz_number_check(price->energy);
            fuzz_number_check(price->tax);
            fuzz_require(memchr(price->currency, '\0', sizeof price->currency) != NULL &&
                             memchr(price->level, '\0', sizeof price->level) != NULL,
                         "currency and level terminated");
        }
        if (page.start_cursor)
            (void)strlen(page.start_cursor);
    }
    tibber_page_free(&page);
    free(text);
    return 0;
}
