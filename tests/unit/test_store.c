/* Unit tests for store/: layout, schema, versions, journal chain, blobs, fsck. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sqlite3.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/util.h"
#include "store/internal.h"
#include "store/store.h"
#include "verify/digest.h"

/* The err of the calls under test; reset where a test needs a fresh one. */
static struct petrel_err terr;

struct fixture {
	char dir[64];		/* mkdtemp state directory */
	struct petrel_store s;
	char findings[16][1024];
	int nfindings;
};

static struct petrel_sysops real_sys;
static int fsync_calls, fsync_fail_at;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	memcpy(f->dir, "/tmp/petrel-store-XXXXXX", sizeof("/tmp/petrel-store-XXXXXX"));
	assert_non_null(mkdtemp(f->dir));
	petrel_err_reset(&terr);
	assert_int_equal(petrel_store_open(&f->s, f->dir, &terr), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	petrel_sys = real_sys;
	petrel_store_close(&f->s);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static void path_in(const struct fixture *f, const char *rel, char *out, size_t n)
{
	assert_int_equal(petrel_snprintf(out, n, "%s/%s", f->dir, rel), 0);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int count_entries(const struct fixture *f, const char *rel)
{
	char path[PATH_MAX];
	int n = -2;	/* . and .. */
	struct dirent *e;
	DIR *d;

	path_in(f, rel, path, sizeof(path));
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n++;
	closedir(d);
	return n;
}

static int64_t query_int(struct sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void make_version(struct petrel_version *v, const char *target, const char *uuid,
			 const char *content, int64_t ts)
{
	memset(v, 0, sizeof(*v));
	assert_int_equal(petrel_strcpy_whole(v->target, target, sizeof(v->target)), 0);
	assert_int_equal(petrel_strcpy_whole(v->build.job, "hello", sizeof(v->build.job)), 0);
	assert_int_equal(petrel_strcpy_whole(v->build.uuid, uuid, sizeof(v->build.uuid)), 0);
	assert_int_equal(petrel_strcpy_whole(v->build.platform, "debian-12", 16), 0);
	assert_int_equal(petrel_strcpy_whole(v->build.filename, "hello.hvt", 16), 0);
	assert_int_equal(petrel_sha256(content, strlen(content), v->build.sha256), 0);
	v->build.size = strlen(content);
	v->build.start_time = ts - 60;
	v->build.finish_time = ts;
	assert_int_equal(petrel_strcpy_whole(v->trust, "signed", sizeof(v->trust)), 0);
	assert_int_equal(petrel_strcpy_whole(v->keyids, "a1b2c3d4e5f60718", sizeof(v->keyids)), 0);
	assert_int_equal(petrel_strcpy_whole(v->trusted_comment, "job=hello", 16), 0);
	v->timestamp = ts;
	v->verified_at = ts + 5;
	assert_int_equal(petrel_strcpy_whole(v->url, "https://b.example/hello.hvt", 64), 0);
}

#define UUID1 "11111111-2222-3333-4444-555555555555"
#define UUID2 "66666666-7777-8888-9999-aaaaaaaaaaaa"
#define UUID3 "bbbbbbbb-cccc-dddd-eeee-ffffffffffff"

/* Writes content to a fresh temp file and commits it as a blob; returns the commit result. */
static int store_blob(struct fixture *f, const char *content, uint8_t sha[32], char *tmp,
		      size_t n)
{
	int fd;

	assert_int_equal(petrel_sha256(content, strlen(content), sha), 0);
	assert_int_equal(petrel_store_tmpfile(&f->s, &fd, tmp, n), 0);
	assert_int_equal(petrel_write_all(fd, content, strlen(content)), 0);
	return petrel_store_commit_blob(&f->s, fd, tmp, sha, &terr);
}

static void collect(void *ctx, const char *finding)
{
	struct fixture *f = ctx;

	assert_null(strchr(finding, '\n'));
	if (f->nfindings < 16)
		assert_int_equal(petrel_strcpy_whole(f->findings[f->nfindings], finding, 1024), 0);
	f->nfindings++;
}

static int fsck(struct fixture *f)
{
	f->nfindings = 0;
	return petrel_store_fsck(&f->s, collect, f, &terr);
}

static int failing_fsync(int fd)
{
	(void)fd;
	errno = EIO;
	return -1;
}

/* Fails the fsync_fail_at-th fsync, passes the others to the real one. */
static int counting_fsync(int fd)
{
	if (++fsync_calls == fsync_fail_at) {
		errno = EIO;
		return -1;
	}
	return real_sys.fsync(fd);
}

static int failing_rename(const char *from, const char *to)
{
	(void)from, (void)to;
	errno = EIO;
	return -1;
}

/* ---- layout and schema ---- */

static void test_open_creates_layout(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];

	path_in(f, "objects/sha256", p, sizeof(p));
	assert_int_equal(mode_of(p), 0755);
	path_in(f, "tmp", p, sizeof(p));
	assert_int_equal(mode_of(p), 0700);
	path_in(f, "petrel.db", p, sizeof(p));
	assert_true(exists(p));
	assert_int_equal(query_int(f->s.db, "PRAGMA user_version"), PETREL_SCHEMA_VERSION);
	assert_int_equal(query_int(f->s.db, "PRAGMA foreign_keys"), 1);
	assert_int_equal(query_int(f->s.db, "PRAGMA synchronous"), 2);
	assert_int_equal(query_int(f->s.db, "SELECT count(*) FROM pragma_journal_mode"
				   " WHERE journal_mode = 'wal'"), 1);
	assert_int_equal(query_int(f->s.db, "SELECT count(*) FROM sqlite_schema WHERE name IN"
				   " ('targets', 'versions', 'journal')"), 3);
}

static void test_open_creates_missing_parents(void **state)
{
	struct fixture *f = *state;
	struct petrel_store s2;
	char p[PATH_MAX], q[PATH_MAX];

	path_in(f, "a/b/state", p, sizeof(p));
	assert_int_equal(petrel_store_open(&s2, p, &terr), 0);
	assert_string_equal(s2.dir, p);
	assert_int_equal(petrel_snprintf(q, sizeof(q), "%s/tmp", p), 0);
	assert_int_equal(mode_of(q), 0700);
	petrel_store_close(&s2);
}

static void test_reopen_idempotent(void **state)
{
	struct fixture *f = *state;
	struct petrel_version v, got;
	char tmp[PATH_MAX];
	uint8_t sha[32];

	make_version(&v, "web", UUID1, "one", 1000);
	assert_int_equal(store_blob(f, "one", sha, tmp, sizeof(tmp)), 0);
	assert_int_equal(petrel_store_add_version(&f->s, &v, &terr), 0);
	petrel_store_close(&f->s);
	assert_int_equal(petrel_store_open(&f->s, f->dir, &terr), 0);
	petrel_store_close(&f->s);
	assert_int_equal(petrel_store_open(&f->s, f->dir, &terr), 0);
	assert_int_equal(query_int(f->s.db, "PRAGMA user_version"), PETREL_SCHEMA_VERSION);
	assert_int_equal(petrel_store_count_versions(&f->s, "web", &terr), 1);
	assert_int_equal(petrel_store_newest_version(&f->s, "web", &got, &terr), 0);
	assert_int_equal(got.id, v.id);
	assert_int_equal(fsck(f), 0);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	char msg[128];

	assert_int_equal(sqlite3_exec(f->s.db, "PRAGMA user_version = 99", NULL, NULL, NULL),
			 SQLITE_OK);
	petrel_store_close(&f->s);
	petrel_err_reset(&terr);
	assert_int_equal(petrel_store_open(&f->s, f->dir, &terr), -PETREL_EDB);
	assert_null(f->s.db);
	assert_int_equal(petrel_snprintf(msg, sizeof(msg), "petrel.db has schema version 99,"
					 " this petrel knows up to %d", PETREL_SCHEMA_VERSION), 0);
	assert_string_equal(terr.msg, msg);
}

static void test_garbage_db_is_edb(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX], wal[PATH_MAX + 8];

	petrel_store_close(&f->s);
	path_in(f, "petrel.db", p, sizeof(p));
	assert_int_equal(petrel_snprintf(wal, sizeof(wal), "%s-wal", p), 0);
	unlink(wal);
	assert_int_equal(petrel_atomic_write(p, "this is not a database, not at all......",
					     40, 0644), 0);
	petrel_err_reset(&terr);
	assert_int_equal(petrel_store_open(&f->s, f->dir, &terr), -PETREL_EDB);
	assert_non_null(strstr(terr.msg, "database: "));
}

/* ---- versions ---- */

/* ---- the signatures a version was accepted with ---- */

struct sig_seen {
	char keyids[4][17];
	char texts[4][64];
	int n;
};

static int see_sig(void *ctx, const struct petrel_stored_sig *sig)
{
	struct sig_seen *seen = ctx;

	assert_true(seen->n < 4 && sig->len < sizeof(seen->texts[0]));
	memcpy(seen->keyids[seen->n], sig->keyid, sizeof(seen->keyids[0]));
	memcpy(seen->texts[seen->n], sig->text, sig->len);
	seen->texts[seen->n][sig->len] = '\0';
	seen->n++;
	return 0;
}

static void test_signatures_kept(void **state)
{
	struct fixture *f = *state;
	struct petrel_version a, b, got;
#define SIG(keyid, text) { keyid, text, sizeof(text) - 1 }
	const struct petrel_stored_sig sigs[] = {
		SIG("B000000000000002", "untrusted comment: b\nsecond"),
		SIG("A000000000000001", "untrusted comment: a\nfirst"),
		SIG("A000000000000001", "another text by the same key"),
	};
#undef SIG
	struct petrel_stored_sig big = { "C000000000000003", NULL, PETREL_STORED_SIG_MAX + 1 };
	struct sig_seen seen = { 0 };
	static char huge[PETREL_STORED_SIG_MAX + 1];

	make_version(&a, "web", UUID1, "one", 1000);
	memset(a.blake2b, 'e', 128);
	assert_int_equal(petrel_store_add_version_signed(&f->s, &a, sigs, 3, &terr), 0);
	assert_int_equal(petrel_store_count_signatures(&f->s, a.id, &terr), 2);
	assert_int_equal(petrel_store_signatures(&f->s, a.id, see_sig, &seen, &terr), 0);
	assert_int_equal(seen.n, 2);	/* by key id; the first text of a key is kept */
	assert_string_equal(seen.keyids[0], "A000000000000001");
	assert_string_equal(seen.texts[0], "untrusted comment: a\nfirst");
	assert_string_equal(seen.keyids[1], "B000000000000002");
	assert_string_equal(seen.texts[1], "untrusted comment: b\nsecond");
	assert_int_equal(petrel_store_version_by_id(&f->s, a.id, &got, &terr), 0);
	assert_string_equal(got.blake2b, a.blake2b);

	/* a text over the limit: nothing of the version is stored */
	memset(huge, 'x', sizeof(huge));
	big.text = huge;
	make_version(&b, "web", UUID2, "two", 2000);
	petrel_err_reset(&terr);
	assert_int_equal(petrel_store_add_version_signed(&f->s, &b, &big, 1, &terr), -PETREL_EDB);
	assert_int_equal(petrel_store_count_versions(&f->s, "web", &terr), 1);
	/* a version stored without signatures has none (an older petrel's) */
	assert_int_equal(petrel_store_add_version(&f->s, &b, &terr), 0);
	assert_int_equal(petrel_store_count_signatures(&f->s, b.id, &terr), 0);
	assert_int_equal(petrel_store_version_by_id(&f->s, b.id, &got, &terr), 0);
	assert_string_equal(got.blake2b, "");
}

static void test_versions_queries(void **state)
{
	struct fixture *f = *state;
	struct petrel_version a, b, got;
	int64_t hw;

	assert_int_equal(petrel_store_newest_version(&f->s, "web", &got, &terr), -PETREL_ENOTFOUND);
	assert_int_equal(petrel_store_count_versions(&f->s, "web", &terr), 0);
	assert_int_equal(petrel_store_high_water(&f->s, "web", &hw, &terr), 0);
	assert_int_equal(hw, 0);

	make_version(&a, "web", UUID1, "one", 1000);
	make_version(&b, "web", UUID2, "two", 2000);
	assert_int_equal(petrel_store_add_version(&f->s, &a, &terr), 0);
	assert_int_equal(petrel_store_add_version(&f->s, &b, &terr), 0);
	assert_true(a.id > 0 && b.id > a.id);

	assert_int_equal(petrel_store_newest_version(&f->s, "web", &got, &terr), 0);
	assert_int_equal(got.id, b.id);
	assert_string_equal(got.build.uuid, UUID2);
	assert_memory_equal(got.build.sha256, b.build.sha256, 32);
	assert_int_equal(got.build.size, 3);
	assert_int_equal(got.build.start_time, 1940);
	assert_int_equal(got.build.finish_time, 2000);
	assert_string_equal(got.build.job, "hello");
	assert_string_equal(got.build.platform, "debian-12");
	assert_string_equal(got.build.filename, "hello.hvt");
	assert_string_equal(got.trust, "signed");
	assert_string_equal(got.keyids, "a1b2c3d4e5f60718");
	assert_string_equal(got.trusted_comment, "job=hello");
	assert_int_equal(got.timestamp, 2000);
	assert_int_equal(got.verified_at, 2005);
	assert_string_equal(got.url, "https://b.example/hello.hvt");
	assert_string_equal(got.target, "web");

	assert_int_equal(petrel_store_find_version(&f->s, "web", a.build.sha256, &got, &terr), 0);
	assert_int_equal(got.id, a.id);
	assert_string_equal(got.build.uuid, UUID1);
	assert_int_equal(petrel_store_find_version(&f->s, "other", a.build.sha256, &got, &terr),
			 -PETREL_ENOTFOUND);
	assert_int_equal(petrel_store_count_versions(&f->s, "web", &terr), 2);
	assert_int_equal(petrel_store_count_versions(&f->s, "other", &terr), 0);
	assert_int_equal(petrel_store_high_water(&f->s, "web", &hw, &terr), 0);
	assert_int_equal(hw, 2000);
	/* one "fetch" journal row per add */
	assert_int_equal(query_int(f->s.db, "SELECT count(*) FROM journal WHERE event = 'fetch'"
				   " AND target = 'web'"), 2);
}

static void test_high_water_only_rises(void **state)
{
	struct fixture *f = *state;
	struct petrel_version a, b, got;
	int64_t hw;

	make_version(&a, "web", UUID1, "new", 5000);
	make_version(&b, "web", UUID2, "old", 3000);
	assert_int_equal(petrel_store_add_version(&f->s, &a, &terr), 0);
	assert_int_equal(petrel_store_add_version(&f->s, &b, &terr), 0);
	assert_int_equal(petrel_store_high_water(&f->s, "web", &hw, &terr), 0);
	assert_int_equal(hw, 5000);
	/* newest is by timestamp, not by insertion order */
	assert_int_equal(petrel_store_newest_version(&f->s, "web", &got, &terr), 0);
	assert_int_equal(got.id, a.id);
	/* per target */
	make_version(&b, "db", UUID3, "other", 100);
	assert_int_equal(petrel_store_add_version(&f->s, &b, &terr), 0);
	assert_int_equal(petrel_store_high_water(&f->s, "db", &hw, &terr), 0);
	assert_int_equal(hw, 100);
	assert_int_equal(petrel_store_high_water(&f->s, "web", &hw, &terr), 0);
	assert_int_equal(hw, 5000);
}

static void test_newest_tie_highest_id(void **state)
{
	struct fixture *f = *state;
	struct petrel_version a, b, got;

	make_version(&a, "web", UUID1, "a", 7000);
	make_version(&b, "web", UUID2, "b", 7000);
	assert_int_equal(petrel_store_add_version(&f->s, &a, &terr), 0);
	assert_int_equal(petrel_store_add_version(&f->s, &b, &terr), 0);
	assert_int_equal(petrel_store_newest_version(&f->s, "web", &got, &terr), 0);
	assert_int_equal(got.id, b.id);
}

static void test_duplicate_add_keeps_one_row(void **state)
{
	struct fixture *f = *state;
	struct petrel_version a, again;

	make_version(&a, "web", UUID1, "one", 1000);
	assert_int_equal(petrel_store_add_version(&f->s, &a, &terr), 0);
	make_version(&again, "web", UUID1, "one", 1000);
	again.verified_at = 9999;
	assert_int_equal(petrel_store_add_version(&f->s, &again, &terr), 0);
	assert_int_equal(again.id, a.id);
	assert_int_equal(petrel_store_count_versions(&f->s, "web", &terr), 1);
	/* same build under another target is another row */
	make_version(&again, "web2", UUID1, "one", 1000);
	assert_int_equal(petrel_store_add_version(&f->s, &again, &terr), 0);
	assert_int_not_equal(again.id, a.id);
	assert_int_equal(petrel_store_count_versions(&f->s, "web", &terr), 1);
	assert_int_equal(petrel_store_count_versions(&f->s, "web2", &terr), 1);
}

/* ---- blobs ---- */

static void test_blob_path(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX], want[PATH_MAX], small[16];
	uint8_t sha[32];

	assert_int_equal(petrel_sha256("abc", 3, sha), 0);
	assert_int_equal(petrel_store_blob_path(&f->s, sha, p, sizeof(p)), 0);
	assert_int_equal(petrel_snprintf(want, sizeof(want), "%s/objects/sha256/ba/%s", f->dir,
			 "7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), 0);
	assert_string_equal(p, want);
	assert_true(petrel_store_blob_path(&f->s, sha, small, sizeof(small)) < 0);
	assert_int_equal(petrel_store_has_blob(&f->s, sha, &terr), 0);
}

static void test_tmpfile_commit_blob(void **state)
{
	struct fixture *f = *state;
	char tmp[PATH_MAX], blob[PATH_MAX], *data = NULL;
	uint8_t sha[32];
	size_t len;

	assert_int_equal(store_blob(f, "hello, blob", sha, tmp, sizeof(tmp)), 0);
	assert_non_null(strstr(tmp, "/tmp/dl-"));
	assert_false(exists(tmp));
	assert_int_equal(petrel_store_blob_path(&f->s, sha, blob, sizeof(blob)), 0);
	assert_int_equal(mode_of(blob), 0444);
	assert_int_equal(petrel_read_file(blob, 100, &data, &len), 0);
	assert_int_equal(len, 11);
	assert_memory_equal(data, "hello, blob", 11);
	free(data);
	assert_int_equal(petrel_store_has_blob(&f->s, sha, &terr), 1);
	assert_int_equal(count_entries(f, "tmp"), 0);
	assert_int_equal(fsck(f), 0);
}

static void test_tmpfile_mode_and_unique(void **state)
{
	struct fixture *f = *state;
	char a[PATH_MAX], b[PATH_MAX], small[8];
	int fa, fb;

	assert_int_equal(petrel_store_tmpfile(&f->s, &fa, a, sizeof(a)), 0);
	assert_int_equal(petrel_store_tmpfile(&f->s, &fb, b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(mode_of(a), 0600);
	assert_true(fcntl(fa, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(petrel_close(fa), 0);
	assert_int_equal(petrel_close(fb), 0);
	assert_true(petrel_store_tmpfile(&f->s, &fa, small, sizeof(small)) < 0);
}

static void test_commit_existing_blob_removes_tmp(void **state)
{
	struct fixture *f = *state;
	char tmp[PATH_MAX], tmp2[PATH_MAX];
	uint8_t sha[32];

	assert_int_equal(store_blob(f, "same bytes", sha, tmp, sizeof(tmp)), 0);
	assert_int_equal(store_blob(f, "same bytes", sha, tmp2, sizeof(tmp2)), 0);
	assert_false(exists(tmp2));
	assert_int_equal(count_entries(f, "tmp"), 0);
	assert_int_equal(petrel_store_has_blob(&f->s, sha, &terr), 1);
	assert_int_equal(count_entries(f, "objects/sha256"), 1);
}

/* After a failed commit: no blob for sha, tmp/ empty, the error returned. */
static void assert_nothing_left(struct fixture *f, const uint8_t sha[32], const char *tmp)
{
	petrel_sys = real_sys;
	assert_false(exists(tmp));
	assert_int_equal(petrel_store_has_blob(&f->s, sha, &terr), 0);
	assert_int_equal(count_entries(f, "tmp"), 0);
}

static void test_fsync_failure_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	char tmp[PATH_MAX];
	uint8_t sha[32];

	petrel_sys.fsync = failing_fsync;
	assert_int_equal(store_blob(f, "doomed", sha, tmp, sizeof(tmp)), -EIO);
	assert_nothing_left(f, sha, tmp);
}

/* Fails each fsync of the commit in turn (file, objects/sha256, XX dir). */
static void test_every_fsync_failure_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	char tmp[PATH_MAX];
	uint8_t sha[32];
	int n;

	for (n = 1; n <= 3; n++) {
		fsync_calls = 0;
		fsync_fail_at = n;
		petrel_sys.fsync = counting_fsync;
		assert_int_equal(store_blob(f, "doomed", sha, tmp, sizeof(tmp)), -EIO);
		assert_true(fsync_calls >= n);
		assert_nothing_left(f, sha, tmp);
	}
	/* and the fourth attempt, with no fault, succeeds */
	fsync_calls = 0;
	fsync_fail_at = 0;
	petrel_sys.fsync = counting_fsync;
	assert_int_equal(store_blob(f, "doomed", sha, tmp, sizeof(tmp)), 0);
	petrel_sys = real_sys;
	assert_int_equal(petrel_store_has_blob(&f->s, sha, &terr), 1);
}

static void test_rename_failure_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	char tmp[PATH_MAX];
	uint8_t sha[32];

	petrel_sys.rename = failing_rename;
	petrel_err_reset(&terr);
	assert_int_equal(store_blob(f, "doomed", sha, tmp, sizeof(tmp)), -EIO);
	assert_non_null(strstr(terr.msg, "cannot store blob"));
	assert_nothing_left(f, sha, tmp);
}

/* ---- journal and fsck ---- */

static void test_journal_chain_and_tamper(void **state)
{
	struct fixture *f = *state;
	struct petrel_version v;
	char tmp[PATH_MAX];
	uint8_t sha[32];
	int64_t id;

	make_version(&v, "web", UUID1, "one", 1000);
	assert_int_equal(store_blob(f, "one", sha, tmp, sizeof(tmp)), 0);
	assert_int_equal(petrel_store_add_version(&f->s, &v, &terr), 0);
	assert_int_equal(petrel_store_journal(&f->s, "web", "deploy", "generation 1", &terr), 0);
	assert_int_equal(petrel_store_journal(&f->s, NULL, "note", NULL, &terr), 0);
	assert_int_equal(petrel_store_journal(&f->s, "web", "rollback", "to generation 0", &terr), 0);
	assert_int_equal(query_int(f->s.db, "SELECT count(*) FROM journal"), 4);
	assert_int_equal(query_int(f->s.db, "SELECT count(*) FROM journal WHERE id = 1 AND prev ="
				   " '0000000000000000000000000000000000000000000000000000000000000000'"),
			 1);
	assert_int_equal(query_int(f->s.db, "SELECT count(*) FROM journal j JOIN journal p"
				   " ON p.id = j.id - 1 WHERE j.prev = p.hash"), 3);
	assert_int_equal(fsck(f), 0);

	id = query_int(f->s.db, "SELECT id FROM journal WHERE event = 'deploy'");
	assert_int_equal(sqlite3_exec(f->s.db, "UPDATE journal SET detail = 'generation 2'"
				      " WHERE event = 'deploy'", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(fsck(f), 1);
	assert_non_null(strstr(f->findings[0], "journal chain broken at row"));
	assert_int_equal(strtoll(strstr(f->findings[0], "at row ") + 7, NULL, 10), id);
}

static int unlink_anchor(struct fixture *f)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/journal.head", f->s.dir);
	return unlink(path);
}

static void test_journal_deleted_row_found(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(petrel_store_journal(&f->s, "web", "a", "1", &terr), 0);
	assert_int_equal(petrel_store_journal(&f->s, "web", "b", "2", &terr), 0);
	assert_int_equal(petrel_store_journal(&f->s, "web", "c", "3", &terr), 0);
	assert_int_equal(sqlite3_exec(f->s.db, "DELETE FROM journal WHERE event = 'b'",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(fsck(f), 1);
	assert_string_equal(f->findings[0], "petrel.db: journal chain broken at row 3: row 3 was "
			    "edited, or a row before it deleted or reordered");
	/* the whole journal and its head deleted: the anchor outside the database shows
	 * it, and is not moved on by later rows */
	assert_int_equal(sqlite3_exec(f->s.db, "DELETE FROM journal; DELETE FROM journal_head",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(fsck(f), 1);
	assert_string_equal(f->findings[0], "petrel.db: journal chain broken at row 1: rows 1 "
			    "to 3, the last ones, are missing (journal.head records row 3)");
	assert_int_equal(petrel_store_journal(&f->s, "web", "a", "new 1", &terr), 0);
	assert_int_equal(petrel_store_journal(&f->s, "web", "b", "new 2", &terr), 0);
	assert_int_equal(fsck(f), 1);
	assert_string_equal(f->findings[0], "petrel.db: journal chain broken at row 3: row 3, "
			    "the last one, is missing (journal.head records it)");
	assert_int_equal(petrel_store_journal(&f->s, "web", "c", "new 3", &terr), 0);
	assert_int_equal(fsck(f), 1);
	assert_string_equal(f->findings[0], "petrel.db: journal chain broken at row 3: row 3 "
			    "differs from the one journal.head records");
	/* an operator who restored the database removes the anchor: the next row writes it */
	assert_int_equal(unlink_anchor(f), 0);
	assert_int_equal(fsck(f), 0);
	/* the last row deleted: the recorded head shows it */
	assert_int_equal(sqlite3_exec(f->s.db, "DELETE FROM journal WHERE id = 3",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(fsck(f), 1);
	assert_string_equal(f->findings[0], "petrel.db: journal chain broken at row 3: row 3, the "
			    "last one, is missing (the journal's head records it)");
}

static void test_journal_bad_event_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(petrel_store_journal(&f->s, "web", "", "x", &terr), -PETREL_EDB);
	assert_int_equal(query_int(f->s.db, "SELECT count(*) FROM journal"), 0);
}

static void test_corrupted_blob_found(void **state)
{
	struct fixture *f = *state;
	char tmp[PATH_MAX], blob[PATH_MAX], hex[65], want[256];
	uint8_t sha[32];
	int fd;

	assert_int_equal(store_blob(f, "precious bytes", sha, tmp, sizeof(tmp)), 0);
	assert_int_equal(fsck(f), 0);
	assert_int_equal(petrel_store_blob_path(&f->s, sha, blob, sizeof(blob)), 0);
	assert_int_equal(chmod(blob, 0644), 0);
	fd = open(blob, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "P", 1, 0), 1);
	assert_int_equal(petrel_close(fd), 0);
	assert_int_equal(fsck(f), 1);
	petrel_hex(sha, 32, hex);
	assert_int_equal(petrel_snprintf(want, sizeof(want), "objects/sha256/%.2s/%s: sha256 mismatch",
					 hex, hex + 2), 0);
	assert_memory_equal(f->findings[0], want, strlen(want));
}

static void test_version_blob_missing_or_wrong_size(void **state)
{
	struct fixture *f = *state;
	struct petrel_version a, b;
	char tmp[PATH_MAX], hex[65];
	uint8_t sha[32];

	make_version(&a, "web", UUID1, "no blob for me", 1000);
	assert_int_equal(petrel_store_add_version(&f->s, &a, &terr), 0);
	make_version(&b, "web", UUID2, "sized", 2000);
	assert_int_equal(store_blob(f, "sized", sha, tmp, sizeof(tmp)), 0);
	assert_int_equal(petrel_store_add_version(&f->s, &b, &terr), 0);
	assert_int_equal(fsck(f), 1);
	petrel_hex(a.build.sha256, 32, hex);
	assert_non_null(strstr(f->findings[0], hex + 2));
	assert_non_null(strstr(f->findings[0], ": missing (versions row 1, web)"));
	assert_int_equal(sqlite3_exec(f->s.db, "UPDATE versions SET size = 99 WHERE id = 2",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(fsck(f), 2);
	assert_non_null(strstr(f->findings[1], ": size 5, versions row 2 (web) records 99"));
}

static void test_leftover_tmp_and_clean(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];

	path_in(f, "tmp/dl-abc", p, sizeof(p));
	assert_int_equal(petrel_atomic_write(p, "partial", 7, 0600), 0);
	assert_int_equal(fsck(f), 1);
	assert_string_equal(f->findings[0], "tmp/dl-abc: leftover download");
	assert_int_equal(petrel_store_clean_tmp(&f->s), 0);
	assert_false(exists(p));
	assert_int_equal(count_entries(f, "tmp"), 0);
	assert_int_equal(fsck(f), 0);
}

static void test_stray_files_found(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];

	path_in(f, "objects/sha256/zz", p, sizeof(p));
	assert_int_equal(petrel_atomic_write(p, "x", 1, 0644), 0);
	path_in(f, "objects/junk", p, sizeof(p));
	assert_int_equal(petrel_atomic_write(p, "x", 1, 0644), 0);
	path_in(f, "objects/sha256/ab", p, sizeof(p));
	assert_int_equal(mkdir(p, 0755), 0);
	path_in(f, "objects/sha256/ab/short\nname", p, sizeof(p));
	assert_int_equal(petrel_atomic_write(p, "x", 1, 0644), 0);
	assert_int_equal(fsck(f), 3);	/* collect() asserts every finding is one line */
}

/* ---- the statement helper ---- */

static void test_sql_binds_steps_and_rows(void **state)
{
	struct fixture *f = *state;
	struct petrel_sql q;
	int64_t sum = 0;
	int r;

	assert_int_equal(petrel_sql_run(f->s.db, &terr, "CREATE TEMP TABLE t (a TEXT, b INTEGER"
					" PRIMARY KEY)", "", &terr), 0);
	for (int64_t i = 1; i <= 3; i++)
		assert_int_equal(petrel_sql_run(f->s.db, &terr, "INSERT INTO t VALUES (?, ?)", "ti",
						i == 2 ? NULL : "x", i, &terr), 0);
	/* one row: 1 with the row ready, NULL text read as "" */
	assert_int_equal(petrel_sql_row(&q, f->s.db, &terr, "SELECT a, b FROM t WHERE b = ?", "i",
					(int64_t)2, &terr), 1);
	assert_string_equal(petrel_sql_text(&q, 0), "");
	assert_int_equal(petrel_sql_int(&q, 1), 2);
	petrel_sql_finalize(&q);
	assert_int_equal(petrel_sql_row(&q, f->s.db, &terr, "SELECT a FROM t WHERE a = ? AND b = ?", "ti",
					"x", (int64_t)3, &terr), 1);
	petrel_sql_finalize(&q);
	/* no row: 0, finalized already */
	assert_int_equal(petrel_sql_row(&q, f->s.db, &terr, "SELECT a FROM t WHERE b = ?", "i",
					(int64_t)9, &terr), 0);
	assert_null(q.st);
	/* every row, then 0 */
	assert_int_equal(petrel_sql_prepare(&q, f->s.db, &terr, "SELECT b FROM t ORDER BY b", "", &terr), 0);
	while ((r = petrel_sql_step(&q)) > 0)
		sum += petrel_sql_int(&q, 0);
	petrel_sql_finalize(&q);
	assert_int_equal(r, 0);
	assert_int_equal(sum, 6);
}

static void expect_edb(int r)
{
	assert_int_equal(r, -PETREL_EDB);
	assert_non_null(strstr(terr.msg, "database: "));
	petrel_err_reset(&terr);
}

static void test_sql_failures_are_edb(void **state)
{
	struct fixture *f = *state;
	struct petrel_sql q;

	assert_int_equal(petrel_sql_run(f->s.db, &terr, "CREATE TEMP TABLE t (b INTEGER PRIMARY KEY)",
					"", &terr), 0);
	petrel_err_reset(&terr);
	/* prepare: bad sql */
	expect_edb(petrel_sql_prepare(&q, f->s.db, &terr, "SELEKT 1", "", &terr));
	assert_null(q.st);
	/* bind: an unknown spec letter, more binds than parameters */
	expect_edb(petrel_sql_run(f->s.db, &terr, "INSERT INTO t VALUES (?)", "x", (int64_t)1, &terr));
	expect_edb(petrel_sql_row(&q, f->s.db, &terr, "SELECT b FROM t WHERE b = ?", "ii", (int64_t)1,
				  (int64_t)2, &terr));
	assert_null(q.st);
	/* step: a constraint, and a row where none was wanted */
	assert_int_equal(petrel_sql_run(f->s.db, &terr, "INSERT INTO t VALUES (?)", "i", (int64_t)1, &terr), 0);
	expect_edb(petrel_sql_run(f->s.db, &terr, "INSERT INTO t VALUES (?)", "i", (int64_t)1, &terr));
	expect_edb(petrel_sql_run(f->s.db, &terr, "SELECT b FROM t", "", &terr));
	assert_int_equal(query_int(f->s.db, "SELECT count(*) FROM t"), 1);
}

/* ---- current and previous generations ---- */

/* Deploys v as the next generation of its target, as an upgrade does. */
static void deploy(struct fixture *f, const struct petrel_version *v)
{
	struct petrel_intent in;
	int64_t cur, prev;

	assert_int_equal(petrel_store_pointers(&f->s, v->target, &cur, &prev, &terr), 0);
	memset(&in, 0, sizeof(in));
	assert_int_equal(petrel_strcpy_whole(in.target, v->target, sizeof(in.target)), 0);
	assert_int_equal(petrel_strcpy_whole(in.op, "upgrade", sizeof(in.op)), 0);
	assert_int_equal(petrel_strcpy_whole(in.path, "/nonexistent/hello.hvt", sizeof(in.path)), 0);
	in.from_gen = cur;
	in.from_prev = prev;
	memcpy(in.to_sha256, v->build.sha256, 32);
	in.to_size = v->build.size;
	assert_int_equal(petrel_store_intent_begin(&f->s, &in, v->id, &terr), 0);
	assert_int_equal(petrel_store_intent_switched(&f->s, &in, &terr), 0);
	assert_int_equal(petrel_store_intent_done(&f->s, &in, "deploy", "test", &terr), 0);
}

static void test_current_and_previous(void **state)
{
	struct fixture *f = *state;
	struct petrel_generation cur, prev;
	struct petrel_version a, b;

	/* none: both zeroed, also for an unknown target */
	memset(&cur, 0x55, sizeof(cur));
	memset(&prev, 0x55, sizeof(prev));
	assert_int_equal(petrel_store_current(&f->s, "web", &cur, &prev, &terr), 0);
	assert_int_equal(cur.number, 0);
	assert_int_equal(prev.number, 0);
	assert_string_equal(cur.version.target, "");

	make_version(&a, "web", UUID1, "one", 1000);
	make_version(&b, "web", UUID2, "two", 2000);
	assert_int_equal(petrel_store_add_version(&f->s, &a, &terr), 0);
	assert_int_equal(petrel_store_add_version(&f->s, &b, &terr), 0);

	/* one: a current, no previous */
	deploy(f, &a);
	assert_int_equal(petrel_store_current(&f->s, "web", &cur, &prev, &terr), 0);
	assert_int_equal(cur.number, 1);
	assert_string_equal(cur.version.build.uuid, UUID1);
	assert_string_equal(cur.state, "deployed");
	assert_int_equal(prev.number, 0);

	/* two: the previous is the first; prev NULL loads the current only */
	deploy(f, &b);
	assert_int_equal(petrel_store_current(&f->s, "web", &cur, &prev, &terr), 0);
	assert_int_equal(cur.number, 2);
	assert_string_equal(cur.version.build.uuid, UUID2);
	assert_int_equal(prev.number, 1);
	assert_string_equal(prev.version.build.uuid, UUID1);
	assert_int_equal(petrel_store_current(&f->s, "web", &cur, NULL, &terr), 0);
	assert_int_equal(cur.number, 2);

	/* a pointer naming a missing generation is not "none" */
	assert_int_equal(sqlite3_exec(f->s.db, "DELETE FROM generations WHERE number = 1", NULL,
				      NULL, NULL), SQLITE_OK);
	assert_int_equal(petrel_store_current(&f->s, "web", &cur, NULL, &terr), 0);
	assert_int_equal(petrel_store_current(&f->s, "web", &cur, &prev, &terr), -PETREL_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_creates_missing_parents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_db_is_edb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_versions_queries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signatures_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_high_water_only_rises, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newest_tie_highest_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_add_keeps_one_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmpfile_commit_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmpfile_mode_and_unique, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_existing_blob_removes_tmp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fsync_failure_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_fsync_failure_leaves_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rename_failure_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_chain_and_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_deleted_row_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_bad_event_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupted_blob_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_blob_missing_or_wrong_size, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_leftover_tmp_and_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stray_files_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sql_binds_steps_and_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sql_failures_are_edb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_current_and_previous, setup, teardown),
	};

	real_sys = petrel_sys;
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
