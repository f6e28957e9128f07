/* Scalars by kind: strings, paths, booleans, integers, numbers, sizes, durations, choices and
 * dates, each with the reason it was refused worded to follow the quoted value. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_internal.h"
#include "config/tz.h"
#include "config/units.h"

_Static_assert(sizeof(enum config_api) == sizeof(int), "choices are stored as int");
_Static_assert(sizeof(enum log_level) == sizeof(int), "choices are stored as int");
_Static_assert(sizeof(enum log_format) == sizeof(int), "choices are stored as int");

static void config_pointer_get(const void *field, void **out)
{
    memcpy(out, field, sizeof *out);
}

static void config_pointer_set(void *field, void *value)
{
    memcpy(field, &value, sizeof value);
}

static void config_choices_describe(const struct config_key *key, char *out, size_t out_size)
{
    if (key->choices_text) {
        snprintf(out, out_size, "%s", key->choices_text);
        return;
    }
    size_t used = 0;
    out[0] = '\0';
    for (const struct config_choice *choice = key->choices; choice->name; choice++) {
        int printed = snprintf(out + used, out_size - used, "%s%s", used ? ", " : "", choice->name);
        if (printed < 0 || (size_t)printed >= out_size - used)
            break;
        used += (size_t)printed;
    }
}

void config_key_expected(const struct config_key *key, char *out, size_t out_size)
{
    char choices[160];
    switch (key->kind) {
    case CONFIG_KIND_STRING:
        snprintf(out, out_size, "a string");
        break;
    case CONFIG_KIND_PATH:
        snprintf(out, out_size, "a path");
        break;
    case CONFIG_KIND_BOOL:
        snprintf(out, out_size, "true or false");
        break;
    case CONFIG_KIND_INTEGER:
        snprintf(out, out_size, "an integer");
        break;
    case CONFIG_KIND_NUMBER:
        snprintf(out, out_size, "a number");
        break;
    case CONFIG_KIND_SIZE:
        snprintf(out, out_size, "a size such as 64MiB");
        break;
    case CONFIG_KIND_DURATION:
        snprintf(out, out_size, "a duration such as 10s");
        break;
    case CONFIG_KIND_CHOICE:
        config_choices_describe(key, choices, sizeof choices);
        snprintf(out, out_size, "one of %s", choices);
        break;
    case CONFIG_KIND_DATE:
        snprintf(out, out_size, "a date (YYYY-MM-DD)");
        break;
    case CONFIG_KIND_SCALAR:
        snprintf(out, out_size, "%s", key->scalar_type->expected);
        break;
    case CONFIG_KIND_SECTION:
    case CONFIG_KIND_MAP:
        snprintf(out, out_size, "a mapping");
        break;
    case CONFIG_KIND_LIST:
        snprintf(out, out_size, "a sequence");
        break;
    case CONFIG_KIND_HOOK:
        snprintf(out, out_size, "%s", "a value");
        break;
    }
}

static int config_bool_parse(const char *text, size_t length, bool *out)
{
    static const char *const truths[] = {"true", "yes", "on"};
    static const char *const lies[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strlen(truths[i]) == length && strncasecmp(truths[i], text, length) == 0) {
            *out = true;
            return 0;
        }
        if (strlen(lies[i]) == length && strncasecmp(lies[i], text, length) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Strict decimal integers: an optional '-', digits, nothing else. */
static int config_integer_parse(const char *text, size_t length, int64_t *out)
{
    size_t i = 0;
    bool negative = false;
    if (i < length && (text[i] == '-' || text[i] == '+')) {
        negative = text[i] == '-';
        i++;
    }
    if (i == length)
        return -1;
    uint64_t value = 0;
    for (; i < length; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        uint64_t digit = (uint64_t)(text[i] - '0');
        if (value > ((uint64_t)INT64_MAX - digit) / 10)
            return -1;
        value = value * 10 + digit;
    }
    *out = negative ? -(int64_t)value : (int64_t)value;
    return 0;
}

