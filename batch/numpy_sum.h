/* The arithmetic of numpy that the reference pipeline's numbers depend on bit for bit. */
#ifndef NEBENKOSTEN_BATCH_NUMPY_SUM_H
#define NEBENKOSTEN_BATCH_NUMPY_SUM_H

#include <stddef.h>

/* numpy's sum of a float64 array (add.reduce): pairwise, eight accumulators per block of at most
 * 128 values. A mean computed otherwise can differ in the last bit, which decides, e.g., whether a
 * constant series centres to exactly 0. values (count of them) is borrowed. */
double batch_numpy_sum(const double *values, size_t count);

/* qsort comparator for doubles, ascending (no NaN expected). */
int batch_double_compare(const void *a, const void *b);

#endif
