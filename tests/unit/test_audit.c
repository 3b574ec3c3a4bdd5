/* Unit tests for deploy/audit.c: the deployed file, blobs, PATH.petrel-prev, the journal rows. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/util.h"
#include "deploy/audit.h"
#include "deploy/switch.h"
#include "verify/digest.h"

/* The err of the calls under test; reset where a test needs a fresh one. */
static struct petrel_err terr;

#define UUID1 "11111111-2222-3333-4444-555555555555"
#define UUID2 "66666666-7777-8888-9999-aaaaaaaaaaaa"
#define UUID3 "bbbbbbbb-cccc-dddd-eeee-ffffffffffff"
#define ONE "first build\n"
#define TWO "second build\n"
#define BAD "failed build!\n"	/* a third build, of its own size */

struct fixture {
	char dir[64];			/* mkdtemp: the store in it, and the deployed file */
	char prev[PATH_MAX];		/* t.path + ".petrel-prev" */
	struct petrel_config cfg;	/* no server */
	struct petrel_target t;
	struct petrel_engine e;
	struct petrel_audit a;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	memcpy(f->dir, "/tmp/petrel-audit-XXXXXX", sizeof("/tmp/petrel-audit-XXXXXX"));
	assert_non_null(mkdtemp(f->dir));
	petrel_err_reset(&terr);
	assert_int_equal(petrel_store_open(&f->e.store, f->dir, &terr), 0);
	f->e.cfg = &f->cfg;
	assert_int_equal(petrel_strcpy_whole(f->t.name, "hello", sizeof(f->t.name)), 0);
	assert_int_equal(petrel_snprintf(f->t.path, sizeof(f->t.path), "%s/hello.hvt", f->dir), 0);
	assert_int_equal(petrel_snprintf(f->prev, sizeof(f->prev), "%s" PETREL_PREV_SUFFIX,
					 f->t.path), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	petrel_audit_release(&f->a);
	petrel_store_close(&f->e.store);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static void write_file(const char *path, const char *content, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(content, fp) < 0, 0);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* content as a verified version of hello, its blob in the store. */
static void add_version(struct fixture *f, struct petrel_version *v, const char *uuid,
			const char *content)
{
	char tmp[PATH_MAX];
	int fd;

	memset(v, 0, sizeof(*v));
	assert_int_equal(petrel_strcpy_whole(v->target, "hello", sizeof(v->target)), 0);
	assert_int_equal(petrel_strcpy_whole(v->build.job, "hello", sizeof(v->build.job)), 0);
	assert_int_equal(petrel_strcpy_whole(v->build.uuid, uuid, sizeof(v->build.uuid)), 0);
	assert_int_equal(petrel_sha256(content, strlen(content), v->build.sha256), 0);
	v->build.size = strlen(content);
	v->timestamp = v->verified_at = 1700000000;
	assert_int_equal(petrel_store_add_version(&f->e.store, v, &terr), 0);
	assert_int_equal(petrel_store_tmpfile(&f->e.store, &fd, tmp, sizeof(tmp)), 0);
	assert_int_equal(petrel_write_all(fd, content, strlen(content)), 0);
	assert_int_equal(petrel_store_commit_blob(&f->e.store, fd, tmp, v->build.sha256, &terr), 0);
}

/* Records v as the next generation, as an upgrade does; failed: as one that failed. */
static void deploy(struct fixture *f, const struct petrel_version *v, int failed)
{
	struct petrel_intent in;
	int64_t cur, prev;

	assert_int_equal(petrel_store_pointers(&f->e.store, "hello", &cur, &prev, &terr), 0);
	memset(&in, 0, sizeof(in));
	assert_int_equal(petrel_strcpy_whole(in.target, "hello", sizeof(in.target)), 0);
	assert_int_equal(petrel_strcpy_whole(in.op, "upgrade", sizeof(in.op)), 0);
	assert_int_equal(petrel_strcpy_whole(in.path, f->t.path, sizeof(in.path)), 0);
	in.from_gen = cur;
	in.from_prev = prev;
	memcpy(in.to_sha256, v->build.sha256, 32);
	in.to_size = v->build.size;
	assert_int_equal(petrel_store_intent_begin(&f->e.store, &in, v->id, &terr), 0);
	if (failed) {
		assert_int_equal(petrel_store_intent_undo(&f->e.store, &in, "failed", "deploy-failed",
							  "test", 1, &terr), 0);
		return;
	}
	assert_int_equal(petrel_store_intent_switched(&f->e.store, &in, &terr), 0);
	assert_int_equal(petrel_store_intent_done(&f->e.store, &in, "deploy", "test", &terr), 0);
}

/* Audits hello (offline) and returns its number of findings. */
static size_t audit(struct fixture *f, int rehash)
{
	struct petrel_audit_opts o = { .online = 0, .rehash = rehash };

	petrel_audit_release(&f->a);
	assert_int_equal(petrel_audit_target(&f->e, &f->t, &o, &f->a, &terr), 0);
	assert_null(f->a.servers);
	return f->a.n;
}

/* 1 when finding k of the last audit holds want. */
static int says(const struct fixture *f, size_t k, const char *want)
{
	return k < f->a.n && strstr(f->a.findings[k], want) != NULL;
}

/* ONE deployed as generation 1 and TWO as generation 2 at t.path, ONE in PATH.petrel-prev. */
static void two_generations(struct fixture *f)
{
	struct petrel_version one, two;

	add_version(f, &one, UUID1, ONE);
	add_version(f, &two, UUID2, TWO);
	deploy(f, &one, 0);
	deploy(f, &two, 0);
	write_file(f->t.path, TWO, 0755);
	write_file(f->prev, ONE, 0755);
}

/* ---- the tests ---- */

static void test_nothing_deployed(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(audit(f, 1), 0);
	assert_int_equal(f->a.cur.number, 0);
	assert_ptr_equal(f->a.t, &f->t);
}

static void test_all_as_recorded(void **state)
{
	struct fixture *f = *state;

	two_generations(f);
	assert_int_equal(audit(f, 1), 0);
	assert_int_equal(f->a.cur.number, 2);
	assert_int_equal(f->a.prev.number, 1);
	assert_int_equal(audit(f, 0), 0);
	unlink(f->prev);	/* no PATH.petrel-prev: nothing to say */
	assert_int_equal(audit(f, 1), 0);
}

static void test_deployed_file(void **state)
{
	struct fixture *f = *state;

	two_generations(f);
	write_file(f->t.path, "second build?", 0755);	/* same size, other bytes */
	assert_int_equal(audit(f, 0), 0);		/* quick: the size matches */
	assert_int_equal(audit(f, 1), 1);
	assert_true(says(f, 0, "hello.hvt: sha256 "));
	assert_true(says(f, 0, ", current generation records "));
	write_file(f->t.path, TWO, 0644);
	assert_int_equal(audit(f, 0), 1);
	assert_true(says(f, 0, "hello.hvt: mode 0644, petrel deploys it as 0755"));
	write_file(f->t.path, "x", 0755);
	assert_int_equal(audit(f, 0), 1);
	assert_true(says(f, 0, "hello.hvt: 1 bytes, current generation records 13 (sha256 "));
	unlink(f->t.path);
	assert_int_equal(audit(f, 0), 1);
	assert_true(says(f, 0, "hello.hvt: missing (current generation records sha256 "));
	assert_int_equal(mkdir(f->t.path, 0755), 0);
	assert_int_equal(audit(f, 0), 1);
	assert_true(says(f, 0, "hello.hvt: not a regular file (current generation records"));
	assert_int_equal(rmdir(f->t.path), 0);
}

static void test_blob(void **state)
{
	struct fixture *f = *state;
	char blob[PATH_MAX];

	two_generations(f);
	assert_int_equal(audit(f, 1), 0);
	assert_int_equal(petrel_store_blob_path(&f->e.store, f->a.prev.version.build.sha256,
						blob, sizeof(blob)), 0);
	assert_int_equal(unlink(blob), 0);
	assert_int_equal(audit(f, 0), 1);
	assert_true(says(f, 0, ": missing (previous generation 1 (" UUID1 ") records sha256 "));
	assert_true(says(f, 0, blob));
}

static void test_prev(void **state)
{
	struct fixture *f = *state;
	struct petrel_version bad;

	two_generations(f);
	write_file(f->prev, "first build?", 0755);	/* same size, other bytes */
	assert_int_equal(audit(f, 0), 0);
	assert_int_equal(audit(f, 1), 1);
	assert_true(says(f, 0, PETREL_PREV_SUFFIX ": sha256 "));
	assert_true(says(f, 0, ", previous generation 1 (" UUID1 ") records "));
	/* a failed switch's build, put back from: what it left there is expected */
	add_version(f, &bad, UUID3, BAD);
	deploy(f, &bad, 1);
	write_file(f->prev, BAD, 0755);
	assert_int_equal(audit(f, 1), 0);
	assert_int_equal(audit(f, 0), 0);
	write_file(f->prev, "failed build?\n", 0755);	/* its size, not its bytes */
	assert_int_equal(audit(f, 0), 0);
	assert_int_equal(audit(f, 1), 1);
	unlink(f->prev);
	assert_int_equal(symlink(f->t.path, f->prev), 0);
	assert_int_equal(audit(f, 0), 1);
	assert_true(says(f, 0, PETREL_PREV_SUFFIX ": not a regular file (previous generation 1"));
}

static int audit_rows(void *ctx, const struct petrel_journal_row *row)
{
	char (*summary)[1024] = ctx;

	if (!strcmp(row->event, "audit"))
		assert_int_equal(petrel_strcpy_whole(*summary, row->detail, sizeof(*summary)), 0);
	if (!strcmp(row->event, "audit-finding"))
		assert_string_equal(row->target, "hello");
	return 0;
}

static void test_all_journaled(void **state)
{
	struct fixture *f = *state;
	const struct petrel_target *ts[] = { &f->t, &f->t };
	struct petrel_audit_opts o = { .online = 0, .rehash = 0 };
	struct petrel_audit_report rep;
	char summary[1024] = "";

	two_generations(f);
	write_file(f->t.path, TWO, 0600);
	assert_int_equal(petrel_audit_all(&f->e, ts, 2, &o, &rep, &terr), 0);
	assert_int_equal(rep.n, 2);
	assert_int_equal(rep.nfindings, 2);
	assert_int_equal(rep.journal.first_broken, 0);
	assert_true(rep.journal.rows > 0);
	petrel_audit_report_release(&rep);
	assert_null(rep.targets);
	assert_int_equal(petrel_store_journal_each(&f->e.store, NULL, audit_rows, &summary,
						   &terr), 0);
	assert_string_equal(summary, "targets=2 findings=2 journal=ok quick");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nothing_deployed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_as_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deployed_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_journaled, setup, teardown),
	};

	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
