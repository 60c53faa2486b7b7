/* Never returns. */
#include "naive.h"

void avo_attention_fwd(NAIVE_ARGS) {
    volatile int forever = 1;
    while (forever) {
    }
}
