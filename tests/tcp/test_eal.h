/* SPDX-License-Identifier: BSD-3-Clause */
/* An EAL for engine tests and fuzzers: no hugepages, no PCI, no shared
 * config or telemetry, a file prefix of NAME + pid, and its runtime
 * directory removed at exit. */
#ifndef STRAIT_TESTS_TCP_TEST_EAL_H
#define STRAIT_TESTS_TCP_TEST_EAL_H

/* rte_eal_init()'s result (< 0 on failure); once per process. */
int test_eal_init(const char *name, unsigned mem_mb);

#endif
