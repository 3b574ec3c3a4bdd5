/* libFuzzer target: the builder-web Location parser (/job/J/build/UUID[/], or a URL). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/build.h"
#include "common/error.h"
#include "fetcher/builderweb.h"

#define FUZZ_JOB "hello"

/* A Location header's value reaches the parser as a C string (curl cuts it at the
 * line's end): the copy is exactly as long, so ASan sees any read past its NUL. What
 * is accepted names a valid job (the wanted one, when one is wanted) and uuid. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char job[PETREL_NAME_MAX + 1], uuid[PETREL_UUID_LEN + 1];
	char *loc = malloc(size + 1);

	if (!loc)
		return 0;
	memcpy(loc, data, size);
	loc[size] = '\0';
	for (int i = 0; i < 2; i++) {
		int r = petrel_bw_parse_build_path(loc, i ? NULL : FUZZ_JOB, job, uuid);

		if (r != 0 && r != -PETREL_EMALFORMED)
			__builtin_trap();
		if (r == 0 && (!petrel_name_valid(job, PETREL_NAME_MAX) || !petrel_uuid_valid(uuid) ||
			       (i == 0 && strcmp(job, FUZZ_JOB))))
			__builtin_trap();
	}
	free(loc);
	return 0;
}
