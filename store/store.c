/* Verified versions, high-water marks and the hash-chained event journal in petrel.db. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/error.h"
#include "common/util.h"
#include "store/internal.h"
#include "verify/digest.h"

const char petrel_journal_genesis[PETREL_HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

/* Column list shared by the version queries; row_to_version reads it in this order. */
#define VERSION_COLUMNS \
	"id, target, job, uuid, platform, filename, sha256, size, start_time, " \
	"finish_time, trust, keyids, trusted_comment, timestamp, verified_at, url, rebuilders, " \
	"blake2b, offline"

/* ---- the journal ---- */

static int digest_str(struct petrel_digest *d, const char *s, int newline)
{
	int r = petrel_digest_update(d, s, strlen(s));

	if (r == 0 && newline)
		r = petrel_digest_update(d, "\n", 1);
	return r;
}

int petrel_journal_hash(const char *prev, int64_t time, const char *target,
			const char *event, const char *detail, char out[PETREL_HASH_HEX + 1])
{
	struct petrel_digest *d = NULL;
	uint8_t sum[32];
	char when[24];
	int r;

	if ((r = petrel_snprintf(when, sizeof(when), "%" PRId64, time)) < 0)
		return r;
	if ((r = petrel_digest_new(&d, PETREL_DIGEST_SHA256)) < 0)
		return r;
	if ((r = digest_str(d, prev, 1)) < 0 || (r = digest_str(d, when, 1)) < 0 ||
	    (r = digest_str(d, target, 1)) < 0 || (r = digest_str(d, event, 1)) < 0 ||
	    (r = digest_str(d, detail, 0)) < 0 || (r = petrel_digest_final(d, sum, NULL)) < 0)
		goto out;
	petrel_hex(sum, sizeof(sum), out);
out:
	petrel_digest_free(d);
	return r;
}

/*
 * The chain continues from the recorded head, not from whatever row is last: after
 * the last rows were deleted, the next row's prev names the missing row and the
 * chain shows the gap. Genesis value for an empty journal.
 */
static int journal_tip(struct sqlite3 *db, char out[PETREL_HASH_HEX + 1], struct petrel_err *err)
{
	struct petrel_sql q;
	const char *h;
	int r;

	if ((r = petrel_sql_row(&q, db, err, "SELECT hash FROM journal_head WHERE one = 1",
				"")) <= 0) {
		if (r == 0)
			memcpy(out, petrel_journal_genesis, PETREL_HASH_HEX + 1);
		return r;
	}
	h = petrel_sql_text(&q, 0);
	r = 0;
	if (strlen(h) != PETREL_HASH_HEX)
		r = petrel_fail(err, -PETREL_EDB, "database: journal tip has a malformed hash");
	else
		memcpy(out, h, PETREL_HASH_HEX + 1);
	petrel_sql_finalize(&q);
	return r;
}

/* ---- the journal's anchor: its head outside the database ----
 *
 * STATE/journal.head holds "ID HASH\n", the newest journal row a commit made durable.
 * It is written after each commit that appended to the journal (sqlite's WAL hook runs
 * once the commit is durable), so it is never ahead of the database: a crash between
 * the two leaves it behind, which verification accepts (the database still holds the
 * anchored row). A journal that no longer holds the anchored row, or holds another row
 * under its id, lost its end -- whatever journal_head says. An anchor that no longer
 * matches is not moved on, so the evidence stays until an operator removes the file.
 * Written with plain syscalls, not the fault table (common/fs.h): the tests count the
 * data path's calls. Writers hold STATE/lock, so one writer at a time uses the temp
 * name.
 */
#define ANCHOR_FILE "journal.head"
#define ANCHOR_MAX 96		/* "ID HASH\n": 20 digits, a space, 64 hex, a newline */

static struct {
	struct sqlite3 *db;	/* whose transaction appended; NULL when none pending */
	int64_t id;
	char hash[PETREL_HASH_HEX + 1];
	int hold;		/* the anchor on disk does not match: leave it as evidence */
} pending;

