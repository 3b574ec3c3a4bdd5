/* libFuzzer target: builder-web job listing, build record and Location parsers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/build.h"
#include "common/error.h"
#include "fetcher/builderweb.h"

/* The err of the calls under test; reset where a test needs a fresh one. */
static struct petrel_err terr;

/* The build the seed corpus describes, so mutations reach the field checks. */
#define FUZZ_JOB "hello"
#define FUZZ_UUID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

static void init_build(struct petrel_build *b)
{
	memset(b, 0, sizeof(*b));
	memcpy(b->job, FUZZ_JOB, sizeof(FUZZ_JOB));
	memcpy(b->uuid, FUZZ_UUID, sizeof(FUZZ_UUID));
}

/* Every parser must refuse or accept any bytes without crashing or overreading, and
 * what it accepts must hold the invariants the callers rely on. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct petrel_build b;
	char job[PETREL_NAME_MAX + 1], uuid[PETREL_UUID_LEN + 1], *loc;
	int r;

	init_build(&b);
	r = petrel_bw_parse_listing((const char *)data, size, "fuzz", &b, &terr);
	if (r != 0 && r != -PETREL_EMALFORMED && r != -PETREL_ENOTFOUND)
		__builtin_trap();
	if (r == 0 && !petrel_name_valid(b.filename, PETREL_FILENAME_MAX))
		__builtin_trap();
	petrel_err_reset(&terr);

	init_build(&b);
	r = petrel_bw_listing_find_hash((const char *)data, size, "fuzz", b.sha256, &b, &terr);
	if (r != 0 && r != -PETREL_EMALFORMED && r != -PETREL_ENOTFOUND)
		__builtin_trap();
	if (r == 0 && (!petrel_name_valid(b.filename, PETREL_FILENAME_MAX) ||
		       strnlen(b.uuid, sizeof(b.uuid)) == sizeof(b.uuid)))
		__builtin_trap();
	petrel_err_reset(&terr);

	init_build(&b);
	r = petrel_bw_parse_record((const char *)data, size, "fuzz", &b, &terr);
	if (r != 0 && r != -PETREL_EMALFORMED)
		__builtin_trap();
	if (r == 0 && (strnlen(b.platform, sizeof(b.platform)) == sizeof(b.platform) ||
		       strnlen(b.solo5_abi, sizeof(b.solo5_abi)) == sizeof(b.solo5_abi) ||
		       strnlen(b.solo5_devices, sizeof(b.solo5_devices)) == sizeof(b.solo5_devices)))
		__builtin_trap();
	petrel_err_reset(&terr);

	loc = malloc(size + 1);
	if (!loc)
		return 0;
	memcpy(loc, data, size);
	loc[size] = '\0';
	for (int i = 0; i < 2; i++) {
		r = petrel_bw_parse_build_path(loc, i ? NULL : FUZZ_JOB, job, uuid);
		if (r != 0 && r != -PETREL_EMALFORMED)
			__builtin_trap();
		if (r == 0 && (!petrel_name_valid(job, PETREL_NAME_MAX) || !petrel_uuid_valid(uuid) ||
			       (i == 0 && strcmp(job, FUZZ_JOB))))
			__builtin_trap();
	}
	petrel_err_reset(&terr);
	free(loc);
	return 0;
}
