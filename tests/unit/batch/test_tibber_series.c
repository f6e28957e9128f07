/* The decisions of a Tibber run: the lookback (catch-up, caps), which energy points and prices to
 * write (new, revised, unchanged, pending), and the register's anchor arithmetic (running sums
 * from the stored anchor, pending and missing hours, holes, the gap after a capped catch-up, the
 * DST days, revisions) — and that across runs the register never goes backwards nor counts an
 * hour twice. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batch/readings.h"
#include "batch/tibber_series.h"

#define HOUR_NS TIBBER_NS_PER_HOUR

static int64_t utc(const char *text)
{
    int64_t t_ns;
    cr_assert_eq(batch_timestamp_parse(text, strlen(text), &t_ns), 0, "%s", text);
    return t_ns;
}

/* count hours from start, consumption 0.1 * (i + 1), cost and prices known. */
static struct tibber_node *hours_make(int64_t start, size_t count)
{
    struct tibber_node *nodes = calloc(count, sizeof *nodes);
    for (size_t i = 0; i < count; i++)
        nodes[i] = (struct tibber_node){.from_ns = start + (int64_t)i * HOUR_NS,
                                        .to_ns = start + (int64_t)(i + 1) * HOUR_NS,
                                        .consumption = 0.1 * (double)(i + 1),
                                        .cost = 0.03 * (double)(i + 1),
                                        .unit_price = 0.3,
                                        .unit_price_vat = 0.048};
    return nodes;
}

static void plan_make(const struct tibber_node *nodes, size_t count,
                      const struct tibber_newest *newest, int64_t now_ns,
                      const struct tibber_node *stored, size_t stored_count, bool complete,
                      struct tibber_plan *plan)
{
    struct tibber_plan_input input = {.nodes = nodes,
                                      .node_count = count,
                                      .history_complete = complete,
                                      .newest = newest,
                                      .stored = stored,
                                      .stored_count = stored_count,
                                      .now_ns = now_ns};
    cr_assert_eq(tibber_plan_compute(&input, plan), 0);
}

/* ---- lookback ---- */

Test(tibber_lookback, configured_hours_when_recent_or_empty)
{
    int64_t now = utc("2025-01-15T10:20:00Z");
    struct tibber_lookback lookback;
    struct tibber_newest none = {0};
    tibber_lookback_choose(48, 720, &none, now, &lookback);
    cr_expect_eq(lookback.hours, 48);
    cr_expect_eq(lookback.pages, 1);
    cr_expect_not(lookback.catch_up);
    struct tibber_newest recent = {.has_energy = true,
                                   .energy_ns = utc("2025-01-14T10:00:00Z"),
                                   .has_anchor = true,
                                   .anchor_ns = utc("2025-01-13T10:20:00Z")};
    tibber_lookback_choose(48, 720, &recent, now, &lookback);
    cr_expect_eq(lookback.hours, 48, "exactly 48 h old: still within");
    cr_expect_not(lookback.catch_up);
}

Test(tibber_lookback, catch_up_from_the_older_series_rounded_up)
{
    int64_t now = utc("2025-01-15T10:20:00Z");
    struct tibber_lookback lookback;
    /* The register is older than energy: both must be caught up. 49 h 20 min -> 50 + 48. */
    struct tibber_newest newest = {.has_energy = true,
                                   .energy_ns = utc("2025-01-15T08:00:00Z"),
                                   .has_anchor = true,
                                   .anchor_ns = utc("2025-01-13T09:00:00Z")};
    tibber_lookback_choose(48, 720, &newest, now, &lookback);
    cr_expect_eq(lookback.hours, 98);
    cr_expect(lookback.catch_up);
    cr_expect_not(lookback.capped);
    cr_expect_eq(lookback.pages, 1);
    /* Only an energy series (no register yet). */
    struct tibber_newest energy_only = {.has_energy = true,
                                        .energy_ns = utc("2025-01-10T10:20:00Z")};
    tibber_lookback_choose(48, 720, &energy_only, now, &lookback);
    cr_expect_eq(lookback.hours, 120 + 48);
}

