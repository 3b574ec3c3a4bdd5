/* petrel import: a bundle's versions verified as a fetch verifies them, then stored. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundles.h"
#include "common/util.h"
#include "fetch.h"
#include "sigs.h"
#include "solo5.h"
#include "space.h"
#include "store/bundle.h"

/* One version for one target: its target as the import judges it, its signatures. */
struct pair {
	size_t version;			/* index in the bundle */
	const struct petrel_target *t;	/* the configuration's */
	struct petrel_target *as;	/* t, with the trust that can be checked offline */
	struct petrel_sigset sigs;
	struct petrel_version v;
	int already;
};

struct import {
	struct petrel_engine *e;
	const char *name;
	const struct petrel_import_opts *o;
	struct petrel_intake *in[PETREL_BUNDLE_VERSIONS_MAX];
	struct pair *pairs;
	size_t npairs;
};

/* 1 when t takes builds like b: its job, and its platform when it names one. */
static int takes(const struct petrel_target *t, const struct petrel_build *b)
{
	return !strcmp(t->job, b->job) && (!t->platform[0] || !strcmp(t->platform, b->platform));
}

/* Before any blob byte: every version has a target here, and the store has room. */
static int on_manifest(void *ctx, const struct petrel_bundle *b, uint64_t total,
		       struct petrel_err *err)
{
	struct import *im = ctx;
	const struct petrel_config *cfg = im->e->cfg;

	for (size_t i = 0; i < b->nversions; i++) {
		size_t k = 0;

		while (k < cfg->ntargets && strcmp(cfg->targets[k].job, b->versions[i].build.job))
			k++;
		if (k == cfg->ntargets)
			return petrel_fail(err, -PETREL_EBUNDLE, "%s: build %s of job %s: no target "
					   "of this host has that job", im->name,
					   b->versions[i].build.uuid, b->versions[i].build.job);
	}
	return petrel_space_ensure(im->e, total, err);
}

static int on_begin(void *ctx, size_t i, const struct petrel_bundle_version *v,
		    struct petrel_err *err)
{
	struct import *im = ctx;
	const struct petrel_config *cfg = im->e->cfg;
	size_t k = 0;

	while (k < cfg->ntargets && !takes(&cfg->targets[k], &v->build))
		k++;
	if (k == cfg->ntargets)
		return petrel_fail(err, -PETREL_EBUNDLE, "%s: build %s of job %s on platform "
				   "'%s': no target of this host takes it", im->name,
				   v->build.uuid, v->build.job, v->build.platform);
	return petrel_intake_new(im->e, &im->in[i], err);
}

static int on_write(void *ctx, size_t i, const void *p, size_t n, struct petrel_err *err)
{
	struct import *im = ctx;

	return petrel_intake_write(im->in[i], p, n, err);
}

/* The trust t's policy can have offline: rebuilders are never reachable from here. */
static int offline_trust(const struct import *im, struct pair *p, struct petrel_err *err)
{
	if (!(p->as = malloc(sizeof(*p->as))))
		return petrel_fail(err, -ENOMEM, "import: out of memory");
	*p->as = *p->t;
	if (!petrel_trust_needs_rebuilders(p->t->trust))
		return 0;
	if (!im->o->offline_ok)
		return petrel_fail(err, -PETREL_EPOLICY, "%s: trust = %s: rebuilders cannot be "
				   "asked offline; 'petrel import --offline-ok' accepts %s", p->t->name,
				   petrel_trust_name(p->t->trust),
				   petrel_trust_needs_signatures(p->t->trust) ?
				   "the publisher's signatures alone" : "the bundle's sha256 alone");
	p->as->trust = petrel_trust_needs_signatures(p->t->trust) ? PETREL_TRUST_SIGNED :
								    PETREL_TRUST_SERVER;
	return 0;
}

static void blob_url(const struct import *im, const struct petrel_build *b, char *out,
		     size_t n)
{
	snprintf(out, n, "%s: VERSIONS/%s/blob", im->name, b->uuid);
}

/* The bundle's signatures for p, judged with p's target (one that does not count is
 * kept as the set's refusal, as a fetched one is). */
static int add_sigs(const struct import *im, struct pair *p,
		    const struct petrel_bundle_version *bv)
{
	char origin[PETREL_URL_MAX + 1];

	petrel_sigset_init(&p->sigs, p->as);
	for (size_t k = 0; k < bv->nsigs; k++) {
		struct petrel_err one = PETREL_ERR_INIT;
		int r;

		snprintf(origin, sizeof(origin), "%s: VERSIONS/%s/sig/%s.minisig", im->name,
			 bv->build.uuid, bv->sigs[k].name);
		r = petrel_sigset_add_text(&p->sigs, &bv->build, origin, bv->sigs[k].text,
					   bv->sigs[k].len, &one);
		if (r == -ENOMEM)
			return r;
	}
	return 0;
}

/* The rollback mark: a bundle must not bring a build older than one t verified. */
static int rollback(const struct import *im, const struct pair *p, struct petrel_err *err)
{
	char when[32], mark[32];
	int64_t hw = 0;
	int r;

	if ((r = petrel_store_high_water(&im->e->store, p->t->name, &hw, err)) < 0 ||
	    p->v.timestamp >= hw)
		return r;
	petrel_format_time(p->v.timestamp, when, sizeof(when));
	petrel_format_time(hw, mark, sizeof(mark));
	return petrel_fail(err, -PETREL_EROLLBACK, "%s: build %s from %s is older than a build "
			   "from %s already verified (rollback refused; --allow-downgrade takes "
			   "it)", im->name, p->v.build.uuid, when, mark);
}

