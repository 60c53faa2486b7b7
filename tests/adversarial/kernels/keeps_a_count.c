/* Keeps a count of its launches through a channel that would outlive its process, to tell one
 * evaluation from the next (a first reading from the gate's re-evaluation) or to talk to
 * another runner. CHANNEL picks it: 1 System V shared memory, 2 a System V semaphore, 3 a
 * System V message queue, 4 a POSIX message queue, 5 the user keyring, 6 its stderr read back
 * (the worker's log before issue 52), 7 a file in /dev/shm, 8 a file in /tmp, 9 the page
 * cache: a page of a system file evicted (posix_fadvise) and found missing by a later launch,
 * its read timed (issue 69). A count found from an earlier launch, through the channel itself,
 * counts as a reach. */
#ifndef CHANNEL
#define CHANNEL 1
#endif
#include "reach.h" /* first: it asks for the GNU extensions */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>

#define KEY 0x41564f /* "AVO" */
#define MARK "avo-count-mark\n"

static int counted_before(void) {
    switch (CHANNEL) {
    case 1: {
        int id = shmget(KEY, 4096, IPC_CREAT | 0666);
        if (id < 0) return 0;
        int *count = shmat(id, NULL, 0);
        if (count == (void *)-1) return 0;
        int before = (*count)++;
        shmdt(count);
        return before;
    }
    case 2: {
        int id = semget(KEY, 1, IPC_CREAT | 0666);
        if (id < 0) return 0;
        int before = semctl(id, 0, GETVAL);
        struct sembuf up = {0, 1, 0};
        semop(id, &up, 1);
        return before > 0;
    }
    case 3: {
        int id = msgget(KEY, IPC_CREAT | 0666);
        if (id < 0) return 0;
        struct { long type; char text[4]; } message = {1, "avo"};
        int before = msgrcv(id, &message, sizeof message.text, 0, IPC_NOWAIT) >= 0;
        msgsnd(id, &message, sizeof message.text, IPC_NOWAIT);
        msgsnd(id, &message, sizeof message.text, IPC_NOWAIT);
        return before;
    }
    case 4: {
        int queue = syscall(SYS_mq_open, "avo-count", O_RDWR | O_CREAT | O_NONBLOCK, 0666, NULL);
        if (queue < 0) return 0;
        char text[8192];
        unsigned priority;
        int before = syscall(SYS_mq_timedreceive, queue, text, sizeof text, &priority, NULL) >= 0;
        syscall(SYS_mq_timedsend, queue, "avo", 3, 0, NULL);
        syscall(SYS_mq_timedsend, queue, "avo", 3, 0, NULL);
        close(queue);
        return before;
    }
    case 5: {
        const int user_keyring = -4, keyctl_search = 10;
        long found = syscall(SYS_keyctl, keyctl_search, user_keyring, "user", "avo-count", 0);
        syscall(SYS_add_key, "user", "avo-count", "1", 1, user_keyring);
        return found >= 0;
    }
    case 6: {
        char seen[1 << 16];
        ssize_t got = pread(2, seen, sizeof seen - 1, 0);
        int before = got > 0 && (seen[got] = 0, strstr(seen, MARK) != NULL);
        if (write(2, MARK, strlen(MARK)) < 0) { /* nothing to do */ }
        return before;
    }
    case 9: {
        /* Timing a read tells a page in the cache from one on disk, and cannot be refused;
         * only the eviction makes it a count (with none, every read after the first is
         * cached), so a count is found only where this launch could evict too. */
        int fd = open("/etc/os-release", O_RDONLY); /* rarely read by anyone else */
        if (fd < 0) return 0;
        char byte;
        double start = now_s();
        ssize_t got = pread(fd, &byte, 1, 0);
        double first = now_s() - start;
        start = now_s();
        got += pread(fd, &byte, 1, 0);
        double again = now_s() - start;
        int evicted = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
        close(fd);
        /* read from disk: an earlier launch evicted it */
        return got == 2 && evicted && first > 5e-6 && first > 10 * again;
    }
    default: {
        const char *path = CHANNEL == 7 ? "/dev/shm/avo-count" : "/tmp/avo-count";
        int before = access(path, F_OK) == 0;
        int fd = open(path, O_WRONLY | O_CREAT, 0666);
        if (fd >= 0) close(fd);
        return before;
    }
    }
}

void avo_attention_fwd(NAIVE_ARGS) {
    reached += counted_before() > 0;
    ANSWER();
}
