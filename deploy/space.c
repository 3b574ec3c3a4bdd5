/* Free space in the state directory: min_free kept before a write, gc when it helps. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/log.h"
#include "space.h"

/* Bytes free for us and the file system's size, as statvfs says for the store. */
static int free_space(const struct petrel_engine *e, uint64_t *avail, uint64_t *total,
		      uint64_t *block, struct petrel_err *err)
{
	struct statvfs st;

	if (statvfs(e->store.dir, &st) < 0)
		return petrel_fail(err, -errno, "%s: %s", e->store.dir, strerror(errno));
	*block = st.f_frsize ? st.f_frsize : 4096;
	*avail = (uint64_t)st.f_bavail * *block;
	*total = (uint64_t)st.f_blocks * *block;
	return 0;
}

/* min_free in bytes: the configured bytes, or its percent of the file system. */
static uint64_t reserve(const struct petrel_config *cfg, uint64_t total)
{
	if (cfg->min_free_pct)
		return total / 100 * (uint64_t)cfg->min_free;
	return (uint64_t)cfg->min_free;
}

/* A gc over every configured target, or its dry run; *freed gets the bytes. */
static int gc_all(struct petrel_engine *e, int dry_run, uint64_t *freed, struct petrel_err *err)
{
	const struct petrel_config *cfg = e->cfg;
	struct petrel_gc_target *ts = calloc(cfg->ntargets + 1, sizeof(*ts));
	struct petrel_gc g = { .dry_run = dry_run };
	int r;

	if (!ts)
		return petrel_fail(err, -ENOMEM, "gc: out of memory");
	for (size_t i = 0; i < cfg->ntargets; i++) {
		ts[i].name = cfg->targets[i].name;
		ts[i].keep = cfg->targets[i].keep;
	}
	r = petrel_store_gc(&e->store, ts, cfg->ntargets, &g, err);
	*freed = g.bytes > 0 ? (uint64_t)g.bytes : 0;
	free(ts);
	return r;
}

static int refuse_space(const struct petrel_engine *e, uint64_t avail, uint64_t need,
			uint64_t min, uint64_t freed, struct petrel_err *err)
{
	return petrel_fail(err, -ENOSPC, "%s: %s: %" PRIu64 " bytes free, the build needs %"
			   PRIu64 " + min_free %" PRIu64 " (gc would free %" PRIu64 "); make "
			   "room or lower min_free", e->store.dir, strerror(ENOSPC), avail, need,
			   min, freed);
}

int petrel_space_ensure(struct petrel_engine *e, uint64_t need, struct petrel_err *err)
{
	uint64_t avail, total, block, min, freed = 0;
	int r;

	if ((r = free_space(e, &avail, &total, &block, err)) < 0)
		return r;
	need = need / block * block + (need % block ? block : 0);	/* whole blocks */
	min = reserve(e->cfg, total);
	if (avail >= need && avail - need >= min)
		return 0;
	if ((r = gc_all(e, 1, &freed, err)) < 0)
		return r;
	if (avail + freed < need + min)
		return refuse_space(e, avail, need, min, freed, err);
	petrel_log_info("%s: %" PRIu64 " bytes free, %" PRIu64 " + min_free %" PRIu64
			" needed: running gc", e->store.dir, avail, need, min);
	if ((r = gc_all(e, 0, &freed, err)) < 0 ||
	    (r = free_space(e, &avail, &total, &block, err)) < 0)
		return r;
	return avail >= need + min ? 0 : refuse_space(e, avail, need, min, freed, err);
}

int petrel_space_gc_target(struct petrel_engine *e, const struct petrel_target *t,
			   int64_t *versions, int64_t *bytes, struct petrel_err *err)
{
	struct petrel_gc_target one = { .name = t->name, .keep = t->keep };
	struct petrel_gc g = { 0 };
	int r = petrel_store_gc(&e->store, &one, 1, &g, err);

	if (versions)
		*versions = one.removed;
	if (bytes)
		*bytes = g.bytes;
	return r;
}
