/* libFuzzer target: the configuration parser (cli/config.c, through a temporary file). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/error.h"

/* petrel_config_load reads a path, as petrel does: each input is written to one file
 * made at the first call (in TMPDIR) and removed at exit. */
static char path[4096];
static int fd = -1;

static void remove_file(void)
{
	unlink(path);
}

static int write_input(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		const char *dir = getenv("TMPDIR");

		snprintf(path, sizeof(path), "%s/petrel-fuzz-config.XXXXXX", dir && *dir ? dir : "/tmp");
		if ((fd = mkstemp(path)) < 0)
			abort();
		atexit(remove_file);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	return 0;
}

/* Any bytes load or are refused as a configuration error with a message; what loads
 * has its targets and servers within their arrays and every target names a server. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct petrel_config cfg;
	int r;

	write_input(data, size);
	memset(&cfg, 0, sizeof(cfg));
	r = petrel_config_load(&cfg, path, &err);
	if (r > 0 || (r < 0 && r != -PETREL_ECONFIG && r != -ENOMEM))
		__builtin_trap();
	if (r == -PETREL_ECONFIG && !err.msg[0])
		__builtin_trap();
	if (r == 0) {
		for (size_t i = 0; i < cfg.ntargets; i++)
			if (!cfg.targets[i].server || !cfg.targets[i].name[0])
				__builtin_trap();
		petrel_config_release(&cfg);
	}
	return 0;
}
