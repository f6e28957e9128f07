/* The steps of one meter-batch tibber run. */
#include "batch/tibber_run.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch/readings.h"
#include "batch/run_report.h"
#include "batch/tibber_graphql.h"
#include "batch/tibber_points.h"
#include "batch/tibber_report.h"
#include "batch/tibber_series.h"
#include "batch/tibber_store.h"
#include "batch/writeback.h"
#include "config/clock.h"
#include "config/config.h"
#include "config/log.h"
#include "relay/influx_client.h"

#define TIBBER_RUN_ERROR_SIZE 2048
#define TIBBER_WRITE_BATCH_LINES 5000
#define TIBBER_WRITE_BATCH_BYTES (1024 * 1024)

struct tibber_run {
    const struct tibber_run_arguments *arguments;
    struct config *config;
    struct logger *logger;
    int64_t now_ns;
    char secrets_path[1024];
    struct influx_client *reader;
    struct tibber_client_options tibber_options;
    struct tibber_client *tibber;
    struct tibber_newest newest;
    bool newest_read;
    struct tibber_lookback lookback;
    bool lookback_chosen;
    struct tibber_page first;  /* the first page: the home, its prices */
    struct tibber_node *nodes; /* every page's hours, sorted */
    size_t node_count, node_capacity;
    bool fetched, history_complete;
    struct tibber_stored stored;
    struct tibber_plan plan;
    bool planned;
    size_t *price_writes;
    size_t price_write_count, price_unchanged;
    uint64_t energy_written, prices_written, register_written, points_written, write_requests;
    char source[600], destination[700];
    char error[TIBBER_RUN_ERROR_SIZE];
    /* What failed, for monitoring: "configuration", "influxdb", "write", "register_gap", or the
     * Tibber status ("unauthenticated", "graphql_error", "http", ...); static strings. */
    const char *error_kind;
    double read_ms, fetch_ms, write_ms;
};

static double milliseconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static void time_text(int64_t t_ns, char *out)
{
    batch_timestamp_format(t_ns, out);
}

static int run_setup(struct tibber_run *run)
{
    run->error_kind = "configuration";
    run->config = config_load_reporting(run->arguments->config_path, stderr, "meter-batch");
    if (!run->config) {
        snprintf(run->error, sizeof run->error,
                 "the configuration has errors (printed above, each with file and line)");
        return -1;
    }
    char error[512];
    run->logger = log_open(&run->config->logging, NULL, error, sizeof error);
    if (!run->logger) {
        snprintf(run->error, sizeof run->error, "%s", error);
        return -1;
    }
    const struct config *config = run->config;
    struct clock clock = clock_system();
    run->now_ns = run->arguments->now_given ? run->arguments->now_ns : clock_realtime_ns(&clock);
    snprintf(run->secrets_path, sizeof run->secrets_path, "%.800s/%.200s", config->secrets_dir,
             config->tibber.credentials);
    if (!config->tibber.enabled || !config->tibber.api_token) {
        snprintf(run->error, sizeof run->error,
                 "tibber.enabled is not true in %.800s: set it to true and put "
                 "TIBBER_API_TOKEN=<token> in %.1000s to fetch from Tibber",
                 config->path ? config->path : "the configuration (built-in defaults)",
                 run->secrets_path);
        return -1;
    }
    snprintf(run->source, sizeof run->source, "tibber:%.500s", config->tibber.api_url);
    run->error_kind = "internal";
    return 0;
}

static int newest_read(struct tibber_run *run)
{
    const struct config_influxdb *influxdb = &run->config->influxdb;
    char error[600];
    run->reader = influx_client_create(influxdb, error, sizeof error);
    if (run->reader) {
        influx_client_logger_set(run->reader, run->logger);
        if (tibber_store_newest_read(run->reader, run->config, &run->newest, error, sizeof error) ==
            0) {
            run->newest_read = true;
            char energy[BATCH_TIMESTAMP_SIZE] = "none", anchor[BATCH_TIMESTAMP_SIZE] = "none";
            if (run->newest.has_energy)
                time_text(run->newest.energy_ns, energy);
            if (run->newest.has_anchor)
                time_text(run->newest.anchor_ns, anchor);
            if (run->newest.has_anchor)
                log_info(run->logger, "stored Tibber series read",
                         LOG_STRING("meter", run->config->tibber.meter_id),
                         LOG_STRING("newest_energy", energy), LOG_STRING("newest_register", anchor),
                         LOG_NUMBER("register_value", run->newest.anchor_value));
            else
                log_info(run->logger, "stored Tibber series read",
                         LOG_STRING("meter", run->config->tibber.meter_id),
                         LOG_STRING("newest_energy", energy),
                         LOG_STRING("newest_register", anchor));
            return 0;
        }
    }
    run->error_kind = "influxdb";
    snprintf(run->error, sizeof run->error,
             "cannot read the stored Tibber points from %.300s (%s %.200s): %s", influxdb->url,
             influxdb->api == CONFIG_API_V2 ? "bucket" : "database", influxdb->bucket_raw, error);
    return -1;
}

