/* fsck: blobs against their names, version rows against blobs, the db, the journal chain. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "common/error.h"
#include "common/util.h"
#include "store/internal.h"
#include "verify/digest.h"

struct fsck {
	struct petrel_store *s;
	petrel_fsck_fn fn;	/* may be NULL: count only */
	void *ctx;
	int count;
	struct petrel_err *err;	/* of the walk's own failures (not findings) */
};

/* One finding, one line: control characters (from hostile file names) become '?'. */
static void __attribute__((format(printf, 2, 3))) report(struct fsck *f, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	char *p;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (p = line; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	f->count++;
	if (f->fn)
		f->fn(f->ctx, line);
}

static int is_lower_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return s[len] == '\0';
}

static int is_dots(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

/* Calls fn for every entry of DIR/rel except . and ..; a missing directory is a finding. */
static int each_entry(struct fsck *f, const char *rel,
		      int (*fn)(struct fsck *, const char *rel, const char *name))
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int r = 0;

	if (petrel_snprintf(path, sizeof(path), "%s/%s", f->s->dir, rel) < 0)
		return -ENAMETOOLONG;
	d = opendir(path);
	if (!d) {
		if (errno != ENOENT && errno != ENOTDIR)
			return petrel_fail(f->err, -errno, "%s: %s", path, strerror(errno));
		report(f, "%s: missing directory", rel);
		return 0;
	}
	while (r == 0 && (errno = 0, e = readdir(d)) != NULL) {
		if (!is_dots(e->d_name))
			r = fn(f, rel, e->d_name);
	}
	if (r == 0 && errno != 0)
		r = petrel_fail(f->err, -errno, "%s: %s", path, strerror(errno));
	closedir(d);
	return r;
}

/* Re-hashes one blob file and compares with XX + name. */
static int check_blob(struct fsck *f, const char *rel, const char *name)
{
	char path[PATH_MAX], want[PETREL_HASH_HEX + 1], got[PETREL_HASH_HEX + 1];
	const char *xx = rel + strlen(rel) - 2;
	struct stat st;
	uint8_t sum[32];
	uint64_t size;
	int r;

	if (petrel_snprintf(path, sizeof(path), "%s/%s/%s", f->s->dir, rel, name) < 0 ||
	    petrel_snprintf(want, sizeof(want), "%s%s", xx, name) < 0 ||
	    !is_lower_hex(want, PETREL_HASH_HEX) || lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		report(f, "%s/%s: stray file", rel, name);
		return 0;
	}
	if ((r = petrel_sha256_file(path, sum, &size)) < 0) {
		report(f, "%s/%s: cannot read: %s", rel, name, petrel_strerror(r));
		return 0;
	}
	petrel_hex(sum, sizeof(sum), got);
	if (strcmp(want, got) != 0)
		report(f, "%s/%s: sha256 mismatch, content hashes to %s", rel, name, got);
	return 0;
}

/* One entry of objects/sha256: a fan-out directory XX, else a stray. */
static int check_fanout(struct fsck *f, const char *rel, const char *name)
{
	char sub[64], path[PATH_MAX];
	struct stat st;

	if (strlen(name) != 2 || !is_lower_hex(name, 2) ||
	    petrel_snprintf(path, sizeof(path), "%s/%s/%s", f->s->dir, rel, name) < 0 ||
	    lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		report(f, "%s/%s: stray file", rel, name);
		return 0;
	}
	if (petrel_snprintf(sub, sizeof(sub), "%s/%s", rel, name) < 0)
		return -ENAMETOOLONG;
	return each_entry(f, sub, check_blob);
}

/* objects/ holds only sha256/. */
static int check_objects_entry(struct fsck *f, const char *rel, const char *name)
{
	if (strcmp(name, "sha256") != 0)
		report(f, "%s/%s: stray file", rel, name);
	return 0;
}

static int check_tmp_entry(struct fsck *f, const char *rel, const char *name)
{
	report(f, "%s/%s: leftover download", rel, name);
	return 0;
}

