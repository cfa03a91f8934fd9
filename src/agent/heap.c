#include "agent/heap.h"
#include <stdlib.h>     /* first: defines __GLIBC__ where it applies */
#ifdef __GLIBC__
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "lib/util.h"

#define QAG_TCACHE_TUNABLE "glibc.malloc.tcache_count="

void qag_heap_setup(char **argv)
{
    const char *was = getenv("GLIBC_TUNABLES"), *preload = getenv("LD_PRELOAD");
    /* Not under valgrind: the program it would execute is the agent alone. */
    bool valgrind = preload && strstr(preload, "vgpreload");
    if (!valgrind && (!was || !strstr(was, QAG_TCACHE_TUNABLE))) {
        char *old = was ? xstrdup(was) : NULL;
        char *t = old && *old ? xasprintf("%s:" QAG_TCACHE_TUNABLE "0", old)
                              : xstrdup(QAG_TCACHE_TUNABLE "0");
        setenv("GLIBC_TUNABLES", t, 1);
        execv("/proc/self/exe", argv);
        /* No /proc, say: run with the cache. */
        if (old)
            setenv("GLIBC_TUNABLES", old, 1);
        else
            unsetenv("GLIBC_TUNABLES");
        free(t);
        free(old);
    }
}

const char *qag_heap_describe(void)
{
    static char text[512];
    const char *t = getenv("GLIBC_TUNABLES");
    snprintf(text, sizeof text, "glibc, GLIBC_TUNABLES=%s", t ? t : "(unset)");
    return text;
}

void qag_heap_trim(size_t *in_use, size_t *free_bytes)
{
    struct mallinfo2 mi = mallinfo2();
    /* Cheap (a walk of the free lists, once idle): even 256 KiB is a few
     * KiB per port on a host of a hundred. */
    if (mi.fordblks > ((size_t)256 << 10))
        malloc_trim(0);
    if (in_use)
        *in_use = mi.uordblks + mi.hblkhd;
    if (free_bytes)
        *free_bytes = mi.fordblks;
}

#else

void qag_heap_setup(char **argv) { (void)argv; }

const char *qag_heap_describe(void) { return "not glibc"; }

void qag_heap_trim(size_t *in_use, size_t *free_bytes)
{
    if (in_use)
        *in_use = 0;
    if (free_bytes)
        *free_bytes = 0;
}

#endif
