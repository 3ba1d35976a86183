/* The programs GuestImage/hot-code/profile.sh runs in the guest, in one static-pie binary chosen by argv[0]
 * (static-pie, so they load far from vm-init's fixed addresses and cannot be mistaken for its code):
 *   true            exits 0
 *   cat [FILE...]   copies the files, or stdin, to stdout
 *   sleep SECONDS   sleeps
 *   zero MIB        writes MIB MiB of zeros to stdout in 1 MiB writes
 *   sink            reads stdin to end of file in 1 MiB reads */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buffer[1 << 20];

static int copy(int fd) {
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0)
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(1, buffer + done, (size_t)(n - done));
            if (w <= 0) return 1;
            done += w;
        }
    return n < 0;
}

int main(int argc, char **argv) {
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (!strcmp(name, "true")) return 0;
    if (!strcmp(name, "sleep")) { sleep(argc > 1 ? (unsigned)atoi(argv[1]) : 1); return 0; }
    if (!strcmp(name, "sink")) { while (read(0, buffer, sizeof buffer) > 0) {} return 0; }
    if (!strcmp(name, "zero")) {
        for (long i = 0, n = argc > 1 ? atol(argv[1]) : 1; i < n; i++)
            for (size_t done = 0; done < sizeof buffer;) {
                ssize_t w = write(1, buffer + done, sizeof buffer - done);
                if (w <= 0) return 1;
                done += (size_t)w;
            }
        return 0;
    }
    if (!strcmp(name, "cat")) {
        if (argc < 2) return copy(0);
        for (int i = 1; i < argc; i++) {
            int fd = open(argv[i], O_RDONLY);
            if (fd < 0 || copy(fd)) return 1;
            close(fd);
        }
        return 0;
    }
    return 127;
}
