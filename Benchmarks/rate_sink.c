/* The consumer of the guest benchmark's exec transfers (Benchmarks/guest.sh, BENCHMARKS.md section 8): reads its
 * stdin to end of file in 1 MiB reads, as `dd of=/dev/null bs=1M` does, and prints one line,
 *
 *     BYTES FIRST_READ_BYTES FIRST_NS LAST_NS
 *
 * where FIRST_NS and LAST_NS are CLOCK_MONOTONIC when the first and the last read that brought bytes returned.
 * (BYTES - FIRST_READ_BYTES) / (LAST_NS - FIRST_NS) is then the transfer's rate without the exec's start-up
 * (client, supervisor, spawning the process in the guest) and exit, which the wall clock around the whole
 * `fc-supervisor exec` also counts. On the host it reads `exec dd`'s output; in the guest (built static, put in
 * the busybox image) it is the process whose stdin the host fills. */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static char buffer[1 << 20];

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void) {
    long long total = 0, first_bytes = 0, first_ns = 0, last_ns = 0;
    for (;;) {
        ssize_t n = read(0, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { perror("rate_sink: read"); return 1; }
        if (n == 0) break;
        last_ns = now_ns();
        if (total == 0) { first_ns = last_ns; first_bytes = n; }
        total += n;
    }
    printf("%lld %lld %lld %lld\n", total, first_bytes, first_ns, last_ns);
    return 0;
}
