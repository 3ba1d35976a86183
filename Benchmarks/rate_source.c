/* The producer of the guest benchmark's stdout transfer (Benchmarks/guest.sh, BENCHMARKS.md section 8): writes
 * MIB MiB of zeros to its stdout from one static 1 MiB buffer in 1 MiB writes, the loop the C init
 * (Benchmarks/guest_init.c) runs on the raw port for the same transfer. With the same producer on both sides the
 * comparison is what vm-init and the exec path add per byte; `dd if=/dev/zero` also clears its buffer from
 * /dev/zero for every block, work the C init's loop does not do (the benchmark shows dd's figure beside it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char buffer[1 << 20];

int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 0;
    if (argc != 2 || mib <= 0) { fprintf(stderr, "usage: rate_source MIB\n"); return 2; }
    for (long i = 0; i < mib; i++)
        for (size_t done = 0; done < sizeof buffer;) {
            ssize_t n = write(1, buffer + done, sizeof buffer - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) { perror("rate_source: write"); return 1; }
            done += (size_t)n;
        }
    return 0;
}
