/* The state directory: sqlite database, content-addressed blobs, tmp/ for downloads. */
#ifndef PETREL_STORE_H
#define PETREL_STORE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "common/build.h"
#include "common/error.h"

#define PETREL_SCHEMA_VERSION 11

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
	char trust[16];			/* "signed", "server", "rebuilt", "signed+rebuilt" */
	char keyids[256];		/* comma-separated key ids (minisign's hex), "" if none */
	char trusted_comment[1024 + 1];	/* of the first valid signature, "" if none */
	int64_t timestamp;		/* signed timestamp, else finish time: orders versions */
	int64_t verified_at;		/* when petrel accepted it */
	char url[PETREL_URL_MAX + 1];	/* where the bytes came from */
	char rebuilders[1024];		/* comma-separated servers that agreed, "" if none */
	char blake2b[129];		/* BLAKE2b-512 of the bytes (hex), "" if unknown */
	int offline;			/* imported with --offline-ok: the rebuilders the
					 * target's trust asks for were not asked */
};

/* One signature a version was accepted with: the .minisig file's exact text. */
#define PETREL_STORED_SIG_MAX 4096	/* bytes of one stored .minisig (as fetched) */
struct petrel_stored_sig {
	char keyid[17];			/* minisign's hex, uppercase: one row a key */
	const char *text;		/* borrowed; len bytes, at most PETREL_STORED_SIG_MAX */
	size_t len;
};

/*
 * Opens (creating if needed) the state directory dir: petrel.db with WAL and
 * migrations applied up to PETREL_SCHEMA_VERSION, objects/sha256/, tmp/ (mode 0700).
 * A database newer than this program is refused (-PETREL_EDB with a message).
 * Copies dir. 0 or negative code with a petrel_fail message.
 */
int petrel_store_open(struct petrel_store *s, const char *dir, struct petrel_err *err);
/* What a writer does to dir before anything else: refuses a directory others may write
 * to, another user's, or one that is not petrel's; lays it out (with its marker) when
 * new. 0 or a negative code with a message. */
int petrel_store_prepare(const char *dir, struct petrel_err *err);
/* The same, taking the state directory's lock (petrel_store_lock) before sqlite opens
 * the database: what every command does. The lock is released by petrel_store_close. */
int petrel_store_open_locked(struct petrel_store *s, const char *dir, long lock_timeout,
			     struct petrel_err *err);
/*
 * Opens the state directory for reading only: no lock, no write access needed, nothing
 * created or migrated. Every read until petrel_store_close sees one snapshot (a WAL
 * read transaction), so a writer never makes it wait. A state directory without a
 * database reads as empty; one of another schema version is -PETREL_EDB.
 */
int petrel_store_open_read(struct petrel_store *s, const char *dir, struct petrel_err *err);
/* A read-only store's next snapshot: what writers committed since is seen. */
int petrel_store_read_again(struct petrel_store *s, struct petrel_err *err);
void petrel_store_close(struct petrel_store *s);

/*
 * Takes an exclusive flock on path (created 0644 if missing) without waiting and writes
 * our pid into it: the fd to keep (closing it releases the lock), -EWOULDBLOCK with
 * who = "pid N" of the holder when another process holds it, or -errno with a message.
 */
int petrel_lockfile_try(const char *path, char *who, size_t n, struct petrel_err *err);
/* Whether a process holds an exclusive flock on the lock file at path (1, with its pid
 * in *pid), or not (0), as /proc/locks says; needs no access to the file and takes
 * nothing. Or -errno (-ENOSYS without /proc). */
int petrel_lockfile_holder(const char *path, long *pid);
/*
 * Takes the state directory's exclusive lock (flock on DIR/lock), waiting up to
 * timeout seconds; writes our pid into the file so a waiter can say who holds it.
 * Held until petrel_store_unlock or petrel_store_close (or the process dies: a
 * crash never leaves a stale lock). 0, -PETREL_ELOCKED naming the holder, or -errno.
 */
