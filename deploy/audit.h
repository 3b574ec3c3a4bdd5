/* The audit: does what is deployed match the store, and do the servers know it? */
#ifndef PETREL_AUDIT_H
#define PETREL_AUDIT_H

#include <stddef.h>

#include "common/build.h"
#include "common/error.h"
#include "engine.h"
#include "store/store.h"
#include "target.h"

#define PETREL_AUDIT_FINDINGS_MAX 8	/* per target: file, mode, two blobs, prev, with room
					 * to spare; further findings are dropped */
#define PETREL_AUDIT_FINDING_LEN 768	/* one finding's text, truncated to fit */

/* One configured server's answer to GET /hash?sha256= of the deployed hash. */
struct petrel_audit_server {
	const struct petrel_server *server;	/* borrowed from the engine's config */
	char url[PETREL_URL_MAX + 1];		/* server's URL, credentials masked */
	int known;				/* the server names a build of the hash */
	char job[PETREL_NAME_MAX + 1];		/* that build, when known */
	char uuid[PETREL_UUID_LEN + 1];
	char error[PETREL_ERR_MSG_MAX];		/* why it could not say; "" when known or
						 * when it answered 404 (does not know it) */
};

/* One target's audit. Findings are results, never failures. */
struct petrel_audit {
	const struct petrel_target *t;		/* borrowed */
	struct petrel_generation cur, prev;	/* number 0 when none */
	char findings[PETREL_AUDIT_FINDINGS_MAX][PETREL_AUDIT_FINDING_LEN];
	size_t n;				/* findings, one line of text each */
	struct petrel_audit_server *servers;	/* owned; with online, one per configured
						 * server in its order; else NULL */
	size_t nservers;
};

struct petrel_audit_opts {
	int online;	/* ask every configured server about the deployed hash */
	int rehash;	/* hash the files again; else compare presence, mode and size only */
};

/*
 * Audits t into out (overwritten; t borrowed): the deployed file (mode 0755 and the
 * current generation's size and sha256), the store's blobs of the current and previous
 * generations, and PATH.petrel-prev, which must hold the previous generation or the
 * build a failed or interrupted switch left there. Nothing deployed: no finding, no
 * server asked. A server that is down is an answer, not a failure. 0, or a store
 * error or -ENOMEM; out is released with petrel_audit_release either way.
 */
int petrel_audit_target(struct petrel_engine *e, const struct petrel_target *t,
			const struct petrel_audit_opts *o, struct petrel_audit *out,
			struct petrel_err *err);
/* Frees a's servers; a stays valid, with none. */
void petrel_audit_release(struct petrel_audit *a);

/* A whole audit: the journal's chain, then each target's audit. */
struct petrel_audit_report {
	struct petrel_journal_check journal;
	struct petrel_audit *targets;	/* owned, n of them, in the order asked */
	size_t n;
	size_t nfindings;		/* over every target */
};

/*
 * Verifies the journal's chain, audits each of the n targets ts (borrowed) and, the
 * audit being an action too, journals it: a row per finding and one summary row
 * "targets=N findings=N journal=ok|broken at row N rehashed|quick[ online]". A broken
 * chain and findings are results, not failures. 0, or a store error or -ENOMEM ("TARGET: "
 * in front when a target's audit failed); nothing is journaled then. out is released
 * with petrel_audit_report_release either way.
 */
int petrel_audit_all(struct petrel_engine *e, const struct petrel_target *const *ts, size_t n,
		     const struct petrel_audit_opts *o, struct petrel_audit_report *out,
		     struct petrel_err *err);
/* Releases every target's audit and the array; rep stays valid, empty. */
void petrel_audit_report_release(struct petrel_audit_report *rep);

#endif
