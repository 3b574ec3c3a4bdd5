/* What holds a target back: builds that failed verification (until retry_at), pins. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "common/error.h"
#include "common/util.h"
#include "store/internal.h"

#define DAY 86400

/* The first retry waits one interval (at most a day); each failure of the same bytes
 * doubles the wait, up to a day. */
static int64_t first_delay(long interval)
{
	return interval < 1 ? 1 : interval < DAY ? interval : DAY;
}

int petrel_store_refuse(struct petrel_store *s, const char *target, const uint8_t sha256[32],
			const char *uuid, const char *reason, long interval, int64_t now,
			struct petrel_err *err)
{
	static const char sql[] =
		"INSERT INTO refused (target, sha256, uuid, reason, first_at, last_at, retry_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5 + ?6)"
		" ON CONFLICT (target, sha256) DO UPDATE SET uuid = excluded.uuid,"
		" reason = excluded.reason, last_at = excluded.last_at, count = count + 1,"
		" retry_at = excluded.last_at + min(?6 * (1 << min(count, 20)), ?7)";
	char hex[65];

	petrel_hex(sha256, 32, hex);
	return petrel_sql_run(s->db, err, sql, "ttttiii", target, hex, uuid, reason, now,
			      first_delay(interval), (int64_t)DAY);
}

static void row_to_refusal(const struct petrel_sql *q, struct petrel_refusal *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->uuid, sizeof(out->uuid), "%s", petrel_sql_text(q, 0));
	snprintf(out->sha256, sizeof(out->sha256), "%s", petrel_sql_text(q, 1));
	snprintf(out->reason, sizeof(out->reason), "%s", petrel_sql_text(q, 2));
	out->first_at = petrel_sql_int(q, 3);
	out->last_at = petrel_sql_int(q, 4);
	out->count = petrel_sql_int(q, 5);
	out->retry_at = petrel_sql_int(q, 6);
}

static int refusal_row(struct petrel_store *s, const char *sql, const char *target,
		       const char *hex, struct petrel_refusal *out, struct petrel_err *err)
{
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_row(&q, s->db, err, sql, hex ? "tt" : "t", target, hex)) <= 0)
		return r < 0 ? r : -PETREL_ENOTFOUND;
	row_to_refusal(&q, out);
	petrel_sql_finalize(&q);
	return 0;
}

#define REFUSAL_COLUMNS "uuid, sha256, reason, first_at, last_at, count, retry_at"

int petrel_store_refused(struct petrel_store *s, const char *target, const uint8_t sha256[32],
			 struct petrel_refusal *out, struct petrel_err *err)
{
	char hex[65];

	petrel_hex(sha256, 32, hex);
	return refusal_row(s, "SELECT " REFUSAL_COLUMNS " FROM refused"
			   " WHERE target = ? AND sha256 = ?", target, hex, out, err);
}

int petrel_store_last_refusal(struct petrel_store *s, const char *target,
			      struct petrel_refusal *out, struct petrel_err *err)
{
	return refusal_row(s, "SELECT " REFUSAL_COLUMNS " FROM refused WHERE target = ?"
			   " ORDER BY last_at DESC, rowid DESC LIMIT 1", target, NULL, out, err);
}

static int pin_body(struct sqlite3 *db, const char *target, const char *uuid, const char *hex,
		    struct petrel_err *err)
{
	char detail[160];
	int r;

	snprintf(detail, sizeof(detail), "uuid=%s sha256=%s", uuid, hex);
	if ((r = petrel_sql_run(db, err, "INSERT OR REPLACE INTO pins (target, uuid, sha256, at)"
				" VALUES (?, ?, ?, ?)", "ttti", target, uuid, hex,
				(int64_t)time(NULL))) < 0)
		return r;
	return petrel_journal_append(db, target, "pin", detail, err);
}

int petrel_store_pin(struct petrel_store *s, const char *target, const char *uuid,
		     const uint8_t sha256[32], struct petrel_err *err)
{
	char hex[65];
	int r;

	petrel_hex(sha256, 32, hex);
	if ((r = petrel_db_begin(s->db, err)) < 0)
		return r;
	if ((r = pin_body(s->db, target, uuid, hex, err)) < 0 ||
	    (r = petrel_db_commit(s->db, err)) < 0)
		petrel_db_rollback(s->db);
	return r;
}

static int unpin_body(struct sqlite3 *db, const char *target, struct petrel_err *err)
{
	int r;

	if ((r = petrel_sql_run(db, err, "DELETE FROM pins WHERE target = ?", "t", target)) < 0)
		return r;
	if (sqlite3_changes(db) == 0)
		return -PETREL_ENOTFOUND;
	return petrel_journal_append(db, target, "unpin", "", err);
}

int petrel_store_unpin(struct petrel_store *s, const char *target, struct petrel_err *err)
{
	int r;

	if ((r = petrel_db_begin(s->db, err)) < 0)
		return r;
	if ((r = unpin_body(s->db, target, err)) < 0 || (r = petrel_db_commit(s->db, err)) < 0)
		petrel_db_rollback(s->db);
	return r;
}

int petrel_store_pinned(struct petrel_store *s, const char *target, struct petrel_pin *out,
			struct petrel_err *err)
{
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_row(&q, s->db, err, "SELECT uuid, sha256, at FROM pins"
				" WHERE target = ?", "t", target)) <= 0)
		return r < 0 ? r : -PETREL_ENOTFOUND;
	memset(out, 0, sizeof(*out));
	snprintf(out->uuid, sizeof(out->uuid), "%s", petrel_sql_text(&q, 0));
	snprintf(out->sha256, sizeof(out->sha256), "%s", petrel_sql_text(&q, 1));
	out->at = petrel_sql_int(&q, 2);
	petrel_sql_finalize(&q);
	return 0;
}