/* The directory petrel.db is in, into out (size n); 0, or -1 for a database in memory. */
static int db_dir(struct sqlite3 *db, char *out, size_t n)
{
	const char *f = sqlite3_db_filename(db, "main");
	const char *slash = f ? strrchr(f, '/') : NULL;

	if (!slash || (size_t)(slash - f) >= n)
		return -1;
	memcpy(out, f, (size_t)(slash - f));
	out[slash - f] = '\0';
	return 0;
}

static int parse_anchor(const char *buf, size_t len, int64_t *id, char hash[PETREL_HASH_HEX + 1])
{
	const char *sp = memchr(buf, ' ', len);
	char num[24];
	uint64_t v;

	if (!sp || sp == buf || (size_t)(sp - buf) >= sizeof(num) ||
	    len != (size_t)(sp - buf) + 1 + PETREL_HASH_HEX + 1 || buf[len - 1] != '\n')
		return -PETREL_EMALFORMED;
	memcpy(num, buf, (size_t)(sp - buf));
	num[sp - buf] = '\0';
	if (petrel_parse_u64(num, &v) < 0 || v == 0 || v > INT64_MAX)
		return -PETREL_EMALFORMED;
	for (size_t i = 0; i < PETREL_HASH_HEX; i++)
		if (!strchr("0123456789abcdef", sp[1 + i]) || !sp[1 + i])
			return -PETREL_EMALFORMED;
	*id = (int64_t)v;
	memcpy(hash, sp + 1, PETREL_HASH_HEX);
	hash[PETREL_HASH_HEX] = '\0';
	return 0;
}

int petrel_journal_anchor_read(const char *dir, int64_t *id, char hash[PETREL_HASH_HEX + 1])
{
	char path[PATH_MAX], buf[ANCHOR_MAX + 1];
	struct stat st;
	ssize_t got;
	int fd, r;

	if (petrel_snprintf(path, sizeof(path), "%s/" ANCHOR_FILE, dir) < 0)
		return -PETREL_ETOOBIG;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > ANCHOR_MAX) {
		close(fd);
		return -PETREL_EMALFORMED;
	}
	got = read(fd, buf, ANCHOR_MAX + 1);
	r = got < 0 ? -errno : parse_anchor(buf, (size_t)got, id, hash);
	close(fd);
	return r < 0 ? r : 1;
}

/* Writes the anchor: temp file, fsync, rename, fsync of the directory. 0 or -errno. */
static int anchor_write(const char *dir, int64_t id, const char *hash)
{
	char tmp[PATH_MAX], path[PATH_MAX], line[ANCHOR_MAX + 1];
	int fd, r = 0, len;

	len = snprintf(line, sizeof(line), "%" PRId64 " %s\n", id, hash);
	if (len < 0 || (size_t)len >= sizeof(line) ||
	    petrel_snprintf(tmp, sizeof(tmp), "%s/" ANCHOR_FILE ".new", dir) < 0 ||
	    petrel_snprintf(path, sizeof(path), "%s/" ANCHOR_FILE, dir) < 0)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)len) != len || fchmod(fd, 0644) < 0 || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(fd) < 0)
			r = -errno;
		close(fd);
	}
	return r;
}

/* sqlite's WAL hook: the commit is durable. Moves the anchor, then does what the hook
 * it replaces did (a checkpoint each 1000 pages, sqlite's default). */
static int anchor_after_commit(void *ctx, struct sqlite3 *db, const char *name, int pages)
{
	char dir[PATH_MAX];

	(void)ctx;
	if (pending.db == db) {
		if (!pending.hold && db_dir(db, dir, sizeof(dir)) == 0)
			(void)anchor_write(dir, pending.id, pending.hash);	/* behind is no finding */
		pending.db = NULL;
	}
	if (pages >= 1000)
		(void)sqlite3_wal_checkpoint(db, name);
	return SQLITE_OK;
}

static void anchor_rolled_back(void *ctx)
{
	(void)ctx;
	pending.db = NULL;	/* the row it named is gone */
}

