#define _GNU_SOURCE
#include "clinux.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/fs.h>
#include <linux/random.h>
#include <linux/vm_sockets.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/single_threaded.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// ---------------------------------------------------------------------------------------------------------------
// Pre-main /proc mount (kernel README trap 9): the static Swift runtime reads /proc/self/exe before main.

static int early_proc_mounted = 0;
// CLOCK_BOOTTIME (µs) when this constructor ran: the process's first own code, before the Swift runtime starts
// (vm-init's `start` boot milestone, so a benchmark can split "kernel → PID 1" from "PID 1 → main").
static uint64_t process_start_us = 0;
// The process's arguments, as glibc hands them to every constructor (so that Embedded Swift, which has no
// `CommandLine`, reads them too).
static int process_argc = 0;
static char **process_argv = NULL;

__attribute__((constructor(101))) static void clinux_mount_proc_early(int argc, char **argv, char **envp) {
    (void)envp;
    process_argc = argc;
    process_argv = argv;
    char buf[8];
    struct timespec now;
    if (clock_gettime(CLOCK_BOOTTIME, &now) == 0)
        process_start_us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
    if (getpid() != 1) return;
    if (readlink("/proc/self/exe", buf, sizeof buf) >= 0) return;
    mkdir("/proc", 0555);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0) early_proc_mounted = 1;
}

int clinux_early_proc_mounted(void) { return early_proc_mounted; }

uint64_t clinux_process_start_boottime_us(void) { return process_start_us; }

int clinux_process_argc(void) { return process_argv ? process_argc : 0; }

const char *clinux_process_argv(int index) {
    return process_argv && index >= 0 && index < process_argc ? process_argv[index] : NULL;
}

// ---------------------------------------------------------------------------------------------------------------
// Spawn. Between fork and exec only async-signal-safe calls (libcap's cap_set_proc allocates; it is only used
// when capabilities are requested, which only vm-init does, from a single-threaded process).

struct child_report { int32_t stage; int32_t err; };

static void child_fail(int fd, int stage) {
    struct child_report r = { stage, errno };
    ssize_t n;
    do { n = write(fd, &r, sizeof r); } while (n < 0 && errno == EINTR);
    _exit(127);
}

static int install_fd(int fd, int target) {
    if (fd < 0) return 0;
    if (fd == target) {
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0) return -1;
        return fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    return dup2(fd, target) < 0 ? -1 : 0;
}

static int keep_cap(const struct clinux_spawn_attr *a, int cap) {
    for (size_t i = 0; i < a->ncaps; i++) if (a->caps[i] == cap) return 1;
    return 0;
}

static void exec_search(const struct clinux_spawn_attr *a, int report_fd) {
    const char *file = a->argv[0];
    if (file == NULL || file[0] == '\0') { errno = ENOENT; child_fail(report_fd, CLINUX_STAGE_EXEC); }
    if (strchr(file, '/') != NULL) {
        execve(file, a->argv, a->envp);
        child_fail(report_fd, CLINUX_STAGE_EXEC);
    }
    const char *path = a->search_path ? a->search_path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    size_t flen = strlen(file);
    int saw_eacces = 0;
    char buf[4096];
    const char *p = path;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        if (dlen + flen + 2 <= sizeof buf) {
            size_t off = 0;
            if (dlen == 0) { buf[off++] = '.'; } else { memcpy(buf, p, dlen); off = dlen; }
            buf[off++] = '/';
            memcpy(buf + off, file, flen + 1);
            execve(buf, a->argv, a->envp);
            switch (errno) {
            case EACCES: saw_eacces = 1; break;
            case ENOENT: case ENOTDIR: case ESTALE: case ENODEV: case ETIMEDOUT: case ELOOP: case ENAMETOOLONG:
                break;
            default:
                child_fail(report_fd, CLINUX_STAGE_EXEC);
            }
        }
        if (!end) break;
        p = end + 1;
    }
    errno = saw_eacces ? EACCES : ENOENT;
    child_fail(report_fd, CLINUX_STAGE_EXEC);
}

