/* Looking without touching: list, upgrade --dry-run; and the operator's pin. */
#ifndef PETREL_INSPECT_H
#define PETREL_INSPECT_H

#include "engine.h"

/* One build the server lists for a target, and what this host knows of its bytes. */
struct petrel_listed {
	struct petrel_build b;		/* job, uuid, filename, sha256, size; times and
					 * platform from its record (0, "" if unreadable) */
	int deployed, previous;		/* the current / previous generation holds these bytes */
	int in_store;			/* verified for the target */
	int rejected;			/* failed its health check here, or reverted from */
	char rejected_reason[256];
	int64_t rejected_at;
	int refused;			/* failed verification here (retried after a backoff) */
	struct petrel_refusal refusal;
};
typedef int (*petrel_listed_fn)(void *ctx, const struct petrel_listed *l);
/*
 * The server's builds of t's job (on its platform), newest first: one per distinct
 * binary, as builder-web lists them, each build's record read for its times. fn returns
 * 0 to go on. Needs only a read-only engine. 0 or a negative code with a message.
 */
int petrel_list(struct petrel_engine *e, const struct petrel_target *t, petrel_listed_fn fn,
		void *ctx, struct petrel_err *err);

/* What `upgrade` would do. */
struct petrel_plan {
	struct petrel_build build;	/* the build it would deploy */
	int in_store;			/* verified already: no download */
	struct petrel_version stored;	/* when in_store */
	char url[PETREL_URL_MAX + 1];	/* where the bytes would come from, when !in_store */
	struct petrel_generation current;	/* number 0: nothing deployed */
	int noop;			/* the build is current already */
	int rejected;			/* rejected before (deployed only when named) */
	char rejected_reason[256];
	int64_t rejected_at;
	int refused;			/* failed verification before: verified again */
	struct petrel_refusal refusal;
};
/*
 * What petrel_upgrade(e, t, uuid, allow_downgrade) would do, changing nothing (a
 * read-only engine does): 0 with p filled when it would deploy (or p->noop), else the
 * refusal it would meet before switching (configuration, pin, server, rollback,
 * rejected, downgrade) as that code and message. Downloading, verifying, preflight and
 * the health check are not tried.
 */
int petrel_upgrade_plan(struct petrel_engine *e, const struct petrel_target *t,
			const char *uuid, int allow_downgrade, struct petrel_plan *p,
			struct petrel_err *err);

/*
 * Holds t at uuid (a build the store verified for t), or at the current generation's
 * build when uuid is NULL: the daemon leaves it alone and `upgrade` without --to
 * refuses. Fills out. 0 or a negative code with a message.
 */
int petrel_pin(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
	       struct petrel_pin *out, struct petrel_err *err);

#endif
