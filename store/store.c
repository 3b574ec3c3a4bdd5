/* Verified versions, high-water marks and the hash-chained event journal in petrel.db. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
	"finish_time, trust, keyids, trusted_comment, timestamp, verified_at, url, rebuilders"

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

/* The head moves with every append, in the same transaction. */
static int journal_set_head(struct sqlite3 *db, int64_t id, const char *hash,
			    struct petrel_err *err)
{
	return petrel_sql_run(db, err, "INSERT INTO journal_head (one, id, hash) VALUES (1, ?, ?)"
			      " ON CONFLICT (one) DO UPDATE SET id = excluded.id, hash = excluded.hash",
			      "it", id, hash);
}

/* Appends one chained row; the caller holds a write transaction. */
static int journal_append(struct sqlite3 *db, const char *target, const char *event,
			  const char *detail, struct petrel_err *err)
{
	static const char sql[] = "INSERT INTO journal (time, target, event, detail, prev, hash)"
				  " VALUES (?, ?, ?, ?, ?, ?)";
	char prev[PETREL_HASH_HEX + 1], hash[PETREL_HASH_HEX + 1];
	int64_t now = (int64_t)time(NULL);
	int r;

	if ((r = journal_tip(db, prev, err)) < 0 ||
	    (r = petrel_journal_hash(prev, now, target, event, detail, hash)) < 0 ||
	    (r = petrel_sql_run(db, err, sql, "ittttt", now, target, event, detail, prev,
				hash)) < 0)
		return r;
	return journal_set_head(db, sqlite3_last_insert_rowid(db), hash, err);
}

int petrel_store_journal_repeats(struct petrel_store *s, const char *target, const char *event,
				 const char *detail, struct petrel_err *err)
{
	static const char sql[] =
		"SELECT event = ?2 AND detail = ?3 FROM journal WHERE target = ?1 ORDER BY id DESC LIMIT 1";
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_row(&q, s->db, err, sql, "ttt", target, event, detail)) <= 0)
		return r;
	r = petrel_sql_int(&q, 0) != 0;
	petrel_sql_finalize(&q);
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
		" verified_at, url, rebuilders) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
		" ON CONFLICT (target, uuid, sha256) DO NOTHING";
	const struct petrel_build *b = &v->build;
	int r;

	r = petrel_sql_run(db, err, sql, "ttttttiiitttiitt", v->target, b->job, b->uuid,
			   b->platform,
			   b->filename, hex, (int64_t)b->size, b->start_time, b->finish_time,
			   v->trust, v->keyids, v->trusted_comment, v->timestamp, v->verified_at,
			   v->url, v->rebuilders);
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

int petrel_store_add_version(struct petrel_store *s, struct petrel_version *v,
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
	    (r = column_str(st, 16, out->rebuilders, sizeof(out->rebuilders), err)) < 0)
		return r;
	b->size = size < 0 ? 0 : (uint64_t)size;
	b->start_time = sqlite3_column_int64(st, 8);
	b->finish_time = sqlite3_column_int64(st, 9);
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