/* p verified as a fetch verifies, or found in the store already. */
static int verify(struct import *im, struct pair *p, const struct petrel_bundle_version *bv,
		  struct petrel_err *err)
{
	char url[PETREL_URL_MAX + 1];
	int r;

	r = petrel_store_find_uuid(&im->e->store, p->t->name, bv->build.uuid, &p->v, err);
	if (r == 0 && !memcmp(p->v.build.sha256, bv->build.sha256, 32)) {
		p->already = 1;
		return 0;
	}
	if (r < 0 && r != -PETREL_ENOTFOUND)
		return r;
	blob_url(im, &bv->build, url, sizeof(url));
	if ((r = offline_trust(im, p, err)) < 0 ||
	    (r = petrel_solo5_abi_check(p->t, &bv->build, err)) < 0 ||
	    (r = add_sigs(im, p, bv)) < 0)
		return r;
	r = petrel_intake_verify(im->e, p->as, im->in[p->version], &p->sigs, &bv->build, url,
				 0, &p->v, err);
	/* recorded, so that a deploy's re-check of trust knows no rebuilder was asked */
	p->v.offline = petrel_trust_needs_rebuilders(p->t->trust);
	if (r == 0 && !im->o->allow_downgrade)
		r = rollback(im, p, err);
	if (r < 0)
		petrel_err_prefix(err, "%s: ", p->t->name);
	return r;
}

/* Every (version, target) pair the bundle makes, verified; nothing stored yet. */
static int verify_all(struct import *im, const struct petrel_bundle *b, struct petrel_err *err)
{
	const struct petrel_config *cfg = im->e->cfg;
	int r;

	if (!(im->pairs = calloc(b->nversions * cfg->ntargets, sizeof(*im->pairs))))
		return petrel_fail(err, -ENOMEM, "import: out of memory");
	for (size_t i = 0; i < b->nversions; i++)
		for (size_t k = 0; k < cfg->ntargets; k++) {
			struct pair *p = &im->pairs[im->npairs];

			if (!takes(&cfg->targets[k], &b->versions[i].build))
				continue;
			p->version = i;
			p->t = &cfg->targets[k];
			im->npairs++;
			if ((r = verify(im, p, &b->versions[i], err)) < 0)
				return r;
		}
	return 0;
}

static int commit(struct import *im, struct pair *p, const struct petrel_bundle_version *bv,
		  struct petrel_err *err)
{
	char url[PETREL_URL_MAX + 1], detail[PETREL_URL_MAX + 256];
	int r;

	blob_url(im, &bv->build, url, sizeof(url));
	if ((r = petrel_intake_commit(im->e, im->in[p->version], &p->sigs, &bv->build, url,
				      &p->v, err)) < 0)
		return r;
	snprintf(detail, sizeof(detail), "%s from %s (trust %s%s)", bv->build.uuid, im->name,
		 p->v.trust, petrel_trust_needs_rebuilders(p->t->trust) ?
		 "; rebuilders not checked: offline" : "");
	return petrel_store_journal(&im->e->store, p->t->name, "import", detail, err);
}

static void import_release(struct import *im)
{
	for (size_t i = 0; i < PETREL_BUNDLE_VERSIONS_MAX; i++)
		petrel_intake_free(im->in[i]);
	for (size_t i = 0; im->pairs && i < im->npairs; i++) {
		petrel_sigset_release(&im->pairs[i].sigs);
		free(im->pairs[i].as);
	}
	free(im->pairs);
}

static int report(const struct import *im, struct petrel_bundle_report *rep,
		  struct petrel_err *err)
{
	if (!(rep->items = calloc(im->npairs + 1, sizeof(*rep->items))))
		return petrel_fail(err, -ENOMEM, "import: out of memory");
	for (size_t i = 0; i < im->npairs; i++) {
		rep->items[i].t = im->pairs[i].t;
		rep->items[i].v = im->pairs[i].v;
		rep->items[i].already = im->pairs[i].already;
		rep->items[i].nsigs = im->pairs[i].sigs.ncands;
	}
	rep->n = im->npairs;
	return 0;
}

int petrel_import(struct petrel_engine *e, int fd, const char *name,
		  const struct petrel_import_opts *o, struct petrel_bundle_report *rep,
		  struct petrel_err *err)
{
	struct import im = { .e = e, .name = name, .o = o };
	struct petrel_bundle_sink sink = {
		.manifest = on_manifest, .begin = on_begin, .write = on_write, .ctx = &im,
		.max_blob = (uint64_t)e->cfg->max_artifact_size,
	};
	struct petrel_bundle b;
	int r;

	memset(rep, 0, sizeof(*rep));
	if ((r = petrel_bundle_read_fd(fd, name, &sink, &b, err)) == 0 &&
	    (r = verify_all(&im, &b, err)) == 0) {
		for (size_t i = 0; r == 0 && i < im.npairs; i++)
			if (!im.pairs[i].already)
				r = commit(&im, &im.pairs[i], &b.versions[im.pairs[i].version], err);
		if (r == 0)
			r = report(&im, rep, err);
	}
	import_release(&im);
	petrel_bundle_release(&b);
	return r;
}
