/*
 * out = gelu_tanh(a @ w^T + bias), float32, on the CPU: the seed of gemm-bias-act-cpu
 * (targets/gemm_bias_act_cpu.py). a is [m, k], w is [n, k] (a Linear layer's weight), bias
 * [n], out [m, n], contiguous; any m, n, k >= 1. out arrives full of NaN.
 *
 * Structure: the output is walked in panels of PANEL_N columns, so the PANEL_N rows of w a
 * panel needs stay in cache while every row of a passes over them. Inside a panel, a register
 * block of MR rows of a by NR rows of w computes MR x NR dot products at once, each as LANES
 * partial sums in one vector (GCC's vector extension: a multiply and an add per LANES terms,
 * which the compiler cannot make of a single running sum without reassociating it). Rows past
 * m or n in a block repeat the last row and are not stored, so the inner loop has no edge
 * test. The epilogue (the lanes' sum, the bias, GELU) runs on each value once, in registers,
 * before its one store. One thread: more cores are the first step.
 */
#include <math.h>
#include <string.h>

#define MR 8         // avo:knob 1 2 4 8
#define NR 2         // avo:knob 1 2 4
#define LANES 8      // avo:knob 4 8 16
#define PANEL_N 64   // avo:knob 16 32 64 128 256
// avo:require MR * NR * LANES <= 128 && PANEL_N % NR == 0

// avo:region lanes: the LANES-wide vector type and its unaligned load
typedef float lanes_t __attribute__((vector_size(LANES * sizeof(float))));

static inline lanes_t load_lanes(const float *p) {
    lanes_t v;
    memcpy(&v, p, sizeof v);  // unaligned: rows of k floats start anywhere
    return v;
}
// avo:end lanes

// avo:region gelu: gelu_tanh: the activation, as x / (1 + exp(-2u))
/* 0.5 x (1 + tanh(u)) written as x / (1 + exp(-2u)): the same value, without tanh's
 * cancellation near -1, and exp() overflowing to infinity for very negative x gives x / inf,
 * a zero, never a NaN. */
static inline float gelu_tanh(float x) {
    const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return x / (1.0f + expf(-2.0f * u));
}
// avo:end gelu

static inline int clamp_row(int row, int rows) { return row < rows ? row : rows - 1; }

/* out[i .. i+MR, j .. j+NR] (the part inside m x n). */
static void register_block(const float *a, const float *w, const float *bias, float *out,
                           int m, int n, int k, int i, int j) {
    // avo:region dot_products: the MR x NR register block of dot products over k, LANES at a time
    const float *ar[MR];
    const float *wr[NR];
    for (int r = 0; r < MR; ++r) ar[r] = a + (long)clamp_row(i + r, m) * k;
    for (int c = 0; c < NR; ++c) wr[c] = w + (long)clamp_row(j + c, n) * k;
    lanes_t acc[MR][NR];
    for (int r = 0; r < MR; ++r)
        for (int c = 0; c < NR; ++c) acc[r][c] = (lanes_t){0};
    int p = 0;
    for (; p + LANES <= k; p += LANES) {
        lanes_t av[MR], wv[NR];
        for (int r = 0; r < MR; ++r) av[r] = load_lanes(ar[r] + p);
        for (int c = 0; c < NR; ++c) wv[c] = load_lanes(wr[c] + p);
        for (int r = 0; r < MR; ++r)
            for (int c = 0; c < NR; ++c) acc[r][c] += av[r] * wv[c];
    }
    for (; p < k; ++p)
        for (int r = 0; r < MR; ++r)
            for (int c = 0; c < NR; ++c) acc[r][c][0] += ar[r][p] * wr[c][p];
    // avo:end dot_products
    // avo:region epilogue: the lanes summed, bias added, gelu, one store per output
    for (int r = 0; r < MR && i + r < m; ++r)
        for (int c = 0; c < NR && j + c < n; ++c) {
            float sum = 0.0f;
            for (int l = 0; l < LANES; ++l) sum += acc[r][c][l];
            out[(long)(i + r) * n + j + c] = gelu_tanh(sum + bias[j + c]);
        }
    // avo:end epilogue
}

void avo_gemm_bias_act(const float *a, const float *w, const float *bias, float *out, int m,
                       int n, int k) {
    // avo:region panels: the loop over column panels of PANEL_N and register blocks
    for (int j0 = 0; j0 < n; j0 += PANEL_N) {
        const int j1 = j0 + PANEL_N < n ? j0 + PANEL_N : n;
        for (int i = 0; i < m; i += MR)
            for (int j = j0; j < j1; j += NR) register_block(a, w, bias, out, m, n, k, i, j);
    }
    // avo:end panels
}
