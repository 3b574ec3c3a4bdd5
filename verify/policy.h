/* The trust policy: a pure function of the evidence. Touches no disk, no network. */
#ifndef PETREL_POLICY_H
#define PETREL_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/build.h"

#define PETREL_KEYS_MAX 16	/* keys per target */

enum petrel_trust { PETREL_TRUST_SIGNED, PETREL_TRUST_SERVER };
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
int petrel_tcomment_parse(const char *text, struct petrel_tcomment *out);

/*
 * Checks every field present against the build (file vs filename, job, uuid, sha256).
 * With PETREL_BIND_STRICT, job and sha256 must be present. 0 or -PETREL_EBINDING with a
 * petrel_fail message naming the field, e.g. "signature names job 'other', build is 'hello'".
 */
int petrel_tcomment_bind(const struct petrel_tcomment *tc, const struct petrel_build *b,
			 enum petrel_bind bind);

/* What verification established for one build. */
struct petrel_evidence {
	size_t nkeys;				/* distinct key ids with a valid, bound signature */
	uint8_t keyids[PETREL_KEYS_MAX][8];
	int has_timestamp;			/* from a valid signature's trusted comment */
	int64_t timestamp;
	char trusted[1024 + 1];			/* trusted comment of the first valid signature */
};

/* Adds a key id unless already counted. 0 or -PETREL_ETOOBIG. */
int petrel_evidence_add_key(struct petrel_evidence *ev, const uint8_t keyid[8]);

/*
 * Decides. SIGNED: at least threshold distinct key ids (else -PETREL_ETHRESHOLD or,
 * with zero, -PETREL_ESIG_MISSING is the caller's more specific error). SERVER: always 0.
 */
int petrel_policy_decide(enum petrel_trust trust, unsigned threshold,
			 const struct petrel_evidence *ev);

/* Key id as minisign prints it: 16 uppercase hex digits of the little-endian id. */
void petrel_keyid_str(const uint8_t keyid[8], char out[17]);

#endif
