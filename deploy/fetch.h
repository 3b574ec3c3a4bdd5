/* Private to deploy/: download -> verify -> store (fetch.c), beneath the engine. */
#ifndef PETREL_FETCH_H
#define PETREL_FETCH_H

#include "common/error.h"
#include "engine.h"
#include "verify/minisign.h"

/*
 * Rollback protection: a build offered as newest must not be older than the newest
 * ever verified for t. by_finish compares b's finish time with the newest verified
 * finish time (what can be judged before verification); otherwise ts (its signed
 * timestamp, else finish time) with the newest verified one. 0 or -PETREL_EROLLBACK.
 */
int petrel_rollback_check(struct petrel_engine *e, const struct petrel_target *t,
			  const struct petrel_build *b, int64_t ts, int by_finish,
			  struct petrel_err *err);

/*
 * The whole file, for legacy ("Ed") signatures only: libsodium's
 * crypto_sign_verify_detached takes the message at once, as minisign reads it. fd (our
 * own temp file, or a stored blob; path names it in messages) must be the regular file
 * of size bytes, at most max (max_artifact_size); it is mapped read-only into out, and
 * *map gets the mapping to munmap (NULL for an empty file). 0 or a negative code.
 */
int petrel_map_file(int fd, const char *path, uint64_t size, long max, struct petrel_msg *out,
		    void **map, struct petrel_err *err);

/*
 * The fetch transaction for b (resolved by the engine): gather signatures and rebuilder
 * answers, stream the bytes into tmp/ while hashing (or re-hash the blob the store
 * holds already), verify hash and signatures against the policy and, when b is offered
 * as the newest, the rollback mark; then move the blob into objects/ and record the
 * version in out. Nothing is stored unless all of it passed; tmp/ is left empty.
 */
int petrel_fetch_build(struct petrel_engine *e, const struct petrel_target *t,
		       const struct petrel_build *b, int newest, struct petrel_version *out,
		       struct petrel_err *err);

/*
 * Bytes from elsewhere (a bundle's blob) through the same sink and the same checks as a
 * download. petrel_intake_new makes a file in tmp/ and the digests (SHA-256, BLAKE2b);
 * petrel_intake_write hashes and writes the bytes as they come; petrel_intake_verify
 * checks them for t as a fetch does (hash against b, the signatures of sigs with t's keys
 * and threshold, the policy with no rebuilder answer, the rollback mark when newest) and
 * fills out, storing nothing: it may be called for several targets. petrel_intake_commit
 * then moves the file into objects/ (the first call) and records v with the
 * signatures of sigs that verified (the same sigs petrel_intake_verify was given for it). petrel_intake_free
 * removes whatever is left in tmp/. 0 or a negative code with a message naming url.
 */
struct petrel_intake;
struct petrel_sigset;
int petrel_intake_new(struct petrel_engine *e, struct petrel_intake **out,
		      struct petrel_err *err);
int petrel_intake_write(struct petrel_intake *in, const void *p, size_t n,
			struct petrel_err *err);
int petrel_intake_verify(struct petrel_engine *e, const struct petrel_target *t,
			 struct petrel_intake *in, struct petrel_sigset *sigs,
			 const struct petrel_build *b, const char *url, int newest,
			 struct petrel_version *out, struct petrel_err *err);
int petrel_intake_commit(struct petrel_engine *e, struct petrel_intake *in,
			 struct petrel_sigset *sigs, const struct petrel_build *b, const char *url,
			 struct petrel_version *v, struct petrel_err *err);
void petrel_intake_free(struct petrel_intake *in);

#endif
