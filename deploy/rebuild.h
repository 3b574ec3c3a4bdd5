/* Rebuilder agreement: other builder-web instances asked whether they built a hash. */
#ifndef PETREL_REBUILD_H
#define PETREL_REBUILD_H

#include "common/build.h"
#include "target.h"
#include "verify/policy.h"
#include "common/error.h"

struct petrel_http;

/*
 * Asks every rebuilder of t for GET /hash?sha256=H (H = b's sha256, as the target's
 * server announced it; the download is checked against the same H) and records one
 * answer per rebuilder in ev (ev->nrebuilders is reset first). A rebuilder agrees when
 * it redirects to a build of b's job; one that is down, answers 404 or anything but a
 * build redirect, or names another job does not, and the answer says why. Such
 * failures are evidence, not errors: only running out of memory is (-ENOMEM).
 * Does nothing when t's trust does not ask for rebuilders.
 */
int petrel_rebuilders_ask(struct petrel_http *h, const struct petrel_target *t,
			  const struct petrel_build *b, struct petrel_evidence *ev, struct petrel_err *err);

#endif
