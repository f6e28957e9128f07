/* Value checks and custom scalars of config.yaml: URLs, listen addresses, spool sync modes, cron
 * schedules, time zones, names. Each refusal says what was expected, to follow the quoted text. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_internal.h"
#include "config/config_values.h"
#include "config/tz.h"
#include "config/units.h"

static bool config_has_control(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
            return true;
    return false;
}

static bool config_is_host_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

/* host[:port] or [v6][:port] at the start of text; returns the length consumed or 0. *port = -1
 * when there is none. */
static size_t config_host_port_read(const char *text, size_t length, long *port)
{
    size_t i = 0;
    *port = -1;
    if (i < length && text[i] == '[') {
        i++;
        size_t start = i;
        while (i < length && (isxdigit((unsigned char)text[i]) || text[i] == ':' ||
                              text[i] == '.' || text[i] == '%'))
            i++;
        if (i == start || i >= length || text[i] != ']')
            return 0;
        i++;
    } else {
        while (i < length && config_is_host_char(text[i]))
            i++;
        if (i == 0)
            return 0;
    }
    if (i < length && text[i] == ':') {
        i++;
        size_t start = i;
        long value = 0;
        while (i < length && isdigit((unsigned char)text[i]) && i - start < 5) {
            value = value * 10 + (text[i] - '0');
            i++;
        }
        if (i == start || value > 65535)
            return 0;
        *port = value;
    }
    return i;
}

int config_url_check(const char *text, size_t *length, char *why, size_t why_size)
{
    static const char expected[] = "is not a URL of the form http(s)://host[:port][/path]";
    size_t scheme = 0;
    if (*length >= 7 && memcmp(text, "http://", 7) == 0)
        scheme = 7;
    else if (*length >= 8 && memcmp(text, "https://", 8) == 0)
        scheme = 8;
    if (scheme == 0 || config_has_control(text, *length)) {
        snprintf(why, why_size, "%s", expected);
        return -1;
    }
    const char *rest = text + scheme;
    size_t rest_length = *length - scheme;
    size_t authority = 0;
    while (authority < rest_length && !strchr("/?#", rest[authority]))
        authority++;
    if (memchr(rest, '@', authority)) {
        snprintf(why, why_size,
                 "contains credentials; put them in a secrets file (secrets/*.env) instead");
        return -1;
    }
    long port;
    size_t host = config_host_port_read(rest, rest_length, &port);
    if (host == 0 || port == 0 || (host < rest_length && rest[host] != '/')) {
        snprintf(why, why_size, "%s", expected);
        return -1;
    }
    for (size_t i = host; i < rest_length; i++) {
        if (rest[i] == '?' || rest[i] == '#' || rest[i] == ' ') {
            snprintf(why, why_size, "%s (no query, fragment or spaces)", expected);
            return -1;
        }
    }
    while (*length > scheme + host && text[*length - 1] == '/')
        (*length)--; /* paths are appended: "http://h:8086/" + "/write" */
    return 0;
}

int config_base_path_check(const char *text, size_t *length, char *why, size_t why_size)
{
    if (*length == 0)
        return 0;
    if (text[0] != '/' || config_has_control(text, *length) || memchr(text, ' ', *length) ||
        memchr(text, '?', *length) || memchr(text, '#', *length)) {
        snprintf(why, why_size, "is not a path prefix such as /influx (or empty)");
        return -1;
    }
    while (*length > 0 && text[*length - 1] == '/')
        (*length)--;
    return 0;
}

int config_name_check(const char *text, size_t *length, char *why, size_t why_size)
{
    bool valid = *length > 0 && *length <= 64 && text[0] != '.';
    for (size_t i = 0; valid && i < *length; i++)
        valid =
            isalnum((unsigned char)text[i]) || text[i] == '_' || text[i] == '-' || text[i] == '.';
    if (!valid) {
        snprintf(why, why_size,
                 "is not a name of letters, digits, '_', '-' and '.' (at most 64, not starting "
                 "with '.')");
        return -1;
    }
    if (*length == 6 && memcmp(text, "stream", 6) == 0) {
        snprintf(why, why_size, "is reserved for the stream processor's spool cursor");
        return -1;
    }
    return 0;
}

int config_secrets_name_check(const char *text, size_t *length, char *why, size_t why_size)
{
    bool valid = *length > 0 && *length <= 128 && text[0] != '.';
    for (size_t i = 0; valid && i < *length; i++)
        valid =
            isalnum((unsigned char)text[i]) || text[i] == '_' || text[i] == '-' || text[i] == '.';
    if (!valid) {
        snprintf(why, why_size,
                 "is not the file name of a secrets file in secrets_dir, such as influxdb.env");
        return -1;
    }
    return 0;
}

