#pragma once
// C shims for what Swift cannot do safely: the fork/exec child path (only async-signal-safe work between fork
// and exec), pseudo-terminals, AF_VSOCK addresses, reboot(2), prctl, and a pre-runtime /proc mount.
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Where the child path failed (reported back over the close-on-exec error pipe).
enum clinux_spawn_stage {
    CLINUX_STAGE_NONE = 0,
    CLINUX_STAGE_FORK = 1,
    CLINUX_STAGE_PIPES = 2,
    CLINUX_STAGE_SETSID = 3,
    CLINUX_STAGE_TTY = 4,
    CLINUX_STAGE_STDIO = 5,
    CLINUX_STAGE_RLIMITS = 6,
    CLINUX_STAGE_GROUPS = 7,
    CLINUX_STAGE_GID = 8,
    CLINUX_STAGE_UID = 9,
    CLINUX_STAGE_CAPABILITIES = 10,
    CLINUX_STAGE_NO_NEW_PRIVS = 11,
    CLINUX_STAGE_CWD = 12,
    CLINUX_STAGE_EXEC = 13,
    CLINUX_STAGE_PDEATHSIG = 14,
    CLINUX_STAGE_OOM = 15,
    CLINUX_STAGE_CGROUP = 16,
};

/// One resource limit for the child.
struct clinux_rlimit {
    int resource;
    uint64_t soft;
    uint64_t hard;
};

/// Everything the child does between fork and exec. Pointers must stay valid for the duration of the call.
struct clinux_spawn_attr {
    /// argv[0] is the program; searched in `search_path` (colon-separated) when it contains no '/'.
    char *const *argv;
    /// NULL-terminated environment.
    char *const *envp;
    /// PATH used for the search; NULL means "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".
    const char *search_path;
    /// Working directory, or NULL to inherit.
    const char *cwd;
    /// File descriptors to install as 0, 1, 2 (-1: leave as inherited).
    int stdin_fd, stdout_fd, stderr_fd;
    /// When >= 0: make this terminal the controlling tty (after setsid).
    int ctty_fd;
    /// Nonzero: setsid() (new session and process group).
    int new_session;
    /// Nonzero: setpgid(0, 0) when not starting a new session.
    int new_process_group;
    int set_gid; gid_t gid;
    int set_uid; uid_t uid;
    int set_groups; size_t ngroups; const gid_t *groups;
    /// >= 0: the umask.
    int umask;
    size_t nrlimits; const struct clinux_rlimit *rlimits;
    /// Nonzero: keep exactly the `ncaps` capabilities in `caps` (bounding, permitted, effective, inheritable,
    /// and ambient for a non-root uid).
    int set_caps; size_t ncaps; const int *caps;
    int no_new_privs;
    /// Nonzero: PR_SET_PDEATHSIG with this signal (and exit at once if the parent already died).
    int parent_death_signal;
    /// Nonzero: write `oom_score_adj` to /proc/self/oom_score_adj (failure ignored).
    int set_oom_score_adj; int oom_score_adj;
    /// Descriptors (each >= 3) the program inherits unchanged: close-on-exec is cleared on them after every
    /// other descriptor >= 3 was marked close-on-exec.
    size_t nkeep_fds; const int *keep_fds;
    /// >= 0: an open cgroup v2 directory the child starts in (clone3 with CLONE_INTO_CGROUP), or where that is
    /// not available joins first thing (writing its `cgroup.procs`), so neither the program nor anything it forks
    /// can start outside it. Set to -1 when unused (the zero-initialised struct would otherwise name fd 0).
    int cgroup_fd;
};

/// Forks and execs. Returns 0 and the pid when execve succeeded. Returns -1 when the child failed before
/// execve (it is then already dead or dying, a zombie the caller must reap; `*pid_out` is its pid, or -1 when
/// fork itself failed) with the stage and errno in `*stage_out` / `*errno_out`.
/// Signals are reset to default dispositions and unblocked in the child.
int clinux_spawn(const struct clinux_spawn_attr *attr, pid_t *pid_out, int *stage_out, int *errno_out);

/// One sendmsg on a connected AF_UNIX socket: `len` bytes of `data` and exactly one SCM_RIGHTS control message
/// carrying `fd` (runc's console-socket hand-over). Returns 0 or -errno.
int clinux_send_fd(int sock, const void *data, size_t len, int fd);

