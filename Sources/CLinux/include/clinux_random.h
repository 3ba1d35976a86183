#ifndef CLINUX_RANDOM_H
#define CLINUX_RANDOM_H

#include <stddef.h>
#include <sys/random.h>
#include <sys/types.h>

/// getrandom(2): Glibc's Swift module does not export <sys/random.h>.
static inline ssize_t clinux_getrandom(void *buffer, size_t length, unsigned int flags) {
    return getrandom(buffer, length, flags);
}

#endif
