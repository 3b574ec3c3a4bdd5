/* The engine: ties fetcher, verify and store together. The only layer that does. */
#ifndef PETREL_ENGINE_H
#define PETREL_ENGINE_H

#include "common/build.h"
#include "store/store.h"
#include "target.h"
#include "common/error.h"

struct petrel_http;

/* What a target's channel said at its last poll (deploy/follow.h has the whole file). */
struct petrel_channel_says {
	int64_t version;
	int has_release;			/* the file names a release for the job */
	char uuid[PETREL_UUID_LEN + 1];		/* the release */
	uint8_t sha256[32];
	double u, fraction;			/* this host's bucket; the ramp's share now */
	int takes;				/* this host is within the ramp */
	char why[256];				/* when it does not move this host */
};

struct petrel_engine {
	const struct petrel_config *cfg;	/* borrowed */
	struct petrel_store store;		/* open while locked */
	int locked;				/* the store is open (with its lock unless
						 * readonly) */
	int readonly;				/* opened by petrel_engine_open_read */
	struct petrel_http *http;		/* kept across locks: connections stay alive */
	/* what is fetched now is not deployed at once (petrel fetch, a daemon with auto =
	 * fetch): its bytes go to the disk past the page cache (O_DIRECT). Otherwise they
	 * stay cached for the switch that reads them back right after. */
	int stage_only;
	/* the last channel poll, reused for the same target while the lock is held and
	 * for at most a minute (a daemon cycle checks, then stages: one poll, not two) */
	char said_for[PETREL_NAME_MAX + 1];
	int64_t said_at;
	struct petrel_channel_says said;
};

/*
 * An engine lives as long as its configuration (a daemon keeps one across cycles):
 * petrel_engine_init makes its HTTP handle (a progress bar when the log level is info
 * or more); petrel_engine_lock opens the store taking its lock (waiting up to
 * cfg->lock_timeout), removes leftover downloads (unless PETREL_ENGINE_KEEP_TMP: fsck
 * reports them) and recovers interrupted switches (petrel_recover). Every operation
 * below needs the lock. petrel_engine_unlock closes the store; petrel_engine_release
 * unlocks and frees the rest. 0 or a negative code with its message in err.
 */
#define PETREL_ENGINE_KEEP_TMP 1
int petrel_engine_init(struct petrel_engine *e, const struct petrel_config *cfg,
		       struct petrel_err *err);
int petrel_engine_lock(struct petrel_engine *e, unsigned flags, struct petrel_err *err);
void petrel_engine_unlock(struct petrel_engine *e);
void petrel_engine_release(struct petrel_engine *e);
/* init and lock, as a command does; close is release. */
int petrel_engine_open(struct petrel_engine *e, const struct petrel_config *cfg,
		       struct petrel_err *err);
void petrel_engine_close(struct petrel_engine *e);
/*
 * init and a read-only store (petrel_store_open_read): no lock, no recovery, nothing
 * written; one snapshot. For the reads (status, history, list, upgrade --dry-run);
 * the operations that write (check, fetch, upgrade, ...) must not be called on it.
 */
int petrel_engine_open_read(struct petrel_engine *e, const struct petrel_config *cfg,
			    struct petrel_err *err);
/* A progress bar for downloads on a terminal, or none (--json). */
void petrel_engine_set_progress(struct petrel_engine *e, int on);
/*
 * 1 when failure r says something about t's server rather than about its build: a
 * transport error or an error status (PETREL_ERR_TRANSIENT) from a URL of that server.
 * A signature host that is down is t's problem, not every target's on the server.
 */
int petrel_engine_server_fault(const struct petrel_engine *e, const struct petrel_target *t,
			       int r);

/*
 * The latest time (wall clock, s) a Retry-After header on an answer to the engine's
 * own requests asked for since the last call, 0 for none; clears it. The daemon
 * takes it after each poll (and before, to drop what a command left).
 */
int64_t petrel_engine_take_retry_after(struct petrel_engine *e);

/*
 * What the server says about a build of t: its newest (uuid NULL) or the given uuid,
 * with filename, sha256, size (job listing) and times, platform (build record).
 */
int petrel_resolve(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
		   struct petrel_build *out, struct petrel_err *err);