static void child_path(const struct clinux_spawn_attr *a, int report_fd, pid_t parent, int started_in_cgroup) {
    // Default dispositions for every signal, then an empty mask.
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        signal(s, SIG_DFL);
    }
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);

    // Not placed by clone3: join now. "0" moves the writer itself (cgroup v2 cgroup.procs).
    if (a->cgroup_fd >= 0 && !started_in_cgroup) {
        int procs = openat(a->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (procs < 0) child_fail(report_fd, CLINUX_STAGE_CGROUP);
        ssize_t n;
        do { n = write(procs, "0", 1); } while (n < 0 && errno == EINTR);
        if (n != 1) child_fail(report_fd, CLINUX_STAGE_CGROUP);
        close(procs);
    }
    if (a->parent_death_signal) {
        if (prctl(PR_SET_PDEATHSIG, a->parent_death_signal) < 0) child_fail(report_fd, CLINUX_STAGE_PDEATHSIG);
        if (getppid() != parent) _exit(127);
    }
    if (a->set_oom_score_adj) {
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            char num[16];
            int v = a->oom_score_adj, i = 15, neg = v < 0;
            unsigned u = neg ? (unsigned)(-v) : (unsigned)v;
            num[i] = '\0';
            do { num[--i] = (char)('0' + u % 10); u /= 10; } while (u && i > 1);
            if (neg) num[--i] = '-';
            ssize_t ignored = write(fd, num + i, strlen(num + i));
            (void)ignored;
            close(fd);
        }
    }
    if (a->new_session) {
        if (setsid() < 0) child_fail(report_fd, CLINUX_STAGE_SETSID);
    } else if (a->new_process_group) {
        if (setpgid(0, 0) < 0) child_fail(report_fd, CLINUX_STAGE_SETSID);
    }
    if (a->ctty_fd >= 0) {
        if (ioctl(a->ctty_fd, TIOCSCTTY, 0) < 0) child_fail(report_fd, CLINUX_STAGE_TTY);
    }
    // Move the report pipe out of the way of 0..2 before installing stdio.
    if (report_fd <= 2) {
        int moved = fcntl(report_fd, F_DUPFD_CLOEXEC, 3);
        if (moved < 0) child_fail(report_fd, CLINUX_STAGE_STDIO);
        report_fd = moved;
    }
    int in = a->stdin_fd, out = a->stdout_fd, err = a->stderr_fd;
    // Sources that collide with lower targets are duplicated upwards first.
    if (out == 0) { out = fcntl(out, F_DUPFD_CLOEXEC, 3); if (out < 0) child_fail(report_fd, CLINUX_STAGE_STDIO); }
    if (err == 0 || err == 1) { err = fcntl(err, F_DUPFD_CLOEXEC, 3); if (err < 0) child_fail(report_fd, CLINUX_STAGE_STDIO); }
    if (install_fd(in, 0) < 0 || install_fd(out, 1) < 0 || install_fd(err, 2) < 0)
        child_fail(report_fd, CLINUX_STAGE_STDIO);
    // Nothing else leaks into the program (best effort; our own descriptors are close-on-exec already).
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    for (size_t i = 0; i < a->nkeep_fds; i++) {
        if (a->keep_fds[i] > 2 && fcntl(a->keep_fds[i], F_SETFD, 0) < 0) child_fail(report_fd, CLINUX_STAGE_STDIO);
    }

    for (size_t i = 0; i < a->nrlimits; i++) {
        struct rlimit rl = { (rlim_t)a->rlimits[i].soft, (rlim_t)a->rlimits[i].hard };
        if (setrlimit(a->rlimits[i].resource, &rl) < 0) child_fail(report_fd, CLINUX_STAGE_RLIMITS);
    }
    if (a->set_caps) {
        int last = (int)cap_max_bits();
        for (int c = 0; c < last; c++) {
            if (keep_cap(a, c)) continue;
            if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) child_fail(report_fd, CLINUX_STAGE_CAPABILITIES);
        }
        if (a->set_uid && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) child_fail(report_fd, CLINUX_STAGE_CAPABILITIES);
    }
    if (a->set_groups) {
        if (setgroups(a->ngroups, a->groups) < 0) child_fail(report_fd, CLINUX_STAGE_GROUPS);
    }
    if (a->set_gid) {
        if (setresgid(a->gid, a->gid, a->gid) < 0) child_fail(report_fd, CLINUX_STAGE_GID);
    }
    if (a->set_uid) {
        if (setresuid(a->uid, a->uid, a->uid) < 0) child_fail(report_fd, CLINUX_STAGE_UID);
    }
    if (a->set_caps) {
        cap_t caps = cap_init();
        if (caps == NULL) child_fail(report_fd, CLINUX_STAGE_CAPABILITIES);
        if (a->ncaps > 0) {
            cap_value_t values[64];
            size_t n = a->ncaps < 64 ? a->ncaps : 64;
            for (size_t i = 0; i < n; i++) values[i] = (cap_value_t)a->caps[i];
            if (cap_set_flag(caps, CAP_PERMITTED, (int)n, values, CAP_SET) < 0 ||
                cap_set_flag(caps, CAP_EFFECTIVE, (int)n, values, CAP_SET) < 0 ||
                cap_set_flag(caps, CAP_INHERITABLE, (int)n, values, CAP_SET) < 0)
                child_fail(report_fd, CLINUX_STAGE_CAPABILITIES);
        }
        if (cap_set_proc(caps) < 0) child_fail(report_fd, CLINUX_STAGE_CAPABILITIES);
        cap_free(caps);
        if (geteuid() != 0) {
            for (size_t i = 0; i < a->ncaps; i++) {
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, a->caps[i], 0, 0) < 0)
                    child_fail(report_fd, CLINUX_STAGE_CAPABILITIES);
            }
        }
    }
    if (a->no_new_privs) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(report_fd, CLINUX_STAGE_NO_NEW_PRIVS);
    }
    if (a->umask >= 0) umask((mode_t)a->umask);
    if (a->cwd != NULL) {
        if (chdir(a->cwd) < 0) child_fail(report_fd, CLINUX_STAGE_CWD);
    }
    exec_search(a, report_fd);
}