/* 1 when the database's journal holds the anchored row (or there is no anchor). */
static int anchor_matches(struct sqlite3 *db, const char *dir)
{
	char hash[PETREL_HASH_HEX + 1];
	struct petrel_err ignored = PETREL_ERR_INIT;
	struct petrel_sql q;
	int64_t id;
	int r;

	if ((r = petrel_journal_anchor_read(dir, &id, hash)) <= 0)
		return r == 0;
	if (petrel_sql_row(&q, db, &ignored, "SELECT hash FROM journal WHERE id = ?", "i",
			   id) <= 0)
		return 0;
	r = strcmp(petrel_sql_text(&q, 0), hash) == 0;
	petrel_sql_finalize(&q);
	return r;
}

/* Row (id, hash) was appended in the open transaction: the anchor follows at commit. */
static void anchor_note(struct sqlite3 *db, int64_t id, const char *hash)
{
	char dir[PATH_MAX];

	if (db_dir(db, dir, sizeof(dir)) < 0)
		return;
	if (pending.db != db) {	/* the transaction's first row: does the anchor hold? */
		pending.hold = !anchor_matches(db, dir);
		pending.db = db;
		sqlite3_wal_hook(db, anchor_after_commit, NULL);
		sqlite3_rollback_hook(db, anchor_rolled_back, NULL);
	}
	pending.id = id;
	memcpy(pending.hash, hash, sizeof(pending.hash));
}

/* The head moves with every append, in the same transaction. */
static int journal_set_head(struct sqlite3 *db, int64_t id, const char *hash,
			    struct petrel_err *err)
{
	return petrel_sql_run(db, err, "INSERT INTO journal_head (one, id, hash) VALUES (1, ?, ?)"
			      " ON CONFLICT (one) DO UPDATE SET id = excluded.id, hash = excluded.hash",
			      "it", id, hash);
}

/* text made safe for the journal (common/util.h): *out is text itself when it is, else
 * an allocated copy the caller frees. 0 or -ENOMEM. */
static int journal_text(const char *text, char **out, char **owned)
{
	size_t n = 4 * strlen(text) + 8;

	*owned = NULL;
	*out = (char *)text;
	if (petrel_text_is_safe(text))
		return 0;
	if (!(*owned = malloc(n)))
		return -ENOMEM;
	petrel_text_safe(text, *owned, n);
	*out = *owned;
	return 0;
}

/* Appends one chained row; the caller holds a write transaction. A row's fields quote
 * servers: they are stored safe (credentials masked, control characters escaped). */
static int journal_append(struct sqlite3 *db, const char *target, const char *event,
			  const char *detail, struct petrel_err *err)
{
	static const char sql[] = "INSERT INTO journal (time, target, event, detail, prev, hash)"
				  " VALUES (?, ?, ?, ?, ?, ?)";
	char prev[PETREL_HASH_HEX + 1], hash[PETREL_HASH_HEX + 1];
	int64_t now = (int64_t)time(NULL), id;
	char *safe, *owned;
	int r;

	if ((r = journal_text(detail, &safe, &owned)) < 0)
		return petrel_fail(err, r, "journal: %s", petrel_strerror(r));
	if ((r = journal_tip(db, prev, err)) < 0 ||
	    (r = petrel_journal_hash(prev, now, target, event, safe, hash)) < 0 ||
	    (r = petrel_sql_run(db, err, sql, "ittttt", now, target, event, safe, prev,
				hash)) < 0)
		goto out;
	id = sqlite3_last_insert_rowid(db);
	if ((r = journal_set_head(db, id, hash, err)) == 0)
		anchor_note(db, id, hash);
out:
	free(owned);
	return r;
}

