/* Generations, the current/previous pointers, rejected builds and switch intents. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "common/error.h"
#include "common/util.h"
#include "store/internal.h"

int petrel_store_pointers(struct petrel_store *s, const char *target, int64_t *current,
			  int64_t *previous, struct petrel_err *err)
{
	static const char sql[] = "SELECT current, previous FROM targets WHERE name = ?";
	struct petrel_sql q;
	int r;

	*current = *previous = 0;
	if ((r = petrel_sql_row(&q, s->db, err, sql, "t", target)) <= 0)
		return r;
	*current = petrel_sql_int(&q, 0);
	*previous = petrel_sql_int(&q, 1);
	petrel_sql_finalize(&q);
	return 0;
}

#define GENERATION_COLUMNS "number, parent, deployed_at, state, reason, version"

/* Reads a GENERATION_COLUMNS row, then its version. */
static int row_to_generation(struct petrel_store *s, sqlite3_stmt *st,
			     struct petrel_generation *g, struct petrel_err *err)
{
	const unsigned char *state = sqlite3_column_text(st, 3);
	const unsigned char *reason = sqlite3_column_text(st, 4);

	memset(g, 0, sizeof(*g));
	g->number = sqlite3_column_int64(st, 0);
	g->parent = sqlite3_column_int64(st, 1);
	g->deployed_at = sqlite3_column_int64(st, 2);
	petrel_strcpy_whole(g->state, state ? (const char *)state : "", sizeof(g->state));
	snprintf(g->reason, sizeof(g->reason), "%s", reason ? (const char *)reason : "");
	return petrel_store_version_by_id(s, sqlite3_column_int64(st, 5), &g->version, err);
}

int petrel_store_generation(struct petrel_store *s, const char *target, int64_t number,
			    struct petrel_generation *out, struct petrel_err *err)
{
	static const char sql[] = "SELECT " GENERATION_COLUMNS " FROM generations"
				  " WHERE target = ? AND number = ?";
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_row(&q, s->db, err, sql, "ti", target, number)) <= 0)
		return r < 0 ? r : -PETREL_ENOTFOUND;
	r = row_to_generation(s, q.st, out, err);
	petrel_sql_finalize(&q);
	return r;
}

/* Generation number of target into g, zeroed when number is 0. */
static int load_generation(struct petrel_store *s, const char *target, int64_t number,
			   struct petrel_generation *g, struct petrel_err *err)
{
	memset(g, 0, sizeof(*g));
	return number ? petrel_store_generation(s, target, number, g, err) : 0;
}

int petrel_store_current(struct petrel_store *s, const char *target,
			 struct petrel_generation *cur, struct petrel_generation *prev, struct petrel_err *err)
{
	int64_t c, p;
	int r;

	if ((r = petrel_store_pointers(s, target, &c, &p, err)) < 0 ||
	    (r = load_generation(s, target, c, cur, err)) < 0)
		return r;
	return prev ? load_generation(s, target, p, prev, err) : 0;
}

int petrel_store_history(struct petrel_store *s, const char *target, petrel_generation_fn fn,
			 void *ctx, struct petrel_err *err)
{
	static const char sql[] = "SELECT " GENERATION_COLUMNS " FROM generations"
				  " WHERE target = ? ORDER BY number DESC";
	struct petrel_generation g;
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_prepare(&q, s->db, err, sql, "t", target)) < 0)
		return r;
	while ((r = petrel_sql_step(&q)) > 0 && (r = row_to_generation(s, q.st, &g, err)) == 0 &&
	       (r = fn(ctx, &g)) == 0)
		;
	petrel_sql_finalize(&q);
	return r;
}

/* Creates generation max+1 of in->target for version_id; in->to_gen gets its number. */
static int new_generation(struct sqlite3 *db, struct petrel_intent *in, int64_t version_id,
			  struct petrel_err *err)
{
	static const char sql[] =
		"INSERT INTO generations (target, number, version, parent, deployed_at, state)"
		" SELECT ?1, coalesce(max(number), 0) + 1, ?2, ?3, ?4, 'pending'"
		" FROM generations WHERE target = ?1";
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_run(db, err, sql, "tiii", in->target, version_id, in->from_gen,
				(int64_t)time(NULL))) < 0 ||
	    (r = petrel_sql_row(&q, db, err, "SELECT max(number) FROM generations WHERE target = ?",
				"t", in->target)) < 0)
		return r;
	if (r == 0)
		return petrel_db_fail(db, err);
	in->to_gen = petrel_sql_int(&q, 0);
	petrel_sql_finalize(&q);
	return 0;
}

