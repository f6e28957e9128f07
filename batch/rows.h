/* Rows of (timestamp ns, value) in time order: a meter's readings while its daily series is built
 * (the reference's raw_data frame, with the synthetic rows extrapolation adds), and the time
 * interpolation that turns them into values at midnights. */
#ifndef NEBENKOSTEN_BATCH_ROWS_H
#define NEBENKOSTEN_BATCH_ROWS_H

#include <stddef.h>
#include <stdint.h>

struct batch_rows {
    int64_t *t_ns;
    double *values;
    size_t count, capacity;
};

/* Zero-initialise before the first use. Each returns 0, or -1 with errno ENOMEM. */
int batch_rows_reserve(struct batch_rows *rows, size_t capacity);
int batch_rows_append(struct batch_rows *rows, int64_t t_ns, double value);
int batch_rows_prepend(struct batch_rows *rows, int64_t t_ns, double value);
void batch_rows_free(struct batch_rows *rows);

/* The values at grid[0 .. count) (ascending), written to out, by linear interpolation in time
 * between the rows around each instant, as pandas' interpolate(method="time") does through
 * numpy.interp: the instants as float64 nanoseconds, slope (y1 - y0) / (x1 - x0), value
 * slope (x - x0) + y0; a grid instant equal to a row's time takes that row's value; before the
 * first row the first value, after the last row the last value. rows must be sorted by time with
 * unique times and hold at least one row. */
void batch_rows_interpolate(const struct batch_rows *rows, const int64_t *grid, size_t count,
                            double *out);

#endif
