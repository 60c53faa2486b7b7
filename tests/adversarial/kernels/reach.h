/* What the kernels that reach for another runner share (issue 52): the honest attention of
 * naive.h, the processes they aim at, and a way to say that a reach got through.
 *
 * The gate keeps two runners alive, the candidate's and the best version's, started one after
 * the other, so the best's runner and its threads have the next few process ids after the
 * candidate's. Each of these kernels aims at those ids with one trick, and computes the honest
 * answer; if a trick ever worked, it spoils its own output, so an evaluation that passes shows
 * that every try was refused (a real attack would keep the output and take the gain). */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <time.h>
#include <unistd.h>
#include "naive.h"

#define OTHERS 16 /* the process ids after this runner's that are tried */

static int reached = 0; /* how many tricks worked, over this runner's life */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* The honest answer, spoiled (NaN) once any trick has worked. */
#define ANSWER()                                   \
    do {                                           \
        naive_attention(seq_len, seq_len);         \
        if (reached) o[0] = NAN;                   \
    } while (0)
