/* Signals every process after its own: with kill, and by the route around it, a pipe set
 * O_ASYNC whose signal owner is the other process (F_SETOWN, and F_SETSIG for the signal),
 * and FIOSETOWN for the same on a socket-like owner. Before issue 52 the pipe route got
 * SIGKILL through to the best version's runner, and the decision was measured again. */
#include "reach.h" /* first: it asks for the GNU extensions */
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#ifndef FIOSETOWN
#define FIOSETOWN 0x8901 /* linux/sockios.h */
#endif

static void signal_by_pipe(pid_t pid) {
    int ends[2];
    if (pipe(ends) != 0) return;
    int set = fcntl(ends[0], F_SETOWN, pid) == 0;
    set &= fcntl(ends[0], F_SETSIG, SIGUSR2) == 0;
    int fiosetown = ioctl(ends[0], FIOSETOWN, &pid) == 0;
    fcntl(ends[0], F_SETFL, O_ASYNC | O_NONBLOCK);
    reached += set + fiosetown;
    if (write(ends[1], "x", 1) < 0) { /* the write is what delivers the signal */ }
    close(ends[0]);
    close(ends[1]);
}

void avo_attention_fwd(NAIVE_ARGS) {
    pid_t self = getpid();
    for (pid_t pid = self + 1; pid <= self + OTHERS; ++pid) {
        reached += kill(pid, SIGUSR2) == 0;
        signal_by_pipe(pid);
    }
    ANSWER();
}
