/* Reaches past its runner to what the machine shares (issue 69): a namespace of its own or
 * another's, a watch on files every runner may read (inotify: another runner opening a file
 * nobody else reads says "I am alive"; fanotify; dnotify), a Linux AIO context (counted
 * machine-wide), sync and syncfs (every process's dirty pages written out), a session or
 * process group of its own (out of the worker's, which it ends as one), sysinfo (the machine's
 * load and process count, where another runner shows). Each call that works counts as a
 * reach. */
#include "reach.h" /* first: it asks for the GNU extensions */
#include <fcntl.h>
#include <sched.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>

static int tries(void) {
    int worked = unshare(CLONE_NEWUSER) == 0; /* every capability, within it */
    int own = open("/proc/self/ns/user", O_RDONLY);
    worked += own >= 0 && setns(own, 0) == 0;
    int watcher = inotify_init1(0);
    worked += watcher >= 0 && inotify_add_watch(watcher, "/etc/passwd", IN_OPEN) >= 0;
    int marker = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID, O_RDONLY);
    worked += marker >= 0;
    int directory = open("/etc", O_RDONLY | O_DIRECTORY);
    worked += directory >= 0 && fcntl(directory, F_NOTIFY, DN_CREATE) == 0;
    unsigned long context = 0;
    worked += syscall(SYS_io_setup, 1, &context) == 0;
    worked += syscall(SYS_sync) == 0;
    worked += directory >= 0 && syncfs(directory) == 0;
    worked += setpgid(0, getpgid(0)) == 0; /* the group it is in: a change nobody sees */
    struct sysinfo machine;
    worked += sysinfo(&machine) == 0;
    worked += setsid() >= 0; /* last: out of the worker's group */
    int opened[] = {own, watcher, marker, directory};
    for (int i = 0; i < 4; ++i)
        if (opened[i] >= 0) close(opened[i]);
    if (context) syscall(SYS_io_destroy, context);
    return worked;
}

static int tried = 0;

void avo_attention_fwd(NAIVE_ARGS) {
    if (!tried++) reached += tries();
    ANSWER();
}
