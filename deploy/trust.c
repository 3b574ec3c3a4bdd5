/* Trust re-checked before a stored build goes live: its kept signatures, today's keys. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/util.h"
#include "engine.h"
#include "fetch.h"
#include "sigs.h"
#include "verify/digest.h"

#define AGAIN "trust re-checked against the current configuration"

/* What the re-check of one version found. */
struct recheck {
	struct petrel_engine *e;
	const struct petrel_target *t;
	const struct petrel_version *v;
	struct petrel_sigset sigs;
	struct petrel_evidence ev;
	size_t nsigners;		/* key ids the store recorded for the version */
	size_t ngone;			/* of them, not among the target's keys any more */
	char gone[PETREL_KEYS_MAX * 18];	/* "ID, ID" */
	int legacy;			/* no signatures kept: the recorded key ids stand in */
	unsigned flags;			/* PETREL_RECHECK_* */
};

static void note_gone(struct recheck *rc, const char *keyid)
{
	size_t used = strlen(rc->gone);

	snprintf(rc->gone + used, sizeof(rc->gone) - used, "%s%s", rc->ngone ? ", " : "", keyid);
	rc->ngone++;
}

static const struct petrel_pubkey *configured(const struct petrel_target *t, const char *keyid)
{
	char id[17];

	for (size_t i = 0; i < t->nkeys; i++) {
		petrel_keyid_str(t->pubkeys[i].keyid, id);
		if (!strcmp(id, keyid))
			return &t->pubkeys[i];
	}
	return NULL;
}

/* One kept signature into the set, judged as at fetch; a key no longer configured is
 * noted by name. */
static int add_stored(void *ctx, const struct petrel_stored_sig *sig)
{
	struct recheck *rc = ctx;
	struct petrel_err why = PETREL_ERR_INIT;	/* the set remembers it */
	char origin[64];
	int r;

	rc->nsigners++;
	snprintf(origin, sizeof(origin), "stored signature by key %s", sig->keyid);
	r = petrel_sigset_add_text(&rc->sigs, &rc->v->build, origin, sig->text, sig->len, &why);
	if (r == -PETREL_ESIG_UNTRUSTED)
		note_gone(rc, sig->keyid);
	return r == -ENOMEM ? r : 0;
}

/* A version an older petrel stored keeps no signatures: its recorded key ids count
 * when they are still configured. */
static int count_recorded(struct recheck *rc, struct petrel_err *err)
{
	char ids[sizeof(rc->v->keyids)], *p = ids, *id;
	const struct petrel_pubkey *k;
	int r;

	rc->legacy = 1;
	petrel_strcpy_whole(ids, rc->v->keyids, sizeof(ids));
	while ((id = strsep(&p, ",")) != NULL) {
		if (!*id)
			continue;
		rc->nsigners++;
		if (!(k = configured(rc->t, id)))
			note_gone(rc, id);
		else if ((r = petrel_evidence_add_key(&rc->ev, k->keyid, err)) < 0)
			return r;
	}
	return 0;
}

/* The BLAKE2b-512 the store recorded, or (none recorded) the blob's, hashed now. */
static int blake2b_of(struct recheck *rc, int fd, const char *path, uint8_t out[64],
		      struct petrel_err *err)
{
	const struct petrel_version *v = rc->v;
	struct petrel_digest *d = NULL;
	int r;

	if (v->blake2b[0])
		return petrel_unhex(v->blake2b, strlen(v->blake2b), out, 64) < 0 ?
		       petrel_fail(err, -PETREL_ECORRUPT, "versions row %lld: malformed blake2b",
				   (long long)v->id) : 0;
	if ((r = petrel_digest_new(&d, PETREL_DIGEST_BLAKE2B)) == 0 &&
	    (r = petrel_digest_fd(d, fd, path, v->build.size, NULL, NULL, NULL, err)) == 0)
		r = petrel_digest_final(d, NULL, out);
	petrel_digest_free(d);
	return r;
}

/* Without the blob (PETREL_RECHECK_NO_READ): the signatures that were judged count by
 * their keys, unverified. */
