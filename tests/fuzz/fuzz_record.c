/* libFuzzer target: the builder-web build record parser (/job/J/build/UUID, JSON). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/build.h"
#include "common/error.h"
#include "fetcher/builderweb.h"

/* The build the seed corpus describes, so mutations reach the field checks. */
#define FUZZ_JOB "hello"
#define FUZZ_UUID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

/* Any answer is accepted or refused as malformed with a message; what is accepted
 * leaves every filled field NUL-terminated within its array and the build's
 * identity untouched. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct petrel_build b;
	int r;

	memset(&b, 0, sizeof(b));
	memcpy(b.job, FUZZ_JOB, sizeof(FUZZ_JOB));
	memcpy(b.uuid, FUZZ_UUID, sizeof(FUZZ_UUID));
	r = petrel_bw_parse_record((const char *)data, size, "fuzz", &b, &err);
	if (r != 0 && (r != -PETREL_EMALFORMED || !err.msg[0]))
		__builtin_trap();
	if (r == 0 && (strnlen(b.platform, sizeof(b.platform)) == sizeof(b.platform) ||
		       strnlen(b.solo5_abi, sizeof(b.solo5_abi)) == sizeof(b.solo5_abi) ||
		       strnlen(b.solo5_devices, sizeof(b.solo5_devices)) == sizeof(b.solo5_devices) ||
		       strcmp(b.job, FUZZ_JOB) || strcmp(b.uuid, FUZZ_UUID)))
		__builtin_trap();
	return 0;
}
