/* The engine: ties fetcher, verify and store together. The only layer that does. */
#ifndef PETREL_ENGINE_H
#define PETREL_ENGINE_H

#include "common/build.h"
#include "store/store.h"
#include "target.h"

struct petrel_http;

struct petrel_engine {
	const struct petrel_config *cfg;	/* borrowed */
	struct petrel_store store;
	struct petrel_http *http;
};

/* Opens the store and an HTTP handle. 0 or a negative code with a message. */
int petrel_engine_open(struct petrel_engine *e, const struct petrel_config *cfg);
void petrel_engine_close(struct petrel_engine *e);

/*
 * What the server says about a build of t: its newest (uuid NULL) or the given uuid,
 * with filename, sha256, size (job listing) and times, platform (build record).
 */
int petrel_resolve(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
		   struct petrel_build *out);

/* The answer of `check` for one target. */
struct petrel_check {
	struct petrel_build remote;	/* the server's newest build */
	int have_deployed;
	struct petrel_version deployed;	/* when have_deployed */
	int in_store;			/* remote's sha256 already verified for this target */
	int update;			/* remote differs from what is deployed */
};

/* Resolves the newest build and compares it with what is deployed. A build older than
 * the target's high-water mark is -PETREL_EROLLBACK. */
int petrel_check_target(struct petrel_engine *e, const struct petrel_target *t,
			struct petrel_check *out);

/*
 * The fetch transaction: resolve (newest, or uuid), gather signatures, stream the
 * bytes into tmp/ while hashing, verify hash and signatures against the policy, then
 * move the blob into objects/ and record the version. Nothing is stored unless all
 * of it passed; tmp/ is left empty on every path. *already is set when the store
 * already had this build for t (nothing downloaded). 0 or a negative code with a
 * petrel_fail message naming the URL and the cause.
 */
int petrel_fetch_target(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
			struct petrel_version *out, int *already);

#endif
