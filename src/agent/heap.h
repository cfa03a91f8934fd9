/* heap: the agent's allocator policy (glibc; elsewhere these do nothing).
 *
 * An agent's footprint should be what it holds (its plan), not the peak of
 * its last reconcile. With glibc's defaults it is not: after a large
 * reconcile, freed small blocks parked in the per-thread cache (up to seven
 * of each size) stay scattered over the heap where malloc_trim cannot reach
 * them, and keep hundreds of pages resident. Measured with 10 agents of 100
 * ports (bench/agents_bench.py): 10.7 KiB per port with the cache, 5.2
 * without. The cache can only be turned off by a tunable read when the
 * process starts, hence the re-execution below. */
#ifndef QHV_AGENT_HEAP_H
#define QHV_AGENT_HEAP_H
#include <stddef.h>

/* Call first thing in main. If GLIBC_TUNABLES does not set
 * glibc.malloc.tcache_count, re-executes the program (/proc/self/exe, same
 * pid and arguments) with glibc.malloc.tcache_count=0 added; if that is
 * impossible, returns and the agent runs with the cache. (An operator keeps
 * the cache by setting the tunable, e.g. glibc.malloc.tcache_count=7; under
 * valgrind nothing is re-executed.) The mmap threshold stays glibc's: a
 * fixed 64 KiB one made the ovs backend's multi-megabyte flow-table buffers
 * fault in fresh pages at every reconcile (about 10% more agent CPU at 1,000
 * ports) and did not change the dummy figure. */
void qag_heap_setup(char **argv);

/* What the allocator runs with, for the start-up log (static text):
 * "glibc, GLIBC_TUNABLES=..." or "not glibc". */
const char *qag_heap_describe(void);

/* Gives free memory back to the system if there is much of it; fills
 * in_use and free_bytes (may be NULL) with the heap's figures before. */
void qag_heap_trim(size_t *in_use, size_t *free_bytes);

#endif