static int count_judged(struct recheck *rc, struct petrel_err *err)
{
	const struct petrel_sigset *s = &rc->sigs;
	int r;

	for (size_t i = 0; i < s->ncands; i++)
		if ((r = petrel_evidence_add_key(&rc->ev, s->cands[i].key->keyid, err)) < 0)
			return r;
	if (rc->ev.nkeys >= rc->t->threshold)
		return 0;
	if (s->first.code)
		return petrel_err_forward(err, &s->first, s->first.code);
	return petrel_fail(err, -PETREL_ETHRESHOLD, "%zu of %u required signatures",
			   rc->ev.nkeys, rc->t->threshold);
}

/* The kept signatures verified again, over the recorded BLAKE2b-512 (prehashed) or the
 * blob mapped read-only (legacy), as at fetch. */
static int verify_kept(struct recheck *rc, struct petrel_err *err)
{
	const struct petrel_version *v = rc->v;
	struct petrel_msg file = { NULL, 0 };
	char path[PATH_MAX];
	uint8_t b2[64], *prehashed = NULL;
	void *map = NULL;
	int fd = -1, r = 0;

	if (petrel_sigset_needs_file(&rc->sigs) ||
	    (petrel_sigset_needs_blake2b(&rc->sigs) && !v->blake2b[0])) {
		if (rc->flags & PETREL_RECHECK_NO_READ)
			return count_judged(rc, err);
		petrel_store_blob_path(&rc->e->store, v->build.sha256, path, sizeof(path));
		if ((fd = petrel_open_regular(path, 0, NULL)) < 0)
			return petrel_fail(err, -PETREL_ECORRUPT, "%s: %s (run petrel fsck)", path,
					   fd == -EINVAL ? "not a regular file" : strerror(-fd));
	}
	if (petrel_sigset_needs_blake2b(&rc->sigs) && (r = blake2b_of(rc, fd, path, b2, err)) == 0)
		prehashed = b2;
	if (r == 0 && petrel_sigset_needs_file(&rc->sigs))
		r = petrel_map_file(fd, path, v->build.size, rc->e->cfg->max_artifact_size, &file,
				    &map, err);
	if (r == 0)
		r = petrel_sigset_verify(&rc->sigs, prehashed, map ? &file : NULL, &rc->ev, err);
	if (map)
		munmap(map, file.n);
	if (fd >= 0)
		close(fd);
	return r;
}

/* The refusal when keys that vouched for the build are gone (r: the shortfall's code). */
static int keys_gone(const struct recheck *rc, int r, struct petrel_err *err)
{
	const char *u = rc->v->build.uuid;
	const char *old = rc->legacy ? "; the version predates kept signatures: its recorded "
				      "key ids were checked" : "";
	int one = rc->ngone == 1;

	if (r == -PETREL_ESIG_FORMAT || r == -PETREL_ESIG_INVALID || r == -PETREL_EBINDING)
		r = -PETREL_ESIG_UNTRUSTED;	/* what was found wrong is the key's absence */
	if (rc->ngone == rc->nsigners)
		return petrel_fail(err, r, "build %s was vouched for only by key%s %s, which %s no "
				   "longer in keys; not deploying it (" AGAIN "%s)", u,
				   one ? "" : "s", rc->gone, one ? "is" : "are", old);
	return petrel_fail(err, r, "build %s: key%s %s, which vouched for it, %s no longer in "
			   "keys, leaving %zu of %u required signatures; not deploying it (" AGAIN
			   "%s)", u, one ? "" : "s", rc->gone, one ? "is" : "are", rc->ev.nkeys,
			   rc->t->threshold, old);
}

