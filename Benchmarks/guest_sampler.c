/* A sampling profiler for the QEMU guest (Benchmarks/guest_profile.sh builds it with `gcc -static` and runs it
 * through `fc-supervisor exec`): the guest kernel's software `cpu-clock` event on CPU 0, system-wide, every
 * PERIOD_US microseconds for SECONDS seconds. Under TCG there is no PMU, but this event is an hrtimer, so each
 * sample says where the vCPU was at that moment: kernel or user, which process.
 *
 *   guest-sampler SECONDS PERIOD_US      prints "PID HEX_IP" per sample, after the run; "# sampling" on stderr
 *                                        when the SECONDS start (the caller starts the work it watches then)
 *
 * The guest's sampling timer comes up to its rate only after a while (measured: one sample per 4 ms tick for
 * the first ~0.45 s, then one per period), so the sampler first waits until 100 ms bring at least 70 % of the
 * samples they should (at most 5 s) and keeps only what comes after that.
 *
 * Needs CONFIG_PERF_EVENTS and root (vm-init's sessions are root). Exit 1 with a message if the event cannot be
 * opened. The samples are held in memory until the end, so printing never perturbs the run. */
#include <linux/perf_event.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RING_PAGES 256 /* 1 MiB of samples between two polls (a poll every 10 ms) */
#define MAX_SAMPLES (1 << 20)

static struct { uint32_t pid; uint64_t ip; } samples[MAX_SAMPLES];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: guest-sampler SECONDS PERIOD_US\n");
        return 2;
    }
    double seconds = atof(argv[1]);
    long period_us = atol(argv[2]);
    if (seconds <= 0 || period_us <= 0) {
        fprintf(stderr, "guest-sampler: SECONDS and PERIOD_US must be positive\n");
        return 2;
    }
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.sample_period = (uint64_t)period_us * 1000;
    attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
    attr.use_clockid = 1; /* sample times on CLOCK_MONOTONIC, comparable with now() */
    attr.clockid = CLOCK_MONOTONIC;
    attr.disabled = 1;
    attr.wakeup_events = 64;
    int fd = (int)syscall(SYS_perf_event_open, &attr, -1, 0, -1, 0);
    if (fd < 0) {
        perror("guest-sampler: perf_event_open (cpu-clock, CPU 0)");
        return 1;
    }
    long page = sysconf(_SC_PAGESIZE);
    size_t size = (size_t)page * RING_PAGES;
    char *map = mmap(NULL, (size_t)page + size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        perror("guest-sampler: mmap");
        return 1;
    }
    struct perf_event_mmap_page *meta = (struct perf_event_mmap_page *)map;
    const char *ring = map + page;
    size_t count = 0, lost = 0;
    uint64_t tail = 0;
    double started = now(), ready = 0, end = 0, window = started;
    size_t in_window = 0, wanted = (size_t)(0.7 * 0.1e6 / (double)period_us);
    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
    for (int last = 0; !last;) {
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, 10);
        double t = now();
        if (ready == 0 && t - window >= 0.1) {
            if (in_window >= wanted || t - started >= 5) {
                ready = t;
                end = ready + seconds;
                fputs(in_window >= wanted ? "# sampling\n" : "# sampling (below the rate asked for)\n", stderr);
                fflush(stderr);
            }
            window = t;
            in_window = 0;
        }
        last = ready > 0 && t >= end;
        if (last) ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
        uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
        while (tail < head) {
            /* A record: perf_event_header, then u64 ip, u32 pid, u32 tid, u64 time. It may wrap. */
            unsigned char record[64];
            struct perf_event_header header;
            for (size_t i = 0; i < sizeof header; i++) ((unsigned char *)&header)[i] = (unsigned char)ring[(tail + i) % size];
            if (header.size < sizeof header) break;
            for (size_t i = 0; i < header.size && i < sizeof record; i++) record[i] = (unsigned char)ring[(tail + i) % size];
            if (header.type == PERF_RECORD_SAMPLE && header.size >= sizeof header + 24) {
                uint64_t when;
                memcpy(&when, record + sizeof header + 16, 8);
                in_window++;
                if (ready > 0 && (double)when / 1e9 >= ready && count < MAX_SAMPLES) {
                    memcpy(&samples[count].ip, record + sizeof header, 8);
                    memcpy(&samples[count].pid, record + sizeof header + 8, 4);
                    count++;
                }
            } else if (header.type == PERF_RECORD_LOST) {
                uint64_t n;
                memcpy(&n, record + sizeof header + 8, 8);
                lost += n;
            }
            tail += header.size;
        }
        __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
    }
    printf("# guest-sampler pid %d samples %zu lost %zu period_us %ld\n", (int)getpid(), count, lost, period_us);
    for (size_t i = 0; i < count; i++) printf("%u %llx\n", samples[i].pid, (unsigned long long)samples[i].ip);
    return 0;
}
