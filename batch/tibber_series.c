/* The lookback, the energy and price diffs and the register's anchor arithmetic. */
#include "batch/tibber_series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void tibber_lookback_choose(int lookback_hours, int max_lookback_hours,
                            const struct tibber_newest *newest, int64_t now_ns,
                            struct tibber_lookback *out)
{
    *out = (struct tibber_lookback){.hours = lookback_hours, .wanted = lookback_hours};
    int64_t hours = lookback_hours;
    int64_t cap = max_lookback_hours;
    /* The oldest of the two series' newest points: both must be caught up. */
    bool any = newest->has_energy || newest->has_anchor;
    int64_t oldest = newest->has_energy ? newest->energy_ns : INT64_MAX;
    if (newest->has_anchor && newest->anchor_ns < oldest)
        oldest = newest->anchor_ns;
    if (any && now_ns > oldest && now_ns - oldest > (int64_t)lookback_hours * TIBBER_NS_PER_HOUR) {
        int64_t age = now_ns - oldest;
        hours = age / TIBBER_NS_PER_HOUR + (age % TIBBER_NS_PER_HOUR != 0) +
                TIBBER_CATCH_UP_MARGIN_HOURS;
        out->catch_up = true;
    } else if (cap < hours) {
        cap = hours; /* the configuration keeps lookback_hours <= max_lookback_hours */
    }
    out->wanted = hours > INT32_MAX ? INT32_MAX : (int)hours;
    if (cap > (int64_t)TIBBER_MAX_PAGES * TIBBER_PAGE_HOURS)
        cap = (int64_t)TIBBER_MAX_PAGES * TIBBER_PAGE_HOURS;
    if (hours > cap) {
        hours = cap;
        out->capped = true;
    }
    out->hours = (int)hours;
    out->pages = (int)((hours + TIBBER_PAGE_HOURS - 1) / TIBBER_PAGE_HOURS);
}

static int node_compare(const void *a, const void *b)
{
    const struct tibber_node *x = a, *y = b;
    return (x->from_ns > y->from_ns) - (x->from_ns < y->from_ns);
}

void tibber_nodes_sort(struct tibber_node *nodes, size_t *count)
{
    if (*count < 2)
        return;
    qsort(nodes, *count, sizeof *nodes, node_compare);
    size_t kept = 1;
    for (size_t i = 1; i < *count; i++)
        if (nodes[i].from_ns != nodes[kept - 1].from_ns)
            nodes[kept++] = nodes[i];
    *count = kept;
}

static int price_compare(const void *a, const void *b)
{
    const struct tibber_price *x = a, *y = b;
    return (x->starts_at_ns > y->starts_at_ns) - (x->starts_at_ns < y->starts_at_ns);
}

void tibber_prices_sort(struct tibber_price *prices, size_t *count)
{
    if (*count < 2)
        return;
    qsort(prices, *count, sizeof *prices, price_compare);
    size_t kept = 1;
    for (size_t i = 1; i < *count; i++)
        if (prices[i].starts_at_ns != prices[kept - 1].starts_at_ns)
            prices[kept++] = prices[i];
    *count = kept;
}

bool tibber_node_settled(const struct tibber_node *node)
{
    return isfinite(node->consumption) && node->consumption >= 0;
}

const char *tibber_register_status_name(enum tibber_register_status status)
{
    switch (status) {
    case TIBBER_REGISTER_NO_ANCHOR:
        return "no_anchor";
    case TIBBER_REGISTER_UP_TO_DATE:
        return "up_to_date";
    case TIBBER_REGISTER_ADVANCED:
        return "advanced";
    case TIBBER_REGISTER_WAITING:
        return "waiting";
    case TIBBER_REGISTER_GAP:
        return "gap";
    }
    return "unknown";
}

void tibber_plan_free(struct tibber_plan *plan)
{
    free(plan->energy);
    free(plan->register_points);
    *plan = (struct tibber_plan){0};
}

/* A fetched value agrees with the stored one when it is null (nothing would be written for it)
 * or equal: both are the same double, read back from the shortest decimal written. */
static bool value_agrees(double fetched, double stored)
{
    return isnan(fetched) || (!isnan(stored) && fetched == stored);
}

static const struct tibber_node *stored_find(const struct tibber_plan_input *input, int64_t t_ns)
{
    size_t low = 0, high = input->stored_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (input->stored[middle].from_ns < t_ns)
            low = middle + 1;
        else
            high = middle;
    }
    return low < input->stored_count && input->stored[low].from_ns == t_ns ? &input->stored[low]
                                                                           : NULL;
}

static void energy_plan(const struct tibber_plan_input *input, struct tibber_plan *out)
{
    const struct tibber_newest *newest = input->newest;
    for (size_t i = 0; i < input->node_count; i++) {
        const struct tibber_node *node = &input->nodes[i];
        if (!tibber_node_settled(node)) {
            out->pending++;
            continue;
        }
        const struct tibber_node *stored = stored_find(input, node->from_ns);
        if (!stored) {
            out->new_hours++;
        } else if (value_agrees(node->consumption, stored->consumption) &&
                   value_agrees(node->cost, stored->cost) &&
                   value_agrees(node->unit_price, stored->unit_price) &&
                   value_agrees(node->unit_price_vat, stored->unit_price_vat)) {
            out->unchanged++;
            continue;
        } else {
            out->revised++;
            if (newest->has_anchor && node->from_ns <= newest->anchor_ns &&
                !value_agrees(node->consumption, stored->consumption))
                out->revised_counted++;
        }
        out->energy[out->energy_count++] = i;
    }
}