int petrel_store_journal_repeats(struct petrel_store *s, const char *target, const char *event,
				 const char *detail, struct petrel_err *err)
{
	static const char sql[] =
		"SELECT event = ?2 AND detail = ?3 FROM journal WHERE target = ?1 ORDER BY id DESC LIMIT 1";
	struct petrel_sql q;
	char *safe, *owned;
	int r;

	if ((r = journal_text(detail, &safe, &owned)) < 0)	/* as journal_append stores it */
		return petrel_fail(err, r, "journal: %s", petrel_strerror(r));
	if ((r = petrel_sql_row(&q, s->db, err, sql, "ttt", target, event, safe)) > 0) {
		r = petrel_sql_int(&q, 0) != 0;
		petrel_sql_finalize(&q);
	}
	free(owned);
	return r;
}

int petrel_store_journal(struct petrel_store *s, const char *target, const char *event,
			 const char *detail, struct petrel_err *err)
{
	int r;

	if (!event || !*event || strlen(event) > PETREL_JOURNAL_EVENT_MAX)
		return petrel_fail(err, -PETREL_EDB, "database: bad journal event name");
	if ((r = petrel_db_begin(s->db, err)) < 0)
		return r;
	if ((r = journal_append(s->db, target ? target : "", event, detail ? detail : "",
				err)) < 0 ||
	    (r = petrel_db_commit(s->db, err)) < 0)
		petrel_db_rollback(s->db);
	return r;
}

/* ---- versions ---- */

/*
 * Raises (never lowers) target's high-water marks, creating the target row: the
 * newest timestamp ever verified (signed, else finish time) and the newest finish
 * time, which is what a server's answer can be compared with before verification.
 */
static int raise_high_water(struct sqlite3 *db, const char *target, int64_t ts, int64_t finish,
			    struct petrel_err *err)
{
	static const char sql[] =
		"INSERT INTO targets (name, high_water, high_water_finish) VALUES (?, max(?, 0), max(?, 0))"
		" ON CONFLICT (name) DO UPDATE SET"
		" high_water = max(high_water, excluded.high_water),"
		" high_water_finish = max(high_water_finish, excluded.high_water_finish)";

	return petrel_sql_run(db, err, sql, "tii", target, ts, finish);
}

/* Id of the row of (target, uuid, sha256) into v->id. */
static int existing_version(struct sqlite3 *db, struct petrel_version *v, const char *hex,
			    struct petrel_err *err)
{
	static const char sql[] =
		"SELECT id FROM versions WHERE target = ? AND uuid = ? AND sha256 = ?";
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_row(&q, db, err, sql, "ttt", v->target, v->build.uuid, hex)) <= 0)
		return r < 0 ? r : petrel_db_fail(db, err);
	v->id = petrel_sql_int(&q, 0);
	petrel_sql_finalize(&q);
	return 0;
}

/* Inserts v unless (target, uuid, sha256) is already there; v->id gets the row either way. */
static int insert_version(struct sqlite3 *db, struct petrel_version *v, const char *hex,
			  struct petrel_err *err)
{
	static const char sql[] =
		"INSERT INTO versions (target, job, uuid, platform, filename, sha256, size,"
		" start_time, finish_time, trust, keyids, trusted_comment, timestamp,"
		" verified_at, url, rebuilders, blake2b, offline)"
		" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
		" ON CONFLICT (target, uuid, sha256) DO NOTHING";
	const struct petrel_build *b = &v->build;
	int r;

	r = petrel_sql_run(db, err, sql, "ttttttiiitttiittti", v->target, b->job, b->uuid,
			   b->platform,
			   b->filename, hex, (int64_t)b->size, b->start_time, b->finish_time,
			   v->trust, v->keyids, v->trusted_comment, v->timestamp, v->verified_at,
			   v->url, v->rebuilders, v->blake2b, (int64_t)(v->offline != 0));
	if (r < 0)
		return r;
	if (sqlite3_changes(db) == 1) {
		v->id = sqlite3_last_insert_rowid(db);
		return 0;
	}
	return existing_version(db, v, hex, err);
}

static int fetch_detail(const struct petrel_version *v, const char *hex, char *out, size_t n)
{
	return petrel_snprintf(out, n, "job=%s uuid=%s sha256=%s size=%" PRIu64 " trust=%s"
			       " keys=%s rebuilders=%s timestamp=%" PRId64, v->build.job,
			       v->build.uuid, hex, v->build.size, v->trust,
			       v->keyids[0] ? v->keyids : "-",
			       v->rebuilders[0] ? v->rebuilders : "-", v->timestamp);
}