/* Sets run->error for a Tibber failure: the message, and for a refused token what to fix. */
static int fetch_failed(struct tibber_run *run, enum tibber_status status, const char *message)
{
    run->error_kind = tibber_status_name(status);
    if (status == TIBBER_STATUS_UNAUTHENTICATED)
        snprintf(run->error, sizeof run->error,
                 "%s: put a valid TIBBER_API_TOKEN in %.1000s (create one at "
                 "https://developer.tibber.com/settings/access-token); nothing was written",
                 message, run->secrets_path);
    else
        snprintf(run->error, sizeof run->error, "%s; nothing was written", message);
    return -1;
}

static int nodes_add(struct tibber_run *run, const struct tibber_page *page)
{
    if (run->node_count + page->node_count > run->node_capacity) {
        size_t capacity = run->node_capacity ? run->node_capacity : 1024;
        while (capacity < run->node_count + page->node_count)
            capacity *= 2;
        struct tibber_node *grown = realloc(run->nodes, capacity * sizeof *grown);
        if (!grown)
            return -1;
        run->nodes = grown;
        run->node_capacity = capacity;
    }
    if (page->node_count > 0)
        memcpy(run->nodes + run->node_count, page->nodes, page->node_count * sizeof *page->nodes);
    run->node_count += page->node_count;
    return 0;
}

/* One page: the request, the answer parsed into *page. */
static int page_fetch(struct tibber_run *run, char *body, bool first_page, struct buffer *answer,
                      struct tibber_page *page)
{
    char message[700];
    if (!body) {
        snprintf(run->error, sizeof run->error, "out of memory building the Tibber query");
        return -1;
    }
    enum tibber_status status =
        tibber_client_post(run->tibber, body, strlen(body), answer, message, sizeof message);
    cJSON_free(body);
    if (status == TIBBER_STATUS_OK)
        status = tibber_response_parse(answer->data ? answer->data : "", answer->length, first_page,
                                       run->config->tibber.home_id, page, message, sizeof message);
    if (status != TIBBER_STATUS_OK)
        return fetch_failed(run, status, message);
    if (nodes_add(run, page) != 0) {
        snprintf(run->error, sizeof run->error, "out of memory collecting Tibber's hours");
        return -1;
    }
    return 0;
}

static void first_page_log(struct tibber_run *run)
{
    const struct tibber_page *first = &run->first;
    /* With several subscribed homes the first may be another meter's (a heat pump's): only
     * tibber.home_id says which is the household's. */
    if (first->home_count > 1 && !run->config->tibber.home_id)
        log_event(run->logger, first->subscribed_homes > 1 ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO,
                  first->subscribed_homes > 1
                      ? "the Tibber account has several homes with a subscription: using the "
                        "first; set tibber.home_id to the id of the household's home"
                      : "the Tibber account has several homes: using the one with a subscription",
                  LOG_STRING("home", first->home_id),
                  LOG_INTEGER("homes", (int64_t)first->home_count),
                  LOG_INTEGER("subscribed", (int64_t)first->subscribed_homes), LOG_END);
    if (first->consumption_missing)
        log_warning(run->logger,
                    "Tibber has no consumption for the home (consumption is null): only prices "
                    "are written; Tibber gets the data from the grid operator or a Pulse",
                    LOG_STRING("home", first->home_id));
    if (first->prices_missing)
        log_warning(run->logger, "Tibber has no prices for the home (priceInfo is null)",
                    LOG_STRING("home", first->home_id));
}