// clone3's arguments (linux/sched.h, CLONE_ARGS_SIZE_VER2), declared here: that header clashes with <sched.h>.
struct clinux_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

// fork(), or with a cgroup a fork that starts the child in it: clone3(CLONE_INTO_CGROUP) places the child at
// creation, so no migration happens. A migration (the child writing cgroup.procs) takes the cgroup threadgroup
// lock for writing, which waits for an RCU grace period: ~10 ms of every exec in a TCG VM, with the spawning
// process blocked until the child execs. Only in a single-threaded process: a raw clone3 skips glibc's fork
// bookkeeping, which a multi-threaded parent's child would need (its set*id wrappers would signal the parent's
// threads). Where clone3 or the flag is missing (ENOSYS: before Linux 5.3, or a seccomp filter such as Docker's
// default; EINVAL/E2BIG: before 5.7), plain fork, and the child joins by writing cgroup.procs.
// Returns the pid (0 in the child) with *started_in_cgroup set, -1 when fork failed, -2 when clone3 refused the
// cgroup (errno says why: EBADF not a cgroup v2 directory, EBUSY/EOPNOTSUPP not a leaf it may hold processes,
// EACCES/EPERM, ENODEV being removed).
static pid_t fork_into_cgroup(int cgroup_fd, int *started_in_cgroup) {
    *started_in_cgroup = 0;
    if (cgroup_fd >= 0 && __libc_single_threaded) {
        struct clinux_clone_args args;
        memset(&args, 0, sizeof args);
        args.flags = CLONE_INTO_CGROUP;
        args.exit_signal = SIGCHLD;
        args.cgroup = (uint64_t)cgroup_fd;
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid >= 0) {
            *started_in_cgroup = 1;
            return (pid_t)pid;
        }
        if (errno != ENOSYS && errno != EINVAL && errno != E2BIG) return errno == EAGAIN || errno == ENOMEM ? -1 : -2;
    }
    return fork();
}

int clinux_spawn(const struct clinux_spawn_attr *attr, pid_t *pid_out, int *stage_out, int *errno_out) {
    *pid_out = -1;
    *stage_out = CLINUX_STAGE_NONE;
    *errno_out = 0;
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) {
        *stage_out = CLINUX_STAGE_PIPES;
        *errno_out = errno;
        return -1;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t parent = getpid();
    int started_in_cgroup = 0;
    pid_t pid = fork_into_cgroup(attr->cgroup_fd, &started_in_cgroup);
    if (pid == 0) {
        close(report[0]);
        child_path(attr, report[1], parent, started_in_cgroup);
        _exit(127);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        *stage_out = pid == -2 ? CLINUX_STAGE_CGROUP : CLINUX_STAGE_FORK;
        *errno_out = fork_errno;
        return -1;
    }
    *pid_out = pid;
    struct child_report r;
    ssize_t n;
    do { n = read(report[0], &r, sizeof r); } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof r) {
        *stage_out = r.stage;
        *errno_out = r.err;
        return -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// PTY

int clinux_set_winsize(int fd, unsigned short rows, unsigned short cols) {
    struct winsize ws;
    memset(&ws, 0, sizeof ws);
    ws.ws_row = rows;
    ws.ws_col = cols;
    return ioctl(fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

int clinux_send_fd(int sock, const void *data, size_t len, int fd) {
    ssize_t n = clinux_send_fds(sock, data, len, &fd, 1);
    if (n < 0) return (int)n;
    return (size_t)n == len ? 0 : -EIO;
}

ssize_t clinux_send_fds(int sock, const void *data, size_t len, const int *fds, int nfds) {
    if (nfds < 1 || nfds > CLINUX_FDS_PER_MESSAGE || len == 0) return -EINVAL;
    union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int) * CLINUX_FDS_PER_MESSAGE)]; } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                          .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds) };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)nfds);
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

