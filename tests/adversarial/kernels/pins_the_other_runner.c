/* Pins every process after its own to one CPU at nice 19, through each call that can: the
 * affinity, the priority of one process and of every process of its user, the I/O priority.
 * The best version's runner, slowed down so, read as a 10x gain before issue 52. */
#include "reach.h" /* first: it asks for the GNU extensions */
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static void pin(pid_t pid) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    reached += sched_setaffinity(pid, sizeof one, &one) == 0;
    reached += setpriority(PRIO_PROCESS, pid, 19) == 0;
    struct sched_param param = {0};
    reached += sched_setscheduler(pid, SCHED_IDLE, &param) == 0;
    reached += syscall(SYS_ioprio_set, 1, pid, (3 << 13)) == 0; /* the idle I/O class */
}

void avo_attention_fwd(NAIVE_ARGS) {
    pid_t self = getpid();
    for (pid_t pid = self + 1; pid <= self + OTHERS; ++pid) pin(pid);
    /* every process of this user: the other runner's, where both are one user */
    reached += setpriority(PRIO_USER, getuid(), 19) == 0;
    ANSWER();
}
