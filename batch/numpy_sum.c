#include "batch/numpy_sum.h"

double batch_numpy_sum(const double *values, size_t count)
{
    if (count < 8) {
        double sum = 0.0;
        for (size_t i = 0; i < count; i++)
            sum += values[i];
        return sum;
    }
    if (count <= 128) {
        double r[8];
        for (size_t j = 0; j < 8; j++)
            r[j] = values[j];
        size_t i = 8;
        for (; i < count - count % 8; i += 8)
            for (size_t j = 0; j < 8; j++)
                r[j] += values[i + j];
        double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < count; i++)
            sum += values[i];
        return sum;
    }
    size_t half = count / 2;
    half -= half % 8;
    return batch_numpy_sum(values, half) + batch_numpy_sum(values + half, count - half);
}

int batch_double_compare(const void *a, const void *b)
{
    double left = *(const double *)a, right = *(const double *)b;
    return (left > right) - (left < right);
}
