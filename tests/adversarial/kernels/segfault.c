/* Dereferences a null pointer: the worker dies with SIGSEGV. */
#include "naive.h"

void avo_attention_fwd(NAIVE_ARGS) {
    volatile float *nowhere = 0;
    *nowhere = 1.0f;
}
