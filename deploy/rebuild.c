/* Rebuilder agreement: each rebuilder's /hash answer becomes one piece of evidence. */
#include <errno.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "fetcher/builderweb.h"
#include "rebuild.h"

/* Why a failed lookup does not count, from its code and pending message. */
static void failure_reason(int r, const char *hex, char *why, size_t n)
{
	if (r == -PETREL_ENOTFOUND)
		petrel_snprintf(why, n, "has no build with sha256 %.12s... (404)", hex);
	else if (r == -PETREL_ENET)
		petrel_snprintf(why, n, "down: %s", petrel_error_message());
	else
		petrel_snprintf(why, n, "%s", petrel_error_message()[0] ?
				petrel_error_message() : petrel_strerror(r));
	petrel_error_clear();
}

/* Asks one rebuilder; fills agrees and why. */
static int ask_one(struct petrel_http *h, const struct petrel_server *s,
		   const struct petrel_build *b, struct petrel_evidence *ev)
{
	char job[PETREL_NAME_MAX + 1], uuid[PETREL_UUID_LEN + 1], hex[65], why[256] = "";
	int r, agrees = 0;

	petrel_hex(b->sha256, 32, hex);
	r = petrel_bw_hash_lookup(h, s->url, b->sha256, job, uuid);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		failure_reason(r, hex, why, sizeof(why));
	else if (strcmp(job, b->job))
		petrel_snprintf(why, sizeof(why), "points to build %s of job '%s', not '%s'", uuid,
				job, b->job);
	else
		agrees = 1;
	if (agrees)
		petrel_log_debug("rebuilder %s agrees: its build %s of %s has sha256 %s", s->name,
				 uuid, job, hex);
	else
		petrel_log_debug("rebuilder %s does not agree on %s %s: %s", s->name, b->job,
				b->uuid, why);
	return petrel_evidence_add_rebuilder(ev, s->name, agrees, why);
}

int petrel_rebuilders_ask(struct petrel_http *h, const struct petrel_target *t,
			  const struct petrel_build *b, struct petrel_evidence *ev)
{
	int r;

	ev->nrebuilders = 0;
	if (!petrel_trust_needs_rebuilders(t->trust))
		return 0;
	for (size_t i = 0; i < t->nrebuilders; i++)
		if ((r = ask_one(h, t->rebuilders[i], b, ev)) < 0)
			return r;
	return 0;
}