int config_meter_id_check(const char *text, size_t *length, char *why, size_t why_size)
{
    if (*length == 0 || *length > 200 || config_has_control(text, *length)) {
        snprintf(why, why_size, "is not a meter id (1 to 200 characters, no control characters)");
        return -1;
    }
    return 0;
}

int config_text_check(const char *text, size_t *length, char *why, size_t why_size)
{
    if (config_has_control(text, *length)) {
        snprintf(why, why_size, "contains control characters");
        return -1;
    }
    return 0;
}

int config_glob_check(const char *text, size_t *length, char *why, size_t why_size)
{
    if (config_has_control(text, *length)) {
        snprintf(why, why_size, "is not a glob pattern: it contains control characters");
        return -1;
    }
    for (size_t i = 0; i < *length; i++) {
        if (text[i] == '\\') {
            i++;
        } else if (text[i] == '[') {
            size_t j = i + 1;
            if (j < *length && (text[j] == '!' || text[j] == '^'))
                j++;
            if (j < *length && text[j] == ']')
                j++;
            while (j < *length && text[j] != ']')
                j++;
            if (j >= *length) {
                snprintf(why, why_size, "is not a glob pattern: '[' at offset %zu has no ']'", i);
                return -1;
            }
            i = j;
        }
    }
    return 0;
}

int config_route_check(const char *text, size_t *length, char *why, size_t why_size)
{
    const char *slash = memchr(text, '/', *length);
    bool valid = *length > 0 && !config_has_control(text, *length) && text[0] != '/' &&
                 text[*length - 1] != '/' &&
                 (!slash || !memchr(slash + 1, '/', *length - (size_t)(slash + 1 - text)));
    if (!valid) {
        snprintf(why, why_size, "is not a database or database/retention_policy");
        return -1;
    }
    return 0;
}

int config_timezone_check(const char *text, size_t *length, char *why, size_t why_size)
{
    bool valid = *length > 0 && *length <= 64 && text[0] != '/';
    for (size_t i = 0; valid && i < *length; i++)
        valid = isalnum((unsigned char)text[i]) || strchr("_+-/", text[i]);
    char name[72];
    if (valid) {
        memcpy(name, text, *length);
        name[*length] = '\0';
        valid = !strstr(name, "..");
    }
    if (!valid) {
        snprintf(why, why_size, "is not a time zone name such as UTC or Europe/Berlin");
        return -1;
    }
    char error[200];
    struct tz_zone *zone = tz_zone_load(name, error, sizeof error);
    if (!zone) {
        snprintf(why, why_size, "is not a known time zone (%s)", error);
        return -1;
    }
    tz_zone_free(zone);
    return 0;
}

/* ---- custom scalars ---- */

static int config_listen_parse(const char *text, size_t length, void *field, char *why,
                               size_t why_size)
{
    struct config_listen *listen = field;
    const char *colon = memrchr(text, ':', length);
    const char *host = text;
    size_t host_length = colon ? (size_t)(colon - text) : 0;
    bool valid = colon && !config_has_control(text, length) && host_length <= 255;
    if (valid && host_length >= 2 && host[0] == '[' && host[host_length - 1] == ']') {
        host++; /* stored without the brackets */
        host_length -= 2;
        for (size_t i = 0; valid && i < host_length; i++)
            valid = isxdigit((unsigned char)host[i]) || strchr(":.%", host[i]);
        valid = valid && host_length > 0;
    } else if (valid && host_length == 1 && host[0] == '*') {
        host_length = 0;
    } else {
        for (size_t i = 0; valid && i < host_length; i++)
            valid = config_is_host_char(host[i]);
    }
    long port = 0;
    const char *port_text = colon ? colon + 1 : text;
    size_t digits = colon ? length - (size_t)(port_text - text) : 0;
    valid = valid && digits >= 1 && digits <= 5;
    for (size_t i = 0; valid && i < digits; i++) {
        valid = isdigit((unsigned char)port_text[i]);
        port = port * 10 + (port_text[i] - '0');
    }
    if (!valid || port > 65535) {
        snprintf(why, why_size,
                 "is not host:port such as 127.0.0.1:8087 (:8087 for every "
                 "interface, [::1]:8087 for IPv6)");
        return -1;
    }
    char *copy = config_string_copy(host, host_length);
    if (!copy) {
        snprintf(why, why_size, "could not be stored: out of memory");
        return -1;
    }
    free(listen->host);
    listen->host = copy;
    listen->port = (int)port;
    return 0;
}

