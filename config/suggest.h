/* "Did you mean ...?": the known name nearest to a misspelt one. */
#ifndef NEBENKOSTEN_CONFIG_SUGGEST_H
#define NEBENKOSTEN_CONFIG_SUGGEST_H

#include <stddef.h>

/* Damerau-Levenshtein distance (optimal string alignment: insertions, deletions, substitutions and
 * transpositions of neighbours each cost 1) between two byte strings. Strings longer than 64 bytes
 * count as far from everything (SIZE_MAX). Both borrowed. */
size_t suggest_distance(const char *a, size_t a_length, const char *b, size_t b_length);

/* The candidate nearest to word, or NULL when none is close: at most 1 edit for names of up to 4
 * bytes, 2 up to 8, 3 beyond. Ties go to the earlier candidate. Everything borrowed; the result
 * points into candidates. */
const char *suggest_nearest(const char *word, size_t word_length, const char *const *candidates,
                            size_t candidate_count);

#endif
