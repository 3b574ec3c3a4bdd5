/* gc: retention of each target's versions, then of the blobs no version references. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/util.h"
#include "store/internal.h"

/*
 * Scratch tables of this connection: the version rows a run drops (seq: the index of
 * the target that drops them) and the blobs it removes (seq -1: an orphan, which no
 * version row referenced before this run). Created outside the transaction, so a dry
 * run's rollback empties them and a commit leaves gc_blobs for the unlinks.
 */
static const char scratch_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS gc_doomed (id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL,"
	" seq INTEGER NOT NULL);"
	"CREATE TEMP TABLE IF NOT EXISTS gc_blobs (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL,"
	" seq INTEGER NOT NULL);"
	"DELETE FROM temp.gc_doomed; DELETE FROM temp.gc_blobs;";

/*
 * The versions of ?1 that go: all but the ?2 newest (by timestamp, as the store
 * orders them; at least one, so the newest verified build, perhaps staged, stays),
 * the current and previous generations' versions, the newest generation's (so no
 * generation number is ever handed out twice), those an unfinished switch names, and
 * any a generation of another target references.
 */
static const char doom_sql[] =
	"INSERT INTO temp.gc_doomed (id, sha256, seq)"
	" SELECT id, sha256, ?3 FROM versions WHERE target = ?1 AND id NOT IN ("
	"  SELECT id FROM (SELECT id FROM versions WHERE target = ?1"
	"   ORDER BY timestamp DESC, id DESC LIMIT max(?2, 1))"
	"  UNION SELECT g.version FROM generations g JOIN targets t ON t.name = g.target"
	"   WHERE g.target = ?1 AND g.number IN (t.current, t.previous)"
	"  UNION SELECT version FROM generations WHERE target = ?1 AND number ="
	"   (SELECT max(number) FROM generations WHERE target = ?1)"
	"  UNION SELECT g.version FROM generations g JOIN intents i ON i.target = g.target"
	"   WHERE g.number IN (i.from_gen, i.from_prev, i.to_gen, i.to_prev)"
	"  UNION SELECT version FROM generations WHERE target <> ?1)";

/* Runs sql with ?1 = seq; *changes (may be NULL) gets the rows it changed. */
static int exec_seq(struct sqlite3 *db, const char *sql, int64_t seq, int64_t *changes,
		    struct petrel_err *err)
{
	int r = petrel_sql_run(db, err, sql, "i", seq);

	if (r == 0 && changes)
		*changes = sqlite3_changes(db);
	return r;
}

/* Hands each doomed version of seq to the caller, oldest first, and counts them. */
static int report_doomed(struct petrel_store *s, struct petrel_gc *g, struct petrel_gc_target *t,
			 int64_t seq, struct petrel_err *err)
{
	static const char sql[] = "SELECT d.id FROM temp.gc_doomed d JOIN versions v ON v.id = d.id"
				  " WHERE d.seq = ? ORDER BY v.timestamp, v.id";
	struct petrel_version v;
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_prepare(&q, s->db, err, sql, "i", seq)) < 0)
		return r;
	while ((r = petrel_sql_step(&q)) > 0) {
		t->removed++;
		if ((r = petrel_store_version_by_id(s, petrel_sql_int(&q, 0), &v, err)) < 0)
			break;
		if (g->on_version)
			g->on_version(g->ctx, t->name, &v);
	}
	petrel_sql_finalize(&q);
	return r;
}

/* One target's rows: its doomed versions and the generations that deployed them. */
static int drop_rows(struct petrel_store *s, struct petrel_gc *g, struct petrel_gc_target *t,
		     int64_t seq, struct petrel_err *err)
{
	int r, n;

	t->removed = t->kept = t->generations = t->blobs = t->bytes = 0;
	if ((r = petrel_sql_run(s->db, err, doom_sql, "tii", t->name, (int64_t)t->keep, seq)) < 0 ||
	    (r = report_doomed(s, g, t, seq, err)) < 0 ||
	    (r = exec_seq(s->db, "DELETE FROM generations WHERE version IN"
			  " (SELECT id FROM temp.gc_doomed WHERE seq = ?1)", seq,
			  &t->generations, err)) < 0 ||
	    (r = exec_seq(s->db, "DELETE FROM signatures WHERE version IN"
			  " (SELECT id FROM temp.gc_doomed WHERE seq = ?1)", seq, NULL, err)) < 0 ||
	    (r = exec_seq(s->db, "DELETE FROM versions WHERE id IN"
			  " (SELECT id FROM temp.gc_doomed WHERE seq = ?1)", seq, NULL, err)) < 0)
		return r;
	if ((n = petrel_store_count_versions(s, t->name, err)) < 0)
		return n;
	t->kept = n;
	return 0;
}

