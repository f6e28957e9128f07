/* Time-ordered rows and numpy.interp's arithmetic. */
#include "batch/rows.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int batch_rows_reserve(struct batch_rows *rows, size_t capacity)
{
    if (capacity <= rows->capacity)
        return 0;
    int64_t *t_ns = realloc(rows->t_ns, capacity * sizeof *t_ns);
    if (!t_ns) {
        errno = ENOMEM;
        return -1;
    }
    rows->t_ns = t_ns;
    double *values = realloc(rows->values, capacity * sizeof *values);
    if (!values) {
        errno = ENOMEM;
        return -1;
    }
    rows->values = values;
    rows->capacity = capacity;
    return 0;
}

static int rows_grow(struct batch_rows *rows)
{
    if (rows->count < rows->capacity)
        return 0;
    return batch_rows_reserve(rows, rows->capacity ? rows->capacity * 2 : 16);
}

int batch_rows_append(struct batch_rows *rows, int64_t t_ns, double value)
{
    if (rows_grow(rows) != 0)
        return -1;
    rows->t_ns[rows->count] = t_ns;
    rows->values[rows->count] = value;
    rows->count++;
    return 0;
}

int batch_rows_prepend(struct batch_rows *rows, int64_t t_ns, double value)
{
    if (rows_grow(rows) != 0)
        return -1;
    memmove(rows->t_ns + 1, rows->t_ns, rows->count * sizeof *rows->t_ns);
    memmove(rows->values + 1, rows->values, rows->count * sizeof *rows->values);
    rows->t_ns[0] = t_ns;
    rows->values[0] = value;
    rows->count++;
    return 0;
}

void batch_rows_free(struct batch_rows *rows)
{
    free(rows->t_ns);
    free(rows->values);
    *rows = (struct batch_rows){0};
}

void batch_rows_interpolate(const struct batch_rows *rows, const int64_t *grid, size_t count,
                            double *out)
{
    size_t j = 0; /* rows[j] is the last row at or before the instant */
    const size_t last = rows->count - 1;
    for (size_t i = 0; i < count; i++) {
        int64_t t = grid[i];
        while (j < last && rows->t_ns[j + 1] <= t)
            j++;
        if (t <= rows->t_ns[0] || j == last) {
            out[i] = t <= rows->t_ns[0] ? rows->values[0] : rows->values[last];
            continue;
        }
        if (rows->t_ns[j] == t) {
            out[i] = rows->values[j];
            continue;
        }
        /* numpy.interp works on float64 copies of the int64 nanoseconds. */
        double x0 = (double)rows->t_ns[j], x1 = (double)rows->t_ns[j + 1], x = (double)t;
        double y0 = rows->values[j], y1 = rows->values[j + 1];
        double slope = (y1 - y0) / (x1 - x0);
        out[i] = slope * (x - x0) + y0;
    }
}
