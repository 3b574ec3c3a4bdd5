/* Following a publisher's channel file (DESIGN.md "Fleet"): which build this host
 * takes, which hashes it must never run. Private to deploy/ and the commands. */
#ifndef PETREL_FOLLOW_H
#define PETREL_FOLLOW_H

#include <stdint.h>

#include "common/error.h"
#include "engine.h"
#include "verify/channel.h"

/* What t's channel says to this host. */
struct petrel_follow {
	struct petrel_channel ch;	/* the file's entry for t's job (release it) */
	char url[PETREL_URL_MAX + 1];	/* where it came from, credentials masked */
	int64_t accepted_at;		/* when this host accepted that version */
	uint64_t bucket;		/* this host's, for the release (when has_release) */
	double u;			/* bucket / 2^64 */
	double fraction;		/* the ramp's share of hosts now */
	int takes;			/* has_release and this host is within the ramp */
};

/*
 * Polls t's channel: GET channel and channel.minisig, verify with the channel keys
 * (-PETREL_ESIG_*, -PETREL_EBINDING: exit 3), parse strictly (-PETREL_EMALFORMED), refuse
 * a version below the one accepted before from the same URL (-PETREL_EROLLBACK) and an
 * expired file (-PETREL_EPOLICY); a newer one is recorded in the store (with a journal
 * row), so that its blocks hold without the network. Server failures are -PETREL_EHTTP
 * or -PETREL_ENET naming the URL. Fills out (release with petrel_follow_release).
 */
int petrel_follow_poll(struct petrel_engine *e, const struct petrel_target *t,
		       struct petrel_follow *out, struct petrel_err *err);
/*
 * The channel file t accepted last, from the store (no network), verified again with
 * the current channel keys; -PETREL_ENOTFOUND when there is none. Expiry is not
 * checked: blocks hold whatever the age of the file that said them.
 */
int petrel_follow_stored(struct petrel_engine *e, const struct petrel_target *t,
			 struct petrel_follow *out, struct petrel_err *err);
/* The same from a store and a configuration, without an engine (the metrics). */
int petrel_follow_stored_in(struct petrel_store *s, const struct petrel_config *cfg,
			    const struct petrel_target *t, struct petrel_follow *out,
			    struct petrel_err *err);
void petrel_follow_release(struct petrel_follow *f);

/*
 * 0 when t's stored channel does not block sha256 (or t has none), else -PETREL_EPOLICY
 * naming the build (uuid), the hash and the channel's version: a blocked hash is never
 * deployed, by hand or by the daemon, forward or back.
 */
int petrel_follow_blocks(struct petrel_engine *e, const struct petrel_target *t,
			 const char *uuid, const uint8_t sha256[32], struct petrel_err *err);

/* "release U not for this host yet (bucket 0.734, ramp at 42.0 %)" and the like: why
 * f does not move this host, into out. */
void petrel_follow_why(const struct petrel_follow *f, char *out, size_t n);

#endif
