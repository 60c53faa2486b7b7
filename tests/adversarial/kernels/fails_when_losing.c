/* Does the honest work twice over, so it loses beside the best, and gives up the decision it
 * is losing once it sees the gate measuring: a run of launches on one shape (the side-by-side
 * blocks; the correctness checks change the shape from one launch to the next). How it gives
 * up is FAILURE: 1 a crash, 2 a hang, 3 SIGKILL to every process after its own (the best
 * version's runner) and then the honest answer. Before issue 52 a crash read as "internal" and
 * a hang as "timeout", and a killed best as its failure: no decision, so asked again. */
#ifndef FAILURE
#define FAILURE 1
#endif
#include "reach.h" /* first: it asks for the GNU extensions */
#include <signal.h>
#include <stdlib.h>

#define RUN_SEEN 4 /* launches on one shape in a row: the checks make 2 at most */

static int last_seq = -1, last_causal = -1, run = 0;

static void give_up(void) {
    if (FAILURE == 1) abort();
    if (FAILURE == 2)
        for (volatile int spin = 0;; ++spin) {}
    pid_t self = getpid();
    for (pid_t pid = self + 1; pid <= self + OTHERS; ++pid) reached += kill(pid, SIGKILL) == 0;
}

void avo_attention_fwd(NAIVE_ARGS) {
    run = seq_len == last_seq && causal == last_causal ? run + 1 : 1;
    last_seq = seq_len;
    last_causal = causal;
    if (run >= RUN_SEEN) give_up();
    naive_attention(seq_len, seq_len);
    ANSWER();
}
