/* A publisher's channel file (DESIGN.md "Fleet"): a minisign-signed JSON document
 * naming, per job, the release hosts ramp to and the hashes no host may run. */
#ifndef PETREL_CHANNEL_H
#define PETREL_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/build.h"
#include "common/error.h"
#include "minisign.h"

#define PETREL_CHANNEL_MAX (1024u * 1024)	/* a whole channel file */
#define PETREL_CHANNEL_BLOCKED_MAX 1024		/* blocked hashes per job */
#define PETREL_CHANNEL_VERSION_MAX 9007199254740991LL	/* 2^53 - 1: exact in any JSON */
#define PETREL_CHANNEL_DURATION_MAX (366LL * 86400)	/* a ramp of at most a year */

/* One job's entry. A job the file does not name has neither a release nor blocks. */
struct petrel_channel {
	int64_t version;	/* orders channel files: never goes down */
	int64_t expires;	/* a file past it is refused (bounds a freeze by replay) */
	int has_job;		/* the file names the job asked for */
	int has_release;
	char uuid[PETREL_UUID_LEN + 1];
	uint8_t sha256[32];
	int64_t start;		/* the ramp starts here ... */
	int64_t duration;	/* ... and reaches every host this many seconds later */
	size_t nblocked;
	uint8_t (*blocked)[32];	/* malloc'd; petrel_channel_release frees it */
};

/*
 * Parses a channel file strictly and keeps what concerns job: the whole file is checked
 * (every job's entry), so a file that is malformed anywhere is refused everywhere.
 *   {"version": N, "expires": "RFC 3339",
 *    "jobs": {"J": {"release": {"uuid": U, "sha256": H, "start": T, "duration": S},
 *                   "blocked": [H, ...]}, ...}}
 * version an integer in [0, 2^53), expires and start RFC 3339, duration an integer in
 * [0, PETREL_CHANNEL_DURATION_MAX] seconds, uuid a uuid, hashes 64 hex digits; duplicate
 * keys, wrong types, a release that is also blocked, more than PETREL_CHANNEL_BLOCKED_MAX
 * blocks are -PETREL_EMALFORMED; unknown keys are ignored (newer publishers' fields).
 * On success out must be released with petrel_channel_release.
 */
int petrel_channel_parse(const char *text, size_t len, const char *job,
			 struct petrel_channel *out, struct petrel_err *err);
void petrel_channel_release(struct petrel_channel *c);

/*
 * Verifies a channel file's minisign signature (sigtext: the .minisig file) with one of
 * keys: a prehashed ("ED") signature over the file's exact bytes, the global signature
 * over its trusted comment, and, when the trusted comment names a file:, that it is
 * expect_file (the last segment of the channel URL). 0, -PETREL_ESIG_FORMAT,
 * -PETREL_ESIG_UNTRUSTED (no key of keys made it), -PETREL_ESIG_INVALID, -PETREL_EBINDING.
 */
int petrel_channel_verify(const char *text, size_t len, const char *sigtext, size_t siglen,
			  const struct petrel_pubkey *keys, size_t nkeys, const char *expect_file,
			  struct petrel_err *err);

/*
 * What the file says at time now, once verified and parsed: -PETREL_EROLLBACK when its
 * version is below seen (the newest version this host accepted), -PETREL_EPOLICY when
 * it expired. 0 otherwise.
 */
int petrel_channel_current(const struct petrel_channel *c, int64_t seen, int64_t now,
			   struct petrel_err *err);

/* 1 when sha256 is among the job's blocked hashes. */
int petrel_channel_blocks(const struct petrel_channel *c, const uint8_t sha256[32]);

/* The ramp's fraction and a host's bucket: verify/rollout.h. */

#endif