ssize_t clinux_recv_fds(int sock, const struct iovec *iov, int iovcnt, int *fds, int *nfds_out, int *truncated_out) {
    union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int) * CLINUX_FDS_PER_MESSAGE)]; } control;
    struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt, .msg_control = control.space,
                          .msg_controllen = sizeof control.space };
    *nfds_out = 0;
    *truncated_out = 0;
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    int count = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            // The buffer holds CLINUX_FDS_PER_MESSAGE, so this never closes one; kept as a guard.
            if (count < CLINUX_FDS_PER_MESSAGE) fds[count++] = fd; else close(fd);
        }
    }
    *nfds_out = count;
    *truncated_out = (msg.msg_flags & MSG_CTRUNC) != 0;
    return n;
}

ssize_t clinux_read_nowait(int fd, void *buffer, size_t len) {
    struct iovec iov = { .iov_base = buffer, .iov_len = len };
    ssize_t n;
    do { n = preadv2(fd, &iov, 1, -1, RWF_NOWAIT); } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

ssize_t clinux_write_nowait(int fd, const void *buffer, size_t len) {
    struct iovec iov = { .iov_base = (void *)buffer, .iov_len = len };
    ssize_t n;
    do { n = pwritev2(fd, &iov, 1, -1, RWF_NOWAIT); } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

int clinux_openpty(int *master_out, int *slave_out, unsigned short rows, unsigned short cols, int nonblocking_master) {
    int flags = O_RDWR | O_NOCTTY | O_CLOEXEC | (nonblocking_master ? O_NONBLOCK : 0);
    int master = posix_openpt(flags);
    if (master < 0) return -errno;
    if (grantpt(master) < 0 || unlockpt(master) < 0) { int e = errno; close(master); return -e; }
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        char name[128];
        if (ptsname_r(master, name, sizeof name) != 0) { int e = errno; close(master); return -e; }
        slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0) { int e = errno; close(master); return -e; }
    }
    int rc = clinux_set_winsize(master, rows, cols);
    if (rc < 0) { close(master); close(slave); return rc; }
    *master_out = master;
    *slave_out = slave;
    return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// vsock

int clinux_vsock_listen(uint32_t port, int backlog) {
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    struct sockaddr_vm addr;
    memset(&addr, 0, sizeof addr);
    addr.svm_family = AF_VSOCK;
    addr.svm_cid = VMADDR_CID_ANY;
    addr.svm_port = port;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, backlog) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int clinux_vsock_accept(int fd, uint32_t *cid_out, uint32_t *port_out) {
    struct sockaddr_vm addr;
    socklen_t len = sizeof addr;
    memset(&addr, 0, sizeof addr);
    int c;
    do { c = accept4(fd, (struct sockaddr *)&addr, &len, SOCK_CLOEXEC | SOCK_NONBLOCK); } while (c < 0 && errno == EINTR);
    if (c < 0) return -errno;
    *cid_out = addr.svm_cid;
    *port_out = addr.svm_port;
    return c;
}

// ---------------------------------------------------------------------------------------------------------------
// reboot, mount, prctl, network

int clinux_reboot(int cmd) {
    int c;
    switch (cmd) {
    case CLINUX_REBOOT_AUTOBOOT: c = RB_AUTOBOOT; break;
    case CLINUX_REBOOT_POWER_OFF: c = RB_POWER_OFF; break;
    case CLINUX_REBOOT_HALT: c = RB_HALT_SYSTEM; break;
    case CLINUX_REBOOT_DISABLE_CAD: c = RB_DISABLE_CAD; break;
    case CLINUX_REBOOT_ENABLE_CAD: c = RB_ENABLE_CAD; break;
    default: return -EINVAL;
    }
    return reboot(c) < 0 ? -errno : 0;
}

int clinux_mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data) {
    return mount(source, target, fstype, flags, data) < 0 ? -errno : 0;
}

