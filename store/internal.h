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
 * "database: <sqlite3_errmsg>" as the pending message, returns -PETREL_EDB.
 */
int petrel_db_fail(struct sqlite3 *db, struct petrel_err *err);

/* Prepares sql on db into *st. 0 or -PETREL_EDB. */
int petrel_db_prepare(struct sqlite3 *db, const char *sql, struct sqlite3_stmt **st, struct petrel_err *err);
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

#endif