/* Stores the n signatures v was accepted with, under its row (v->id). */
static int insert_signatures(struct sqlite3 *db, const struct petrel_version *v,
			     const struct petrel_stored_sig *sigs, size_t n, struct petrel_err *err)
{
	static const char sql[] =
		"INSERT INTO signatures (version, keyid, minisig) VALUES (?, ?, ?)"
		" ON CONFLICT (version, keyid) DO NOTHING";
	char *text;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		if (sigs[i].len > PETREL_STORED_SIG_MAX || memchr(sigs[i].text, '\0', sigs[i].len))
			return petrel_fail(err, -PETREL_EDB, "database: signature by %s for %s "
					   "cannot be stored", sigs[i].keyid, v->build.uuid);
		if (!(text = strndup(sigs[i].text, sigs[i].len)))
			return petrel_fail(err, -ENOMEM, "storing a signature: %s",
					   strerror(ENOMEM));
		r = petrel_sql_run(db, err, sql, "itt", v->id, sigs[i].keyid, text);
		free(text);
	}
	return r;
}

int petrel_store_add_version(struct petrel_store *s, struct petrel_version *v,
			     struct petrel_err *err)
{
	return petrel_store_add_version_signed(s, v, NULL, 0, err);
}

int petrel_store_add_version_signed(struct petrel_store *s, struct petrel_version *v,
				    const struct petrel_stored_sig *sigs, size_t n,
				    struct petrel_err *err)
{
	char hex[PETREL_HASH_HEX + 1], detail[2048];
	/* no time goes past the moment of verification, neither the marks nor the row's
	 * timestamp (which orders versions and the downgrade check) and finish time: a
	 * signer's or a server's clock far in the future must not make every later build
	 * look older. The server's raw finish time is not kept: nothing decides by it, and
	 * the server still answers it (petrel list). v gets the times as stored. */
	int64_t cap = v->verified_at > 0 ? v->verified_at : INT64_MAX;
	int r;

	if (v->timestamp > cap)
		v->timestamp = cap;
	if (v->build.finish_time > cap)
		v->build.finish_time = cap;

	if (v->build.size > INT64_MAX)
		return petrel_fail(err, -PETREL_EDB, "database: size of %s does not fit",
				   v->build.uuid);
	petrel_hex(v->build.sha256, sizeof(v->build.sha256), hex);
	if (fetch_detail(v, hex, detail, sizeof(detail)) < 0)
		return petrel_fail(err, -PETREL_EDB, "database: journal detail for %s too long",
				   v->build.uuid);
	if ((r = petrel_db_begin(s->db, err)) < 0)
		return r;
	if ((r = raise_high_water(s->db, v->target, v->timestamp, v->build.finish_time,
				  err)) < 0 ||
	    (r = insert_version(s->db, v, hex, err)) < 0 ||
	    (r = insert_signatures(s->db, v, sigs, n, err)) < 0 ||
	    /* it verified: an earlier refusal of the same bytes was the transit's fault */
	    (r = petrel_sql_run(s->db, err, "DELETE FROM refused WHERE target = ? AND sha256 = ?",
				"tt", v->target, hex)) < 0 ||
	    (r = journal_append(s->db, v->target, "fetch", detail, err)) < 0 ||
	    (r = petrel_db_commit(s->db, err)) < 0)
		petrel_db_rollback(s->db);
	return r;
}

/* Copies text column i into dst (size n); a NULL column reads as "". */
static int column_str(sqlite3_stmt *st, int i, char *dst, size_t n, struct petrel_err *err)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	if (petrel_strcpy_whole(dst, t ? (const char *)t : "", n) < 0)
		return petrel_fail(err, -PETREL_EDB, "database: versions row %lld: %s too long",
				   (long long)sqlite3_column_int64(st, 0),
				   sqlite3_column_name(st, i));
	return 0;
}

