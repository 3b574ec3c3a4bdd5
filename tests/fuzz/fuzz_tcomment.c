/* libFuzzer target: the publisher's trusted comment parser and its binding check. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/build.h"
#include "common/error.h"
#include "verify/minisign.h"
#include "verify/policy.h"

/* The build the seed corpus names, so mutations reach the binding comparisons. */
#define FUZZ_JOB "hello"
#define FUZZ_UUID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define FUZZ_FILE "hello.hvt"

static void init_build(struct petrel_build *b)
{
	memset(b, 0, sizeof(*b));
	memcpy(b->job, FUZZ_JOB, sizeof(FUZZ_JOB));
	memcpy(b->uuid, FUZZ_UUID, sizeof(FUZZ_UUID));
	memcpy(b->filename, FUZZ_FILE, sizeof(FUZZ_FILE));
	for (int i = 0; i < 32; i++)
		b->sha256[i] = (uint8_t)(0x11 * (i & 15));
}

/* What parses holds a valid uuid and fields within their arrays (job and file are
 * only compared with the build's, so any bytes may stand there); the binding is a yes
 * or a named refusal. The
 * text is what petrel_sig_parse hands on: at most PETREL_TRUSTED_COMMENT_MAX bytes up
 * to a NUL, so the input is cut there (the copy is exactly as long, for ASan). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct petrel_tcomment tc;
	struct petrel_build b;
	size_t n = size < PETREL_TRUSTED_COMMENT_MAX ? size : PETREL_TRUSTED_COMMENT_MAX;
	char *text = malloc(n + 1);
	int r;

	if (!text)
		return 0;
	memcpy(text, data, n);
	text[n] = '\0';
	r = petrel_tcomment_parse(text, &tc, &err);
	if (r > 0 || (r < 0 && (r != -PETREL_ESIG_FORMAT || !err.msg[0])))
		__builtin_trap();
	if (r == 0 && ((tc.has_job && strnlen(tc.job, sizeof(tc.job)) == sizeof(tc.job)) ||
		       (tc.has_uuid && !petrel_uuid_valid(tc.uuid)) ||
		       (tc.has_file && strnlen(tc.file, sizeof(tc.file)) == sizeof(tc.file))))
		__builtin_trap();
	for (int i = 0; r == 0 && i < 2; i++) {
		struct petrel_err berr = PETREL_ERR_INIT;
		int br;

		init_build(&b);
		br = petrel_tcomment_bind(&tc, &b, i ? PETREL_BIND_LOOSE : PETREL_BIND_STRICT, &berr);
		if (br > 0 || (br < 0 && (br != -PETREL_EBINDING || !berr.msg[0])))
			__builtin_trap();
	}
	free(text);
	return 0;
}