int petrel_store_lock(struct petrel_store *s, long timeout, struct petrel_err *err);
void petrel_store_unlock(struct petrel_store *s);

/* Path of the blob for sha256: DIR/objects/sha256/XX/REST (62 hex). */
int petrel_store_blob_path(const struct petrel_store *s, const uint8_t sha256[32],
			   char *out, size_t n);
/* 1 if the blob exists, 0 if not, negative on error. */
int petrel_store_has_blob(const struct petrel_store *s, const uint8_t sha256[32],
			  struct petrel_err *err);

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
			     const uint8_t sha256[32], struct petrel_err *err);

/* Removes every file in DIR/tmp (interrupted downloads): only in a directory that holds
 * petrel's marker (petrel_store_open writes it), else -PETREL_ECONFIG and nothing is
 * removed. 0 or -errno. */
int petrel_store_clean_tmp(const struct petrel_store *s);

/*
 * Records a verified version for v->target (insert; if the same target already has
 * a row with the same uuid and sha256, it is kept and v->id set to it). Also raises
 * the target's high-water mark to v->timestamp if higher, and appends a "fetch"
 * journal row. All in one transaction. 0 or -PETREL_EDB.
 */
int petrel_store_add_version(struct petrel_store *s, struct petrel_version *v,
			     struct petrel_err *err);

/*
 * petrel_store_add_version, with the n signatures (sigs, borrowed) the version was
 * accepted with, stored in the same transaction as its row (one per key id; a key
 * the row already has keeps its text). A text over PETREL_STORED_SIG_MAX or a key id
 * not 16 hex digits is -PETREL_EDB and nothing is stored.
 */
int petrel_store_add_version_signed(struct petrel_store *s, struct petrel_version *v,
				    const struct petrel_stored_sig *sigs, size_t n,
				    struct petrel_err *err);
/*
 * Calls fn for every signature stored for version row id, by key id: sig->text is valid
 * during the call only. 0 when all were called (none: fn never is), or the first error.
 */
typedef int (*petrel_stored_sig_fn)(void *ctx, const struct petrel_stored_sig *sig);
int petrel_store_signatures(struct petrel_store *s, int64_t id, petrel_stored_sig_fn fn,
			    void *ctx, struct petrel_err *err);
/* Number of signatures stored for version row id: >= 0 or -PETREL_EDB. */
int petrel_store_count_signatures(struct petrel_store *s, int64_t id, struct petrel_err *err);

/* Newest version of target by timestamp (ties: highest id). 0, -PETREL_ENOTFOUND, -PETREL_EDB. */
int petrel_store_newest_version(struct petrel_store *s, const char *target,
				struct petrel_version *out, struct petrel_err *err);
/* Version of target holding sha256 (newest such row). 0, -PETREL_ENOTFOUND, -PETREL_EDB. */
int petrel_store_find_version(struct petrel_store *s, const char *target,
			      const uint8_t sha256[32], struct petrel_version *out, struct petrel_err *err);
/* Version of target with uuid (any case; newest such row). 0, -PETREL_ENOTFOUND, -PETREL_EDB. */
int petrel_store_find_uuid(struct petrel_store *s, const char *target, const char *uuid,
			   struct petrel_version *out, struct petrel_err *err);
/* Number of version rows of target. >= 0 or -PETREL_EDB. */
int petrel_store_count_versions(struct petrel_store *s, const char *target, struct petrel_err *err);

/* High-water mark of target: newest timestamp ever verified; 0 when none. */
int petrel_store_high_water(struct petrel_store *s, const char *target, int64_t *out,
			    struct petrel_err *err);
/* The newest build finish time ever verified for target; 0 when none. */
int petrel_store_high_water_finish(struct petrel_store *s, const char *target, int64_t *out,
				   struct petrel_err *err);

