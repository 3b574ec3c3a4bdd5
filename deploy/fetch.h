/* Private to deploy/: download -> verify -> store (fetch.c), beneath the engine. */
#ifndef PETREL_FETCH_H
#define PETREL_FETCH_H

#include "common/error.h"
#include "engine.h"

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