/* One versions row: its blob exists with the recorded size. */
static void check_version_row(struct fsck *f, sqlite3_stmt *st)
{
	int64_t id = sqlite3_column_int64(st, 0), size = sqlite3_column_int64(st, 3);
	const char *target = (const char *)sqlite3_column_text(st, 1);
	const char *hex = (const char *)sqlite3_column_text(st, 2);
	char path[PATH_MAX];
	struct stat sb;

	if (!target)
		target = "";
	if (!hex || strlen(hex) != PETREL_HASH_HEX || !is_lower_hex(hex, PETREL_HASH_HEX) ||
	    petrel_snprintf(path, sizeof(path), "%s/objects/sha256/%.2s/%s", f->s->dir, hex,
			    hex + 2) < 0) {
		report(f, "petrel.db: versions row %" PRId64 " (%s): malformed sha256", id, target);
		return;
	}
	if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
		report(f, "objects/sha256/%.2s/%s: missing (versions row %" PRId64 ", %s)",
		       hex, hex + 2, id, target);
	else if ((int64_t)sb.st_size != size)
		report(f, "objects/sha256/%.2s/%s: size %lld, versions row %" PRId64
		       " (%s) records %" PRId64, hex, hex + 2, (long long)sb.st_size, id, target,
		       size);
}

static int check_versions(struct fsck *f, struct petrel_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = petrel_db_prepare(f->s->db, "SELECT id, target, sha256, size FROM versions ORDER BY id",
			      &st, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		check_version_row(f, st);
	if (rc != SQLITE_DONE)
		r = petrel_db_fail(f->s->db, err);
	sqlite3_finalize(st);
	return r;
}

static int check_integrity(struct fsck *f, struct petrel_err *err)
{
	sqlite3_stmt *st = NULL;
	const char *msg;
	int r, rc;

	if ((r = petrel_db_prepare(f->s->db, "PRAGMA integrity_check", &st, err)) < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		msg = (const char *)sqlite3_column_text(st, 0);
		if (msg && strcmp(msg, "ok") != 0)
			report(f, "petrel.db: integrity_check: %s", msg);
	}
	if (rc != SQLITE_DONE)
		r = petrel_db_fail(f->s->db, err);
	sqlite3_finalize(st);
	return r;
}

static const char *text_or_empty(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

/*
 * One journal row against the running chain value prev (updated to the row's hash).
 * 1 if the row is intact, 0 if broken, negative on error.
 */
static int journal_row_ok(sqlite3_stmt *st, char prev[PETREL_HASH_HEX + 1])
{
	char want[PETREL_HASH_HEX + 1];
	const char *rowprev = text_or_empty(st, 5), *hash = text_or_empty(st, 6);
	int r;

	if (strcmp(rowprev, prev) != 0)
		return 0;
	r = petrel_journal_hash(prev, sqlite3_column_int64(st, 1), text_or_empty(st, 2),
				text_or_empty(st, 3), text_or_empty(st, 4), want);
	if (r < 0)
		return r;
	if (strcmp(want, hash) != 0)
		return 0;
	memcpy(prev, want, sizeof(want));
	return 1;
}

/* Recomputes the chain from the genesis value; reports the first broken row only. */
int petrel_store_journal_each(struct petrel_store *s, const char *target, petrel_journal_fn fn,
			      void *ctx, struct petrel_err *err)
{
	static const char sql[] =
		"SELECT id, time, target, event, detail, prev, hash FROM journal ORDER BY id";
	char prev[PETREL_HASH_HEX + 1];
	struct petrel_journal_row row;
	sqlite3_stmt *st = NULL;
	int r, rc, ok = 1, chain = 1;

	memcpy(prev, petrel_journal_genesis, sizeof(prev));
	if ((r = petrel_db_prepare(s->db, sql, &st, err)) < 0)
		return r;
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (chain && (ok = journal_row_ok(st, prev)) < 0) {
			r = ok;
			break;
		}
		chain = chain && ok;
		memset(&row, 0, sizeof(row));
		row.id = sqlite3_column_int64(st, 0);
		row.time = sqlite3_column_int64(st, 1);
		snprintf(row.target, sizeof(row.target), "%s", text_or_empty(st, 2));
		snprintf(row.event, sizeof(row.event), "%s", text_or_empty(st, 3));
		snprintf(row.detail, sizeof(row.detail), "%s", text_or_empty(st, 4));
		snprintf(row.hash, sizeof(row.hash), "%s", text_or_empty(st, 6));
		row.chain_ok = chain;
		if (!target || !strcmp(target, row.target))
			r = fn(ctx, &row);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = petrel_db_fail(s->db, err);
	sqlite3_finalize(st);
	return r;
}

/* The recorded head: 1 with id and hash, 0 when there is none. */
static int journal_head(struct sqlite3 *db, int64_t *id, char hash[PETREL_HASH_HEX + 1], struct petrel_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = petrel_db_prepare(db, "SELECT id, hash FROM journal_head WHERE one = 1", &st, err)) < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		snprintf(hash, PETREL_HASH_HEX + 1, "%s", text_or_empty(st, 1));
		r = 1;
	} else if (rc != SQLITE_DONE) {
		r = petrel_db_fail(db, err);
	}
	sqlite3_finalize(st);
	return r;
}