/* 1 when target's newest journal row is (event, detail), 0 when not (or none), or <0. */
int petrel_store_journal_repeats(struct petrel_store *s, const char *target, const char *event,
				 const char *detail, struct petrel_err *err);
/*
 * Appends a journal row (time, target, event, detail) whose hash column is
 * SHA-256(previous row's hash || this row's fields), so tampering breaks the chain.
 * 0 or -PETREL_EDB.
 */
int petrel_store_journal(struct petrel_store *s, const char *target, const char *event,
			 const char *detail, struct petrel_err *err);

/* ---- generations: what was deployed, and the switch in progress ---- */

/* One deployed generation of a target. */
struct petrel_generation {
	int64_t number;			/* 1, 2, ... per target */
	int64_t parent;			/* the generation current before it, 0 for none */
	int64_t deployed_at;
	char state[16];			/* "pending", "deployed", "failed", "interrupted" */
	char reason[256];		/* why it failed or was interrupted */
	struct petrel_version version;
};

/*
 * The intent of a switch, recorded before the deployed file changes and removed
 * after the switch is complete, so a crash at any point is rolled back by recovery.
 * Pointers are generation numbers, 0 = none.
 */
struct petrel_intent {
	char target[PETREL_NAME_MAX + 1];
	char op[16];			/* "upgrade" or "revert" */
	char path[PATH_MAX];		/* the deployed file */
	int64_t from_gen, from_prev;	/* current and previous before */
	int64_t to_gen, to_prev;	/* current and previous after */
	int has_from;			/* was anything deployed before? */
	uint8_t from_sha256[32];
	uint64_t from_size;
	uint8_t to_sha256[32];
	uint64_t to_size;
	char phase[16];			/* "prepared": file may be either; "switched": the
					 * pointers moved and the adapter may have run;
					 * "failing": being rolled back because of reason */
	char reason[256];
	int64_t started_at;
	int64_t adapter_pid;		/* process group of the adapter running for it, 0 */
};

/* current and previous generation numbers of target (0 = none). */
int petrel_store_pointers(struct petrel_store *s, const char *target, int64_t *current,
			  int64_t *previous, struct petrel_err *err);
/* Generation number of target with its version. 0, -PETREL_ENOTFOUND, -PETREL_EDB. */
int petrel_store_generation(struct petrel_store *s, const char *target, int64_t number,
			    struct petrel_generation *out, struct petrel_err *err);
/*
 * target's current and previous generations, loaded as its pointers name them: a
 * zeroed generation (number 0) where there is none. prev may be NULL when only the
 * current one is wanted. 0, -PETREL_ENOTFOUND (a pointer names a missing
 * generation) or -PETREL_EDB.
 */
int petrel_store_current(struct petrel_store *s, const char *target,
			 struct petrel_generation *cur, struct petrel_generation *prev, struct petrel_err *err);
/* Calls fn for every generation of target, newest first. 0 or the first error. */
typedef int (*petrel_generation_fn)(void *ctx, const struct petrel_generation *g);
int petrel_store_history(struct petrel_store *s, const char *target, petrel_generation_fn fn,
			 void *ctx, struct petrel_err *err);

/*
 * Records the intent in->op (phase "prepared"). For an upgrade it also creates the
 * generation (state "pending", parent in->from_gen) of version_id and sets in->to_gen
 * to its number; for a revert version_id is 0 and in->to_gen is given. One
 * transaction. 0 or -PETREL_EDB (-PETREL_ELOCKED if an intent for target exists).
 */
int petrel_store_intent_begin(struct petrel_store *s, struct petrel_intent *in,
			      int64_t version_id, struct petrel_err *err);
/* The file now holds to: pointers move to (to_gen, to_prev), an upgrade's generation
 * becomes "deployed" at now, the intent's phase "switched". One transaction. */
int petrel_store_intent_switched(struct petrel_store *s, struct petrel_intent *in,
				 struct petrel_err *err);