static int config_number_parse(const char *text, size_t length, double *out)
{
    char buffer[64];
    if (length == 0 || length >= sizeof buffer)
        return -1;
    for (size_t i = 0; i < length; i++)
        if (!strchr("0123456789+-.eE", text[i]))
            return -1;
    memcpy(buffer, text, length);
    buffer[length] = '\0';
    char *end;
    errno = 0;
    double value = strtod(buffer, &end);
    if (end != buffer + length || errno == ERANGE || !isfinite(value))
        return -1;
    *out = value;
    return 0;
}

static int config_date_parse(const char *text, size_t length, int64_t *days)
{
    if (length != 10 || text[4] != '-' || text[7] != '-')
        return -1;
    int parts[3] = {0, 0, 0};
    const size_t starts[3] = {0, 5, 8}, lengths[3] = {4, 2, 2};
    for (size_t p = 0; p < 3; p++)
        for (size_t i = starts[p]; i < starts[p] + lengths[p]; i++) {
            if (text[i] < '0' || text[i] > '9')
                return -1;
            parts[p] = parts[p] * 10 + (text[i] - '0');
        }
    if (parts[1] < 1 || parts[1] > 12 || parts[2] < 1 || parts[2] > 31)
        return -1;
    int64_t value = tz_days_from_civil(parts[0], parts[1], parts[2]);
    int year, month, day;
    tz_civil_from_days(value, &year, &month, &day);
    if (year != parts[0] || month != parts[1] || day != parts[2])
        return -1; /* 2023-02-30 and the like */
    *days = value;
    return 0;
}

static void config_range_describe_integer(const struct config_key *key, int64_t maximum, char *why,
                                          size_t why_size)
{
    if (key->kind == CONFIG_KIND_DURATION) {
        char low[32], high[32];
        units_duration_format(key->integer_minimum * key->storage_unit_ns, low, sizeof low);
        if (key->integer_maximum) {
            units_duration_format(maximum * key->storage_unit_ns, high, sizeof high);
            snprintf(why, why_size, "is out of range %s..%s", low, high);
        } else {
            snprintf(why, why_size, "is less than %s", low);
        }
    } else if (key->integer_maximum) {
        snprintf(why, why_size, "is out of range %lld..%lld", (long long)key->integer_minimum,
                 (long long)maximum);
    } else {
        snprintf(why, why_size, "is less than %lld", (long long)key->integer_minimum);
    }
}

