/* The bundle format: the writer's output read back by the reader, in every compression. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/error.h"
#include "common/util.h"
#include "store/bundle.h"

#define UUID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define SIG "untrusted comment: x\nRUQ\ntrusted comment: t\nAAAA\n"

static const char blob[] = "the bytes of one build\n";

/* One version with one signature, as export describes it. */
static void version(struct petrel_bundle_version *v)
{
	memset(v, 0, sizeof(*v));
	strcpy(v->build.job, "hello");
	strcpy(v->build.uuid, UUID);
	strcpy(v->build.platform, "debian-12");
	strcpy(v->build.filename, "hello.hvt");
	memset(v->build.sha256, 0xab, 32);
	v->build.size = sizeof(blob) - 1;
	v->build.finish_time = 1764899100;
	strcpy(v->trust, "signed");
	strcpy(v->keyids, "EE6ABAAFAE25F4C9");
	v->timestamp = 1764899100;
	v->nsigs = 1;
	strcpy(v->sigs[0].name, "EE6ABAAFAE25F4C9");
	v->sigs[0].text = (char *)SIG;
	v->sigs[0].len = strlen(SIG);
}

/* Writes the bundle of that version into a memfd; returns it at offset 0. */
static int write_bundle(enum petrel_bundle_filter f)
{
	struct petrel_bundle_version v;
	struct petrel_bundle b = { 1764900000, 1, &v };
	struct petrel_bundle_writer *w;
	int fd = memfd_create("bundle", 0), src = memfd_create("blob", 0);

	assert_true(fd >= 0 && src >= 0);
	assert_int_equal(write(src, blob, sizeof(blob) - 1), (ssize_t)sizeof(blob) - 1);
	assert_int_equal(lseek(src, 0, SEEK_SET), 0);
	version(&v);
	assert_int_equal(petrel_bundle_writer_open(&w, fd, f, 1764900000, NULL), 0);
	assert_int_equal(petrel_bundle_write_manifest(w, &b, NULL), 0);
	assert_int_equal(petrel_bundle_write_meta(w, &v, NULL), 0);
	assert_int_equal(petrel_bundle_write_blob(w, &v, src, NULL, NULL, NULL), 0);
	assert_int_equal(petrel_bundle_writer_close(w, NULL), 0);
	close(src);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

struct got {
	char bytes[64];
	size_t n;
};

static int got_write(void *ctx, size_t i, const void *p, size_t n, struct petrel_err *err)
{
	struct got *g = ctx;

	(void)err;
	assert_int_equal(i, 0);
	assert_true(g->n + n <= sizeof(g->bytes));
	memcpy(g->bytes + g->n, p, n);
	g->n += n;
	return 0;
}

static void round_trip(void **state)
{
	static const enum petrel_bundle_filter fs[] = {
		PETREL_BUNDLE_NONE, PETREL_BUNDLE_GZIP, PETREL_BUNDLE_XZ, PETREL_BUNDLE_ZSTD,
	};

	(void)state;
	for (size_t k = 0; k < PETREL_ARRAY_SIZE(fs); k++) {
		struct petrel_err err = PETREL_ERR_INIT;
		struct got g = { .n = 0 };
		struct petrel_bundle_sink sink = { .write = got_write, .ctx = &g };
		struct petrel_bundle b;
		int fd = write_bundle(fs[k]);

		assert_int_equal(petrel_bundle_read_fd(fd, "t", &sink, &b, &err), 0);
		assert_int_equal(b.created, 1764900000);
		assert_int_equal(b.nversions, 1);
		assert_string_equal(b.versions[0].build.uuid, UUID);
		assert_string_equal(b.versions[0].build.filename, "hello.hvt");
		assert_string_equal(b.versions[0].build.platform, "debian-12");
		assert_string_equal(b.versions[0].trust, "signed");
		assert_int_equal(b.versions[0].build.finish_time, 1764899100);
		assert_int_equal(b.versions[0].nsigs, 1);
		assert_string_equal(b.versions[0].sigs[0].text, SIG);
		assert_memory_equal(g.bytes, blob, sizeof(blob) - 1);
		assert_int_equal(g.n, sizeof(blob) - 1);
		petrel_bundle_release(&b);
		close(fd);
	}
}

/* A blob larger than max_blob is refused when the manifest announces it. */
static void max_blob(void **state)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct petrel_bundle_sink sink = { .max_blob = 4 };
	struct petrel_bundle b;
	int fd = write_bundle(PETREL_BUNDLE_NONE);

	(void)state;
	assert_int_equal(petrel_bundle_read_fd(fd, "t", &sink, &b, &err), -PETREL_EBUNDLE);
	assert_non_null(strstr(err.msg, "more than max_artifact_size (4)"));
	petrel_bundle_release(&b);
	close(fd);
}

static void filter_names(void **state)
{
	enum petrel_bundle_filter f;

	(void)state;
	assert_int_equal(petrel_bundle_filter_for("a.tar", &f, NULL), 0);
	assert_int_equal(f, PETREL_BUNDLE_NONE);
	assert_int_equal(petrel_bundle_filter_for("/x/a.tar.gz", &f, NULL), 0);
	assert_int_equal(f, PETREL_BUNDLE_GZIP);
	assert_int_equal(petrel_bundle_filter_for("a.tgz", &f, NULL), 0);
	assert_int_equal(f, PETREL_BUNDLE_GZIP);
	assert_int_equal(petrel_bundle_filter_for("a.tar.xz", &f, NULL), 0);
	assert_int_equal(f, PETREL_BUNDLE_XZ);
	assert_int_equal(petrel_bundle_filter_for("a.tar.zst", &f, NULL), 0);
	assert_int_equal(f, PETREL_BUNDLE_ZSTD);
	assert_int_equal(petrel_bundle_filter_for("a.zip", &f, NULL), -PETREL_EUSAGE);
	assert_int_equal(petrel_bundle_filter_for(".tar", &f, NULL), -PETREL_EUSAGE);
	assert_int_equal(petrel_bundle_filter_for("a.tar.bz2", &f, NULL), -PETREL_EUSAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(max_blob),
		cmocka_unit_test(filter_names),
	};

	return cmocka_run_group_tests_name("bundle", tests, NULL, NULL);
}