/* An intact chain of rows ending at (last, tip) against the head: what is missing. */
static void check_head(struct petrel_journal_check *c, int64_t last, const char *tip,
		       int has_head, int64_t head, const char *head_hash)
{
	if (!has_head && c->rows) {
		c->first_broken = last;
		snprintf(c->why, sizeof(c->why), "the journal's head record is missing");
	} else if (has_head && last < head) {
		c->first_broken = last + 1;
		if (last + 1 == head)
			snprintf(c->why, sizeof(c->why), "row %lld, the last one, is missing (the "
				 "journal's head records it)", (long long)head);
		else
			snprintf(c->why, sizeof(c->why), "rows %lld to %lld, the last ones, are "
				 "missing (the journal's head records row %lld)", (long long)last + 1,
				 (long long)head, (long long)head);
	} else if (has_head && last > head) {
		c->first_broken = head + 1;
		snprintf(c->why, sizeof(c->why), "rows after %lld were added behind petrel's back",
			 (long long)head);
	} else if (has_head && strcmp(tip, head_hash) != 0) {
		c->first_broken = last;
		snprintf(c->why, sizeof(c->why), "row %lld differs from the recorded head",
			 (long long)last);
	}
}

int petrel_store_journal_verify(struct petrel_store *s, struct petrel_journal_check *c, struct petrel_err *err)
{
	static const char sql[] =
		"SELECT id, time, target, event, detail, prev, hash FROM journal ORDER BY id";
	char prev[PETREL_HASH_HEX + 1], head_hash[PETREL_HASH_HEX + 1] = "";
	sqlite3_stmt *st = NULL;
	int64_t last = 0, head = 0;
	int r, rc = SQLITE_DONE, ok = 1, has_head;

	memset(c, 0, sizeof(*c));
	memcpy(prev, petrel_journal_genesis, sizeof(prev));
	if ((has_head = journal_head(s->db, &head, head_hash, err)) < 0)
		return has_head;
	if ((r = petrel_db_prepare(s->db, sql, &st, err)) < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		c->rows++;
		if (ok > 0 && (ok = journal_row_ok(st, prev)) == 0) {
			c->first_broken = sqlite3_column_int64(st, 0);
			snprintf(c->why, sizeof(c->why), "row %lld was edited, or a row before it "
				 "deleted or reordered", (long long)c->first_broken);
		}
		if (ok < 0)
			break;
		last = sqlite3_column_int64(st, 0);
	}
	if (ok < 0)
		r = ok;
	else if (rc != SQLITE_DONE)
		r = petrel_db_fail(s->db, err);
	else if (ok > 0)
		check_head(c, last, prev, has_head, head, head_hash);
	sqlite3_finalize(st);
	return r;
}

static int check_journal(struct fsck *f, struct petrel_err *err)
{
	struct petrel_journal_check c;
	int r;

	if ((r = petrel_store_journal_verify(f->s, &c, err)) < 0)
		return r;
	if (c.first_broken)
		report(f, "petrel.db: journal chain broken at row %" PRId64 ": %s", c.first_broken,
		       c.why);
	return 0;
}

int petrel_store_fsck(struct petrel_store *s, petrel_fsck_fn fn, void *ctx, struct petrel_err *err)
{
	struct fsck f = { s, fn, ctx, 0, err };
	int r;

	if ((r = each_entry(&f, "objects", check_objects_entry)) < 0 ||
	    (r = each_entry(&f, "objects/sha256", check_fanout)) < 0 ||
	    (r = each_entry(&f, "tmp", check_tmp_entry)) < 0 ||
	    (r = check_versions(&f, err)) < 0 ||
	    (r = check_integrity(&f, err)) < 0 ||
	    (r = check_journal(&f, err)) < 0)
		return r;
	return f.count;
}