static int fetch(struct tibber_run *run)
{
    const struct config_tibber *tibber = &run->config->tibber;
    tibber_lookback_choose(tibber->lookback_hours, tibber->max_lookback_hours, &run->newest,
                           run->now_ns, &run->lookback);
    run->lookback_chosen = true;
    const struct tibber_lookback *lookback = &run->lookback;
    log_event(run->logger, lookback->capped ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO,
              lookback->capped     ? "Tibber catch-up capped: the oldest hours are not fetched"
              : lookback->catch_up ? "catching up on Tibber's hours after a pause"
                                   : "fetching Tibber's hours",
              LOG_INTEGER("lookback_hours", lookback->hours), LOG_INTEGER("pages", lookback->pages),
              LOG_INTEGER("wanted_hours", lookback->wanted),
              LOG_INTEGER("max_lookback_hours", tibber->max_lookback_hours), LOG_END);
    run->tibber_options = (struct tibber_client_options){
        .url = tibber->api_url,
        .token = tibber->api_token,
        .timeout_ms = run->arguments->timeout_ms,
        .logger = run->logger,
    };
    char message[600];
    run->tibber = tibber_client_create(&run->tibber_options, message, sizeof message);
    if (!run->tibber) {
        snprintf(run->error, sizeof run->error, "%s", message);
        return -1;
    }
    struct buffer answer = BUFFER_INITIALIZER;
    int remaining = lookback->hours;
    int ask = remaining < TIBBER_PAGE_HOURS ? remaining : TIBBER_PAGE_HOURS;
    int status = page_fetch(run, tibber_query_first(ask), true, &answer, &run->first);
    struct tibber_page page = {0};
    const struct tibber_page *last = &run->first;
    if (status == 0) {
        first_page_log(run);
        remaining -= (int)run->first.node_count;
    }
    /* Older pages, each before the oldest hour so far, until the lookback is covered or Tibber
     * has nothing older. */
    while (status == 0 && remaining > 0 && last->has_previous_page && last->start_cursor &&
           last->node_count > 0) {
        char *cursor = strdup(last->start_cursor);
        tibber_page_free(&page);
        ask = remaining < TIBBER_PAGE_HOURS ? remaining : TIBBER_PAGE_HOURS;
        status = cursor ? page_fetch(run, tibber_query_page(run->first.home_id, ask, cursor), false,
                                     &answer, &page)
                        : -1;
        if (!cursor)
            snprintf(run->error, sizeof run->error, "out of memory paging through Tibber's hours");
        if (status == 0 && page.start_cursor && strcmp(page.start_cursor, cursor) == 0) {
            snprintf(run->error, sizeof run->error,
                     "Tibber answered the page before cursor %.100s with the same cursor; "
                     "nothing was written",
                     cursor);
            status = -1;
        }
        free(cursor);
        last = &page;
        remaining -= (int)page.node_count;
    }
    if (status == 0) {
        run->history_complete = !last->has_previous_page;
        tibber_nodes_sort(run->nodes, &run->node_count);
        tibber_prices_sort(run->first.prices, &run->first.price_count);
        run->fetched = true;
        log_info(run->logger, "Tibber's hours fetched",
                 LOG_INTEGER("hours", (int64_t)run->node_count),
                 LOG_INTEGER("prices", (int64_t)run->first.price_count),
                 LOG_INTEGER("requests", tibber_client_requests(run->tibber)));
    }
    tibber_page_free(&page);
    buffer_release(&answer);
    return status;
}

