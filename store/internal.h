/* Private to store/: the sqlite boundary, the journal hash and the fsck reporter. */
#ifndef PETREL_STORE_INTERNAL_H
#define PETREL_STORE_INTERNAL_H

#include <stdint.h>

#include "store/store.h"
#include "common/error.h"

#define PETREL_HASH_HEX 64		/* lowercase hex SHA-256, without NUL */
#define PETREL_JOURNAL_EVENT_MAX 64	/* event names are ours: "fetch", "deploy", ... */

struct sqlite3_stmt;

/*
 * The one place a sqlite failure becomes a petrel error: records
 * "database: <sqlite3_errmsg>" in err, returns -PETREL_EDB.
 */
int petrel_db_fail(struct sqlite3 *db, struct petrel_err *err);

/*
 * The one statement helper: prepare, bind, step, finalize. Bind specs name the
 * arguments that follow, one letter each: 't' a text (const char *, copied; NULL
 * binds NULL), 'i' an int64_t (cast ints: these are varargs). Every failure is
 * -PETREL_EDB through petrel_db_fail, its message in the err given at prepare.
 *
 *	struct petrel_sql q;
 *	if ((r = petrel_sql_prepare(&q, db, err, sql, "ti", name, (int64_t)n)) < 0)
 *		return r;
 *	while ((r = petrel_sql_step(&q)) > 0)
 *		... petrel_sql_int(&q, 0) ...
 *	petrel_sql_finalize(&q);
 */
struct petrel_sql {
	struct sqlite3 *db;
	struct sqlite3_stmt *st;
	struct petrel_err *err;		/* where the statement's failures are told */
};

/* Prepares sql and binds its arguments. 0, or -PETREL_EDB with nothing left to finalize. */
int petrel_sql_prepare(struct petrel_sql *q, struct sqlite3 *db, struct petrel_err *err,
		       const char *sql, const char *types, ...);
/* 1: a row is ready; 0: no more rows; -PETREL_EDB. */
int petrel_sql_step(struct petrel_sql *q);
/* Releases the statement; q may be zeroed or already finalized. */
void petrel_sql_finalize(struct petrel_sql *q);
/* Column i of the current row: text (NULL reads as ""), integer. */
const char *petrel_sql_text(const struct petrel_sql *q, int i);
int64_t petrel_sql_int(const struct petrel_sql *q, int i);
/* Runs a statement that answers no rows (one that does is a failure). 0 or -PETREL_EDB. */
int petrel_sql_run(struct sqlite3 *db, struct petrel_err *err, const char *sql,
		   const char *types, ...);
/*
 * Runs a one-row query: 1 with the row ready in q (the caller finalizes), 0 when there
 * is no row (q finalized), -PETREL_EDB (q finalized).
 */
int petrel_sql_row(struct petrel_sql *q, struct sqlite3 *db, struct petrel_err *err,
		   const char *sql, const char *types, ...);
/* Runs sql (no rows wanted). 0 or -PETREL_EDB. */
int petrel_db_exec(struct sqlite3 *db, const char *sql, struct petrel_err *err);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Rollback reports nothing: it runs after a
 * failure whose message already won. */
int petrel_db_begin(struct sqlite3 *db, struct petrel_err *err);
int petrel_db_commit(struct sqlite3 *db, struct petrel_err *err);
void petrel_db_rollback(struct sqlite3 *db);

/*
 * The journal chain: hex SHA-256 of prev || "\n" || time || "\n" || target || "\n" ||
 * event || "\n" || detail, into out (PETREL_HASH_HEX + 1 bytes). The first row's
 * prev is 64 zeros. 0 or negative.
 */
int petrel_journal_hash(const char *prev, int64_t time, const char *target,
			const char *event, const char *detail, char out[PETREL_HASH_HEX + 1]);
/* Appends a chained journal row; the caller holds a write transaction. */
int petrel_journal_append(struct sqlite3 *db, const char *target, const char *event,
			  const char *detail, struct petrel_err *err);
extern const char petrel_journal_genesis[PETREL_HASH_HEX + 1];
/*
 * The journal's anchor, DIR/journal.head: the newest row (id, hash) a commit made
 * durable, written after each commit that appended (store.c says how). 1 with id and
 * hash, 0 when there is none (a fresh state directory, or one from before anchors),
 * -PETREL_EMALFORMED (not a regular file, not "ID HASH\n"), -errno.
 */
int petrel_journal_anchor_read(const char *dir, int64_t *id, char hash[PETREL_HASH_HEX + 1]);

/* The file that makes a directory petrel's state directory (db.c writes it). */
#define PETREL_STATE_MARKER ".petrel-state"
/* 1 when dir holds petrel's marker, 0 when not: only then is its tmp/ petrel's. */
int petrel_store_is_ours(const char *dir);

#endif