Test(tibber_lookback, capped_by_max_lookback_and_by_the_budget)
{
    int64_t now = utc("2025-06-01T12:00:00Z");
    struct tibber_lookback lookback;
    struct tibber_newest newest = {.has_anchor = true, .anchor_ns = utc("2025-02-20T00:00:00Z")};
    tibber_lookback_choose(48, 720, &newest, now, &lookback);
    cr_expect_eq(lookback.hours, 720);
    cr_expect(lookback.capped);
    cr_expect_eq(lookback.wanted, 2436 + 48);
    tibber_lookback_choose(48, 3000, &newest, now, &lookback);
    cr_expect_eq(lookback.hours, 2484);
    cr_expect_eq(lookback.pages, 4); /* 744 + 744 + 744 + 252 */
    cr_expect_not(lookback.capped);
    struct tibber_newest ancient = {.has_anchor = true, .anchor_ns = utc("2015-01-01T00:00:00Z")};
    tibber_lookback_choose(48, 87600, &ancient, now, &lookback);
    cr_expect_eq(lookback.hours, TIBBER_MAX_PAGES * TIBBER_PAGE_HOURS);
    cr_expect_eq(lookback.pages, TIBBER_MAX_PAGES);
    cr_expect(lookback.capped);
    /* A configured lookback beyond the budget is capped too. */
    struct tibber_newest none = {0};
    tibber_lookback_choose(87600, 87600, &none, now, &lookback);
    cr_expect_eq(lookback.hours, TIBBER_MAX_PAGES * TIBBER_PAGE_HOURS);
    cr_expect(lookback.capped);
}

/* ---- sorting ---- */

Test(tibber_nodes, sorted_and_unique)
{
    struct tibber_node nodes[] = {{.from_ns = 3}, {.from_ns = 1}, {.from_ns = 2}, {.from_ns = 1}};
    size_t count = 4;
    tibber_nodes_sort(nodes, &count);
    cr_assert_eq(count, 3);
    cr_expect_eq(nodes[0].from_ns, 1);
    cr_expect_eq(nodes[1].from_ns, 2);
    cr_expect_eq(nodes[2].from_ns, 3);
}

/* ---- the register ---- */

Test(tibber_register, running_sum_from_the_anchor)
{
    int64_t start = utc("2025-01-13T11:00:00Z");
    struct tibber_node *nodes = hours_make(start, 48);
    nodes[47].consumption = NAN; /* the current hour */
    nodes[47].cost = NAN;
    struct tibber_newest newest = {
        .has_anchor = true, .anchor_ns = start + 13 * HOUR_NS, .anchor_value = 1000.5};
    struct tibber_plan plan;
    plan_make(nodes, 48, &newest, start + 47 * HOUR_NS + 20 * 60 * 1000000000LL, NULL, 0, false,
              &plan);
    cr_expect_eq(plan.register_status, TIBBER_REGISTER_ADVANCED, "trailing pending: not waiting");
    cr_assert_eq(plan.register_count, 33);
    double value = 1000.5;
    for (size_t i = 0; i < plan.register_count; i++) {
        value += nodes[14 + i].consumption;
        cr_expect_eq(plan.register_points[i].node, 14 + i);
        cr_expect_eq(plan.register_points[i].value, value, "point %zu", i);
    }
    cr_expect_eq(plan.energy_count, 47);
    cr_expect_eq(plan.new_hours, 47);
    cr_expect_eq(plan.pending, 1);
    tibber_plan_free(&plan);

    /* No anchor: no register point at all. */
    struct tibber_newest none = {0};
    plan_make(nodes, 48, &none, start + 48 * HOUR_NS, NULL, 0, false, &plan);
    cr_expect_eq(plan.register_status, TIBBER_REGISTER_NO_ANCHOR);
    cr_expect_eq(plan.register_count, 0);
    cr_expect_eq(plan.energy_count, 47);
    tibber_plan_free(&plan);
    free(nodes);
}

Test(tibber_register, manual_reading_within_an_hour)
{
    /* A reading at 12:34 includes the hour starting 12:00: 13:00 is the first added. */
    int64_t start = utc("2025-01-15T00:00:00Z");
    struct tibber_node *nodes = hours_make(start, 24);
    struct tibber_newest newest = {
        .has_anchor = true, .anchor_ns = utc("2025-01-15T12:34:00Z"), .anchor_value = 50};
    struct tibber_plan plan;
    plan_make(nodes, 24, &newest, start + 30 * HOUR_NS, NULL, 0, false, &plan);
    cr_assert_eq(plan.register_count, 11);
    cr_expect_eq(nodes[plan.register_points[0].node].from_ns, utc("2025-01-15T13:00:00Z"));
    cr_expect_eq(plan.register_points[0].value, 50 + nodes[13].consumption);
    tibber_plan_free(&plan);
    /* The anchor is the newest hour: nothing to add. */
    newest.anchor_ns = nodes[23].from_ns;
    plan_make(nodes, 24, &newest, start + 30 * HOUR_NS, NULL, 0, false, &plan);
    cr_expect_eq(plan.register_status, TIBBER_REGISTER_UP_TO_DATE);
    cr_expect_eq(plan.register_count, 0);
    tibber_plan_free(&plan);
    free(nodes);
}

