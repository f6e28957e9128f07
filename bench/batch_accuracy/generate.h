/* Synthetic meters with known truth for bench-batch-accuracy, deterministic from (seed, meter
 * index): a meter does not depend on how many others are drawn, so a small scenario is the start of
 * a large one.
 *
 * A meter is gas or heat (winter-heavy), electricity (mildly winter-heavy) or water (mildly
 * summer-heavy, or flat). Its expected use follows 12 monthly shares (the percentages written to
 * seasonal_patterns.yaml, when the meter has an entry there): a smooth curve through the months'
 * mean days, rescaled within each calendar month so that the month's expected total is exactly its
 * share of the year. The day's true use is that times a weekday factor, a log-normal factor with
 * day-to-day persistence (weather spells) and a slow one (mild and cold winters), a small trend,
 * and now and then a holiday. Within a day use follows an hourly profile of the kind.
 *
 * Read by hand at irregular intervals of 1-90 days at a random time of the day (the register's
 * digits noted, so floored to the meter's resolution), or daily by an automation (some at exactly
 * 00:00:00), or by hand first and daily from some date on. Some meters stop being read months
 * before the end. Faults, as Home Assistant histories have them:
 * - replacement: the register is swapped at an instant: the old one's last reading and the new
 *   one's first (near 0) at that instant; two physical meters and a master meter over both;
 * - reset: the register restarts at 0 between two readings and counts on (at least two readings
 *   follow, so a reset can be told from a glitch);
 * - transient zero: one reading of 0 between two normal readings (at least two follow). */
#ifndef NEBENKOSTEN_BENCH_BATCH_ACCURACY_GENERATE_H
#define NEBENKOSTEN_BENCH_BATCH_ACCURACY_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACCURACY_DAY_SECONDS INT64_C(86400)
#define ACCURACY_ID_SIZE 32

enum accuracy_kind {
    ACCURACY_GAS,
    ACCURACY_HEAT,
    ACCURACY_ELECTRICITY,
    ACCURACY_WATER,
    ACCURACY_KINDS,
};

enum accuracy_style {
    ACCURACY_MANUAL,       /* by hand, every 7, 14 or 30 days give or take */
    ACCURACY_IRREGULAR,    /* by hand, 1-90 days apart (log-uniform) */
    ACCURACY_DAILY,        /* an automation, once a day, now and then a day or weeks missing */
    ACCURACY_MANUAL_DAILY, /* by hand, then daily from a date in the second or third year */
    ACCURACY_STYLES,
};

struct accuracy_options {
    uint64_t seed;
    unsigned meters; /* measuring points; a replacement adds a physical and a master meter */
    int start_year;  /* the first installations; workflows.analytics.start_year */
    int years;       /* until <start_year + years - 1>-12-31, the run's --today */
};

struct accuracy_reading {
    int64_t t;           /* seconds since 1970-01-01 UTC */
    int64_t units;       /* the value in units of the resolution (10^-decimals) */
    bool transient_zero; /* a fault: 0, the register did not change */
};

/* One physical register: the meter's whole life, or one side of its replacement. */
struct accuracy_register {
    char meter_id[ACCURACY_ID_SIZE];
    int64_t installation_day;    /* days since 1970-01-01 */
    int64_t deinstallation_day;  /* -1: still installed */
    int64_t first_day, last_day; /* its grid: every midnight first_day..last_day */
    double *display;             /* what it shows at each grid midnight (drops at a reset) */
    double *use; /* true use of the day before each grid midnight through it (first: 0) */
    struct accuracy_reading *readings; /* time order, transient zeros included */
    size_t reading_count, reading_capacity;
    double start;    /* what it showed when installed */
    int64_t reset_t; /* when it restarted at 0, or -1 */
};

struct accuracy_meter {
    enum accuracy_kind kind;
    enum accuracy_style style;
    int decimals;            /* the readings' resolution is 10^-decimals */
    bool pattern_configured; /* the percentages are in seasonal_patterns.yaml */
    double percentages[12];  /* the monthly shares its expected use follows, sum 100 */
    int64_t first_day;       /* installation; day_use[i] is the use of day first_day + i */
    int64_t today;           /* the grid's last midnight */
    double *day_use;         /* today - first_day days */
    double *cumulative;      /* use before each day, from 0; today - first_day + 1 values */
    struct accuracy_register registers[2]; /* [1] the new register after a replacement */
    int register_count;
    int64_t swap_t;                   /* the replacement's instant, or -1 */
    char master_id[ACCURACY_ID_SIZE]; /* with a replacement */
    unsigned transient_zeros;
};

/* Fills meter (the caller's) with meter `index` of the set drawn from options->seed. Returns 0,
 * or -1 when out of memory (meter then holds nothing to free). options is borrowed. */
int accuracy_meter_generate(const struct accuracy_options *options, unsigned index,
                            struct accuracy_meter *meter);
void accuracy_meter_free(struct accuracy_meter *meter);

const char *accuracy_kind_name(enum accuracy_kind kind);
const char *accuracy_kind_unit(enum accuracy_kind kind);
const char *accuracy_style_name(enum accuracy_style style);

#endif
