/* The floor for BENCHMARKS.md section 8 (Benchmarks/guest.sh builds it with `gcc -static`): a minimal PID 1 that
 * does what any init must before it can talk to the host — mount sysfs and devtmpfs, find the virtio-serial port
 * named "vmchan" — then says "cinit MAIN_US OPEN_US" (CLOCK_BOOTTIME µs at main and once the port is open).
 * After that it serves the host's commands on the port, one per line:
 *   out N   write N zero bytes to the port in 1 MiB writes      in N   read N bytes, then answer "ok"
 *   ping    answer "pong" (the first request served: the host's round trip after the greeting)
 *   bye     reboot(RB_AUTOBOOT), which ends QEMU (-no-reboot)
 * No libc stdio, no allocation after start: nothing here that the port's raw speed would wait for.
 *
 * Built with -DDUTIES it first does, in C, the kernel work vm-init does before its hello (Sources/VMInit/Boot.swift,
 * SessionCgroups.swift, Agent.run): the other API mounts, `lo` up, Ctrl-Alt-Del off, the OOM and thrashing knobs,
 * signalfd and epoll, the session cgroups with their controllers. It then says "cinit MAIN_US OPEN_US DUTIES_US
 * FAILED" (DUTIES_US: when those were done; FAILED: how many of its steps did not succeed). That boot is the floor
 * for any init that does vm-init's job before it speaks, whatever its language. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef DUTIES
#include <net/if.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#endif

static char buf[1 << 20];

static unsigned long long boot_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_BOOTTIME, &t);
    return (unsigned long long)t.tv_sec * 1000000ull + (unsigned long long)t.tv_nsec / 1000;
}

/* The /dev node of the port named `want`, or -1 while the driver has not announced it yet. */
static int open_port(const char *want) {
    char path[512], name[64];
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *e;
    int fd = -1;
    if (!d) return -1;
    while (fd < 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
        int n = open(path, O_RDONLY), len = n < 0 ? -1 : (int)read(n, name, sizeof name - 1);
        if (n >= 0) close(n);
        if (len <= 0) continue;
        name[len] = 0;
        if (name[len - 1] == '\n') name[len - 1] = 0;
        if (strcmp(name, want) != 0) continue;
        snprintf(path, sizeof path, "/dev/%s", e->d_name);
        fd = open(path, O_RDWR | O_CLOEXEC);
    }
    closedir(d);
    return fd;
}

static void all(int fd, const char *p, size_t n, int out) {
    while (n > 0) {
        ssize_t k = out ? write(fd, p, n) : read(fd, (char *)p, n);
        if (k <= 0) { reboot(RB_AUTOBOOT); _exit(1); }
        if (out) p += k;
        n -= (size_t)k;
    }
}

#ifdef DUTIES
static int failed;   /* steps of duties() that did not succeed: the greeting reports it */

static void step(int ok) { failed += !ok; }

static int put(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    close(fd);
    return ok;
}

static int mnt(const char *src, const char *dir, const char *type, unsigned long flags, const char *data) {
    mkdir(dir, 0755);
    return mount(src, dir, type, flags, data) == 0;
}

/* vm-init's boot work, in its order (sysfs and devtmpfs are already mounted); returns the epoll descriptor that
 * the port joins. */
static int duties(void) {
    char text[4096];
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) { nofile.rlim_cur = nofile.rlim_max; setrlimit(RLIMIT_NOFILE, &nofile); }
    prctl(PR_SET_NAME, "cinit");
    step(mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    step(fd >= 0 && read(fd, text, sizeof text) > 0);
    if (fd >= 0) close(fd);
    step(readlink("/proc/self/ns/pid", text, sizeof text) > 0);
    step(mnt("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"));
    step(mount("/dev/pts/ptmx", "/dev/ptmx", "none", MS_BIND, NULL) == 0);
    step(mnt("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
    step(mnt("run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"));
    step(mnt("tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
    step(mnt("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));

    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    int up = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    if (up) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        up = ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
    }
    step(up);
    if (s >= 0) close(s);
    step(reboot(RB_DISABLE_CAD) == 0);
    step(put("/proc/self/oom_score_adj", "-1000"));
    step(put("/sys/kernel/mm/lru_gen/min_ttl_ms", "1000"));

    int ep = epoll_create1(EPOLL_CLOEXEC);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = sfd };
    step(ep >= 0 && sfd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) == 0);
    while (waitpid(-1, NULL, WNOHANG) > 0) {}

    /* The session cgroups: fc-sessions below the root, with the controllers offered among memory, pids, cpu. */
    step(mkdir("/sys/fs/cgroup/fc-sessions", 0755) == 0);
    step(open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY | O_CLOEXEC) >= 0);   /* vm-init keeps it open */
    fd = open("/sys/fs/cgroup/cgroup.controllers", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof text - 1);
    if (fd >= 0) close(fd);
    text[n > 0 ? n : 0] = 0;
    char wanted[64] = "";
    static const char *const controllers[] = {"memory", "pids", "cpu"};
    for (int i = 0; i < 3; i++) {
        const char *at = strstr(text, controllers[i]);
        size_t len = strlen(controllers[i]);
        if (at && (at == text || at[-1] == ' ') && (at[len] == ' ' || at[len] == '\n' || at[len] == 0)) {
            strcat(wanted, *wanted ? " +" : "+");
            strcat(wanted, controllers[i]);
        }
    }
    step(*wanted && put("/sys/fs/cgroup/cgroup.subtree_control", wanted));
    step(*wanted && put("/sys/fs/cgroup/fc-sessions/cgroup.subtree_control", wanted));
    return ep;
}
#endif

int main(void) {
    unsigned long long t_main = boot_us();
    mkdir("/sys", 0555);
    mkdir("/dev", 0755);
    mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
#ifdef DUTIES
    int ep = duties();
    unsigned long long t_duties = boot_us();
#endif
    int fd, tries = 0;
    while ((fd = open_port("vmchan")) < 0 && tries++ < 5000) usleep(1000);
    if (fd < 0) { reboot(RB_AUTOBOOT); return 1; }
    char line[96];
#ifdef DUTIES
    struct epoll_event port = { .events = EPOLLIN | EPOLLOUT, .data.fd = fd };
    failed += epoll_ctl(ep, EPOLL_CTL_ADD, fd, &port) != 0;
    int n = snprintf(line, sizeof line, "cinit %llu %llu %llu %d\n", t_main, boot_us(), t_duties, failed);
#else
    int n = snprintf(line, sizeof line, "cinit %llu %llu\n", t_main, boot_us());
#endif
    all(fd, line, (size_t)n, 1);
    for (;;) {
        int len = 0;
        while (len < (int)sizeof line - 1) {
            all(fd, line + len, 1, 0);
            if (line[len++] == '\n') break;
        }
        line[len] = 0;
        unsigned long long count = strtoull(line + (line[0] == 'b' ? 0 : 3), NULL, 10);
        if (strncmp(line, "out ", 4) == 0) {
            for (; count > 0; count -= count < sizeof buf ? count : sizeof buf)
                all(fd, buf, count < sizeof buf ? count : sizeof buf, 1);
        } else if (strncmp(line, "in ", 3) == 0) {
            for (; count > 0; count -= count < sizeof buf ? count : sizeof buf)
                all(fd, buf, count < sizeof buf ? count : sizeof buf, 0);
            all(fd, "ok\n", 3, 1);
        } else if (strncmp(line, "ping", 4) == 0) {
            all(fd, "pong\n", 5, 1);
        } else {
            sync();
            reboot(RB_AUTOBOOT);
            return 0;
        }
    }
}
