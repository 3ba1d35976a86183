/* What the Glibc overlay gives Swift and Embedded Swift lacks (Embedded/Glibc.swift wraps these): the variadic
 * calls (`open`, `openat`, `fcntl`, `ioctl`), which Swift cannot import as declared, `errno`, a macro, and the
 * signal dispositions `SIG_IGN` and `SIG_DFL`, which are casts. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>

static inline int fc_embedded_errno(void) { return errno; }
static inline void fc_embedded_set_errno(int value) { errno = value; }
static inline int fc_embedded_openat(int dir, const char *path, int flags, unsigned mode) {
    return openat(dir, path, flags, mode);
}
static inline int fc_embedded_fcntl_int(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }
static inline int fc_embedded_fcntl_ptr(int fd, int cmd, void *arg) { return fcntl(fd, cmd, arg); }
static inline int fc_embedded_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }
static inline int fc_embedded_ioctl_int(int fd, unsigned long request, int arg) { return ioctl(fd, request, arg); }
static inline __sighandler_t fc_embedded_sig_ign(void) { return SIG_IGN; }
static inline __sighandler_t fc_embedded_sig_dfl(void) { return SIG_DFL; }