int config_scalar_parse(struct config_loader *loader, const struct config_key *key,
                        const char *text, size_t length, void *field, char *why, size_t why_size)
{
    switch (key->kind) {
    case CONFIG_KIND_STRING:
    case CONFIG_KIND_PATH: {
        if (memchr(text, '\0', length)) {
            snprintf(why, why_size, "contains a NUL character");
            return -1;
        }
        if (key->check && key->check(text, &length, why, why_size) != 0)
            return -1;
        if (length == 0 && (key->flags & CONFIG_KEY_NONEMPTY)) {
            char expected[200];
            config_key_expected(key, expected, sizeof expected);
            snprintf(why, why_size, "is empty; expected %s", expected);
            return -1;
        }
        char *value = NULL;
        if (key->kind == CONFIG_KIND_PATH && length > 0)
            value = config_path_resolve(loader->directory, text, length);
        else if (key->kind == CONFIG_KIND_STRING)
            value = config_string_copy(text, length);
        if (!value && (key->kind == CONFIG_KIND_STRING || length > 0)) {
            snprintf(why, why_size, "could not be stored: out of memory");
            return -1;
        }
        void *old;
        config_pointer_get(field, &old);
        free(old);
        config_pointer_set(field, value);
        return 0;
    }
    case CONFIG_KIND_BOOL:
        if (config_bool_parse(text, length, field) != 0) {
            snprintf(why, why_size, "is not a boolean; expected true or false");
            return -1;
        }
        return 0;
    case CONFIG_KIND_INTEGER: {
        int64_t value;
        int64_t maximum = key->integer_maximum ? key->integer_maximum : INT_MAX;
        if (config_integer_parse(text, length, &value) != 0) {
            snprintf(why, why_size, "is not an integer");
            return -1;
        }
        if (value < key->integer_minimum || value > maximum) {
            config_range_describe_integer(key, maximum, why, why_size);
            return -1;
        }
        int stored = (int)value;
        memcpy(field, &stored, sizeof stored);
        return 0;
    }
    case CONFIG_KIND_NUMBER: {
        double value;
        if (config_number_parse(text, length, &value) != 0) {
            snprintf(why, why_size, "is not a number");
            return -1;
        }
        char low[32], high[32];
        snprintf(low, sizeof low, "%g", key->number_minimum);
        snprintf(high, sizeof high, "%g", key->number_maximum);
        if ((key->flags & CONFIG_KEY_POSITIVE) && value <= key->number_minimum) {
            snprintf(why, why_size, "is not greater than %s", low);
            return -1;
        }
        if (value < key->number_minimum || (key->number_maximum && value > key->number_maximum)) {
            if (key->number_maximum)
                snprintf(why, why_size, "is out of range %s..%s", low, high);
            else
                snprintf(why, why_size, "is less than %s", low);
            return -1;
        }
        memcpy(field, &value, sizeof value);
        return 0;
    }
    case CONFIG_KIND_SIZE: {
        uint64_t value;
        if (units_size_parse(text, length, &value, why, why_size) != 0)
            return -1;
        uint64_t maximum = key->size_maximum ? key->size_maximum : UINT64_MAX;
        if (value < key->size_minimum || value > maximum) {
            char low[32], high[32];
            units_size_format(key->size_minimum, low, sizeof low);
            units_size_format(maximum, high, sizeof high);
            if (key->size_maximum)
                snprintf(why, why_size, "is out of range %s..%s", low, high);
            else
                snprintf(why, why_size, "is less than %s", low);
            return -1;
        }
        memcpy(field, &value, sizeof value);
        return 0;
    }
    case CONFIG_KIND_DURATION: {
        int64_t nanoseconds;
        if (units_duration_parse(text, length, key->plain_unit_ns, &nanoseconds, why, why_size) !=
            0)
            return -1;
        if (nanoseconds % key->storage_unit_ns != 0) {
            char unit[16];
            units_duration_format(key->storage_unit_ns, unit, sizeof unit);
            snprintf(why, why_size, "is not a whole multiple of %s", unit);
            return -1;
        }
        int64_t value = nanoseconds / key->storage_unit_ns;
        int64_t maximum = key->integer_maximum ? key->integer_maximum : INT64_MAX;
        if (value < key->integer_minimum || value > maximum) {
            config_range_describe_integer(key, maximum, why, why_size);
            return -1;
        }
        memcpy(field, &value, sizeof value);
        return 0;
    }
    case CONFIG_KIND_CHOICE:
        for (const struct config_choice *choice = key->choices; choice->name; choice++) {
            if (strlen(choice->name) == length && strncasecmp(choice->name, text, length) == 0) {
                memcpy(field, &choice->value, sizeof choice->value);
                return 0;
            }
        }
        char choices[160];
        config_choices_describe(key, choices, sizeof choices);
        snprintf(why, why_size, "is not one of %s", choices);
        return -1;
    case CONFIG_KIND_DATE: {
        int64_t days;
        if (config_date_parse(text, length, &days) != 0) {
            snprintf(why, why_size, "is not a date; expected YYYY-MM-DD such as 2024-01-31");
            return -1;
        }
        memcpy(field, &days, sizeof days);
        return 0;
    }
    case CONFIG_KIND_SCALAR:
        return key->scalar_type->parse(text, length, field, why, why_size);
    default:
        snprintf(why, why_size, "is not a scalar value");
        return -1;
    }
}