static int column_sha256(sqlite3_stmt *st, int i, uint8_t out[32], struct petrel_err *err)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	if (!t || petrel_unhex((const char *)t, strlen((const char *)t), out, 32) < 0)
		return petrel_fail(err, -PETREL_EDB,
				   "database: versions row %lld: malformed sha256",
				   (long long)sqlite3_column_int64(st, 0));
	return 0;
}

/* Reads a row of VERSION_COLUMNS into out. */
static int row_to_version(sqlite3_stmt *st, struct petrel_version *out, struct petrel_err *err)
{
	struct petrel_build *b = &out->build;
	int64_t size = sqlite3_column_int64(st, 7);
	int r;

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(st, 0);
	if ((r = column_str(st, 1, out->target, sizeof(out->target), err)) < 0 ||
	    (r = column_str(st, 2, b->job, sizeof(b->job), err)) < 0 ||
	    (r = column_str(st, 3, b->uuid, sizeof(b->uuid), err)) < 0 ||
	    (r = column_str(st, 4, b->platform, sizeof(b->platform), err)) < 0 ||
	    (r = column_str(st, 5, b->filename, sizeof(b->filename), err)) < 0 ||
	    (r = column_sha256(st, 6, b->sha256, err)) < 0 ||
	    (r = column_str(st, 10, out->trust, sizeof(out->trust), err)) < 0 ||
	    (r = column_str(st, 11, out->keyids, sizeof(out->keyids), err)) < 0 ||
	    (r = column_str(st, 12, out->trusted_comment, sizeof(out->trusted_comment), err)) < 0 ||
	    (r = column_str(st, 15, out->url, sizeof(out->url), err)) < 0 ||
	    (r = column_str(st, 16, out->rebuilders, sizeof(out->rebuilders), err)) < 0 ||
	    (r = column_str(st, 17, out->blake2b, sizeof(out->blake2b), err)) < 0)
		return r;
	b->size = size < 0 ? 0 : (uint64_t)size;
	b->start_time = sqlite3_column_int64(st, 8);
	b->finish_time = sqlite3_column_int64(st, 9);
	out->offline = sqlite3_column_int(st, 18) != 0;
	out->timestamp = sqlite3_column_int64(st, 13);
	out->verified_at = sqlite3_column_int64(st, 14);
	return 0;
}

/*
 * Reads the first row of a version query (VERSION_COLUMNS) that petrel_sql_prepare
 * answered r for, and finalizes it: 0 with *out filled, -PETREL_ENOTFOUND, -PETREL_EDB.
 */
static int one_version(struct petrel_sql *q, int r, struct petrel_version *out,
		       struct petrel_err *err)
{
	if (r < 0)
		return r;
	if ((r = petrel_sql_step(q)) > 0)
		r = row_to_version(q->st, out, err);
	else if (r == 0)
		r = -PETREL_ENOTFOUND;
	petrel_sql_finalize(q);
	return r;
}

int petrel_store_newest_version(struct petrel_store *s, const char *target,
				struct petrel_version *out, struct petrel_err *err)
{
	static const char sql[] = "SELECT " VERSION_COLUMNS " FROM versions WHERE target = ?"
				  " ORDER BY timestamp DESC, id DESC LIMIT 1";
	struct petrel_sql q;

	return one_version(&q, petrel_sql_prepare(&q, s->db, err, sql, "t", target), out, err);
}

int petrel_store_find_version(struct petrel_store *s, const char *target,
			      const uint8_t sha256[32], struct petrel_version *out, struct petrel_err *err)
{
	static const char sql[] = "SELECT " VERSION_COLUMNS " FROM versions"
				  " WHERE target = ? AND sha256 = ?"
				  " ORDER BY timestamp DESC, id DESC LIMIT 1";
	char hex[PETREL_HASH_HEX + 1];
	struct petrel_sql q;

	petrel_hex(sha256, 32, hex);
	return one_version(&q, petrel_sql_prepare(&q, s->db, err, sql, "tt", target, hex), out,
			   err);
}

