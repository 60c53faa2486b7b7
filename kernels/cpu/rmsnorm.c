/*
 * RMSNorm with a residual add on the CPU, float32: the seed of the shipped target rmsnorm-cpu
 * (targets/rmsnorm_cpu.py).
 *
 * Contract: x and residual are [rows, hidden], weight is [hidden], out is [rows, hidden], all
 * contiguous float32; out arrives filled with NaN.
 *     h = x + residual
 *     out = h / sqrt(mean(h^2) + eps) * weight
 *
 * Per row, two passes: the first sums h^2 in LANES partial sums (independent chains the
 * compiler can keep in vector registers), the second computes h again and writes out. A row
 * of a few thousand floats stays in the cache between the two, so memory is read about once.
 * The seed runs on one thread (THREADS 1; 0 means every core), over rows with OpenMP.
 */
#include <math.h>
#include <omp.h>

#define LANES 8    // avo:knob 1 4 8 16
#define THREADS 1  // avo:knob 0 1 2 4 8

static void norm_row(const float *x, const float *r, const float *w, float *o, int hidden,
                     float eps) {
    // avo:region sum_of_squares: the sum of squares of x + residual, LANES partial sums, then the tail
    float partial[LANES] = {0};
    int i = 0;
    for (; i + LANES <= hidden; i += LANES)
        for (int l = 0; l < LANES; ++l) {
            float h = x[i + l] + r[i + l];
            partial[l] += h * h;
        }
    float sum = 0.0f;
    for (; i < hidden; ++i) {
        float h = x[i] + r[i];
        sum += h * h;
    }
    for (int l = 0; l < LANES; ++l)
        sum += partial[l];
    // avo:end sum_of_squares
    // avo:region scale: the inverse root mean square and the output: (x + r) * inv * weight
    float inv = 1.0f / sqrtf(sum / (float)hidden + eps);
    for (int j = 0; j < hidden; ++j)
        o[j] = (x[j] + r[j]) * inv * w[j];
    // avo:end scale
}

void avo_rmsnorm(const float *x, const float *residual, const float *weight, float *out,
                 int rows, int hidden, float eps) {
    // avo:region rows: the OpenMP loop over rows, THREADS threads
    int threads = THREADS > 0 ? THREADS : omp_get_max_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int row = 0; row < rows; ++row) {
        long start = (long)row * hidden;
        norm_row(x + start, residual + start, weight, out + start, hidden, eps);
    }
    // avo:end rows
}
