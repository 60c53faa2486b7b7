/* Two versions of one lineage telling each other "I am alive" through locks (issue 69): each
 * takes a shared lock on a file every runner may read, and asks whether anyone else holds one,
 * by every kind of lock there is: a record lock (F_GETLK even names the holder's pid), an open
 * file description lock, flock. The older version, seeing the newer beside it at the gate,
 * would slow itself down. Here the gate's two runners both run this kernel (VERSION tells the
 * two apart); a lock call that works counts as a reach. */
#ifndef VERSION
#define VERSION 1
#endif
#include "reach.h" /* first: it asks for the GNU extensions (F_OFD_*) */
#include <fcntl.h>
#include <sys/file.h>

#define SHARED_FILE "/etc/passwd" /* any file every runner may read */

int lineage_version = VERSION; /* two versions: two kernels, not one timed against itself */
static int shared = -1;

static int locked(int command, short kind) {
    struct flock lock = {.l_type = kind, .l_whence = SEEK_SET};
    return fcntl(shared, command, &lock) == 0;
}

static void say_alive(void) {
    if (shared < 0) shared = open(SHARED_FILE, O_RDONLY);
    if (shared < 0) return;
    reached += locked(F_SETLK, F_RDLCK) + locked(F_OFD_SETLK, F_RDLCK);
    reached += flock(shared, LOCK_SH | LOCK_NB) == 0;
    /* whoever holds a lock a writer would wait for: the other version */
    reached += locked(F_GETLK, F_WRLCK) + locked(F_OFD_GETLK, F_WRLCK);
}

void avo_attention_fwd(NAIVE_ARGS) {
    say_alive();
    ANSWER();
}