Test(tibber_register, waits_at_a_recent_null_hour_in_the_middle)
{
    int64_t start = utc("2025-02-09T00:00:00Z");
    struct tibber_node *nodes = hours_make(start, 36);
    nodes[27].consumption = NAN; /* 03:00 on the 10th, 9 hours before now */
    nodes[35].consumption = NAN;
    struct tibber_newest newest = {.has_anchor = true, .anchor_ns = start, .anchor_value = 500};
    int64_t now = start + 36 * HOUR_NS;
    struct tibber_plan plan;
    plan_make(nodes, 36, &newest, now, NULL, 0, false, &plan);
    cr_expect_eq(plan.register_status, TIBBER_REGISTER_WAITING);
    cr_expect_eq(plan.stopped_at_ns, nodes[27].from_ns);
    cr_expect_eq(plan.register_count, 26);
    cr_expect_eq(plan.pending, 2);
    cr_expect_eq(plan.energy_count, 34, "energy goes on after the null hour");
    tibber_plan_free(&plan);

    /* A week later it is still null: skipped as missing, the register goes on without it. */
    plan_make(nodes, 36, &newest, nodes[27].to_ns + TIBBER_GIVE_UP_HOURS * HOUR_NS, NULL, 0, false,
              &plan);
    cr_expect_eq(plan.register_status, TIBBER_REGISTER_ADVANCED);
    cr_expect_eq(plan.missing, 1);
    cr_expect_eq(plan.register_count, 33);
    double value = 500;
    for (size_t i = 1; i < 35; i++)
        if (i != 27)
            value += nodes[i].consumption;
    cr_expect_eq(plan.register_points[32].value, value);
    tibber_plan_free(&plan);
    free(nodes);
}

Test(tibber_register, negative_or_absurd_consumption_is_not_counted)
{
    int64_t start = utc("2025-02-09T00:00:00Z");
    struct tibber_node *nodes = hours_make(start, 10);
    nodes[4].consumption = -3;
    struct tibber_newest newest = {.has_anchor = true, .anchor_ns = start, .anchor_value = 5};
    struct tibber_plan plan;
    plan_make(nodes, 10, &newest, start + 11 * HOUR_NS, NULL, 0, false, &plan);
    cr_expect_eq(plan.register_status, TIBBER_REGISTER_WAITING);
    cr_expect_eq(plan.register_count, 3);
    for (size_t i = 1; i < plan.register_count; i++)
        cr_expect_geq(plan.register_points[i].value, plan.register_points[i - 1].value);
    cr_expect_eq(plan.energy_count, 9, "a negative hour is not written either");
    tibber_plan_free(&plan);
    free(nodes);
}

Test(tibber_register, holes_in_tibbers_hours)
{
    int64_t start = utc("2025-02-09T00:00:00Z");
    struct tibber_node *all = hours_make(start, 20);
    /* Hours 8 and 9 are left out. */
    struct tibber_node nodes[18];
    memcpy(nodes, all, 8 * sizeof *nodes);
    memcpy(nodes + 8, all + 10, 10 * sizeof *nodes);
    struct tibber_newest newest = {.has_anchor = true, .anchor_ns = start, .anchor_value = 0};
    struct tibber_plan plan;
    plan_make(nodes, 18, &newest, start + 21 * HOUR_NS, NULL, 0, false, &plan);
    cr_expect_eq(plan.register_status, TIBBER_REGISTER_WAITING);
    cr_expect_eq(plan.stopped_at_ns, all[8].from_ns);
    cr_expect_eq(plan.register_count, 7);
    tibber_plan_free(&plan);
    plan_make(nodes, 18, &newest, all[10].from_ns + TIBBER_GIVE_UP_HOURS * HOUR_NS, NULL, 0, false,
              &plan);
    cr_expect_eq(plan.register_status, TIBBER_REGISTER_ADVANCED);
    cr_expect_eq(plan.missing, 2);
    cr_expect_eq(plan.register_count, 17);
    tibber_plan_free(&plan);
    free(all);
}

