/* Free space in the state directory: min_free, and gc where it makes room. */
#ifndef PETREL_SPACE_H
#define PETREL_SPACE_H

#include <stdint.h>

#include "common/error.h"
#include "engine.h"

/*
 * Before need bytes are written into the store (a download, an import): the file
 * system of the state directory must keep min_free (bytes, or a percent of its size)
 * free after them. When it would not, a gc over every target of the configuration
 * runs if what it would free is enough (its dry run says so first), else nothing is
 * removed. 0, or -ENOSPC with one line naming the state directory, what is free, what
 * is needed and what gc could free; nothing is written. The caller holds the lock.
 */
int petrel_space_ensure(struct petrel_engine *e, uint64_t need, struct petrel_err *err);

/*
 * After a successful upgrade of t by the daemon, when t's configuration sets keep:
 * retention for t (petrel_store_gc of that target, then the blobs nothing references).
 * *versions and *bytes (may be NULL) get what went. 0, or a negative code with a message.
 */
int petrel_space_gc_target(struct petrel_engine *e, const struct petrel_target *t,
			   int64_t *versions, int64_t *bytes, struct petrel_err *err);

#endif