/* The switch failed for reason and is being rolled back: recorded first, so that a
 * crash during the rollback still ends with the build rejected. */
int petrel_store_intent_failing(struct petrel_store *s, struct petrel_intent *in,
				const char *reason, struct petrel_err *err);
/* The operation completed: the intent goes, a journal row (event, detail) comes. */
int petrel_store_intent_done(struct petrel_store *s, const struct petrel_intent *in,
			     const char *event, const char *detail, struct petrel_err *err);
/* What a revert decides about a build, recorded with the revert itself. */
struct petrel_verdict {
	int reject;			/* 1: reject sha256 for the target (uuid, reason);
					 * -1: forget its rejection; 0: nothing */
	uint8_t sha256[32];
	char uuid[PETREL_UUID_LEN + 1];
	char reason[256];
};
/*
 * petrel_store_intent_done with verdict (NULL: none) in the same transaction: a
 * revert and the rejection of the build it leaves are one commit, so a crash never
 * keeps one without the other (a rejection comes with its "reject" journal row).
 */
int petrel_store_intent_done_verdict(struct petrel_store *s, const struct petrel_intent *in,
				     const char *event, const char *detail,
				     const struct petrel_verdict *verdict, struct petrel_err *err);
/*
 * The operation is undone (the caller already put from back on disk): pointers back
 * to (from_gen, from_prev); an upgrade's generation ends in state with reason; with
 * reject the to build is recorded as rejected for the target; journal row (event,
 * reason); the intent goes. One transaction.
 */
int petrel_store_intent_undo(struct petrel_store *s, const struct petrel_intent *in,
			     const char *state, const char *event, const char *reason,
			     int reject, struct petrel_err *err);
/*
 * The rollback cannot be done (the bytes to put back are gone): the operation is
 * finished forward instead. Pointers to (to_gen, to_prev); an upgrade's generation is
 * "deployed" with reason recorded; with reject the to build is also rejected for the
 * target (it failed, but stays live); journal row "rollback-impossible" (reason); the
 * intent goes. One transaction.
 */
int petrel_store_intent_forward(struct petrel_store *s, const struct petrel_intent *in,
				const char *reason, int reject, struct petrel_err *err);
/* Records that the adapter running for target's intent is process group pid (0: none). */
int petrel_store_intent_adapter(struct petrel_store *s, const char *target, int64_t pid,
				struct petrel_err *err);
/* Calls fn for every recorded intent (recovery). */
typedef int (*petrel_intent_fn)(void *ctx, const struct petrel_intent *in);
int petrel_store_intents(struct petrel_store *s, petrel_intent_fn fn, void *ctx,
			 struct petrel_err *err);

/*
 * Records that target refuses sha256 (uuid names the build it came as) for reason, with
 * a journal row "reject", in one transaction. The daemon does not fetch or deploy a
 * rejected build again; `upgrade --to UUID` still can. 0 or -PETREL_EDB.
 */
int petrel_store_reject(struct petrel_store *s, const char *target, const uint8_t sha256[32],
			const char *uuid, const char *reason, struct petrel_err *err);
/* Forgets a rejection (an operator went to that build by hand). 0 or -PETREL_EDB. */
int petrel_store_unreject(struct petrel_store *s, const char *target, const uint8_t sha256[32],
			  struct petrel_err *err);
/* 0 with reason/at when target rejected sha256, -PETREL_ENOTFOUND when not. */
int petrel_store_rejected(struct petrel_store *s, const char *target, const uint8_t sha256[32],
			  char reason[256], int64_t *at, struct petrel_err *err);
/* Version row by id. 0, -PETREL_ENOTFOUND, -PETREL_EDB. */
int petrel_store_version_by_id(struct petrel_store *s, int64_t id, struct petrel_version *out,
			       struct petrel_err *err);

