/* Arms a timer of its own at the end of a launch beside the best version, and is frozen before
 * it fires (issue 69). Before issue 69 a death while frozen read as the best's doing ("the
 * candidate's process was changed from outside while only the best version's process ran":
 * incumbent_failed, the decision measured again), a free second look for a candidate that was
 * losing; and a SIGCONT woke it to run during the best's launch, read the same way. TIMER picks
 * the timer: 1 timer_create with SIGEV_SIGNAL and SIGKILL, 2 timer_create with
 * SIGEV_THREAD_ID and SIGKILL, 3 setitimer (SIGALRM, whose default action ends the process),
 * 4 alarm, 5 timer_create with SIGCONT (it wakes itself, and spins). A timer armed counts as
 * a reach; one refused leaves the honest kernel. */
#ifndef TIMER
#define TIMER 1
#endif
#include "reach.h" /* first: it asks for the GNU extensions */
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>

#define RUN_SEEN 4   /* launches on one shape in a row: the gate's blocks, not the checks */
#define AHEAD_NS 5000000L /* 5 ms: the worker has frozen it by then, and launches the best */

static int last_seq = -1, last_causal = -1, run = 0;

static void spin_on_wake(int signal_number) {
    (void)signal_number;
    for (double until = now_s() + 0.05; now_s() < until;) {} /* runs beside the best */
}

static int armed_posix_timer(int signal_number, int notify) {
    struct sigevent event = {.sigev_notify = notify, .sigev_signo = signal_number};
    if (notify == SIGEV_THREAD_ID) event._sigev_un._tid = (int)syscall(SYS_gettid);
    int timer = 0; /* the kernel's timer id, not glibc's timer_t */
    if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &event, &timer) != 0) return 0;
    struct itimerspec when = {.it_value = {.tv_nsec = AHEAD_NS}};
    return syscall(SYS_timer_settime, (long)timer, 0, &when, NULL) == 0;
}

static int armed(void) {
    switch (TIMER) {
    case 1: return armed_posix_timer(SIGKILL, SIGEV_SIGNAL);
    case 2: return armed_posix_timer(SIGKILL, SIGEV_THREAD_ID);
    case 3: {
        struct itimerval when = {.it_value = {.tv_usec = AHEAD_NS / 1000}};
        return setitimer(ITIMER_REAL, &when, NULL) == 0;
    }
#ifdef SYS_alarm /* x86_64's: aarch64 has none, and glibc makes it with setitimer there */
    case 4: return syscall(SYS_alarm, 1) >= 0;
#endif
    default:
        if (!armed_posix_timer(SIGCONT, SIGEV_SIGNAL)) return 0;
        signal(SIGCONT, spin_on_wake); /* from now on, every waking spins */
        return 1;
    }
}

void avo_attention_fwd(NAIVE_ARGS) {
    run = seq_len == last_seq && causal == last_causal ? run + 1 : 1;
    last_seq = seq_len;
    last_causal = causal;
    ANSWER();
    if (run >= RUN_SEEN && !reached) reached += armed();
}
