/* The C library for Benchmarks/guest_init_embedded.swift. Embedded Swift has no Glibc overlay: the headers come in
 * through this module, and the few calls Swift cannot import as declared (variadic ones, macros, errno) through
 * the inline wrappers below. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline int einit_errno(void) { return errno; }
static inline int einit_open(const char *path, int flags) { return open(path, flags); }
static inline const char *einit_dirent_name(const struct dirent *e) { return e->d_name; }
static inline int einit_prctl_set_name(const char *name) { return prctl(PR_SET_NAME, name); }

/* SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP | IFF_RUNNING, on an AF_INET datagram socket. */
static inline int einit_interface_up(int sock, const char *name) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) return -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

/* Blocks SIGCHLD, SIGTERM and SIGINT and returns a non-blocking signalfd for them. */
static inline int einit_signalfd(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}
