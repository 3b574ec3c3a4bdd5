/* libFuzzer target: the builder-web job listing parsers (/job/J, JSON). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/build.h"
#include "common/error.h"
#include "fetcher/builderweb.h"

/* The build the seed corpus describes, so mutations reach the field checks. */
#define FUZZ_JOB "hello"
#define FUZZ_UUID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

static void init_build(struct petrel_build *b)
{
	memset(b, 0, sizeof(*b));
	memcpy(b->job, FUZZ_JOB, sizeof(FUZZ_JOB));
	memcpy(b->uuid, FUZZ_UUID, sizeof(FUZZ_UUID));
}

static int valid_entry(const struct petrel_build *b)
{
	return petrel_name_valid(b->filename, PETREL_FILENAME_MAX) && petrel_uuid_valid(b->uuid) &&
	       !strcmp(b->job, FUZZ_JOB);
}

/* The walk's count, and the hash of its first entry (looked up again below). */
struct walk {
	int n;
	uint8_t first[32];
};

/* Every entry handed on is valid; the third one stops the walk, which returns it. */
static int each(void *ctx, const struct petrel_build *b)
{
	struct walk *w = ctx;

	if (!valid_entry(b))
		__builtin_trap();
	if (w->n == 0)
		memcpy(w->first, b->sha256, sizeof(w->first));
	return ++w->n == 3 ? 42 : 0;
}

/* Any answer is accepted or refused with a code the callers know and a message. */
static void check(int r, int also, const struct petrel_err *err)
{
	if (r != 0 && r != -PETREL_EMALFORMED && r != also)
		__builtin_trap();
	if (r == -PETREL_EMALFORMED && !err->msg[0])
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct petrel_err err = PETREL_ERR_INIT;
	struct petrel_build b;
	struct walk w = { 0 };
	int r;

	r = petrel_bw_parse_listing_each(text, size, "fuzz", FUZZ_JOB, each, &w, &err);
	check(r, 42, &err);
	if ((r == 42) != (w.n == 3))
		__builtin_trap();

	init_build(&b);
	err = (struct petrel_err)PETREL_ERR_INIT;
	r = petrel_bw_parse_listing(text, size, "fuzz", &b, &err);
	check(r, -PETREL_ENOTFOUND, &err);
	if (r == 0 && (!petrel_name_valid(b.filename, PETREL_FILENAME_MAX) || strcmp(b.uuid, FUZZ_UUID)))
		__builtin_trap();

	init_build(&b);
	err = (struct petrel_err)PETREL_ERR_INIT;
	r = petrel_bw_listing_find_hash(text, size, "fuzz", w.first, &b, &err);
	check(r, -PETREL_ENOTFOUND, &err);
	if (r == 0 && (!petrel_name_valid(b.filename, PETREL_FILENAME_MAX) ||
		       !petrel_uuid_valid(b.uuid) || memcmp(b.sha256, w.first, 32)))
		__builtin_trap();
	return 0;
}