/// Most descriptors one message carries in either direction below (SCM_RIGHTS).
enum { CLINUX_FDS_PER_MESSAGE = 8 };
/// One sendmsg (MSG_NOSIGNAL) of `len` (> 0) bytes with the `nfds` (1…CLINUX_FDS_PER_MESSAGE) descriptors `fds`
/// in one SCM_RIGHTS control message. Returns the count sent (the descriptors go with the first byte; a short
/// count still passed them) or -errno (then nothing was sent: EAGAIN on a full non-blocking socket).
ssize_t clinux_send_fds(int sock, const void *data, size_t len, const int *fds, int nfds);
/// One recvmsg (MSG_CMSG_CLOEXEC) into `iov`, with room for CLINUX_FDS_PER_MESSAGE descriptors: those passed
/// with the bytes read go to `fds` (an array of CLINUX_FDS_PER_MESSAGE), their count to `*nfds_out`;
/// `*truncated_out` is set when the kernel had more than fit (MSG_CTRUNC: it closed the rest). EINTR is retried.
/// Returns the count read (0 = end of stream) or -errno.
ssize_t clinux_recv_fds(int sock, const struct iovec *iov, int iovcnt, int *fds, int *nfds_out, int *truncated_out);
/// One read at the current position that never waits, whatever O_NONBLOCK says: preadv2(…, -1, RWF_NOWAIT).
/// Returns the count (0 = end of file) or -errno: -EAGAIN when nothing is there now, -EOPNOTSUPP when the file
/// does not honour RWF_NOWAIT. EINTR is retried.
ssize_t clinux_read_nowait(int fd, void *buffer, size_t len);
/// One write at the current position that never waits, whatever O_NONBLOCK says: pwritev2(…, -1, RWF_NOWAIT).
/// Returns the count written or -errno: -EAGAIN when nothing fits now, -EPIPE when a pipe has no reader,
/// -EOPNOTSUPP when the file does not honour RWF_NOWAIT. EINTR is retried.
ssize_t clinux_write_nowait(int fd, const void *buffer, size_t len);

/// Opens a pseudo-terminal pair (both close-on-exec, master non-blocking when `nonblocking_master`) with an
/// initial size. Returns 0 or -errno.
int clinux_openpty(int *master_out, int *slave_out, unsigned short rows, unsigned short cols, int nonblocking_master);
/// TIOCSWINSZ on `fd`. Returns 0 or -errno.
int clinux_set_winsize(int fd, unsigned short rows, unsigned short cols);

/// socket(AF_VSOCK) + bind(VMADDR_CID_ANY, port) + listen; close-on-exec, non-blocking. Returns fd or -errno.
int clinux_vsock_listen(uint32_t port, int backlog);
/// accept4 on a vsock listener (close-on-exec, non-blocking). Returns fd or -errno; the peer's CID and port out.
int clinux_vsock_accept(int fd, uint32_t *cid_out, uint32_t *port_out);

/// reboot(2) with one of the CLINUX_REBOOT_* commands. Returns 0 or -errno.
int clinux_reboot(int cmd);
enum { CLINUX_REBOOT_AUTOBOOT = 1, CLINUX_REBOOT_POWER_OFF = 2, CLINUX_REBOOT_HALT = 3,
       CLINUX_REBOOT_DISABLE_CAD = 4, CLINUX_REBOOT_ENABLE_CAD = 5 };

/// mount(2) / umount2(2) wrappers. Return 0 or -errno.
int clinux_mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data);
int clinux_umount(const char *target, int detach);
/// Mount flag values (MS_*).
unsigned long clinux_ms_nosuid(void);
unsigned long clinux_ms_nodev(void);
unsigned long clinux_ms_noexec(void);
unsigned long clinux_ms_relatime(void);
unsigned long clinux_ms_bind(void);
unsigned long clinux_ms_rdonly(void);
unsigned long clinux_ms_remount(void);
unsigned long clinux_ms_move(void);
unsigned long clinux_ms_rec(void);
unsigned long clinux_ms_sync(void);
unsigned long clinux_ms_dirsync(void);
unsigned long clinux_ms_noatime(void);
unsigned long clinux_ms_nodiratime(void);
unsigned long clinux_ms_strictatime(void);
unsigned long clinux_ms_lazytime(void);
unsigned long clinux_ms_mandlock(void);
unsigned long clinux_ms_private(void);
unsigned long clinux_ms_slave(void);
unsigned long clinux_ms_shared(void);
unsigned long clinux_ms_unbindable(void);

/// FIONREAD: bytes waiting to be read on a pipe, socket or terminal. Returns the count or -errno.
int clinux_bytes_readable(int fd);

/// F_SETPIPE_SZ (hidden by Glibc's Swift overlay without _GNU_SOURCE). Returns the granted size or -errno.
int clinux_set_pipe_size(int fd, int size);

/// splice(2) from pipe `in` to `out`, both at their current position, with SPLICE_F_NONBLOCK | SPLICE_F_MOVE
/// (hidden by Glibc's Swift overlay without _GNU_SOURCE). Returns the count moved or -errno.
long clinux_splice_from_pipe(int in, int out, unsigned long count);