/* One journal row, and whether the chain up to it holds. */
struct petrel_journal_row {
	int64_t id, time;
	char target[PETREL_NAME_MAX + 1];
	char event[65];
	char detail[1024];
	char hash[65];
	int chain_ok;		/* this row's prev and hash agree with every row before it */
};
/* Calls fn for every journal row of target (all when NULL), oldest first; the chain
 * is verified over all rows whatever the filter. 0 or the first error. */
typedef int (*petrel_journal_fn)(void *ctx, const struct petrel_journal_row *row);
int petrel_store_journal_each(struct petrel_store *s, const char *target, petrel_journal_fn fn,
			      void *ctx, struct petrel_err *err);

/* Where a walk of the journal stands, so that a later one goes on from there. */
struct petrel_journal_tip {
	int64_t id;		/* the last row walked; 0 before the first */
	char hash[65];		/* the chain's value: the last row's hash while it holds */
	int chain_ok;		/* 0 once a row broke it: every row after is marked too */
};
/*
 * Continues a walk (log --follow): calls fn for every row after tip->id of target (all
 * when NULL), oldest first, checking each row's link to the one before it (every
 * row's, whatever the filter), and moves tip to the last row read. Reads only the
 * rows after tip. 0 or the first error.
 */
int petrel_store_journal_after(struct petrel_store *s, const char *target,
			       struct petrel_journal_tip *tip, petrel_journal_fn fn, void *ctx,
			       struct petrel_err *err);

/* Which rows petrel_store_journal_select passes on. */
struct petrel_journal_query {
	const char *target;	/* NULL: every target's */
	int64_t since;		/* only rows at or after this time (0: any) */
	int64_t last;		/* only the newest `last` of those (-1: all) */
};
/*
 * Calls fn for the rows q selects, oldest first; sqlite does the selecting, so the
 * last rows of a long journal cost only those rows. A row's chain_ok comes from
 * first_broken, a petrel_journal_check's (0: intact; else that row and every later
 * one are marked): verify the whole chain first, then select what to show.
 * 0 or the first error.
 */
int petrel_store_journal_select(struct petrel_store *s, const struct petrel_journal_query *q,
				int64_t first_broken, petrel_journal_fn fn, void *ctx,
				struct petrel_err *err);

/* The journal's chain and head, verified from the genesis value. */
struct petrel_journal_check {
	int64_t rows;
	int64_t first_broken;	/* first row that breaks the chain (or the first missing
				 * one when the last rows were deleted); 0 when intact */
	char why[160];		/* one line when broken */
	struct petrel_journal_tip tip;	/* the newest row, for a walk that goes on */
};
/*
 * Recomputes every row's hash and compares the newest with the head recorded beside
 * the journal (journal_head, moved by every append in the same transaction), so
 * an edited, reordered, deleted or inserted row is found, including the last one.
 * 0 or -PETREL_EDB.
 */
int petrel_store_journal_verify(struct petrel_store *s, struct petrel_journal_check *c,
				struct petrel_err *err);

/* fsck callback: one finding per call, e.g. "objects/sha256/ab/cd..: sha256 mismatch". */
typedef void (*petrel_fsck_fn)(void *ctx, const char *finding);
/*
 * Re-hashes every blob and compares it with its name; checks that every version row's
 * blob exists and has the recorded size; reports stray files in tmp/ and objects/;
 * runs sqlite's PRAGMA integrity_check; checks the journal chain.
 * Returns the number of findings (>= 0) or a negative error.
 */
int petrel_store_fsck(struct petrel_store *s, petrel_fsck_fn fn, void *ctx, struct petrel_err *err);

/* ---- gc: retention ---- */

/* One target's share of a gc: set name and keep; the rest is the outcome. */
struct petrel_gc_target {
	const char *name;		/* borrowed */
	unsigned keep;			/* the newest versions to keep (the config's keep) */
	int64_t removed, kept;		/* version rows removed and left */
	int64_t generations;		/* generation rows that deployed a removed version */
	int64_t blobs, bytes;		/* blobs removed with its versions (a blob two targets
					 * dropped counts for the first), their size */
};