/* The answer of `check` for one target. */
struct petrel_check {
	struct petrel_build remote;	/* the server's newest build */
	int have_deployed;
	struct petrel_version deployed;	/* when have_deployed */
	int64_t deployed_generation;	/* its generation number, when have_deployed */
	int64_t deployed_at;		/* when that generation was deployed */
	int in_store;			/* remote's sha256 already verified for this target */
	int update;			/* remote differs from what is deployed (and is not rejected) */
	int rejected;			/* remote differs but failed here before: not an update */
	char rejected_reason[256];
	int64_t rejected_at;
	int refused;			/* remote failed verification here: not an update */
	struct petrel_refusal refusal;	/* when refused: why, when, the next try */
	int retry;			/* refused, and its next try is due: the daemon
					 * fetches it again */
	int pinned;			/* the operator holds the target (petrel pin) */
	struct petrel_pin pin;
	/* freeze protection (max_age): how old the server's newest build is */
	int64_t newest;			/* its signed timestamp when the store verified it
					 * already, else its finish time */
	int64_t age;			/* now - newest, seconds */
	int frozen;			/* t->max_age is set and age exceeds it */
	/* a target following a channel (t->channel) */
	int channel;			/* the channel was polled: says holds its answer */
	struct petrel_channel_says says;
	int waiting;			/* the channel moves this host nowhere now: remote is
					 * what is deployed (if anything), update 0 */
	int leave;			/* the deployed build is blocked by the channel and
					 * no release takes its place: the daemon reverts */
};

/*
 * Resolves the newest build and compares it with what is deployed. A build older than
 * the target's high-water mark is -PETREL_EROLLBACK (rollback protection: check, fetch,
 * upgrade and the daemon all come through here or petrel_fetch_target). A frozen
 * server is not an error here: out->frozen says so, and petrel_check_frozen turns it
 * into the refusal (check exits 3 with it; the daemon warns with its message). It is
 * journaled as a refusal all the same, and not recorded as a successful check.
 */
int petrel_check_target(struct petrel_engine *e, const struct petrel_target *t,
			struct petrel_check *out, struct petrel_err *err);

/*
 * Freeze protection: 0 when c (filled by petrel_check_target for t) is not frozen, else
 * -PETREL_EPOLICY with a message naming the server, job, build, its time and max_age,
 * and with_age its age ("40d old": for a person; without it the text stays the same
 * from one poll to the next, which the journal and the daemon's log rely on).
 */
int petrel_check_frozen(const struct petrel_target *t, const struct petrel_check *c,
			int with_age, struct petrel_err *err);

/*
 * The fetch transaction: resolve (newest, or uuid), gather signatures, stream the
 * bytes into tmp/ while hashing, verify hash and signatures against the policy, then
 * move the blob into objects/ and record the version. Nothing is stored unless all
 * of it passed; tmp/ is left empty on every path. *already is set when the store
 * already had this build for t (nothing downloaded). 0 or a negative code with a
 * petrel_fail message naming the URL and the cause.
 */
int petrel_fetch_target(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
			struct petrel_version *out, int *already, struct petrel_err *err);

/* What an upgrade did. */
struct petrel_upgrade_result {
	int noop;			/* the build was already current */
	int warned_rejected;		/* deployed by hand although rejected before */
	struct petrel_generation now;	/* the current generation afterwards */
	int has_before;
	struct petrel_generation before;
};

/*
 * Upgrades t to its newest build (uuid NULL) or to uuid: fetch and verify if the
 * store lacks it; refuse a build older than the current one unless allow_downgrade
 * (-PETREL_EPOLICY); refuse the newest build when it was rejected before (a named
 * uuid is deployed with a warning); run preflight; record the intent; replace path
 * atomically with the verified blob (re-hashed while copied); run the adapter and
 * the health check. If either fails, the previous generation is put back, the
 * adapter runs again with "revert", the build is rejected for t, and the result is
 * -PETREL_EDEPLOY with a message saying all of it.
 */
int petrel_upgrade(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
		   int allow_downgrade, struct petrel_upgrade_result *res, struct petrel_err *err);

/*
 * Trust re-checked before a build the store holds goes live (a key removed from `keys`
 * because it leaked stops every build only it vouched for): v's kept signatures are
 * judged and verified again as at fetch -- today's keys, threshold, legacy_signatures,
 * binding, over the recorded BLAKE2b-512 or the blob mapped read-only -- and the
 * rebuilders that agreed then count when still configured, under today's trust mode.
 * A version an older petrel stored (no signatures kept) counts its recorded key ids
 * still configured. 0, or a refusal (exit 3) naming the build and the key ids no longer
 * trusted, e.g. "build U was vouched for only by key K, which is no longer in keys;
 * not deploying it (trust re-checked against the current configuration)".
 */
int petrel_trust_recheck(struct petrel_engine *e, const struct petrel_target *t,
			 const struct petrel_version *v, struct petrel_err *err);