static void plan_log(struct tibber_run *run)
{
    const struct tibber_plan *plan = &run->plan;
    const char *meter = run->config->tibber.meter_id;
    char at[BATCH_TIMESTAMP_SIZE];
    time_text(plan->stopped_at_ns, at);
    switch (plan->register_status) {
    case TIBBER_REGISTER_NO_ANCHOR:
        log_warning(run->logger,
                    "no kWh reading of the meter is stored, so the cumulative register is not "
                    "written: seed it once with the meter's reading (set it in Home Assistant, or "
                    "write `kWh,entity_id=<meter>,domain=input_number value=<kWh> <time ns>` to "
                    "the raw bucket); later runs continue from the newest reading",
                    LOG_STRING("meter", meter),
                    LOG_STRING("bucket", run->config->influxdb.bucket_raw));
        break;
    case TIBBER_REGISTER_WAITING:
        log_info(run->logger,
                 "the register waits for an hour Tibber has not settled; the later hours follow "
                 "once it is",
                 LOG_STRING("meter", meter), LOG_STRING("hour", at));
        break;
    default:
        break;
    }
    if (plan->missing > 0)
        log_warning(run->logger,
                    "the register skipped hours Tibber has no consumption for (null or absent "
                    "for a week, or before Tibber's first hour): their consumption is not in the "
                    "register; a meter reading written as kWh puts it right",
                    LOG_STRING("meter", meter), LOG_INTEGER("hours", (int64_t)plan->missing));
    if (plan->revised_counted > 0)
        log_warning(run->logger,
                    "Tibber revised hours the register had already counted; the register keeps "
                    "what it counted, the energy points get the new values",
                    LOG_STRING("meter", meter),
                    LOG_INTEGER("hours", (int64_t)plan->revised_counted));
}

static int compare(struct tibber_run *run)
{
    struct tibber_window energy = {1, 0}, prices = {1, 0};
    if (run->node_count > 0)
        energy =
            (struct tibber_window){run->nodes[0].from_ns, run->nodes[run->node_count - 1].from_ns};
    if (run->first.price_count > 0)
        prices = (struct tibber_window){run->first.prices[0].starts_at_ns,
                                        run->first.prices[run->first.price_count - 1].starts_at_ns};
    char error[600];
    if (tibber_store_window_read(run->reader, run->config, energy, prices, &run->stored, error,
                                 sizeof error) != 0) {
        run->error_kind = "influxdb";
        snprintf(run->error, sizeof run->error,
                 "cannot read the stored Tibber points from %.300s: %s; nothing was written",
                 run->config->influxdb.url, error);
        return -1;
    }
    struct tibber_plan_input input = {
        .nodes = run->nodes,
        .node_count = run->node_count,
        .history_complete = run->history_complete,
        .newest = &run->newest,
        .stored = run->stored.energy,
        .stored_count = run->stored.energy_count,
        .now_ns = run->now_ns,
    };
    run->planned = true;
    if (tibber_plan_compute(&input, &run->plan) != 0 ||
        tibber_prices_plan(run->first.prices, run->first.price_count, run->stored.prices,
                           run->stored.price_count, &run->price_writes, &run->price_write_count,
                           &run->price_unchanged) != 0) {
        snprintf(run->error, sizeof run->error, "out of memory comparing Tibber's hours");
        return -1;
    }
    plan_log(run);
    return 0;
}

static int line_add(struct tibber_run *run, struct influx_writer *writer, struct buffer *line,
                    int status)
{
    if (status != 0) {
        snprintf(run->error, sizeof run->error,
                 "tibber.meter_id \"%.200s\" cannot be written as a tag value",
                 run->config->tibber.meter_id);
        return -1;
    }
    return influx_writer_add(writer, line->data, line->length, run->error, sizeof run->error);
}

static int lines_write(struct tibber_run *run, struct influx_writer *writer)
{
    const char *meter = run->config->tibber.meter_id;
    const struct tibber_plan *plan = &run->plan;
    struct buffer line = BUFFER_INITIALIZER;
    int status = 0;
    /* The register last and in time order: a write that fails part-way leaves a prefix of it,
     * from which the next run continues. */
    for (size_t i = 0; status == 0 && i < plan->energy_count; i++) {
        buffer_clear(&line);
        status = line_add(run, writer, &line,
                          tibber_energy_line(&line, meter, &run->nodes[plan->energy[i]]));
    }
    for (size_t i = 0; status == 0 && i < run->price_write_count; i++) {
        buffer_clear(&line);
        status =
            line_add(run, writer, &line,
                     tibber_price_line(&line, meter, &run->first.prices[run->price_writes[i]]));
    }
    for (size_t i = 0; status == 0 && i < plan->register_count; i++) {
        const struct tibber_register_point *point = &plan->register_points[i];
        buffer_clear(&line);
        status =
            line_add(run, writer, &line,
                     tibber_register_line(&line, meter, &run->nodes[point->node], point->value));
    }
    if (status == 0)
        status = influx_writer_flush(writer, run->error, sizeof run->error);
    buffer_release(&line);
    return status;
}

