/* Class 3: leaves work running after it returns. On its first call it starts a thread that
 * spins forever, taking a core from whatever the harness times next: in a shared process,
 * the baselines, which then look slower beside the kernel. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include "naive.h"

static volatile unsigned long spins;

static void *spin(void *unused) {
    (void)unused;
    for (;;) ++spins;
    return 0;
}

void avo_attention_fwd(NAIVE_ARGS) {
    static int started;
    if (!started) {
        Dl_info self;  /* keep this library mapped after the harness closes it */
        if (dladdr((void *)spin, &self)) dlopen(self.dli_fname, RTLD_NOW | RTLD_NODELETE);
        pthread_t thread;
        started = !pthread_create(&thread, 0, spin, 0);
        if (started) pthread_detach(thread);
    }
    naive_attention(seq_len, seq_len);
}