typedef void (*petrel_gc_version_fn)(void *ctx, const char *target,
				     const struct petrel_version *v);
typedef void (*petrel_gc_stray_fn)(void *ctx, const char *relpath);

/* How to run a gc, and its totals. */
struct petrel_gc {
	int dry_run;			/* decide and report, change nothing */
	petrel_gc_version_fn on_version;	/* each version removed, oldest first; may be NULL */
	petrel_gc_stray_fn on_stray;	/* each file under objects/sha256 that is no blob name
					 * (left alone: fsck's to report); may be NULL */
	void *ctx;
	int64_t blobs, bytes;		/* every blob removed (orphans included), their size */
	int64_t orphans, orphan_bytes;	/* blobs no version row referenced before this gc */
	int64_t strays;
};

/*
 * Retention, for the n targets ts. Per target it removes the version rows beyond the
 * keep newest (by timestamp, as petrel_store_newest_version orders them), except the
 * newest one (a staged build), the current and previous generations' versions, the
 * newest generation's (its number is never reused), any a switch in progress names,
 * and any a generation of another target references; the generation rows that
 * deployed a removed version go with it (the journal keeps every deploy). Then every
 * blob under objects/sha256 that no remaining version row of any target references
 * is removed (blobs are shared by hash), orphans of an earlier crash included. Rows
 * and one "gc" journal row per target (plus one for orphans, target "") go first in
 * one transaction; then each blob is unlinked and its directory fsynced, so a crash
 * leaves at most a blob without a row, which the next gc removes, never a row without
 * its blob. With g->dry_run the transaction is rolled back and nothing is unlinked.
 * The caller holds the lock. 0 or a negative code with a message.
 */
int petrel_store_gc(struct petrel_store *s, struct petrel_gc_target *ts, size_t n,
		    struct petrel_gc *g, struct petrel_err *err);

/* ---- what monitoring reads (target_status, the journal), kept across restarts ---- */

/* One more refusal for target (petrel_verification_failures_total). 0 or -PETREL_EDB. */
int petrel_store_count_refusal(struct petrel_store *s, const char *target, struct petrel_err *err);
/*
 * Records that target was checked against its server at when: ok says whether the
 * check (and what followed: fetch, deploy) succeeded, which also moves last_success;
 * update is 1 or 0 when known, -1 to keep the recorded value. 0 or -PETREL_EDB.
 */
int petrel_store_note_check(struct petrel_store *s, const char *target, int64_t when, int ok,
			    int update, struct petrel_err *err);

/* One target's audit outcome, for petrel_store_record_audit. */
struct petrel_audit_note {
	const char *target;		/* borrowed */
	const char *const *findings;	/* borrowed, nfindings one-line texts */
	size_t nfindings;
};
/*
 * Records an audit in one transaction: an "audit-finding" journal row per finding,
 * each target's finding count and time in target_status, and one "audit" row with
 * summary. 0 or -PETREL_EDB.
 */
int petrel_store_record_audit(struct petrel_store *s, const struct petrel_audit_note *notes,
			      size_t n, int64_t when, const char *summary, struct petrel_err *err);

/* What the store knows about one target, for metrics; read in one query. */
struct petrel_target_facts {
	char target[PETREL_NAME_MAX + 1];
	int deployed;			/* a current generation exists: job, uuid, sha256 */
	char job[PETREL_NAME_MAX + 1], uuid[PETREL_UUID_LEN + 1], sha256[65];
	int64_t last_check, last_success;	/* 0: never */
	int update_available;			/* -1: unknown */
	int64_t audit_at;			/* 0: never audited */
	int64_t audit_findings;			/* of the last audit, -1: never */
	int64_t refusals;			/* "refused" journal rows (verification,
						 * rollback, policy) ever */
	int64_t next_poll;			/* when the daemon polls it next, 0: unknown */
};
/* Calls fn for every target the store knows, by name. 0 or the first error. */
typedef int (*petrel_facts_fn)(void *ctx, const struct petrel_target_facts *f);
int petrel_store_facts(struct petrel_store *s, petrel_facts_fn fn, void *ctx,
		       struct petrel_err *err);