/* ---- the blob sweep ---- */

struct sweep {
	struct petrel_store *s;
	struct petrel_gc *g;
	struct petrel_gc_target *ts;
	size_t n;
	struct petrel_err *err;
};

static int lower_hex(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	}
	return p[len] == '\0';
}

static void stray(struct sweep *w, const char *xx, const char *name)
{
	char line[512];

	w->g->strays++;
	snprintf(line, sizeof(line), "objects/sha256/%s%s%s", xx, *xx ? "/" : "", name);
	if (w->g->on_stray)
		w->g->on_stray(w->g->ctx, line);
}

/*
 * *garbage: no version row references hex (any more), nor an unfinished switch (a
 * file petrel did not install, adopted before a first deploy, is such a blob); *seq: the first target whose
 * dropped versions did, -1 when none did (an orphan, left by an earlier crash).
 */
static int unreferenced(struct sqlite3 *db, const char *hex, int *garbage, int64_t *seq,
			struct petrel_err *err)
{
	static const char sql[] =
		"SELECT NOT EXISTS (SELECT 1 FROM versions WHERE sha256 = ?1)"
		" AND NOT EXISTS (SELECT 1 FROM intents WHERE ?1 IN (from_sha256, to_sha256)),"
		" coalesce((SELECT min(seq) FROM temp.gc_doomed WHERE sha256 = ?1), -1)";
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_row(&q, db, err, sql, "t", hex)) <= 0)
		return r < 0 ? r : petrel_db_fail(db, err);
	*garbage = (int)petrel_sql_int(&q, 0);
	*seq = petrel_sql_int(&q, 1);
	petrel_sql_finalize(&q);
	return 0;
}

/* Records the blob hex (size bytes) for removal, to the account of target seq. */
static int note_blob(struct sweep *w, const char *hex, int64_t size, int64_t seq,
		     struct petrel_err *err)
{
	int r;

	if ((r = petrel_sql_run(w->s->db, err,
				"INSERT OR IGNORE INTO temp.gc_blobs (sha256, size, seq)"
				" VALUES (?, ?, ?)", "tii", hex, size, seq)) < 0)
		return r;
	w->g->blobs++;
	w->g->bytes += size;
	if (seq >= 0 && (size_t)seq < w->n) {
		w->ts[seq].blobs++;
		w->ts[seq].bytes += size;
	} else {
		w->g->orphans++;
		w->g->orphan_bytes += size;
	}
	return 0;
}

/* One entry of objects/sha256/XX: a blob some version references, garbage, or a stray. */
static int sweep_entry(struct sweep *w, int dfd, const char *xx, const char *name)
{
	char hex[PETREL_HASH_HEX + 1];
	struct stat st;
	int64_t seq = -1;
	int r, garbage = 0;

	if (petrel_snprintf(hex, sizeof(hex), "%s%s", xx, name) < 0 ||
	    !lower_hex(hex, PETREL_HASH_HEX) || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode)) {
		stray(w, xx, name);
		return 0;
	}
	if ((r = unreferenced(w->s->db, hex, &garbage, &seq, w->err)) < 0 || !garbage)
		return r;
	return note_blob(w, hex, (int64_t)st.st_size, seq, w->err);
}

/* Calls fn for every entry of DIR/objects/sha256[/xx] but . and .. */
static int each_in(struct sweep *w, const char *xx,
		   int (*fn)(struct sweep *, int dfd, const char *xx, const char *name))
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int r = 0;

	if (petrel_snprintf(path, sizeof(path), "%s/objects/sha256%s%s", w->s->dir,
			    *xx ? "/" : "", xx) < 0)
		return -ENAMETOOLONG;
	if (!(d = opendir(path)))
		return petrel_fail(w->err, -errno, "%s: %s", path, strerror(errno));
	while (r == 0 && (errno = 0, e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			r = fn(w, dirfd(d), xx, e->d_name);
	}
	if (r == 0 && errno != 0)
		r = petrel_fail(w->err, -errno, "%s: %s", path, strerror(errno));
	closedir(d);
	return r;
}

