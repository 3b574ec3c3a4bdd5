/* libFuzzer target: the bundle reader (petrel import's tar through libarchive). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "store/bundle.h"

/* What the sink saw of each version's blob. */
struct seen {
	uint64_t bytes[PETREL_BUNDLE_VERSIONS_MAX];
	int begun[PETREL_BUNDLE_VERSIONS_MAX];
};

static int begin(void *ctx, size_t i, const struct petrel_bundle_version *v,
		 struct petrel_err *err)
{
	struct seen *s = ctx;

	(void)err;
	if (i >= PETREL_BUNDLE_VERSIONS_MAX || s->begun[i] || !v->have_meta)
		__builtin_trap();	/* once per version, after its meta.json */
	s->begun[i] = 1;
	return 0;
}

static int write_fn(void *ctx, size_t i, const void *p, size_t n, struct petrel_err *err)
{
	struct seen *s = ctx;

	(void)p, (void)err;
	if (i >= PETREL_BUNDLE_VERSIONS_MAX || !s->begun[i])
		__builtin_trap();
	s->bytes[i] += n;
	return 0;
}

/* Any input is a whole, well-formed bundle or refused as a bundle with a message; an
 * accepted one has every version's meta.json and exactly its announced bytes, and its
 * strings end within their arrays. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct seen s;
	struct petrel_bundle_sink sink = { .begin = begin, .write = write_fn, .ctx = &s,
					   .max_blob = 1 << 20 };
	struct petrel_bundle b;
	int r;

	memset(&s, 0, sizeof(s));
	r = petrel_bundle_read_mem(data, size, "fuzz", &sink, &b, &err);
	if (r != 0 && (r != -PETREL_EBUNDLE || !err.msg[0]))
		__builtin_trap();
	for (size_t i = 0; r == 0 && i < b.nversions; i++) {
		const struct petrel_bundle_version *v = &b.versions[i];

		if (!v->have_meta || !v->have_blob || s.bytes[i] != v->build.size ||
		    strnlen(v->build.filename, sizeof(v->build.filename)) ==
			    sizeof(v->build.filename) || v->nsigs > PETREL_BUNDLE_SIGS_MAX)
			__builtin_trap();
		for (size_t k = 0; k < v->nsigs; k++)
			if (strlen(v->sigs[k].text) != v->sigs[k].len)
				__builtin_trap();
	}
	petrel_bundle_release(&b);
	return 0;
}
