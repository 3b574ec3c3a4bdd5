/* The state directory: sqlite database, content-addressed blobs, tmp/ for downloads. */
#ifndef PETREL_STORE_H
#define PETREL_STORE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "common/build.h"

#define PETREL_SCHEMA_VERSION 1

struct sqlite3;

struct petrel_store {
	char dir[PATH_MAX];	/* state directory */
	struct sqlite3 *db;	/* petrel.db, WAL mode */
	int lockfd;		/* DIR/lock while held, else -1 */
};

/* A verified build as recorded in the store for one target. */
struct petrel_version {
	int64_t id;			/* row id, 0 before insertion */
	char target[PETREL_NAME_MAX + 1];
	struct petrel_build build;
	char trust[16];			/* "signed" or "server" */
	char keyids[256];		/* comma-separated key ids (minisign's hex), "" if none */
	char trusted_comment[1024 + 1];	/* of the first valid signature, "" if none */
	int64_t timestamp;		/* signed timestamp, else finish time: orders versions */
	int64_t verified_at;		/* when petrel accepted it */
	char url[PETREL_URL_MAX + 1];	/* where the bytes came from */
};

/*
 * Opens (creating if needed) the state directory dir: petrel.db with WAL and
 * migrations applied up to PETREL_SCHEMA_VERSION, objects/sha256/, tmp/ (mode 0700).
 * A database newer than this program is refused (-PETREL_EDB with a message).
 * Copies dir. 0 or negative code with a petrel_fail message.
 */
int petrel_store_open(struct petrel_store *s, const char *dir);
void petrel_store_close(struct petrel_store *s);

/*
 * Takes the state directory's exclusive lock (flock on DIR/lock), waiting up to
 * timeout seconds; writes our pid into the file so a waiter can say who holds it.
 * Held until petrel_store_unlock or petrel_store_close (or the process dies: a
 * crash never leaves a stale lock). 0, -PETREL_ELOCKED naming the holder, or -errno.
 */
int petrel_store_lock(struct petrel_store *s, long timeout);
void petrel_store_unlock(struct petrel_store *s);

/* Path of the blob for sha256: DIR/objects/sha256/XX/REST (62 hex). */
int petrel_store_blob_path(const struct petrel_store *s, const uint8_t sha256[32],
			   char *out, size_t n);
/* 1 if the blob exists, 0 if not, negative on error. */
int petrel_store_has_blob(const struct petrel_store *s, const uint8_t sha256[32]);

/*
 * Creates a new empty file in DIR/tmp with O_EXCL|O_CLOEXEC, mode 0600.
 * *fd and path (size n) receive it. 0 or -errno.
 */
int petrel_store_tmpfile(const struct petrel_store *s, int *fd, char *path, size_t n);

/*
 * Makes a fully written temp file (from petrel_store_tmpfile, content already
 * verified to hash to sha256) a blob: fsync, fchmod 0444, mkdir objects/sha256/XX
 * (fsync parent), rename into place, fsync the XX directory. Consumes fd (closed
 * in every case). If the blob already exists the temp file is removed. On failure
 * the temp file is removed. 0 or -errno.
 */
int petrel_store_commit_blob(const struct petrel_store *s, int fd, const char *tmppath,
			     const uint8_t sha256[32]);

/* Removes every file in DIR/tmp (interrupted downloads). 0 or -errno. */
int petrel_store_clean_tmp(const struct petrel_store *s);

/*
 * Records a verified version for v->target (insert; if the same target already has
 * a row with the same uuid and sha256, it is kept and v->id set to it). Also raises
 * the target's high-water mark to v->timestamp if higher, and appends a "fetch"
 * journal row. All in one transaction. 0 or -PETREL_EDB.
 */
int petrel_store_add_version(struct petrel_store *s, struct petrel_version *v);

/* Newest version of target by timestamp (ties: highest id). 0, -PETREL_ENOTFOUND, -PETREL_EDB. */
int petrel_store_newest_version(struct petrel_store *s, const char *target,
				struct petrel_version *out);
/* Version of target holding sha256 (newest such row). 0, -PETREL_ENOTFOUND, -PETREL_EDB. */
int petrel_store_find_version(struct petrel_store *s, const char *target,
			      const uint8_t sha256[32], struct petrel_version *out);
/* Number of version rows of target. >= 0 or -PETREL_EDB. */
int petrel_store_count_versions(struct petrel_store *s, const char *target);

/* High-water mark of target: newest timestamp ever verified; 0 when none. */
int petrel_store_high_water(struct petrel_store *s, const char *target, int64_t *out);

/*
 * Appends a journal row (time, target, event, detail) whose hash column is
 * SHA-256(previous row's hash || this row's fields), so tampering breaks the chain.
 * 0 or -PETREL_EDB.
 */
int petrel_store_journal(struct petrel_store *s, const char *target, const char *event,
			 const char *detail);

/* fsck callback: one finding per call, e.g. "objects/sha256/ab/cd..: sha256 mismatch". */
typedef void (*petrel_fsck_fn)(void *ctx, const char *finding);
/*
 * Re-hashes every blob and compares it with its name; checks that every version row's
 * blob exists and has the recorded size; reports stray files in tmp/ and objects/;
 * runs sqlite's PRAGMA integrity_check; checks the journal chain.
 * Returns the number of findings (>= 0) or a negative error.
 */
int petrel_store_fsck(struct petrel_store *s, petrel_fsck_fn fn, void *ctx);

#endif