/* What was written of each kind: the lines went out in the order energy, prices, register. */
static void written_count(struct tibber_run *run, uint64_t lines)
{
    uint64_t energy = run->plan.energy_count, prices = run->price_write_count;
    run->points_written = lines;
    run->energy_written = lines < energy ? lines : energy;
    lines -= run->energy_written;
    run->prices_written = lines < prices ? lines : prices;
    run->register_written = lines - run->prices_written;
}

static int write_points(struct tibber_run *run)
{
    const struct tibber_plan *plan = &run->plan;
    size_t total = plan->energy_count + run->price_write_count + plan->register_count;
    if (run->arguments->dry_run) {
        snprintf(run->destination, sizeof run->destination, "dry-run: nothing written");
        return 0;
    }
    if (total == 0) /* not even a ping of the relay: a run with nothing new writes nothing */
        return 0;
    const char *bucket = run->config->influxdb.bucket_raw;
    struct batch_writeback_target target;
    batch_writeback_target_choose(run->config, run->arguments->direct, run->logger, &target);
    target.database = bucket;
    snprintf(run->destination, sizeof run->destination, "%s:%.500s %.150s",
             target.via_relay ? "relay" : "influxdb", target.server.url, bucket);
    char error[600];
    struct influx_client *client = influx_client_create(&target.server, error, sizeof error);
    if (!client) {
        snprintf(run->error, sizeof run->error, "%s", error);
        return -1;
    }
    influx_client_logger_set(client, run->logger);
    if (target.refusal_hint[0] != '\0')
        influx_client_refusal_hint_set(client, target.refusal_hint);
    struct influx_writer *writer =
        influx_writer_create(client, bucket, TIBBER_WRITE_BATCH_LINES, TIBBER_WRITE_BATCH_BYTES);
    int status = -1;
    if (!writer)
        snprintf(run->error, sizeof run->error, "out of memory creating the writer");
    else
        status = lines_write(run, writer);
    uint64_t lines = 0, bytes = 0, requests = 0;
    if (writer)
        influx_writer_counts(writer, &lines, &bytes, &requests);
    written_count(run, lines);
    run->write_requests = requests;
    if (status != 0) {
        run->error_kind = "write";
        char detail[TIBBER_RUN_ERROR_SIZE];
        snprintf(detail, sizeof detail, "%s", run->error);
        snprintf(run->error, sizeof run->error,
                 "cannot write the Tibber points to %.200s: %.700s (%llu of %zu written; the "
                 "next run writes the rest)",
                 run->destination, detail, (unsigned long long)lines, total);
    } else {
        log_info(run->logger, "Tibber points written", LOG_STRING("destination", run->destination),
                 LOG_INTEGER("energy", (int64_t)run->energy_written),
                 LOG_INTEGER("kWh", (int64_t)run->register_written),
                 LOG_INTEGER("electricity_price", (int64_t)run->prices_written));
    }
    influx_writer_destroy(writer);
    influx_client_destroy(client);
    return status;
}

/* The register could not go on: the hours between its anchor and the oldest fetched one were not
 * fetched. Everything else was written; the run fails so that someone looks. */
static int register_gap_check(struct tibber_run *run)
{
    if (run->plan.register_status != TIBBER_REGISTER_GAP)
        return 0;
    run->error_kind = "register_gap";
    char anchor[BATCH_TIMESTAMP_SIZE], oldest[BATCH_TIMESTAMP_SIZE];
    time_text(run->newest.anchor_ns, anchor);
    time_text(run->nodes[0].from_ns, oldest);
    snprintf(run->error, sizeof run->error,
             "the kWh register of %.200s ends at %s but Tibber's hours were fetched only from %s "
             "(lookback capped at %d hours; %d wanted): raise tibber.max_lookback_hours to %d, or "
             "write a current meter reading (kWh,entity_id=%.200s,domain=input_number value=...) "
             "to restart the register there; energy and prices were written",
             run->config->tibber.meter_id, anchor, oldest, run->lookback.hours,
             run->lookback.wanted, run->lookback.wanted, run->config->tibber.meter_id);
    return -1;
}