static int insert_intent(struct sqlite3 *db, const struct petrel_intent *in, struct petrel_err *err)
{
	static const char sql[] =
		"INSERT INTO intents (target, op, path, from_gen, from_prev, to_gen, to_prev,"
		" from_sha256, from_size, to_sha256, to_size, phase, started_at)"
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'prepared', ?)";
	char from[65] = "", to[65];

	if (in->has_from)
		petrel_hex(in->from_sha256, 32, from);
	petrel_hex(in->to_sha256, 32, to);
	return petrel_sql_run(db, err, sql, "tttiiiititii", in->target, in->op, in->path,
			      in->from_gen,
			  in->from_prev, in->to_gen, in->to_prev, from, (int64_t)in->from_size, to,
			  (int64_t)in->to_size, in->started_at);
}

/* Runs body inside one IMMEDIATE transaction, rolling back on failure. */
#define IN_TRANSACTION(db, body) do { \
		if ((r = petrel_db_begin(db, err)) < 0) \
			return r; \
		if ((r = (body)) < 0 || (r = petrel_db_commit(db, err)) < 0) \
			petrel_db_rollback(db); \
	} while (0)

static int begin_body(struct sqlite3 *db, struct petrel_intent *in, int64_t version_id,
		      struct petrel_err *err)
{
	int r = 0;

	if (version_id && (r = new_generation(db, in, version_id, err)) < 0)
		return r;
	if (version_id)
		in->to_prev = in->from_gen;
	return insert_intent(db, in, err);
}

int petrel_store_intent_begin(struct petrel_store *s, struct petrel_intent *in,
			      int64_t version_id, struct petrel_err *err)
{
	int r;

	in->started_at = (int64_t)time(NULL);
	petrel_strcpy_whole(in->phase, "prepared", sizeof(in->phase));
	IN_TRANSACTION(s->db, begin_body(s->db, in, version_id, err));
	return r;
}

static int set_pointers(struct sqlite3 *db, const char *target, int64_t cur, int64_t prev,
			struct petrel_err *err)
{
	return petrel_sql_run(db, err,
			      "UPDATE targets SET current = ?, previous = ? WHERE name = ?",
			  "iit", cur, prev, target);
}

static int switched_body(struct sqlite3 *db, const struct petrel_intent *in, struct petrel_err *err)
{
	int r;

	if ((r = set_pointers(db, in->target, in->to_gen, in->to_prev, err)) < 0)
		return r;
	if (!strcmp(in->op, "upgrade") &&
	    (r = petrel_sql_run(db, err,
				"UPDATE generations SET state = 'deployed', deployed_at = ?"
				" WHERE target = ? AND number = ?", "iti",
			    (int64_t)time(NULL), in->target, in->to_gen)) < 0)
		return r;
	return petrel_sql_run(db, err, "UPDATE intents SET phase = 'switched' WHERE target = ?",
			      "t",
			  in->target);
}

int petrel_store_intent_switched(struct petrel_store *s, struct petrel_intent *in,
				 struct petrel_err *err)
{
	int r;

	IN_TRANSACTION(s->db, switched_body(s->db, in, err));
	if (r == 0)
		petrel_strcpy_whole(in->phase, "switched", sizeof(in->phase));
	return r;
}

int petrel_store_intent_failing(struct petrel_store *s, struct petrel_intent *in,
				const char *reason, struct petrel_err *err)
{
	int r = petrel_sql_run(s->db, err,
			       "UPDATE intents SET phase = 'failing', reason = ? WHERE target = ?",
			   "tt", reason, in->target);

	if (r == 0) {
		petrel_strcpy_whole(in->phase, "failing", sizeof(in->phase));
		snprintf(in->reason, sizeof(in->reason), "%s", reason);
	}
	return r;
}

static int done_body(struct sqlite3 *db, const struct petrel_intent *in, const char *event,
		     const char *detail, struct petrel_err *err)
{
	int r = petrel_sql_run(db, err, "DELETE FROM intents WHERE target = ?", "t", in->target);

	return r < 0 ? r : petrel_journal_append(db, in->target, event, detail, err);
}

int petrel_store_intent_done(struct petrel_store *s, const struct petrel_intent *in,
			     const char *event, const char *detail, struct petrel_err *err)
{
	return petrel_store_intent_done_verdict(s, in, event, detail, NULL, err);
}

static int reject_body(struct sqlite3 *db, const char *target, const char *hex, const char *uuid,
		       const char *reason, struct petrel_err *err);

static int verdict_body(struct sqlite3 *db, const char *target, const struct petrel_verdict *v,
			struct petrel_err *err)
{
	char hex[65];

