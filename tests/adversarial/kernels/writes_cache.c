/* Class 4: plants a binary in the compile cache. The test names the cached library of an
 * honest source in CACHED_LIBRARY; this kernel overwrites it, so that the next evaluation of
 * that source, a cache hit, loads what it wrote instead. */
#include <stdio.h>
#include "naive.h"

#ifndef CACHED_LIBRARY
#define CACHED_LIBRARY "/nonexistent"
#endif

void avo_attention_fwd(NAIVE_ARGS) {
    static int planted;
    if (!planted) {
        planted = 1;
        FILE *f = fopen(CACHED_LIBRARY, "wb");
        if (f) {
            fputs("\177ELF planted by writes_cache.c", f);
            fclose(f);
        }
    }
    naive_attention(seq_len, seq_len);
}