int petrel_store_find_uuid(struct petrel_store *s, const char *target, const char *uuid,
			   struct petrel_version *out, struct petrel_err *err)
{
	static const char sql[] = "SELECT " VERSION_COLUMNS " FROM versions"
				  " WHERE target = ? AND uuid = lower(?)"
				  " ORDER BY timestamp DESC, id DESC LIMIT 1";
	struct petrel_sql q;

	return one_version(&q, petrel_sql_prepare(&q, s->db, err, sql, "tt", target, uuid), out,
			   err);
}

/* Runs a one-integer query with target bound as ?1; no row reads as 0. */
static int query_int64(struct sqlite3 *db, const char *sql, const char *target, int64_t *out,
		       struct petrel_err *err)
{
	struct petrel_sql q;
	int r;

	*out = 0;
	if ((r = petrel_sql_row(&q, db, err, sql, "t", target)) <= 0)
		return r;
	*out = petrel_sql_int(&q, 0);
	petrel_sql_finalize(&q);
	return 0;
}

int petrel_store_count_versions(struct petrel_store *s, const char *target, struct petrel_err *err)
{
	int64_t n;
	int r;

	r = query_int64(s->db, "SELECT count(*) FROM versions WHERE target = ?", target, &n, err);
	if (r < 0)
		return r;
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

int petrel_store_version_by_id(struct petrel_store *s, int64_t id, struct petrel_version *out,
			       struct petrel_err *err)
{
	static const char sql[] = "SELECT " VERSION_COLUMNS " FROM versions WHERE id = ?";
	struct petrel_sql q;

	return one_version(&q, petrel_sql_prepare(&q, s->db, err, sql, "i", id), out, err);
}

int petrel_store_signatures(struct petrel_store *s, int64_t id, petrel_stored_sig_fn fn,
			    void *ctx, struct petrel_err *err)
{
	static const char sql[] =
		"SELECT keyid, CAST(minisig AS BLOB) FROM signatures WHERE version = ? ORDER BY keyid";
	struct petrel_stored_sig sig;
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_prepare(&q, s->db, err, sql, "i", id)) < 0)
		return r;
	while ((r = petrel_sql_step(&q)) > 0) {
		memset(&sig, 0, sizeof(sig));
		sig.text = sqlite3_column_blob(q.st, 1);
		sig.len = (size_t)sqlite3_column_bytes(q.st, 1);
		if (!sig.text)
			sig.text = "";
		if (petrel_strcpy_whole(sig.keyid, petrel_sql_text(&q, 0), sizeof(sig.keyid)) < 0 ||
		    sig.len > PETREL_STORED_SIG_MAX) {
			r = petrel_fail(err, -PETREL_EDB, "database: a signature of versions "
					"row %lld is malformed", (long long)id);
			break;
		}
		if ((r = fn(ctx, &sig)) < 0)
			break;
	}
	petrel_sql_finalize(&q);
	return r;
}

int petrel_store_count_signatures(struct petrel_store *s, int64_t id, struct petrel_err *err)
{
	struct petrel_sql q;
	int64_t n;
	int r;

	if ((r = petrel_sql_row(&q, s->db, err, "SELECT count(*) FROM signatures WHERE version = ?",
				"i", id)) <= 0)
		return r < 0 ? r : petrel_db_fail(s->db, err);
	n = petrel_sql_int(&q, 0);
	petrel_sql_finalize(&q);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

int petrel_journal_append(struct sqlite3 *db, const char *target, const char *event,
			  const char *detail, struct petrel_err *err)
{
	return journal_append(db, target, event, detail, err);
}

int petrel_store_high_water(struct petrel_store *s, const char *target, int64_t *out,
			    struct petrel_err *err)
{
	return query_int64(s->db, "SELECT high_water FROM targets WHERE name = ?", target, out,
			   err);
}

int petrel_store_high_water_finish(struct petrel_store *s, const char *target, int64_t *out,
				   struct petrel_err *err)
{
	return query_int64(s->db, "SELECT high_water_finish FROM targets WHERE name = ?", target,
			   out, err);
}