static void config_listen_format(const void *field, char *out, size_t out_size)
{
    const struct config_listen *listen = field;
    const char *host = listen->host ? listen->host : "";
    if (strchr(host, ':'))
        snprintf(out, out_size, "[%s]:%d", host, listen->port);
    else
        snprintf(out, out_size, "%s:%d", host, listen->port);
}

static void config_listen_free(void *field)
{
    struct config_listen *listen = field;
    free(listen->host);
    listen->host = NULL;
}

const struct config_scalar_type config_listen_type = {
    .expected = "host:port such as 127.0.0.1:8087",
    .parse = config_listen_parse,
    .format = config_listen_format,
    .free = config_listen_free,
};

static int config_sync_parse(const char *text, size_t length, void *field, char *why,
                             size_t why_size)
{
    struct config_sync *sync = field;
    static const char prefix[] = "interval:";
    const size_t prefix_length = sizeof prefix - 1;
    /* The words without regard to case, as every CONFIG_KIND_CHOICE is matched (Always, NONE);
     * the interval's unit stays as strict as any other duration's. */
    if (length == 6 && strncasecmp(text, "always", 6) == 0) {
        sync->mode = CONFIG_SYNC_ALWAYS;
        sync->interval_ms = 0;
        return 0;
    }
    if (length == 4 && strncasecmp(text, "none", 4) == 0) {
        sync->mode = CONFIG_SYNC_NONE;
        sync->interval_ms = 0;
        return 0;
    }
    int64_t nanoseconds;
    char inner[CONFIG_WHY_SIZE];
    if (length > prefix_length && strncasecmp(text, prefix, prefix_length) == 0 &&
        units_duration_parse(text + prefix_length, length - prefix_length, UNITS_MILLISECOND,
                             &nanoseconds, inner, sizeof inner) == 0) {
        if (nanoseconds < UNITS_MILLISECOND || nanoseconds % UNITS_MILLISECOND != 0 ||
            nanoseconds > 3600 * UNITS_SECOND) {
            snprintf(why, why_size, "has an interval out of range 1..3600000 milliseconds");
            return -1;
        }
        sync->mode = CONFIG_SYNC_INTERVAL;
        sync->interval_ms = nanoseconds / UNITS_MILLISECOND;
        return 0;
    }
    snprintf(why, why_size, "is not one of always, interval:<ms>, none");
    return -1;
}

const char *config_sync_mode_name(enum config_sync_mode mode)
{
    switch (mode) {
    case CONFIG_SYNC_ALWAYS:
        return "always";
    case CONFIG_SYNC_INTERVAL:
        return "interval";
    case CONFIG_SYNC_NONE:
        return "none";
    }
    return "unknown";
}

static void config_sync_format(const void *field, char *out, size_t out_size)
{
    const struct config_sync *sync = field;
    if (sync->mode == CONFIG_SYNC_INTERVAL)
        snprintf(out, out_size, "interval:%lld", (long long)sync->interval_ms);
    else
        snprintf(out, out_size, "%s", config_sync_mode_name(sync->mode));
}

const struct config_scalar_type config_sync_type = {
    .expected = "one of always, interval:<ms>, none",
    .parse = config_sync_parse,
    .format = config_sync_format,
};

static int config_schedule_parse(const char *text, size_t length, void *field, char *why,
                                 size_t why_size)
{
    struct config_schedule *schedule = field;
    if (length > CONFIG_SCALAR_TEXT_MAX) {
        snprintf(why, why_size, "is longer than %d characters; use ranges and steps (0-59/5)",
                 CONFIG_SCALAR_TEXT_MAX);
        return -1;
    }
    char *copy = config_string_copy(text, length);
    if (!copy) {
        snprintf(why, why_size, "could not be stored: out of memory");
        return -1;
    }
    char error[200];
    struct cron_expression expression;
    if (memchr(text, '\0', length) ||
        cron_expression_parse(copy, &expression, error, sizeof error) != 0) {
        snprintf(why, why_size, "is not a cron expression (minute hour day month weekday): %s",
                 memchr(text, '\0', length) ? "it contains a NUL character" : error);
        free(copy);
        return -1;
    }
    free(schedule->text);
    schedule->text = copy;
    schedule->expression = expression;
    return 0;
}

static void config_schedule_format(const void *field, char *out, size_t out_size)
{
    const struct config_schedule *schedule = field;
    snprintf(out, out_size, "%s", schedule->text ? schedule->text : "");
}

static void config_schedule_free(void *field)
{
    struct config_schedule *schedule = field;
    free(schedule->text);
    schedule->text = NULL;
}

const struct config_scalar_type config_schedule_type = {
    .expected = "a cron expression such as \"0 2 * * *\"",
    .parse = config_schedule_parse,
    .format = config_schedule_format,
    .free = config_schedule_free,
};
