/* The trust policy: a pure function of the evidence. Touches no disk, no network. */
#ifndef PETREL_POLICY_H
#define PETREL_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/build.h"
#include "common/error.h"

#define PETREL_KEYS_MAX 16	/* keys per target */
#define PETREL_REBUILDERS_MAX 8	/* rebuilder servers per target */

/* The order is the configuration's: signed, server, rebuilt, signed+rebuilt. */
enum petrel_trust {
	PETREL_TRUST_SIGNED,
	PETREL_TRUST_SERVER,
	PETREL_TRUST_REBUILT,
	PETREL_TRUST_SIGNED_REBUILT,
};
enum petrel_bind { PETREL_BIND_STRICT, PETREL_BIND_LOOSE };

/* Fields of a publisher's trusted comment "timestamp:T\tfile:F\tjob:J\tuuid:U\tsha256:H". */
struct petrel_tcomment {
	int has_timestamp;
	int64_t timestamp;
	int has_file, has_job, has_uuid, has_sha256;
	char file[PETREL_FILENAME_MAX + 1];
	char job[PETREL_NAME_MAX + 1];
	char uuid[PETREL_UUID_LEN + 1];
	uint8_t sha256[32];
};

/*
 * Parses tab-separated key:value fields. Unknown keys are ignored; a known key with a
 * malformed value (timestamp not decimal, sha256 not 64 hex, uuid not a uuid,
 * over-long value) or given twice is -PETREL_ESIG_FORMAT. Empty text parses to no fields.
 */
int petrel_tcomment_parse(const char *text, struct petrel_tcomment *out, struct petrel_err *err);

/*
 * Checks every field present against the build (file vs filename, job, uuid, sha256).
 * With PETREL_BIND_STRICT, job and sha256 must be present. 0 or -PETREL_EBINDING with a
 * petrel_fail message naming the field, e.g. "signature names job 'other', build is 'hello'".
 */
int petrel_tcomment_bind(const struct petrel_tcomment *tc, const struct petrel_build *b,
			 enum petrel_bind bind, struct petrel_err *err);

/* One rebuilder's answer to /hash?sha256=H for the build being verified. */
struct petrel_rebuilder_answer {
	char name[PETREL_NAME_MAX + 1];		/* the [server] section */
	int agrees;				/* its /hash led to a build whose main binary has it */
	char why[256];				/* when it does not: "down: ...", "404", ... */
};

/* What verification established for one build. */
struct petrel_evidence {
	size_t nkeys;				/* distinct key ids with a valid, bound signature */
	uint8_t keyids[PETREL_KEYS_MAX][8];
	int key_has_ts[PETREL_KEYS_MAX];	/* keyids[i] signed a timestamp: the newest */
	int64_t key_ts[PETREL_KEYS_MAX];	/*   of its valid signatures' timestamps */
	int has_timestamp;			/* the build's signed time, once decided */
	int64_t timestamp;			/*   (petrel_evidence_decide_time) */
	char trusted[1024 + 1];			/* trusted comment of the first valid signature */
	size_t nrebuilders;			/* rebuilders asked, in configuration order */
	struct petrel_rebuilder_answer rebuilders[PETREL_REBUILDERS_MAX];
};

/* Adds a key id unless already counted. 0 or -PETREL_ETOOBIG. */
int petrel_evidence_add_key(struct petrel_evidence *ev, const uint8_t keyid[8],
			    struct petrel_err *err);
/* petrel_evidence_add_key for a valid signature, with the timestamp its trusted comment
 * carries (has_ts 0: none); a key that signed twice keeps its newest. */
int petrel_evidence_add_signer(struct petrel_evidence *ev, const uint8_t keyid[8],
			       int has_ts, int64_t ts, struct petrel_err *err);

/*
 * Decides the build's signed time from its signers' timestamps (one per key, its
 * newest): the threshold-th newest, i.e. the newest time that threshold distinct keys
 * all vouch for. Fewer signers than it can neither push the time into the future
 * (which would block every later build) nor into the past (which would refuse this one
 * as a replay); with fewer timestamped keys than threshold, the oldest of them.
 * Sets has_timestamp/timestamp; no timestamped key leaves has_timestamp 0.
 * threshold 0 counts as 1.
 */
void petrel_evidence_decide_time(struct petrel_evidence *ev, unsigned threshold);

/* What trust = MODE asks for: signatures (signed, signed+rebuilt), rebuilders (rebuilt,
 * signed+rebuilt). "server" asks for neither. */
int petrel_trust_needs_signatures(enum petrel_trust trust);
int petrel_trust_needs_rebuilders(enum petrel_trust trust);
/* "signed", "server", "rebuilt", "signed+rebuilt"; "?" for anything else. */
const char *petrel_trust_name(enum petrel_trust trust);

/*
 * The signature half of the policy. When trust needs signatures: at least threshold
 * distinct key ids (else -PETREL_ETHRESHOLD or, with zero, -PETREL_ESIG_MISSING is the
 * caller's more specific error). Otherwise 0.
 */
int petrel_policy_signatures(enum petrel_trust trust, unsigned threshold,
			 const struct petrel_evidence *ev, struct petrel_err *err);

/* Records one rebuilder's answer (why is copied, may be NULL when it agrees).
 * 0 or -PETREL_ETOOBIG past PETREL_REBUILDERS_MAX. */
int petrel_evidence_add_rebuilder(struct petrel_evidence *ev, const char *name, int agrees,
				  const char *why, struct petrel_err *err);
/* Rebuilders that agreed, comma-separated in configuration order, into out (size n). */
void petrel_evidence_agreed(const struct petrel_evidence *ev, char *out, size_t n);

/*
 * The rebuilder half. When trust needs rebuilders: at least agree of them agreed (a
 * name counts once), else -PETREL_EPOLICY with a message naming each one that did not
 * and why: "1 of 3 rebuilders agree, agree = 2 (rb2: 404 ...; rb3: down ...)".
 * agree = 0 in such a mode is -PETREL_EPOLICY (fail closed). Otherwise 0.
 */
int petrel_policy_rebuilt(enum petrel_trust trust, unsigned agree,
			  const struct petrel_evidence *ev, struct petrel_err *err);

/* The whole policy a target states. */
struct petrel_policy {
	enum petrel_trust trust;
	unsigned threshold;	/* distinct key ids */
	unsigned agree;		/* agreeing rebuilders */
};

/* Decides over all the evidence: the signature half, then the rebuilder half. */
int petrel_policy_evaluate(const struct petrel_policy *p, const struct petrel_evidence *ev,
			   struct petrel_err *err);

/*
 * Freeze protection: the newest build the server offers was made (signed timestamp,
 * else finish time) at newest; with max_age > 0 it is frozen when now - newest >
 * max_age. 1 frozen, 0 not (max_age 0 disables the check). *age gets now - newest.
 */
int petrel_policy_frozen(int64_t max_age, int64_t newest, int64_t now, int64_t *age);

/* A duration as people write it, "90", "90s", "15m", "12h", "30d", into seconds.
 * 0 or -EINVAL (empty, not a number, unknown suffix, overflow). */
int petrel_parse_duration(const char *text, int64_t *out);
/* Seconds as the largest whole unit that fits: "30d", "36h", "90s". */
void petrel_format_duration(int64_t secs, char *out, size_t n);

/* Key id as minisign prints it: 16 uppercase hex digits of the little-endian id. */
void petrel_keyid_str(const uint8_t keyid[8], char out[17]);

#endif
