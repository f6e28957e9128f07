#include "config/suggest.h"

#include <stdint.h>
#include <string.h>

#define SUGGEST_MAX_LENGTH 64

static size_t suggest_minimum(size_t a, size_t b)
{
    return a < b ? a : b;
}

size_t suggest_distance(const char *a, size_t a_length, const char *b, size_t b_length)
{
    if (a_length > SUGGEST_MAX_LENGTH || b_length > SUGGEST_MAX_LENGTH)
        return SIZE_MAX;
    /* Three rows of the dynamic-programming table: the transposition looks two rows back. */
    size_t rows[3][SUGGEST_MAX_LENGTH + 1];
    size_t *before_previous = rows[0], *previous = rows[1], *current = rows[2];
    for (size_t j = 0; j <= b_length; j++)
        previous[j] = j;
    for (size_t i = 1; i <= a_length; i++) {
        current[0] = i;
        for (size_t j = 1; j <= b_length; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = suggest_minimum(previous[j] + 1, current[j - 1] + 1);
            best = suggest_minimum(best, previous[j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                best = suggest_minimum(best, before_previous[j - 2] + 1);
            current[j] = best;
        }
        size_t *recycled = before_previous;
        before_previous = previous;
        previous = current;
        current = recycled;
    }
    return previous[b_length];
}

const char *suggest_nearest(const char *word, size_t word_length, const char *const *candidates,
                            size_t candidate_count)
{
    const char *best = NULL;
    size_t best_distance = SIZE_MAX;
    for (size_t i = 0; i < candidate_count; i++) {
        size_t length = strlen(candidates[i]);
        size_t distance = suggest_distance(word, word_length, candidates[i], length);
        size_t longer = length > word_length ? length : word_length;
        size_t allowed = longer <= 4 ? 1 : longer <= 8 ? 2 : 3;
        if (distance <= allowed && distance < best_distance && distance < length) {
            best = candidates[i];
            best_distance = distance;
        }
    }
    return best;
}