	petrel_hex(v->sha256, 32, hex);
	if (v->reject > 0)
		return reject_body(db, target, hex, v->uuid, v->reason, err);
	if (v->reject < 0)
		return petrel_sql_run(db, err, "DELETE FROM rejected WHERE target = ? AND sha256 = ?",
				      "tt", target, hex);
	return 0;
}

static int done_verdict_body(struct sqlite3 *db, const struct petrel_intent *in,
			     const char *event, const char *detail,
			     const struct petrel_verdict *v, struct petrel_err *err)
{
	int r = done_body(db, in, event, detail, err);

	return r < 0 || !v ? r : verdict_body(db, in->target, v, err);
}

int petrel_store_intent_done_verdict(struct petrel_store *s, const struct petrel_intent *in,
				     const char *event, const char *detail,
				     const struct petrel_verdict *verdict, struct petrel_err *err)
{
	int r;

	IN_TRANSACTION(s->db, done_verdict_body(s->db, in, event, detail, verdict, err));
	return r;
}

/*
 * How an intent ends when it is not done as planned: the pointers at (cur, prev), an
 * upgrade's generation in state with reason, with reject its build rejected for the
 * target, a journal row (event, reason), the intent gone.
 */
static int end_body(struct sqlite3 *db, const struct petrel_intent *in, int64_t cur,
		    int64_t prev, const char *state, const char *event, const char *reason,
		    int reject, struct petrel_err *err)
{
	int upgrade = !strcmp(in->op, "upgrade");
	int r;

	if ((r = set_pointers(db, in->target, cur, prev, err)) < 0)
		return r;
	if (upgrade && (r = petrel_sql_run(db, err, "UPDATE generations SET state = ?, reason = ?"
					   " WHERE target = ? AND number = ?", "ttti",
				       state, reason, in->target, in->to_gen)) < 0)
		return r;
	if (upgrade && reject &&
	    (r = petrel_sql_run(db, err,
				"INSERT OR REPLACE INTO rejected (target, sha256, uuid, reason, at)"
				" SELECT g.target, v.sha256, v.uuid, ?3, ?4 FROM generations g"
				" JOIN versions v ON v.id = g.version"
				" WHERE g.target = ?1 AND g.number = ?2", "titi",
			    in->target, in->to_gen, reason, (int64_t)time(NULL))) < 0)
		return r;
	return done_body(db, in, event, reason, err);
}

static int undo_body(struct sqlite3 *db, const struct petrel_intent *in, const char *state,
		     const char *event, const char *reason, int reject, struct petrel_err *err)
{
	return end_body(db, in, in->from_gen, in->from_prev, state, event, reason, reject, err);
}

int petrel_store_intent_undo(struct petrel_store *s, const struct petrel_intent *in,
			     const char *state, const char *event, const char *reason,
			     int reject, struct petrel_err *err)
{
	int r;

	IN_TRANSACTION(s->db, undo_body(s->db, in, state, event, reason, reject, err));
	return r;
}

static int forward_body(struct sqlite3 *db, const struct petrel_intent *in, const char *reason,
			int reject, struct petrel_err *err)
{
	return end_body(db, in, in->to_gen, in->to_prev, "deployed", "rollback-impossible",
			reason, reject, err);
}

int petrel_store_intent_forward(struct petrel_store *s, const struct petrel_intent *in,
				const char *reason, int reject, struct petrel_err *err)
{
	int r;

	IN_TRANSACTION(s->db, forward_body(s->db, in, reason, reject, err));
	return r;
}

/* Reads an intents row (the columns of next_intent, in order). */
static int row_to_intent(sqlite3_stmt *st, struct petrel_intent *in, struct petrel_err *err)
{
	const char *from = (const char *)sqlite3_column_text(st, 7);
	const char *to = (const char *)sqlite3_column_text(st, 9);
	const char *texts[] = { (const char *)sqlite3_column_text(st, 0),
				(const char *)sqlite3_column_text(st, 1),
				(const char *)sqlite3_column_text(st, 2),
				(const char *)sqlite3_column_text(st, 11) };

	memset(in, 0, sizeof(*in));
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(texts); i++)
		if (!texts[i])
			return petrel_fail(err, -PETREL_EDB, "database: malformed intents row");
	if (petrel_strcpy_whole(in->target, texts[0], sizeof(in->target)) < 0 ||
	    petrel_strcpy_whole(in->op, texts[1], sizeof(in->op)) < 0 ||
	    petrel_strcpy_whole(in->path, texts[2], sizeof(in->path)) < 0 ||
	    petrel_strcpy_whole(in->phase, texts[3], sizeof(in->phase)) < 0 ||
	    !to || petrel_unhex(to, strlen(to), in->to_sha256, 32) < 0 ||
	    (from && *from && petrel_unhex(from, strlen(from), in->from_sha256, 32) < 0))
		return petrel_fail(err, -PETREL_EDB, "database: malformed intents row");
	in->has_from = from && *from;
	in->from_gen = sqlite3_column_int64(st, 3);
	in->from_prev = sqlite3_column_int64(st, 4);
	in->to_gen = sqlite3_column_int64(st, 5);
	in->to_prev = sqlite3_column_int64(st, 6);
	in->from_size = (uint64_t)sqlite3_column_int64(st, 8);
	in->to_size = (uint64_t)sqlite3_column_int64(st, 10);
	in->started_at = sqlite3_column_int64(st, 12);
	snprintf(in->reason, sizeof(in->reason), "%s",
		 sqlite3_column_text(st, 13) ? (const char *)sqlite3_column_text(st, 13) : "");
	in->adapter_pid = sqlite3_column_int64(st, 14);
	return 0;
}

