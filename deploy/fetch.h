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

#endif