Test(tibber_register, gap_to_the_anchor_after_a_capped_catch_up)
{
    int64_t start = utc("2025-05-02T13:00:00Z");
    struct tibber_node *nodes = hours_make(start, 720);
    struct tibber_newest newest = {
        .has_anchor = true, .anchor_ns = utc("2025-02-20T00:00:00Z"), .anchor_value = 7000};
    struct tibber_plan plan;
    plan_make(nodes, 720, &newest, start + 720 * HOUR_NS, NULL, 0, false, &plan);
    cr_expect_eq(plan.register_status, TIBBER_REGISTER_GAP);
    cr_expect_eq(plan.stopped_at_ns, newest.anchor_ns);
    cr_expect_eq(plan.register_count, 0);
    cr_expect_eq(plan.energy_count, 720, "energy is written anyway");
    tibber_plan_free(&plan);
    /* Tibber has nothing older (the contract started then): the register starts there, the
     * hours in between counted as missing. */
    plan_make(nodes, 720, &newest, start + 720 * HOUR_NS, NULL, 0, true, &plan);
    cr_expect_eq(plan.register_status, TIBBER_REGISTER_ADVANCED);
    cr_expect_eq(plan.register_count, 720);
    cr_expect_eq(plan.missing, (size_t)((start - newest.anchor_ns) / HOUR_NS - 1));
    cr_expect_eq(plan.missing, 1716); /* 2025-02-20T01:00Z .. 2025-05-02T12:00Z */
    tibber_plan_free(&plan);
    /* The anchor is the hour just before the first fetched one: no gap. */
    newest.anchor_ns = start - HOUR_NS;
    plan_make(nodes, 720, &newest, start + 720 * HOUR_NS, NULL, 0, false, &plan);
    cr_expect_eq(plan.register_status, TIBBER_REGISTER_ADVANCED);
    cr_expect_eq(plan.register_count, 720);
    tibber_plan_free(&plan);
    free(nodes);
}

/* The nodes of 2024-10-27 (25 hours) and 2025-03-30 (23 hours) in Europe/Berlin are consecutive
 * UTC hours; the register counts each exactly once. */
Test(tibber_register, dst_days)
{
    struct {
        const char *first_utc;
        size_t hours;
    } days[] = {{"2024-10-26T22:00:00Z", 25}, {"2025-03-29T23:00:00Z", 23}};
    for (size_t d = 0; d < 2; d++) {
        int64_t start = utc(days[d].first_utc);
        struct tibber_node *nodes = hours_make(start, days[d].hours);
        struct tibber_newest newest = {
            .has_anchor = true, .anchor_ns = start - HOUR_NS, .anchor_value = 100};
        struct tibber_plan plan;
        plan_make(nodes, days[d].hours, &newest, start + 48 * HOUR_NS, NULL, 0, false, &plan);
        cr_expect_eq(plan.register_count, days[d].hours);
        double sum = 0;
        for (size_t i = 0; i < days[d].hours; i++)
            sum += nodes[i].consumption;
        cr_expect_float_eq(plan.register_points[days[d].hours - 1].value, 100 + sum, 1e-9);
        for (size_t i = 1; i < plan.register_count; i++)
            cr_expect_gt(nodes[plan.register_points[i].node].from_ns,
                         nodes[plan.register_points[i - 1].node].from_ns);
        tibber_plan_free(&plan);
        free(nodes);
    }
}

/* Run after run with random pending hours and revisions: the stored register equals the anchor
 * plus each settled hour counted once, and never decreases. */
Test(tibber_register, never_backwards_nor_twice_across_runs)
{
    int64_t start = utc("2025-01-01T00:00:00Z");
    size_t total = 400;
    struct tibber_node *truth = hours_make(start, total);
    double *stored_register = calloc(total, sizeof *stored_register);
    bool *stored = calloc(total, sizeof *stored);
    double *counted = calloc(total, sizeof *counted);
    struct tibber_newest newest = {.has_anchor = true, .anchor_ns = start, .anchor_value = 42};
    unsigned seed = 7;
    for (size_t now_hour = 30; now_hour <= total; now_hour += 1 + (seed % 5)) {
        seed = seed * 1103515245 + 12345;
        /* The window: the last 48 hours before now; the newest 2 and random others pending. */
        size_t first = now_hour > 48 ? now_hour - 48 : 1;
        size_t count = now_hour - first;
        struct tibber_node *window = malloc(count * sizeof *window);
        memcpy(window, truth + first, count * sizeof *window);
        for (size_t i = 0; i < count; i++) {
            seed = seed * 1103515245 + 12345;
            if (i + 2 >= count || (seed >> 16) % 9 == 0)
                window[i].consumption = NAN;
            else if ((seed >> 16) % 13 == 0)
                window[i].consumption += 0.5; /* a revision */
        }
        struct tibber_plan plan;
        plan_make(window, count, &newest, start + (int64_t)now_hour * HOUR_NS, NULL, 0, false,
                  &plan);
        cr_assert_neq(plan.register_status, TIBBER_REGISTER_GAP, "hour %zu", now_hour);
        for (size_t p = 0; p < plan.register_count; p++) {
            size_t hour = first + plan.register_points[p].node;
            cr_assert_not(stored[hour], "hour %zu counted twice", hour);
            stored[hour] = true;
            stored_register[hour] = plan.register_points[p].value;
            counted[hour] = window[plan.register_points[p].node].consumption;
            newest.anchor_ns = window[plan.register_points[p].node].from_ns;
            newest.anchor_value = plan.register_points[p].value;
        }
        tibber_plan_free(&plan);
        free(window);
    }
    double value = 42, previous = 42;
    size_t hours = 0;
    for (size_t hour = 1; hour < total; hour++) {
        if (!stored[hour])
            continue;
        value += counted[hour];
        cr_expect_eq(stored_register[hour], value, "hour %zu", hour);
        cr_expect_geq(stored_register[hour], previous);
        previous = stored_register[hour];
        hours++;
    }
    cr_expect_gt(hours, 300);
    /* Every hour up to the last counted one was counted: none skipped. */
    size_t last = 0;
    for (size_t hour = 1; hour < total; hour++)
        if (stored[hour])
            last = hour;
    for (size_t hour = 1; hour <= last; hour++)
        cr_expect(stored[hour], "hour %zu skipped", hour);
    free(truth);
    free(stored_register);
    free(stored);
    free(counted);
}

