/* What a Tibber run writes, decided from what Tibber sent and what the raw bucket holds: pure
 * functions over plain arrays, so every rule below is unit-tested without a server.
 *
 * Lookback (spec/analytics.md): tibber.lookback_hours; when the newest stored point of the two
 * series (energy, and the kWh register of tibber.meter_id) that is older than that — after
 * downtime — ceil(hours since it) + TIBBER_CATCH_UP_MARGIN_HOURS, capped by
 * tibber.max_lookback_hours and by the pages the request budget allows.
 *
 * energy (one point per settled hour, stamped at the hour's start): written when the raw bucket
 * does not hold it yet, or holds different values (Tibber revised the hour: the same timestamp is
 * written again and InfluxDB keeps the last write). So a second run with nothing new writes
 * nothing, an hour that was pending at the last run is written once it settles, and the zeros
 * the reference pipeline wrote for null hours are corrected. A null consumption makes the hour
 * pending: nothing is written (the reference wrote 0). A null cost or price of an hour whose
 * consumption is known leaves that field out — never 0 — and a later run adds it.
 *
 * kWh register (the anchor arithmetic): the newest stored kWh reading of the meter (t_a, v_a) is
 * the anchor. Following the series the reference and the households' Home Assistant hold, a
 * register point is stamped at its hour's start and includes that hour, so the anchor includes
 * every hour starting at or before t_a, and the hours starting after t_a are added in order:
 * v = v_a + c_1, v_a + c_1 + c_2, ... Each run starts again from the stored anchor, so an hour is
 * never counted twice, whatever was fetched before, and the anchor advances only with what was
 * written. The register stops (nothing after is written) at
 * - an hour whose consumption is null (or negative or not finite), or a hole in Tibber's hours,
 *   that ended less than TIBBER_GIVE_UP_HOURS ago: it is pending and the next run continues there;
 *   older ones Tibber will not fill any more: they are skipped as missing, and logged;
 * - a gap between the anchor and the oldest hour fetched while Tibber has older hours: the
 *   lookback was capped (max_lookback_hours), so continuing would silently lose those hours.
 *   (When Tibber has nothing older — the anchor predates Tibber's data — those hours exist
 *   nowhere: they are counted as missing and the register starts at Tibber's first hour.)
 * A revised hour the register already counted is not counted again: the register keeps what it
 * booked, the revision is counted and logged, and the energy point carries the new value.
 * Without an anchor no register point is written (the household seeds one). */
#ifndef NEBENKOSTEN_BATCH_TIBBER_SERIES_H
#define NEBENKOSTEN_BATCH_TIBBER_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch/tibber_response.h"

#define TIBBER_PAGE_HOURS 744 /* Tibber's page limit: 31 days of hours */
#define TIBBER_CATCH_UP_MARGIN_HOURS 48
#define TIBBER_MAX_PAGES 30 /* 22,320 hours; leaves the budget room for retries */
#define TIBBER_GIVE_UP_HOURS (7 * 24)

/* The newest points of the two target series in the raw bucket. */
struct tibber_newest {
    bool has_energy;
    int64_t energy_ns;
    bool has_anchor; /* the newest cumulative kWh reading of the meter */
    int64_t anchor_ns;
    double anchor_value;
};

struct tibber_lookback {
    int hours;     /* `last` to ask for, over all pages */
    int pages;     /* requests it takes, at most TIBBER_PAGE_HOURS each */
    bool catch_up; /* the stored series end before the configured lookback */
    bool capped;   /* catch-up wanted more than max_lookback_hours or the budget allows */
    int wanted;    /* the hours catch-up wanted before capping */
};

/* lookback_hours and max_lookback_hours come from the configuration; now_ns is the run's time.
 * newest and out are borrowed. */
void tibber_lookback_choose(int lookback_hours, int max_lookback_hours,
                            const struct tibber_newest *newest, int64_t now_ns,
                            struct tibber_lookback *out);

/* Sorts nodes (borrowed, sorted in place) by their start and keeps one node per start (pages do
 * not overlap; were they to, both would hold the same hour); *count is updated. */
void tibber_nodes_sort(struct tibber_node *nodes, size_t *count);

/* Sorts prices (borrowed, in place) by their start, one per start; *count is updated. */
void tibber_prices_sort(struct tibber_price *prices, size_t *count);

/* Whether an hour's consumption can be written and counted: known, finite and not negative. */
bool tibber_node_settled(const struct tibber_node *node);

enum tibber_register_status {
    TIBBER_REGISTER_NO_ANCHOR,  /* no kWh reading of the meter stored: nothing written */
    TIBBER_REGISTER_UP_TO_DATE, /* nothing settled after the anchor */
    TIBBER_REGISTER_ADVANCED,   /* points written up to the newest settled hour */
    TIBBER_REGISTER_WAITING,    /* points (if any) written up to a pending hour */
    TIBBER_REGISTER_GAP,        /* the fetched hours do not reach back to the anchor */
};
/* "no_anchor", "up_to_date", "advanced", "waiting", "gap": a static string. */
const char *tibber_register_status_name(enum tibber_register_status status);

struct tibber_plan_input {
    const struct tibber_node *nodes; /* fetched, sorted by tibber_nodes_sort */
    size_t node_count;
    bool history_complete; /* Tibber has no hour before nodes[0] */
    const struct tibber_newest *newest;
    const struct tibber_node *stored; /* the energy points stored in the window (from_ns, the
                                         fields; NAN: absent), sorted, one per time */
    size_t stored_count;
    int64_t now_ns;
};

struct tibber_register_point {
    size_t node; /* index into the input's nodes */
    double value;
};

struct tibber_plan {
    size_t *energy; /* indexes into nodes of the energy points to write, in time order */
    size_t energy_count;
    struct tibber_register_point *register_points; /* in time order */
    size_t register_count;
    enum tibber_register_status register_status;
    int64_t stopped_at_ns;  /* WAITING: the pending hour's start; GAP: the anchor's time */
    size_t pending;         /* fetched hours whose consumption is not settled: not written */
    size_t missing;         /* hours the register skipped as given up (null, or a hole) */
    size_t new_hours;       /* energy points not stored before */
    size_t revised;         /* energy points stored with other values */
    size_t revised_counted; /* of them, hours the register had already counted */
    size_t unchanged;       /* settled hours stored with the same values: skipped */
};

/* Decides the writes. The register points are computed from the anchor in input->newest. input
 * and what it points to are borrowed; *out (caller's) gets owned arrays: free with
 * tibber_plan_free, whatever the result. Returns 0, or -1 when out of memory. */
int tibber_plan_compute(const struct tibber_plan_input *input, struct tibber_plan *out);
void tibber_plan_free(struct tibber_plan *plan);

/* The prices to write: those not stored yet or stored with other values (fetched and stored
 * sorted by tibber_prices_sort; NAN and "" absent). *write (owned, free) gets indexes into fetched;
 * *unchanged counts the others. Returns 0, or -1 when out of memory. */
int tibber_prices_plan(const struct tibber_price *fetched, size_t fetched_count,
                       const struct tibber_price *stored, size_t stored_count, size_t **write,
                       size_t *write_count, size_t *unchanged);

#endif