static void report_finish(struct tibber_run *run, bool succeeded, double total_ms)
{
    struct tibber_report report = {
        .status = succeeded ? "succeeded" : "failed",
        .error = succeeded ? NULL : run->error,
        .error_kind = succeeded ? NULL : run->error_kind,
        .now_ns = run->now_ns,
        .meter_id = run->config ? run->config->tibber.meter_id : NULL,
        .home_id = run->fetched ? run->first.home_id : NULL,
        .source = run->source[0] ? run->source : NULL,
        .destination = run->destination[0] ? run->destination : NULL,
        .newest = run->newest_read ? &run->newest : NULL,
        .lookback = run->lookback_chosen ? &run->lookback : NULL,
        .nodes = run->fetched ? run->nodes : NULL,
        .node_count = run->fetched ? run->node_count : 0,
        .history_complete = run->history_complete,
        .plan = run->planned ? &run->plan : NULL,
        .prices = run->first.prices,
        .price_count = run->first.price_count,
        .prices_changed = run->price_write_count,
        .prices_unchanged = run->price_unchanged,
        .energy_written = run->energy_written,
        .prices_written = run->prices_written,
        .register_written = run->register_written,
        .points_written = run->points_written,
        .tibber_requests = run->tibber ? tibber_client_requests(run->tibber) : 0,
        .influx_requests =
            (run->reader ? influx_client_requests(run->reader) : 0) + run->write_requests,
        .read_ms = run->read_ms,
        .fetch_ms = run->fetch_ms,
        .write_ms = run->write_ms,
        .total_ms = total_ms,
    };
    if (succeeded)
        log_info(run->logger, "tibber done", LOG_INTEGER("fetched", (int64_t)run->node_count),
                 LOG_INTEGER("written", (int64_t)run->points_written),
                 LOG_INTEGER("pending", (int64_t)(run->planned ? run->plan.pending : 0)),
                 LOG_INTEGER("skipped", (int64_t)(run->planned ? run->plan.unchanged : 0)),
                 LOG_INTEGER("lookback_hours", run->lookback.hours),
                 LOG_STRING("register", run->planned
                                            ? tibber_register_status_name(run->plan.register_status)
                                            : "none"),
                 LOG_NUMBER("total_ms", total_ms));
    else
        log_error(run->logger, "tibber failed", LOG_STRING("error", run->error),
                  LOG_STRING("kind", run->error_kind ? run->error_kind : "internal"),
                  LOG_INTEGER("written", (int64_t)run->points_written),
                  LOG_NUMBER("total_ms", total_ms));
    const char *path = run->arguments->report_path;
    if (!path)
        return;
    cJSON *json = tibber_report_build(&report);
    char error[TIBBER_RUN_ERROR_SIZE];
    if (!json)
        log_error(run->logger, "out of memory building the run report");
    else if (batch_run_report_write(json, path, error, sizeof error) != 0)
        log_error(run->logger, "cannot write the run report", LOG_STRING("error", error));
    cJSON_Delete(json);
}

int tibber_run(const struct tibber_run_arguments *arguments)
{
    struct tibber_run run = {.arguments = arguments};
    struct timespec start, step;
    clock_gettime(CLOCK_MONOTONIC, &start);
    step = start;
    bool succeeded = false;
    if (run_setup(&run) != 0)
        goto report;
    if (newest_read(&run) != 0)
        goto report;
    run.read_ms = milliseconds_since(&step);
    clock_gettime(CLOCK_MONOTONIC, &step);
    if (fetch(&run) != 0)
        goto report;
    run.fetch_ms = milliseconds_since(&step);
    clock_gettime(CLOCK_MONOTONIC, &step);
    if (compare(&run) != 0)
        goto report;
    run.read_ms += milliseconds_since(&step);
    clock_gettime(CLOCK_MONOTONIC, &step);
    if (write_points(&run) != 0)
        goto report;
    run.write_ms = milliseconds_since(&step);
    succeeded = register_gap_check(&run) == 0;
report:
    if (run.fetch_ms == 0 && run.tibber)
        run.fetch_ms = milliseconds_since(&step);
    report_finish(&run, succeeded, milliseconds_since(&start));
    tibber_client_destroy(run.tibber);
    influx_client_destroy(run.reader);
    tibber_plan_free(&run.plan);
    free(run.price_writes);
    tibber_stored_free(&run.stored);
    tibber_page_free(&run.first);
    free(run.nodes);
    log_close(run.logger);
    config_free(run.config);
    return succeeded ? 0 : 1;
}
