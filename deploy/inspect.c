/* Looking without touching: the server's builds of a target, what an upgrade would do,
 * and the operator's hold on a target (pin). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "engine.h"
#include "fetch.h"
#include "fetcher/builderweb.h"
#include "inspect.h"

/* ---- list ---- */

struct listing {
	struct petrel_listed *v;
	size_t n, cap;
};

static int collect(void *ctx, const struct petrel_build *b)
{
	struct listing *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct petrel_listed *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	l->v[l->n++].b = *b;
	return 0;
}

/* Newest first by start time (builder-web's own order for "latest"), then uuid. */
static int by_time(const void *a, const void *b)
{
	const struct petrel_listed *x = a, *y = b;

	if (x->b.start_time != y->b.start_time)
		return x->b.start_time < y->b.start_time ? 1 : -1;
	return strcmp(x->b.uuid, y->b.uuid);
}

/* What the store knows of the bytes l->b holds for t. */
static int mark(struct petrel_engine *e, const struct petrel_target *t,
		const struct petrel_generation *cur, const struct petrel_generation *prev,
		struct petrel_listed *l, struct petrel_err *err)
{
	struct petrel_version v;
	int r;

	l->deployed = cur->number && !memcmp(cur->version.build.sha256, l->b.sha256, 32);
	l->previous = prev->number && !memcmp(prev->version.build.sha256, l->b.sha256, 32);
	if ((r = petrel_store_find_version(&e->store, t->name, l->b.sha256, &v, err)) < 0 &&
	    r != -PETREL_ENOTFOUND)
		return r;
	l->in_store = r == 0;
	if ((r = petrel_store_rejected(&e->store, t->name, l->b.sha256, l->rejected_reason,
					  &l->rejected_at, err)) < 0 &&
	    r != -PETREL_ENOTFOUND)
		return r;
	l->rejected = r == 0;
	if ((r = petrel_store_refused(&e->store, t->name, l->b.sha256, &l->refusal, err)) < 0 &&
	    r != -PETREL_ENOTFOUND)
		return r;
	l->refused = r == 0;
	return 0;
}

/* The build's times from its record; a record that cannot be read leaves them 0. */
static void record_times(struct petrel_engine *e, const struct petrel_target *t,
			 struct petrel_listed *l)
{
	struct petrel_err miss = PETREL_ERR_INIT;	/* a log line at most */
	struct petrel_build rec = l->b;

	if (petrel_bw_build_record(e->http, t->server->url, &rec, &miss) == 0) {
		l->b.start_time = rec.start_time;
		l->b.finish_time = rec.finish_time;
		petrel_strcpy_whole(l->b.platform, rec.platform, sizeof(l->b.platform));
	} else {
		petrel_log_debug("%s: %s", t->name, petrel_err_msg(&miss, -PETREL_EMALFORMED));
	}
}

int petrel_list(struct petrel_engine *e, const struct petrel_target *t, petrel_listed_fn fn,
		void *ctx, struct petrel_err *err)
{
	struct petrel_generation cur, prev;
	struct listing l = { 0 };
	int r;

	if ((r = petrel_store_current(&e->store, t->name, &cur, &prev, err)) < 0)
		return r;
	r = petrel_bw_job_listing(e->http, t->server->url, t->job, t->platform, collect, &l, err);
	if (r == -ENOMEM)
		r = petrel_fail(err, r, "out of memory");
	for (size_t i = 0; i < l.n && r == 0; i++) {
		record_times(e, t, &l.v[i]);
		r = mark(e, t, &cur, &prev, &l.v[i], err);
	}
	if (r == 0 && l.n)
		qsort(l.v, l.n, sizeof(*l.v), by_time);
	for (size_t i = 0; i < l.n && r == 0; i++)
		r = fn(ctx, &l.v[i]);
	free(l.v);
	return r;
}

/* ---- upgrade --dry-run ---- */

/* The refusals an upgrade to p->build would meet before switching, known without
 * downloading: rejected (newest only), refused before (said, not refused: a hand
 * upgrade verifies again), downgrade. */
static int would_deploy(struct petrel_engine *e, const struct petrel_target *t,
			const char *uuid, int allow_downgrade, struct petrel_plan *p,
			struct petrel_err *err)
{
	int64_t ts = p->in_store ? p->stored.timestamp : p->build.finish_time;
	int r;