int petrel_store_intent_adapter(struct petrel_store *s, const char *target, int64_t pid,
				struct petrel_err *err)
{
	return petrel_sql_run(s->db, err, "UPDATE intents SET adapter_pid = ? WHERE target = ?",
			      "it",
			  pid, target);
}

/* The intent of the first target after `after` (by name): 0, -PETREL_ENOTFOUND, error. */
static int next_intent(struct petrel_store *s, const char *after, struct petrel_intent *in,
		       struct petrel_err *err)
{
	static const char sql[] = "SELECT target, op, path, from_gen, from_prev, to_gen, to_prev,"
				  " from_sha256, from_size, to_sha256, to_size, phase, started_at, reason,"
				  " adapter_pid FROM intents WHERE target > ? ORDER BY target LIMIT 1";
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_row(&q, s->db, err, sql, "t", after)) <= 0)
		return r < 0 ? r : -PETREL_ENOTFOUND;
	r = row_to_intent(q.st, in, err);
	petrel_sql_finalize(&q);
	return r;
}

int petrel_store_intents(struct petrel_store *s, petrel_intent_fn fn, void *ctx,
			 struct petrel_err *err)
{
	struct petrel_intent in;
	char after[PETREL_NAME_MAX + 1] = "";
	int r;

	/* one row at a time, by name: fn may delete the row it is given */
	while ((r = next_intent(s, after, &in, err)) == 0) {
		petrel_strcpy_whole(after, in.target, sizeof(after));
		if ((r = fn(ctx, &in)) < 0)
			return r;
	}
	return r == -PETREL_ENOTFOUND ? 0 : r;
}

int petrel_store_rejected(struct petrel_store *s, const char *target, const uint8_t sha256[32],
			  char reason[256], int64_t *at, struct petrel_err *err)
{
	static const char sql[] = "SELECT reason, at FROM rejected WHERE target = ? AND sha256 = ?";
	char hex[65];
	struct petrel_sql q;
	int r;

	petrel_hex(sha256, 32, hex);
	if ((r = petrel_sql_row(&q, s->db, err, sql, "tt", target, hex)) <= 0)
		return r < 0 ? r : -PETREL_ENOTFOUND;
	snprintf(reason, 256, "%s", petrel_sql_text(&q, 0));
	*at = petrel_sql_int(&q, 1);
	petrel_sql_finalize(&q);
	return 0;
}

static int reject_body(struct sqlite3 *db, const char *target, const char *hex, const char *uuid,
		       const char *reason, struct petrel_err *err)
{
	char detail[512];
	int r;

	snprintf(detail, sizeof(detail), "uuid=%s sha256=%s reason=%s", uuid, hex, reason);
	if ((r = petrel_sql_run(db, err, "INSERT OR IGNORE INTO targets (name) VALUES (?)", "t",
				target)) < 0 ||
	    (r = petrel_sql_run(db, err,
				"INSERT OR REPLACE INTO rejected (target, sha256, uuid, reason, at)"
				" VALUES (?, ?, ?, ?, ?)", "tttti",
			    target, hex, uuid, reason, (int64_t)time(NULL))) < 0)
		return r;
	return petrel_journal_append(db, target, "reject", detail, err);
}

int petrel_store_reject(struct petrel_store *s, const char *target, const uint8_t sha256[32],
			const char *uuid, const char *reason, struct petrel_err *err)
{
	char hex[65];
	int r;

	petrel_hex(sha256, 32, hex);
	IN_TRANSACTION(s->db, reject_body(s->db, target, hex, uuid, reason, err));
	return r;
}

int petrel_store_unreject(struct petrel_store *s, const char *target, const uint8_t sha256[32],
			  struct petrel_err *err)
{
	struct petrel_verdict v = { .reject = -1 };

	memcpy(v.sha256, sha256, 32);
	return verdict_body(s->db, target, &v, err);
}
