/* What the Swift runtime would provide to the standard library and Embedded Swift's does not, linked only into
 * Embedded builds (scripts/embedded-check.sh): in a full build the runtime defines these itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>

/* `Double(String)`'s parser, as the runtime's (stdlib/public/stubs/Stubs.cpp): strtod in the C locale; the end of
 * the parsed text (the caller requires it to be the end of the string), or NULL when the value overflowed or
 * underflowed. */
const char *_swift_stdlib_strtod_clocale(const char *text, double *result) {
    static locale_t c_locale;
    if (!c_locale) c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!c_locale) return NULL;
    char *end;
    errno = 0;
    double value = strtod_l(text, &end, c_locale);
    *result = value;
    if ((value == HUGE_VAL || value == -HUGE_VAL || value == 0.0) && errno == ERANGE) return NULL;
    return end;
}