/* The same for one target: 0, -PETREL_ENOTFOUND (never seen), or an error. */
int petrel_store_target_facts(struct petrel_store *s, const char *target,
			      struct petrel_target_facts *out, struct petrel_err *err);
/* Records when the daemon polls target next (wall clock), as note_check writes. */
int petrel_store_note_next_poll(struct petrel_store *s, const char *target, int64_t when,
				struct petrel_err *err);

/* ---- the channel file a target last accepted ---- */

struct petrel_stored_channel {
	char url[PETREL_URL_MAX + 1];	/* where it came from (credentials masked) */
	int64_t version;		/* the high-water mark for files from url */
	int64_t accepted_at;
	char *body, *sig;		/* the file and its .minisig, NUL-terminated, malloc'd */
	size_t body_len, sig_len;
};

/* 0 with out filled (release it), -PETREL_ENOTFOUND (none yet), -PETREL_EDB. */
int petrel_store_channel(struct petrel_store *s, const char *target,
			 struct petrel_stored_channel *out, struct petrel_err *err);
void petrel_stored_channel_release(struct petrel_stored_channel *c);
/* Records a verified channel file (text without NUL bytes) as target's, replacing the
 * one before, with a "channel" journal row naming its version and URL. */
int petrel_store_accept_channel(struct petrel_store *s, const char *target, const char *url,
				int64_t version, const char *body, const char *sig,
				struct petrel_err *err);

/* ---- what holds a target back: refused builds, pins ---- */

/* A build that failed verification for a target: it is not offered as an update, and
 * not downloaded again before retry_at (one interval, doubling per failure, at most a
 * day); the row goes when the same bytes verify. */
struct petrel_refusal {
	char uuid[PETREL_UUID_LEN + 1];
	char sha256[65];
	char reason[PETREL_ERR_MSG_MAX];
	int64_t first_at, last_at, retry_at, count;
};
/* Records (or counts again) target's refusal of sha256 at now. 0 or -PETREL_EDB. */
int petrel_store_refuse(struct petrel_store *s, const char *target, const uint8_t sha256[32],
			const char *uuid, const char *reason, long interval, int64_t now,
			struct petrel_err *err);
/* 0 with out filled, -PETREL_ENOTFOUND, or an error. */
int petrel_store_refused(struct petrel_store *s, const char *target, const uint8_t sha256[32],
			 struct petrel_refusal *out, struct petrel_err *err);
/* target's most recent refusal: 0, -PETREL_ENOTFOUND, or an error. */
int petrel_store_last_refusal(struct petrel_store *s, const char *target,
			      struct petrel_refusal *out, struct petrel_err *err);

/* A target held at a build: the daemon neither fetches nor deploys for it. */
struct petrel_pin {
	char uuid[PETREL_UUID_LEN + 1];
	char sha256[65];
	int64_t at;
};
/* Pins target at (uuid, sha256), replacing a pin, with a "pin" journal row. */
int petrel_store_pin(struct petrel_store *s, const char *target, const char *uuid,
		     const uint8_t sha256[32], struct petrel_err *err);
/* Removes target's pin with an "unpin" journal row: 0, -PETREL_ENOTFOUND (none). */
int petrel_store_unpin(struct petrel_store *s, const char *target, struct petrel_err *err);
/* 0 with out filled, -PETREL_ENOTFOUND, or an error. */
int petrel_store_pinned(struct petrel_store *s, const char *target, struct petrel_pin *out,
			struct petrel_err *err);

#endif
