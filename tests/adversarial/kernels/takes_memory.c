/* Takes memory the worker would pay for (issue 69). MEMORY picks how: 1 a memfd filled with
 * fallocate, pages no process maps, which the OOM killer charges to no one (when the machine
 * runs out, it would end the worker rather than this runner); 2 memfd_secret, the same out of
 * every other process's sight; 3 address space a GiB at a time, up to 64 GiB, a byte of each
 * written: past the runner's limit malloc returns NULL, and the write kills it, which the
 * harness must explain. Memory made in a memfd counts as a reach. */
#ifndef MEMORY
#define MEMORY 1
#endif
#include "reach.h" /* first: it asks for the GNU extensions (memfd_create, fallocate) */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define HOARD_BYTES (256L << 20)
#define CHUNKS 64

static char *volatile chunks[CHUNKS]; /* volatile: the compiler may not drop the allocations */
static int taken = 0;

static int in_a_memfd(void) {
    int fd = memfd_create("avo-hoard", 0);
    if (fd < 0) return 0;
    int filled = fallocate(fd, 0, 0, HOARD_BYTES) == 0;
    close(fd);
    return 1 + filled;
}

static int in_secret(void) {
    int fd = (int)syscall(447 /* memfd_secret: glibc has no wrapper */, 0);
    if (fd < 0) return 0;
    close(fd);
    return 1;
}

static void past_the_limit(void) {
    for (int i = 0; i < CHUNKS; ++i) {
        chunks[i] = malloc(1L << 30);
        chunks[i][0] = 1; /* NULL once the limit is reached */
    }
    for (int i = 0; i < CHUNKS; ++i) free(chunks[i]);
}

void avo_attention_fwd(NAIVE_ARGS) {
    if (!taken++) {
        if (MEMORY == 1) reached += in_a_memfd();
        if (MEMORY == 2) reached += in_secret();
        if (MEMORY == 3) past_the_limit();
    }
    ANSWER();
}
