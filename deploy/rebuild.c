/* Rebuilder agreement: each rebuilder's /hash answer becomes one piece of evidence. */
#include <errno.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "fetcher/builderweb.h"
#include "rebuild.h"

/* Why a failed lookup does not count, from its code and message. */
static void failure_reason(int r, const struct petrel_err *e, const char *hex, char *why,
			   size_t n)
{
	if (r == -PETREL_ENOTFOUND)
		petrel_snprintf(why, n, "has no build with sha256 %.12s... (404)", hex);
	else if (r == -PETREL_ENET)
		petrel_snprintf(why, n, "down: %s", petrel_err_msg(e, r));
	else
		petrel_snprintf(why, n, "%s", petrel_err_msg(e, r));
}

/*
 * builder-web's /hash names the newest build holding the bytes as ANY artifact of any
 * job, failed builds included: that build's own main binary must carry the hash (its
 * ETag, from a GET stopped after the headers) for the rebuilder to agree. Another job
 * name is fine: the same bytes were built from another job's recipe.
 */
static int confirm_main_binary(struct petrel_http *h, const struct petrel_server *s,
			       const char *job, const char *uuid, const uint8_t sha256[32],
			       char *why, size_t n)
{
	struct petrel_bw_binary bin;
	struct petrel_err e = PETREL_ERR_INIT;	/* evidence, not an error */
	char hex[65];
	int r;

	r = petrel_bw_binary_head(h, s->url, job, uuid, &bin, &e);
	if (r == -ENOMEM)
		return r;
	if (r == -PETREL_ENOTFOUND)
		petrel_snprintf(why, n, "holds it only in build %s of job '%s', which has no main "
				"binary (a failed build)", uuid, job);
	else if (r < 0)
		failure_reason(r, &e, "", why, n);
	else if (memcmp(bin.sha256, sha256, 32)) {
		petrel_hex(bin.sha256, 32, hex);
		petrel_snprintf(why, n, "holds it only as another artifact of build %s of job "
				"'%s' (its main binary has sha256 %.12s...)", uuid, job, hex);
	}
	return r == 0 && !why[0];
}

/* Asks one rebuilder; fills agrees and why. */
static int ask_one(struct petrel_http *h, const struct petrel_server *s,
		   const struct petrel_build *b, struct petrel_evidence *ev, struct petrel_err *err)
{
	char job[PETREL_NAME_MAX + 1], uuid[PETREL_UUID_LEN + 1], hex[65], why[256] = "";
	struct petrel_err e = PETREL_ERR_INIT;	/* evidence, not an error */
	int r, agrees = 0;

	petrel_hex(b->sha256, 32, hex);
	r = petrel_bw_hash_lookup(h, s->url, b->sha256, job, uuid, &e);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		failure_reason(r, &e, hex, why, sizeof(why));
	else if ((agrees = confirm_main_binary(h, s, job, uuid, b->sha256, why, sizeof(why))) < 0)
		return agrees;
	if (agrees && strcmp(job, b->job))	/* worth a line: the operator may not expect it */
		petrel_log_info("rebuilder %s agrees: its build %s of %s has sha256 %s (built as "
				"another job)", s->name, uuid, job, hex);
	else if (agrees)
		petrel_log_debug("rebuilder %s agrees: its build %s of %s has sha256 %s", s->name,
				 uuid, job, hex);
	else
		petrel_log_debug("rebuilder %s does not agree on %s %s: %s", s->name, b->job,
				 b->uuid, why);
	return petrel_evidence_add_rebuilder(ev, s->name, agrees, why, err);
}

/* Which server a rebuilder turns out to be, if it is one already asked (or the
 * target's own): resolved names, so that localhost or 127.1 cannot agree with itself. */
static const char *same_as(const struct petrel_target *t, size_t i)
{
	if (petrel_url_same_server(t->rebuilders[i]->url, t->server->url))
		return "the target's own server";
	for (size_t j = 0; j < i; j++)
		if (petrel_url_same_server(t->rebuilders[i]->url, t->rebuilders[j]->url))
			return t->rebuilders[j]->name;
	return NULL;
}

int petrel_rebuilders_ask(struct petrel_http *h, const struct petrel_target *t,
			  const struct petrel_build *b, struct petrel_evidence *ev, struct petrel_err *err)
{
	char why[256];
	const char *dup;
	int r;

	ev->nrebuilders = 0;
	if (!petrel_trust_needs_rebuilders(t->trust))
		return 0;
	for (size_t i = 0; i < t->nrebuilders; i++) {
		if ((dup = same_as(t, i))) {
			petrel_snprintf(why, sizeof(why), "is the same server as %s (same scheme, "
					"address and port): not independent", dup);
			r = petrel_evidence_add_rebuilder(ev, t->rebuilders[i]->name, 0, why, err);
		} else {
			r = ask_one(h, t->rebuilders[i], b, ev, err);
		}
		if (r < 0)
			return r;
	}
	return 0;
}