int clinux_umount(const char *target, int detach) {
    return umount2(target, detach ? MNT_DETACH : 0) < 0 ? -errno : 0;
}

unsigned long clinux_ms_nosuid(void) { return MS_NOSUID; }
unsigned long clinux_ms_nodev(void) { return MS_NODEV; }
unsigned long clinux_ms_noexec(void) { return MS_NOEXEC; }
unsigned long clinux_ms_relatime(void) { return MS_RELATIME; }
unsigned long clinux_ms_bind(void) { return MS_BIND; }
unsigned long clinux_ms_rdonly(void) { return MS_RDONLY; }
unsigned long clinux_ms_remount(void) { return MS_REMOUNT; }
unsigned long clinux_ms_move(void) { return MS_MOVE; }
unsigned long clinux_ms_rec(void) { return MS_REC; }
unsigned long clinux_ms_sync(void) { return MS_SYNCHRONOUS; }
unsigned long clinux_ms_dirsync(void) { return MS_DIRSYNC; }
unsigned long clinux_ms_noatime(void) { return MS_NOATIME; }
unsigned long clinux_ms_nodiratime(void) { return MS_NODIRATIME; }
unsigned long clinux_ms_strictatime(void) { return MS_STRICTATIME; }
unsigned long clinux_ms_lazytime(void) { return MS_LAZYTIME; }
unsigned long clinux_ms_mandlock(void) { return MS_MANDLOCK; }
unsigned long clinux_ms_private(void) { return MS_PRIVATE; }
unsigned long clinux_ms_slave(void) { return MS_SLAVE; }
unsigned long clinux_ms_shared(void) { return MS_SHARED; }
unsigned long clinux_ms_unbindable(void) { return MS_UNBINDABLE; }

int clinux_bytes_readable(int fd) {
    int n = 0;
    return ioctl(fd, FIONREAD, &n) < 0 ? -errno : n;
}

int clinux_set_pipe_size(int fd, int size) {
    int n = fcntl(fd, F_SETPIPE_SZ, size);
    return n < 0 ? -errno : n;
}

long clinux_splice_from_pipe(int in, int out, unsigned long count) {
    ssize_t n = splice(in, NULL, out, NULL, count, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    return n < 0 ? -errno : n;
}

int clinux_set_child_subreaper(int on) { return prctl(PR_SET_CHILD_SUBREAPER, on, 0, 0, 0) < 0 ? -errno : 0; }
int clinux_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) < 0 ? -errno : 0; }
int clinux_set_name(const char *name) { return prctl(PR_SET_NAME, name, 0, 0, 0) < 0 ? -errno : 0; }

int clinux_interface_up(const char *name) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) { int e = errno; close(fd); return -e; }
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) { int e = errno; close(fd); return -e; }
    close(fd);
    return 0;
}

