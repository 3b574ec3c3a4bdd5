/* Preflight from the build record: can the target run this Solo5 unikernel at all? */
#ifndef PETREL_SOLO5_H
#define PETREL_SOLO5_H

#include "common/build.h"
#include "target.h"
#include "common/error.h"

/*
 * The target's abi (if set) against the build record's solo5_abi (if present): 0, or
 * -PETREL_EPOLICY naming both. Needs no process and no network.
 */
int petrel_solo5_abi_check(const struct petrel_target *t, const struct petrel_build *b,
			   struct petrel_err *err);

/*
 * When b's record carries a Solo5 manifest and t has an orchestrator adapter, asks it
 * with `ADAPTER devices` which devices the unikernel will be given (stdout lines
 * "net NAME" / "block NAME", exit 0) and requires every manifest device among them:
 * -PETREL_EPOLICY naming what is missing, before a byte is downloaded. An adapter that
 * cannot tell (any other exit: not every adapter knows `devices`) leaves the check to
 * the orchestrator, with a note at info level. The query only observes: petrel stopping
 * ends it (PETREL_RUN_CANCELLABLE). 0 otherwise.
 */
int petrel_solo5_devices_check(const struct petrel_target *t, const struct petrel_build *b,
			       struct petrel_err *err);

/*
 * The pure comparison behind it: 0 when every TYPE:NAME of need (space-separated) is a
 * "TYPE NAME" line of have; otherwise -PETREL_EPOLICY and missing (size n) lists the
 * absent ones as TYPE:NAME, space-separated.
 */
int petrel_solo5_devices_cover(const char *need, const char *have, char *missing, size_t n);

#endif