/// prctl helpers. Return 0 or -errno.
int clinux_set_child_subreaper(int on);
int clinux_set_pdeathsig(int sig);
int clinux_set_name(const char *name);

/// Brings a network interface up (SIOCGIFFLAGS/SIOCSIFFLAGS with IFF_UP). Returns 0 or -errno.
int clinux_interface_up(const char *name);

/// Maps `nofile`, `nproc`, `core`, … (lower case, no RLIMIT_ prefix) to an RLIMIT_* value, or -1.
int clinux_rlimit_resource(const char *name);
/// Maps `CAP_NET_ADMIN`/`net_admin` to its number via libcap, or -1.
int clinux_capability_from_name(const char *name);

/// For PID 1: on SIGILL/SIGTRAP (Swift traps), SIGSEGV, SIGBUS, SIGFPE, SIGABRT or SIGSYS, write a line to stderr,
/// sync and reboot(RB_AUTOBOOT) instead of dying (which would panic the kernel). Returns 0 or -errno.
int clinux_install_crash_handler(void);

/// 1 when the pre-main constructor mounted /proc itself (so shutdown may unmount it).
int clinux_early_proc_mounted(void);
/// CLOCK_BOOTTIME in µs when the first constructor ran (0 if the clock failed).
uint64_t clinux_process_start_boottime_us(void);
/// The process's argument count and arguments, saved by that constructor (0 and NULL if it never ran).
int clinux_process_argc(void);
const char *clinux_process_argv(int index);

/// clock_gettime(CLOCK_BOOTTIME) in microseconds.
uint64_t clinux_boottime_us(void);
/// Sets CLOCK_REALTIME. Returns 0 or -errno.
int clinux_set_realtime(int64_t unix_ns);

/// FIFREEZE (`freeze` nonzero) or FITHAW on the file system holding `fd` (any descriptor on it, such as its
/// mount point opened read-only). Returns 0 or -errno.
int clinux_fs_freeze(int fd, int freeze);
/// RNDADDENTROPY on a /dev/random descriptor: mixes `len` bytes (at most 4096) in, crediting `len * 8` bits.
/// Returns 0 or -errno.
int clinux_rng_add_entropy(int fd, const void *bytes, size_t len);
/// RNDRESEEDCRNG on a /dev/random descriptor (Linux 4.17+). Returns 0 or -errno.
int clinux_rng_reseed(int fd);

/// WIFEXITED/WEXITSTATUS/WIFSIGNALED/WTERMSIG/WCOREDUMP on a wait status.
int clinux_wifexited(int status);
int clinux_wexitstatus(int status);
int clinux_wifsignaled(int status);
int clinux_wtermsig(int status);
int clinux_wcoredump(int status);

/// The signalfd_siginfo fields we use, decoded from a read buffer of 128 bytes.
struct clinux_siginfo {
    uint32_t signo;
    int32_t pid;
    int32_t status;
};
/// Creates (fd == -1) or updates a signalfd for `count` signals in `signals`; blocks them with sigprocmask.
/// Returns fd or -errno.
int clinux_signalfd(int fd, const int *signals, size_t count);
/// Reads one signalfd_siginfo. Returns 1 on success, 0 when none is pending, -errno on error.
int clinux_signalfd_read(int fd, struct clinux_siginfo *out);

/// pipe2(O_CLOEXEC [| O_NONBLOCK]). Returns 0 or -errno.
int clinux_pipe(int fds[2], int nonblocking);
/// accept4(SOCK_CLOEXEC | SOCK_NONBLOCK), EINTR retried. Returns fd or -errno.
int clinux_accept(int fd);

/// epoll, with an unpacked event struct (x86-64's epoll_event is packed).
struct clinux_epoll_event {
    uint32_t events;
    uint64_t data;
};
enum { CLINUX_EPOLLIN = 0x001, CLINUX_EPOLLOUT = 0x004, CLINUX_EPOLLERR = 0x008, CLINUX_EPOLLHUP = 0x010,
       CLINUX_EPOLLRDHUP = 0x2000 };
enum { CLINUX_EPOLL_ADD = 1, CLINUX_EPOLL_DEL = 2, CLINUX_EPOLL_MOD = 3 };
/// epoll_create1(EPOLL_CLOEXEC). Returns fd or -errno.
int clinux_epoll_create(void);
/// epoll_ctl. Returns 0 or -errno.
int clinux_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// epoll_wait into `out` (at most 256). Returns the count or -errno (EINTR included).
int clinux_epoll_wait(int epfd, struct clinux_epoll_event *out, int max, int timeout_ms);

#ifdef __cplusplus
}
#endif