int clinux_rlimit_resource(const char *name) {
    static const struct { const char *name; int value; } table[] = {
        {"as", RLIMIT_AS}, {"core", RLIMIT_CORE}, {"cpu", RLIMIT_CPU}, {"data", RLIMIT_DATA},
        {"fsize", RLIMIT_FSIZE}, {"locks", RLIMIT_LOCKS}, {"memlock", RLIMIT_MEMLOCK},
        {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE}, {"nofile", RLIMIT_NOFILE},
        {"nproc", RLIMIT_NPROC}, {"rss", RLIMIT_RSS}, {"rtprio", RLIMIT_RTPRIO}, {"rttime", RLIMIT_RTTIME},
        {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0) return table[i].value;
    return -1;
}

int clinux_capability_from_name(const char *name) {
    cap_value_t v;
    if (cap_from_name(name, &v) < 0) return -1;
    return (int)v;
}

// ---------------------------------------------------------------------------------------------------------------
// clocks, wait status, signalfd

uint64_t clinux_boottime_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int clinux_set_realtime(int64_t unix_ns) {
    struct timespec ts = { (time_t)(unix_ns / 1000000000), (long)(unix_ns % 1000000000) };
    if (ts.tv_nsec < 0) { ts.tv_sec -= 1; ts.tv_nsec += 1000000000; }
    return clock_settime(CLOCK_REALTIME, &ts) < 0 ? -errno : 0;
}

int clinux_fs_freeze(int fd, int freeze) {
    int arg = 0;
    return ioctl(fd, freeze ? FIFREEZE : FITHAW, &arg) < 0 ? -errno : 0;
}

int clinux_rng_add_entropy(int fd, const void *bytes, size_t len) {
    if (len > 4096) return -EINVAL;
    // rand_pool_info ends in a flexible array: one aligned buffer holds the header and the bytes.
    static _Alignas(struct rand_pool_info) unsigned char raw[sizeof(struct rand_pool_info) + 4096];
    struct rand_pool_info *pool = (struct rand_pool_info *)raw;
    memset(raw, 0, sizeof raw);
    pool->entropy_count = (int)(len * 8);
    pool->buf_size = (int)len;
    memcpy(pool->buf, bytes, len);
    int rc = ioctl(fd, RNDADDENTROPY, pool) < 0 ? -errno : 0;
    memset(raw, 0, sizeof raw);  // the host's secret bytes do not linger in memory
    return rc;
}

int clinux_rng_reseed(int fd) {
#ifndef RNDRESEEDCRNG
#define RNDRESEEDCRNG _IO('R', 0x07)
#endif
    return ioctl(fd, RNDRESEEDCRNG) < 0 ? -errno : 0;
}

int clinux_wifexited(int status) { return WIFEXITED(status); }
int clinux_wexitstatus(int status) { return WEXITSTATUS(status); }
int clinux_wifsignaled(int status) { return WIFSIGNALED(status); }
int clinux_wtermsig(int status) { return WTERMSIG(status); }
int clinux_wcoredump(int status) { return WCOREDUMP(status); }

int clinux_signalfd(int fd, const int *signals, size_t count) {
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return -errno;
    int r = signalfd(fd, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return r < 0 ? -errno : r;
}

int clinux_signalfd_read(int fd, struct clinux_siginfo *out) {
    struct signalfd_siginfo si;
    ssize_t n;
    do { n = read(fd, &si, sizeof si); } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN ? 0 : -errno;
    if (n != (ssize_t)sizeof si) return -EIO;
    out->signo = si.ssi_signo;
    out->pid = (int32_t)si.ssi_pid;
    out->status = si.ssi_status;
    return 1;
}

// ---------------------------------------------------------------------------------------------------------------
// epoll

int clinux_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int clinux_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    int cop = op == CLINUX_EPOLL_ADD ? EPOLL_CTL_ADD : op == CLINUX_EPOLL_DEL ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    return epoll_ctl(epfd, cop, fd, &ev) < 0 ? -errno : 0;
}

int clinux_epoll_wait(int epfd, struct clinux_epoll_event *out, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) { out[i].events = evs[i].events; out[i].data = evs[i].data.u64; }
    return n;
}

int clinux_pipe(int fds[2], int nonblocking) {
    return pipe2(fds, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0)) < 0 ? -errno : 0;
}

int clinux_accept(int fd) {
    int c;
    do { c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); } while (c < 0 && errno == EINTR);
    return c < 0 ? -errno : c;
}

// ---------------------------------------------------------------------------------------------------------------
// Last resort for PID 1: a Swift trap (SIGILL/SIGTRAP), a fault or an abort would kill init and panic the kernel.
// The handler uses only async-signal-safe calls: it says what happened on the console, syncs, and resets the VM,
// which ends Firecracker (reboot=k) and QEMU (-no-reboot) cleanly instead of with a kernel panic.

static void crash_write(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    ssize_t rc;
    do { rc = write(2, s, n); } while (rc < 0 && errno == EINTR);
}

static void crash_handler(int sig) {
    char number[4] = { 0 };
    int i = 0;
    if (sig >= 10) number[i++] = (char)('0' + (sig / 10) % 10);
    number[i] = (char)('0' + sig % 10);
    crash_write("vm-init[1] fatal: signal ");
    crash_write(number);
    crash_write(" inside vm-init; syncing and resetting the VM\n");
    sync();
    reboot(RB_AUTOBOOT);
    _exit(1);  // Not reached as PID 1; outside a VM (tests) the namespace ends.
}

int clinux_install_crash_handler(void) {
    static char stack[64 * 1024];
    stack_t ss = { .ss_sp = stack, .ss_size = sizeof stack, .ss_flags = 0 };
    if (sigaltstack(&ss, NULL) != 0) return -errno;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = crash_handler;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    const int signals[] = { SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGABRT, SIGSYS };
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        if (sigaction(signals[i], &sa, NULL) != 0) return -errno;
    }
    return 0;
}
