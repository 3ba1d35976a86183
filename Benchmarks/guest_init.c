/* The floor for BENCHMARKS.md section 8 (Benchmarks/guest.sh builds it with `gcc -static`): a minimal PID 1 that
 * does what any init must before it can talk to the host — mount sysfs and devtmpfs, find the virtio-serial port
 * named "vmchan" — then says "cinit MAIN_US OPEN_US" (CLOCK_BOOTTIME µs at main and once the port is open).
 * After that it serves the host's commands on the port, one per line:
 *   out N   write N zero bytes to the port in 1 MiB writes      in N   read N bytes, then answer "ok"
 *   bye     reboot(RB_AUTOBOOT), which ends QEMU (-no-reboot)
 * No libc stdio, no allocation after start: nothing here that the port's raw speed would wait for. */
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

int main(void) {
    unsigned long long t_main = boot_us();
    mkdir("/sys", 0555);
    mkdir("/dev", 0755);
    mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    int fd, tries = 0;
    while ((fd = open_port("vmchan")) < 0 && tries++ < 5000) usleep(1000);
    if (fd < 0) { reboot(RB_AUTOBOOT); return 1; }
    char line[64];
    int n = snprintf(line, sizeof line, "cinit %llu %llu\n", t_main, boot_us());
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
        } else {
            sync();
            reboot(RB_AUTOBOOT);
            return 0;
        }
    }
}