	/* a stored build meets today's keys before it goes live (one fetched is judged by
	 * them when it is verified) */
	if (p->in_store && (r = petrel_trust_recheck(e, t, &p->stored, err)) < 0)
		return r;
	r = petrel_store_rejected(&e->store, t->name, p->build.sha256, p->rejected_reason,
				  &p->rejected_at, err);
	if (r < 0 && r != -PETREL_ENOTFOUND)
		return r;
	p->rejected = r == 0;
	if (p->rejected && !uuid)
		return petrel_fail(err, -PETREL_EPOLICY, "build %s was rejected here (%s); "
				   "upgrade refuses it unless named with --to", p->build.uuid,
				   p->rejected_reason);
	r = petrel_store_refused(&e->store, t->name, p->build.sha256, &p->refusal, err);
	if (r < 0 && r != -PETREL_ENOTFOUND)
		return r;
	p->refused = r == 0;
	if (p->current.number && ts < p->current.version.timestamp && !allow_downgrade)
		return petrel_fail(err, -PETREL_EPOLICY, "build %s is older than the current %s; "
				   "refused without --allow-downgrade", p->build.uuid,
				   p->current.version.build.uuid);
	return 0;
}

int petrel_upgrade_plan(struct petrel_engine *e, const struct petrel_target *t,
			const char *uuid, int allow_downgrade, struct petrel_plan *p,
			struct petrel_err *err)
{
	struct petrel_generation prev;
	struct petrel_pin pin;
	int r;

	memset(p, 0, sizeof(*p));
	if ((r = petrel_target_runnable(e->cfg, t, err)) < 0 ||
	    (r = petrel_store_current(&e->store, t->name, &p->current, &prev, err)) < 0)
		return r;
	r = petrel_store_pinned(&e->store, t->name, &pin, err);
	if (r == 0 && !uuid)
		return petrel_pin_refusal(t, &pin, err);
	if (r < 0 && r != -PETREL_ENOTFOUND)
		return r;
	r = uuid ? petrel_store_find_uuid(&e->store, t->name, uuid, &p->stored, err) :
		   -PETREL_ENOTFOUND;
	if (r == 0) {
		p->in_store = 1;
		p->build = p->stored.build;
	} else if (r != -PETREL_ENOTFOUND ||
		   (r = petrel_resolve(e, t, uuid, &p->build, err)) < 0) {
		return r;
	} else {
		r = petrel_store_find_version(&e->store, t->name, p->build.sha256, &p->stored, err);
		if (r < 0 && r != -PETREL_ENOTFOUND)
			return r;
		p->in_store = r == 0;
	}
	if (!uuid && (r = petrel_rollback_check(e, t, &p->build, p->in_store ?
						p->stored.timestamp : p->build.finish_time,
						!p->in_store, err)) < 0)
		return r;
	p->noop = p->current.number &&
		  !memcmp(p->current.version.build.sha256, p->build.sha256, 32);
	if (!p->in_store && petrel_bw_file_url(t->server->url, &p->build, p->url,
					       sizeof(p->url)) < 0)
		p->url[0] = '\0';
	return p->noop ? 0 : would_deploy(e, t, uuid, allow_downgrade, p, err);
}

/* ---- pin ---- */

int petrel_pin(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
	       struct petrel_pin *out, struct petrel_err *err)
{
	struct petrel_generation cur;
	struct petrel_version v;
	int r;

	if (!uuid) {
		if ((r = petrel_store_current(&e->store, t->name, &cur, NULL, err)) < 0)
			return r;
		if (!cur.number)
			return petrel_fail(err, -ENOENT, "nothing deployed to pin; 'petrel pin %s "
					   "UUID' names a build in the store", t->name);
		v = cur.version;
	} else if (!petrel_uuid_valid(uuid)) {
		return petrel_fail(err, -PETREL_EUSAGE, "'%s' is not a build uuid", uuid);
	} else if ((r = petrel_store_find_uuid(&e->store, t->name, uuid, &v, err)) < 0) {
		if (r == -PETREL_ENOTFOUND)
			return petrel_fail(err, -ENOENT, "build %s is not in the store "
					   "('petrel upgrade %s --to %s' fetches and deploys it)",
					   uuid, t->name, uuid);
		return r;
	}
	if ((r = petrel_store_pin(&e->store, t->name, v.build.uuid, v.build.sha256, err)) < 0)
		return r;
	return petrel_store_pinned(&e->store, t->name, out, err);
}