/* One entry of objects/sha256: a fan-out directory XX, else a stray. */
static int sweep_fanout(struct sweep *w, int dfd, const char *xx, const char *name)
{
	struct stat st;

	(void)xx;
	if (strlen(name) != 2 || !lower_hex(name, 2) ||
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
		stray(w, "", name);
		return 0;
	}
	return each_in(w, name, sweep_entry);
}

/* ---- the journal and the unlinks ---- */

static int journal_rows(struct petrel_store *s, struct petrel_gc *g,
			const struct petrel_gc_target *ts, size_t n, struct petrel_err *err)
{
	char detail[256];
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		snprintf(detail, sizeof(detail), "versions=%" PRId64 " generations=%" PRId64
			 " blobs=%" PRId64 " bytes=%" PRId64 " kept=%" PRId64 " keep=%u",
			 ts[i].removed, ts[i].generations, ts[i].blobs, ts[i].bytes, ts[i].kept,
			 ts[i].keep);
		r = petrel_journal_append(s->db, ts[i].name, "gc", detail, err);
	}
	if (r == 0 && g->orphans) {
		snprintf(detail, sizeof(detail), "orphans=%" PRId64 " bytes=%" PRId64, g->orphans,
			 g->orphan_bytes);
		r = petrel_journal_append(s->db, "", "gc", detail, err);
	}
	return r;
}

/* Removes one blob durably: unlink, then fsync its fan-out directory. Gone is fine. */
static int unlink_blob(struct petrel_store *s, const char *hex, struct petrel_err *err)
{
	char path[PATH_MAX], dir[PATH_MAX];
	int r;

	if (petrel_snprintf(dir, sizeof(dir), "%s/objects/sha256/%.2s", s->dir, hex) < 0 ||
	    petrel_snprintf(path, sizeof(path), "%s/%s", dir, hex + 2) < 0)
		return -ENAMETOOLONG;
	if (petrel_sys.unlink(path) < 0 && errno != ENOENT)
		return petrel_fail(err, -errno, "%s: cannot remove blob: %s", path,
				   strerror(errno));
	if ((r = petrel_fsync_dir(dir)) < 0)
		return petrel_fail(err, r, "%s: cannot make the removal durable: %s", dir,
				   petrel_strerror(r));
	return 0;
}

/* After the commit: every blob of gc_blobs goes; the first failure stops (the next
 * gc finds what is left unreferenced and finishes). */
static int unlink_blobs(struct petrel_store *s, struct petrel_err *err)
{
	struct petrel_sql q;
	const char *hex;
	int r;

	if ((r = petrel_sql_prepare(&q, s->db, err,
				    "SELECT sha256 FROM temp.gc_blobs ORDER BY sha256",
				    "")) < 0)
		return r;
	while ((r = petrel_sql_step(&q)) > 0) {
		hex = petrel_sql_text(&q, 0);
		if (strlen(hex) == PETREL_HASH_HEX && (r = unlink_blob(s, hex, err)) < 0)
			break;
	}
	petrel_sql_finalize(&q);
	return r;
}

static int plan(struct petrel_store *s, struct petrel_gc *g, struct petrel_gc_target *ts,
		size_t n, struct petrel_err *err)
{
	struct sweep w = { s, g, ts, n, err };
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++)
		r = drop_rows(s, g, &ts[i], (int64_t)i, err);
	if (r == 0)
		r = each_in(&w, "", sweep_fanout);
	return r < 0 ? r : journal_rows(s, g, ts, n, err);
}

int petrel_store_gc(struct petrel_store *s, struct petrel_gc_target *ts, size_t n,
		    struct petrel_gc *g, struct petrel_err *err)
{
	int r;

	g->blobs = g->bytes = g->orphans = g->orphan_bytes = g->strays = 0;
	if ((r = petrel_db_exec(s->db, scratch_sql, err)) < 0 || (r = petrel_db_begin(s->db,
										      err)) < 0)
		return r;
	if ((r = plan(s, g, ts, n, err)) < 0 ||
	    (r = g->dry_run ? petrel_db_exec(s->db, "ROLLBACK", err) : petrel_db_commit(s->db,
											err)) < 0) {
		petrel_db_rollback(s->db);
		return r;
	}
	if (!g->dry_run)
		r = unlink_blobs(s, err);
	/* scratch only: a failure here is not worth a message over the first one */
	sqlite3_exec(s->db, "DELETE FROM temp.gc_doomed; DELETE FROM temp.gc_blobs;", NULL, NULL,
		     NULL);
	return r;
}
