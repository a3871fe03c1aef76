/* SPDX-License-Identifier: BSD-3-Clause */
#include "test_eal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>

static char rundir[256];

/* EAL leaves a runtime directory per file prefix: remove ours. */
static void eal_down(void)
{
	rte_eal_cleanup();
	DIR *d = opendir(rundir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(rundir);
}

int test_eal_init(const char *name, unsigned mem_mb)
{
	char prefix[96], mem[16], prog[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=%s%d", name, (int)getpid());
	snprintf(mem, sizeof(mem), "%u", mem_mb);
	snprintf(prog, sizeof(prog), "%s", name);
	char *argv[] = { prog, "--no-huge", "--no-pci", "-m", mem, prefix,
			 "--no-shconf", "--no-telemetry", "--log-level=lib.eal:error", NULL };
	int r = rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv);
	if (r < 0)
		return r;
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	atexit(eal_down);
	return r;
}
