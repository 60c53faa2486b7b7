/* Watches every process after its own through /proc: its CPU time per launch (schedstat) told
 * a candidate to within 0.5% whether it was losing (issue 52), and its library is one
 * directory away. Opening any of them counts as a reach. */
#include "reach.h" /* first: it asks for the GNU extensions */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>

static void look(pid_t pid) {
    static const char *files[] = {"stat", "schedstat", "status", "cmdline", "wchan", "maps"};
    char path[64];
    for (size_t i = 0; i < sizeof files / sizeof *files; ++i) {
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, files[i]);
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            ++reached;
            close(fd);
        }
    }
}

void avo_attention_fwd(NAIVE_ARGS) {
    pid_t self = getpid();
    for (pid_t pid = self + 1; pid <= self + OTHERS; ++pid) look(pid);
    look(getppid()); /* the worker */
    DIR *all = opendir("/proc"); /* the list of processes, to find the others by name */
    if (all != NULL) {
        ++reached;
        closedir(all);
    }
    ANSWER();
}