/* ---- energy and prices: written only when new or changed ---- */

Test(tibber_energy, new_revised_unchanged_and_null_fields)
{
    int64_t start = utc("2025-03-04T00:00:00Z");
    struct tibber_node *nodes = hours_make(start, 6);
    struct tibber_node stored[5];
    memcpy(stored, nodes, sizeof stored);
    for (size_t i = 0; i < 5; i++)
        stored[i].to_ns = 0;
    stored[1].consumption = 9.5; /* revised by Tibber since (the hour was counted) */
    stored[2].cost = NAN;        /* written before the cost was known */
    nodes[3].cost = NAN;         /* null now: agrees with whatever is stored */
    stored[4].consumption = 0;   /* the reference's null-as-0 */
    nodes[4].consumption = NAN;  /* still pending: not written */
    struct tibber_newest newest = {
        .has_anchor = true, .anchor_ns = start + 2 * HOUR_NS, .anchor_value = 1};
    struct tibber_plan plan;
    plan_make(nodes, 6, &newest, start + 7 * HOUR_NS, stored, 5, false, &plan);
    cr_assert_eq(plan.energy_count, 3);
    cr_expect_eq(plan.energy[0], 1);
    cr_expect_eq(plan.energy[1], 2);
    cr_expect_eq(plan.energy[2], 5);
    cr_expect_eq(plan.revised, 2);
    cr_expect_eq(plan.revised_counted, 1);
    cr_expect_eq(plan.new_hours, 1);
    cr_expect_eq(plan.unchanged, 2);
    cr_expect_eq(plan.pending, 1);
    /* The register waits for hour 4; the revised hour 1 is never counted again. */
    cr_expect_eq(plan.register_status, TIBBER_REGISTER_WAITING);
    cr_expect_eq(plan.register_count, 1);
    cr_expect_eq(plan.register_points[0].node, 3);
    tibber_plan_free(&plan);
    free(nodes);
}

Test(tibber_prices, changed_or_new_only)
{
    struct tibber_price fetched[3] = {
        {.starts_at_ns = 10,
         .total = 0.3,
         .energy = 0.2,
         .tax = 0.1,
         .currency = "EUR",
         .level = "NORMAL"},
        {.starts_at_ns = 20,
         .total = 0.4,
         .energy = NAN,
         .tax = NAN,
         .currency = "EUR",
         .level = "CHEAP"},
        {.starts_at_ns = 30,
         .total = 0.5,
         .energy = 0.3,
         .tax = 0.2,
         .currency = "EUR",
         .level = "EXPENSIVE"},
    };
    struct tibber_price stored[2] = {
        {.starts_at_ns = 10,
         .total = 0.3,
         .energy = 0.2,
         .tax = 0.1,
         .currency = "EUR",
         .level = "NORMAL"},
        {.starts_at_ns = 20,
         .total = 0.4,
         .energy = 0.25,
         .tax = 0.15,
         .currency = "EUR",
         .level = "NORMAL"},
    };
    size_t *write, count, unchanged;
    cr_assert_eq(tibber_prices_plan(fetched, 3, stored, 2, &write, &count, &unchanged), 0);
    cr_assert_eq(count, 2);
    cr_expect_eq(write[0], 1, "the level changed");
    cr_expect_eq(write[1], 2, "new");
    cr_expect_eq(unchanged, 1);
    free(write);
}
