/* Private to deploy/: the moment a binary goes live (switch.c), beneath the engine. */
#ifndef PETREL_SWITCH_H
#define PETREL_SWITCH_H

#include "common/error.h"
#include "engine.h"

/* The temp file beside the deployed path; fixed, so recovery can remove a leftover. */
#define PETREL_NEW_SUFFIX ".petrel-new"
/* The file that was at path before the last switch: the next revert's bytes. */
#define PETREL_PREV_SUFFIX ".petrel-prev"

/*
 * Runs t's preflight command (if any) on the verified blob of v before anything
 * changes; before_sha256 is what is deployed now (NULL: nothing). 0, or
 * -PETREL_EPOLICY naming the command's verdict.
 */
int petrel_preflight(struct petrel_engine *e, const struct petrel_target *t,
		     const struct petrel_version *v, const uint8_t *before_sha256,
		     struct petrel_err *err);

/*
 * Makes v current for t: before is the current generation (NULL when none: then a file
 * petrel did not install at path is what a failure puts back), prev the previous
 * generation's number. Records the intent, replaces path atomically with the verified
 * blob (re-hashed while copied), runs the adapter and the health check; if either
 * fails, puts before back, runs the adapter again, rejects v's build for t and fails
 * with -PETREL_EDEPLOY saying all of it. *to_gen gets the new generation's number.
 */
int petrel_switch_to(struct petrel_engine *e, const struct petrel_target *t,
		     const struct petrel_generation *before, int64_t prev,
		     const struct petrel_version *v, int64_t *to_gen, struct petrel_err *err);

/* Makes the previous generation prev current again instead of cur (a revert); a failed
 * adapter undoes it (-PETREL_EDEPLOY). verdict (NULL: none), what the revert decides
 * about a build, is recorded in the transaction that completes the switch. */
int petrel_switch_back(struct petrel_engine *e, const struct petrel_target *t,
		       const struct petrel_generation *cur, const struct petrel_generation *prev,
		       const struct petrel_verdict *verdict, struct petrel_err *err);

#endif