/* Hours starting after the anchor in the hole [previous_end, next_start) of Tibber's list. */
static size_t hole_hours(int64_t previous_end, int64_t next_start, int64_t anchor_ns)
{
    int64_t first = previous_end;
    if (first <= anchor_ns)
        first += ((anchor_ns - first) / TIBBER_NS_PER_HOUR + 1) * TIBBER_NS_PER_HOUR;
    if (first >= next_start)
        return 0;
    return (size_t)((next_start - first + TIBBER_NS_PER_HOUR - 1) / TIBBER_NS_PER_HOUR);
}

/* Whether a settled hour follows nodes[from ..]: a pending hour before one blocks the register;
 * pending hours at the end are just the newest hours, not settled yet. */
static bool settled_after(const struct tibber_plan_input *input, size_t from)
{
    for (size_t i = from; i < input->node_count; i++)
        if (tibber_node_settled(&input->nodes[i]))
            return true;
    return false;
}

static void register_plan(const struct tibber_plan_input *input, struct tibber_plan *out)
{
    const struct tibber_newest *newest = input->newest;
    if (!newest->has_anchor) {
        out->register_status = TIBBER_REGISTER_NO_ANCHOR;
        return;
    }
    const struct tibber_node *nodes = input->nodes;
    int64_t anchor_ns = newest->anchor_ns;
    int64_t give_up_before = input->now_ns - (int64_t)TIBBER_GIVE_UP_HOURS * TIBBER_NS_PER_HOUR;
    size_t k = 0;
    while (k < input->node_count && nodes[k].from_ns <= anchor_ns)
        k++;
    double value = newest->anchor_value;
    bool waiting = false;
    for (size_t i = k; i < input->node_count; i++) {
        const struct tibber_node *node = &nodes[i];
        bool needed = node->from_ns - TIBBER_NS_PER_HOUR > anchor_ns;
        if (i == 0) {
            /* Nothing fetched before the first hour after the anchor: fine when it is the very
             * next hour; when Tibber has nothing older (the anchor predates its data) the hours
             * in between exist nowhere and are missing; else they were not fetched. */
            if (needed && !input->history_complete) {
                out->register_status = TIBBER_REGISTER_GAP;
                out->stopped_at_ns = anchor_ns;
                return;
            }
            if (needed)
                out->missing += hole_hours(anchor_ns, node->from_ns, anchor_ns);
        } else if (needed && node->from_ns > nodes[i - 1].to_ns) {
            if (node->from_ns > give_up_before) {
                out->stopped_at_ns = nodes[i - 1].to_ns;
                waiting = true;
                break;
            }
            out->missing += hole_hours(nodes[i - 1].to_ns, node->from_ns, anchor_ns);
        }
        if (!tibber_node_settled(node)) {
            if (node->to_ns <= give_up_before) {
                out->missing++;
                continue;
            }
            out->stopped_at_ns = node->from_ns;
            waiting = settled_after(input, i + 1);
            break;
        }
        value += node->consumption;
        out->register_points[out->register_count++] =
            (struct tibber_register_point){.node = i, .value = value};
    }
    if (waiting)
        out->register_status = TIBBER_REGISTER_WAITING;
    else
        out->register_status =
            out->register_count > 0 ? TIBBER_REGISTER_ADVANCED : TIBBER_REGISTER_UP_TO_DATE;
}

int tibber_plan_compute(const struct tibber_plan_input *input, struct tibber_plan *out)
{
    *out = (struct tibber_plan){0};
    size_t room = input->node_count + 1;
    out->energy = malloc(room * sizeof *out->energy);
    out->register_points = malloc(room * sizeof *out->register_points);
    if (!out->energy || !out->register_points)
        return -1;
    energy_plan(input, out);
    register_plan(input, out);
    return 0;
}

static bool price_agrees(const struct tibber_price *fetched, const struct tibber_price *stored)
{
    return value_agrees(fetched->total, stored->total) &&
           value_agrees(fetched->energy, stored->energy) &&
           value_agrees(fetched->tax, stored->tax) &&
           (!fetched->currency[0] || strcmp(fetched->currency, stored->currency) == 0) &&
           (!fetched->level[0] || strcmp(fetched->level, stored->level) == 0);
}

int tibber_prices_plan(const struct tibber_price *fetched, size_t fetched_count,
                       const struct tibber_price *stored, size_t stored_count, size_t **write,
                       size_t *write_count, size_t *unchanged)
{
    *write_count = 0;
    *unchanged = 0;
    *write = malloc((fetched_count + 1) * sizeof **write);
    if (!*write)
        return -1;
    size_t s = 0;
    for (size_t i = 0; i < fetched_count; i++) {
        const struct tibber_price *price = &fetched[i];
        /* A price without any value would be a point without fields. */
        if (isnan(price->total) && isnan(price->energy) && isnan(price->tax) &&
            !price->currency[0] && !price->level[0])
            continue;
        while (s < stored_count && stored[s].starts_at_ns < price->starts_at_ns)
            s++;
        if (s < stored_count && stored[s].starts_at_ns == price->starts_at_ns &&
            price_agrees(price, &stored[s]))
            (*unchanged)++;
        else
            (*write)[(*write_count)++] = i;
    }
    return 0;
}