/* The same; with PETREL_RECHECK_NO_READ the blob is never read (what status asks):
 * signatures that would need it (legacy ones, or no BLAKE2b recorded) are judged
 * (key, binding) and counted, not verified. */
#define PETREL_RECHECK_NO_READ 1u
int petrel_trust_recheck_flags(struct petrel_engine *e, const struct petrel_target *t,
			       const struct petrel_version *v, unsigned flags,
			       struct petrel_err *err);

/*
 * Swaps t's current and previous generations from the store alone (no network):
 * path gets the previous blob, the adapter runs with "revert". A second revert goes
 * forward again. If the adapter fails the swap is undone (-PETREL_EDEPLOY).
 * -ENOENT when there is no previous generation.
 */
int petrel_revert(struct petrel_engine *e, const struct petrel_target *t,
		  struct petrel_upgrade_result *res, struct petrel_err *err);

/*
 * Records the outcome r of operation op ("check", "fetch", "upgrade") on t, whose
 * message err holds, and returns r; err is left as it was. A refusal (PETREL_ERR_REFUSAL:
 * hash, signature, binding, rollback, policy; exit 3) becomes a "refused" journal
 * row "OP: MESSAGE" and nothing else changes: no version, no blob, no file. Every
 * outcome moves the target's last check time (target_status), a success also its
 * last success time and, when update is 0 or 1, its update-available flag (-1
 * keeps it). A server or network failure is not journaled (a server that is down
 * for a day would flood the journal); monitoring sees it as a last success that
 * stops moving. petrel_check_target, petrel_fetch_target and petrel_upgrade call
 * it themselves, so whoever drives the engine (cli, daemon) gets it; a failure to
 * record is a warning naming the recording's own cause, never a change of r or err.
 */
int petrel_engine_note(struct petrel_engine *e, const struct petrel_target *t, const char *op,
		       int r, int update, struct petrel_err *err);
/* Only the journal half of petrel_engine_note: a refusal r of op becomes a "refused"
 * row (once while it repeats); anything else is not recorded. Returns r. */
int petrel_engine_note_refusal(struct petrel_engine *e, const struct petrel_target *t,
			       const char *op, int r, const struct petrel_err *err);

/*
 * Whether t's orchestrator, health and preflight commands can run: each program an
 * executable regular file. 0, or -PETREL_ECONFIG naming the file, the target and the
 * command (upgrade and revert ask first, before anything changes; the daemon at start).
 */
int petrel_target_runnable(const struct petrel_config *cfg, const struct petrel_target *t,
			   struct petrel_err *err);

/*
 * The build that stands for c's newest (c from petrel_check_target): the one the store
 * verified already (*already set), or fetched and verified now. A build whose own
 * bytes failed verification (PETREL_ERR_CONDEMNS: hash, size, signature, binding) is
 * refused for t, as every fetch records it (petrel_store_refuse): the daemon tries it
 * again only after its backoff, and forgets it once it verifies.
 */
/*
 * Held by the operator: 0 when t is not pinned, else -PETREL_EPOLICY saying at which
 * build since when, and how to go on (unpin, or upgrade --to). pin from
 * petrel_store_pinned.
 */
int petrel_pin_refusal(const struct petrel_target *t, const struct petrel_pin *pin,
		       struct petrel_err *err);
/* The refused newest build as a message (-PETREL_EVERIFY): why, since when, next try. */
int petrel_refused_refusal(const struct petrel_check *c, struct petrel_err *err);

int petrel_stage(struct petrel_engine *e, const struct petrel_target *t,
		 const struct petrel_check *c, struct petrel_version *v, int *already,
		 struct petrel_err *err);
/* petrel_upgrade to v, the newest build (staged by petrel_stage): once it runs, no
 * update is pending. */
int petrel_upgrade_newest(struct petrel_engine *e, const struct petrel_target *t,
			  const struct petrel_version *v, struct petrel_upgrade_result *res,
			  struct petrel_err *err);
/*
 * STATE/daemon.lock: one daemon per state directory, for its whole life. The fd to
 * keep open, or -PETREL_ELOCKED naming the daemon that holds it, or -errno.
 */
int petrel_daemon_lock(const struct petrel_config *cfg, struct petrel_err *err);

/*
 * Rolls back every switch a crash interrupted: puts the generation that was current
 * before back at its path, restores the pointers, marks an interrupted upgrade's
 * generation "interrupted", runs the adapter with "revert" if it may have run. Called
 * by petrel_engine_open with the lock held; reports each recovery as a warning.
 */
int petrel_recover(struct petrel_engine *e, struct petrel_err *err);

#endif