/* The signature half: the kept signatures (or recorded key ids) against today's keys. */
static int recheck_signatures(struct recheck *rc, struct petrel_err *err)
{
	struct petrel_err why = PETREL_ERR_INIT;
	int r, n;

	if ((n = petrel_store_count_signatures(&rc->e->store, rc->v->id, err)) < 0)
		return n;
	if (n == 0 && !rc->v->keyids[0])	/* accepted when no signature was asked for */
		return petrel_fail(err, -PETREL_ESIG_MISSING, "build %s was accepted without "
				   "signatures (trust = %s then), trust = %s asks for them; not "
				   "deploying it (" AGAIN ")", rc->v->build.uuid, rc->v->trust,
				   petrel_trust_name(rc->t->trust));
	if (n > 0) {
		if ((r = petrel_store_signatures(&rc->e->store, rc->v->id, add_stored, rc, err)) < 0)
			return r;
		r = verify_kept(rc, &why);
	} else if ((r = count_recorded(rc, err)) == 0 && rc->ev.nkeys < rc->t->threshold) {
		r = rc->ev.nkeys ? petrel_fail(&why, -PETREL_ETHRESHOLD,
					       "%zu of %u required signatures", rc->ev.nkeys,
					       rc->t->threshold) :
				   petrel_fail(&why, -PETREL_ESIG_MISSING, "none of its recorded "
					       "keys is configured");
	}
	if (r == 0 || !petrel_err_is(r, PETREL_ERR_REFUSAL))	/* a blob missing, the db */
		return r == 0 ? 0 : petrel_err_forward(err, &why, r);
	if (rc->ngone)
		return keys_gone(rc, r, err);
	return petrel_fail(err, r, "build %s: %s; not deploying it (" AGAIN "%s)",
			   rc->v->build.uuid, petrel_err_msg(&why, r), rc->legacy ?
			   "; the version predates kept signatures" : "");
}

/* 1 when name is one of the comma-separated names in list. */
static int listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p; ) {
		size_t len = strcspn(p, ",");

		if (len == n && !strncmp(p, name, n))
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

/* The rebuilder half: each configured rebuilder agrees when it agreed at fetch. */
static int recheck_rebuilders(struct recheck *rc, struct petrel_err *err)
{
	char names[sizeof(rc->v->rebuilders)], gone[sizeof(rc->v->rebuilders)] = "", *p = names;
	const struct petrel_target *t = rc->t;
	struct petrel_err why = PETREL_ERR_INIT;
	const char *name;
	size_t i, n = 0;
	int r;

	for (i = 0; i < t->nrebuilders; i++) {
		int agreed = listed(rc->v->rebuilders, t->rebuilder_names[i]);

		if ((r = petrel_evidence_add_rebuilder(&rc->ev, t->rebuilder_names[i], agreed,
						       agreed ? NULL : "did not confirm it when "
						       "it was fetched", err)) < 0)
			return r;
	}
	petrel_strcpy_whole(names, rc->v->rebuilders, sizeof(names));
	while ((name = strsep(&p, ",")) != NULL) {
		for (i = 0; i < t->nrebuilders && strcmp(t->rebuilder_names[i], name); i++)
			;
		if (*name && i == t->nrebuilders)	/* no longer configured */
			snprintf(gone + strlen(gone), sizeof(gone) - strlen(gone), "%s%s",
				 n++ ? ", " : "", name);
	}
	if ((r = petrel_policy_rebuilt(t->trust, t->agree, &rc->ev, &why)) == 0)
		return 0;
	if (n)
		return petrel_fail(err, r, "build %s: rebuilder%s %s, which confirmed it, %s no "
				   "longer in rebuilders: %s; not deploying it (" AGAIN ")",
				   rc->v->build.uuid, n == 1 ? "" : "s", gone, n == 1 ? "is" : "are",
				   petrel_err_msg(&why, r));
	return petrel_fail(err, r, "build %s: %s; not deploying it (" AGAIN ")",
			   rc->v->build.uuid, petrel_err_msg(&why, r));
}

int petrel_trust_recheck(struct petrel_engine *e, const struct petrel_target *t,
			 const struct petrel_version *v, struct petrel_err *err)
{
	return petrel_trust_recheck_flags(e, t, v, 0, err);
}

int petrel_trust_recheck_flags(struct petrel_engine *e, const struct petrel_target *t,
			       const struct petrel_version *v, unsigned flags,
			       struct petrel_err *err)
{
	struct recheck *rc = calloc(1, sizeof(*rc));
	int r = 0;

	if (!rc)
		return petrel_fail(err, -ENOMEM, "re-checking trust: %s", strerror(ENOMEM));
	rc->flags = flags;
	rc->e = e;
	rc->t = t;
	rc->v = v;
	petrel_sigset_init(&rc->sigs, t);
	if (petrel_trust_needs_signatures(t->trust))
		r = recheck_signatures(rc, err);
	if (r == 0 && petrel_trust_needs_rebuilders(t->trust))
		r = recheck_rebuilders(rc, err);
	petrel_sigset_release(&rc->sigs);
	free(rc);
	return r;
}
