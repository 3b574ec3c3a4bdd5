/* petrel export: the store's verified versions, their signatures and blobs, in a bundle. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundles.h"
#include "common/fs.h"
#include "common/util.h"
#include "store/bundle.h"
#include "verify/digest.h"

void petrel_bundle_report_release(struct petrel_bundle_report *r)
{
	free(r->items);
	r->items = NULL;
	r->n = 0;
}

/* The version t exports: uuid's, or the current generation's. */
static int pick(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
		struct petrel_version *v, struct petrel_err *err)
{
	struct petrel_generation cur;
	int r;

	if (uuid) {
		r = petrel_store_find_uuid(&e->store, t->name, uuid, v, err);
		if (r == -PETREL_ENOTFOUND)
			return petrel_fail(err, -PETREL_ENOTFOUND, "%s: build %s is not in the "
					   "store (petrel fetch it first)", t->name, uuid);
		return r;
	}
	if ((r = petrel_store_current(&e->store, t->name, &cur, NULL, err)) < 0)
		return r;
	if (!cur.number)
		return petrel_fail(err, -PETREL_ENOTFOUND, "%s: nothing deployed to export; "
				   "name a build with --uuid", t->name);
	*v = cur.version;
	return 0;
}

/* Every target's version, each build once. */
static int collect(struct petrel_engine *e, const struct petrel_target *const *ts, size_t n,
		   const char *uuid, struct petrel_bundle_report *rep, struct petrel_err *err)
{
	int r;

	if (!(rep->items = calloc(n, sizeof(*rep->items))))
		return petrel_fail(err, -ENOMEM, "export: out of memory");
	for (size_t i = 0; i < n; i++) {
		struct petrel_bundle_item *it = &rep->items[rep->n];
		int dup = 0;

		if ((r = pick(e, ts[i], uuid, &it->v, err)) < 0)
			return r;
		for (size_t k = 0; k < rep->n; k++)
			dup |= !strcmp(rep->items[k].v.build.uuid, it->v.build.uuid);
		if (dup)
			continue;
		if (rep->n == PETREL_BUNDLE_VERSIONS_MAX)
			return petrel_fail(err, -PETREL_EUSAGE, "a bundle holds at most %d versions",
					   PETREL_BUNDLE_VERSIONS_MAX);
		it->t = ts[i];
		rep->n++;
	}
	return 0;
}

static int keep_sig(void *ctx, const struct petrel_stored_sig *sig)
{
	struct petrel_bundle_version *bv = ctx;
	struct petrel_bundle_sig *s;

	if (bv->nsigs == PETREL_BUNDLE_SIGS_MAX)
		return -PETREL_ETOOBIG;
	s = &bv->sigs[bv->nsigs];
	if (!(s->text = malloc(sig->len + 1)))
		return -ENOMEM;
	memcpy(s->text, sig->text, sig->len);
	s->text[sig->len] = '\0';
	s->len = sig->len;
	petrel_strcpy_whole(s->name, sig->keyid, sizeof(s->name));
	bv->nsigs++;
	return 0;
}

/* The bundle's view of the versions: the build, the evidence, the signatures. */
static int describe(struct petrel_engine *e, struct petrel_bundle_report *rep,
		    struct petrel_bundle *b, struct petrel_err *err)
{
	int r;

	if (!(b->versions = calloc(rep->n, sizeof(*b->versions))))
		return petrel_fail(err, -ENOMEM, "export: out of memory");
	b->nversions = rep->n;
	for (size_t i = 0; i < rep->n; i++) {
		const struct petrel_version *v = &rep->items[i].v;
		struct petrel_bundle_version *bv = &b->versions[i];

		bv->build = v->build;
		petrel_strcpy_whole(bv->trust, v->trust, sizeof(bv->trust));
		petrel_strcpy_whole(bv->keyids, v->keyids, sizeof(bv->keyids));
		petrel_strcpy_whole(bv->rebuilders, v->rebuilders, sizeof(bv->rebuilders));
		bv->timestamp = v->timestamp;
		if ((r = petrel_store_signatures(&e->store, v->id, keep_sig, bv, err)) < 0)
			return petrel_fail(err, r, "%s: signatures of %s: %s", rep->items[i].t->name,
					   v->build.uuid, petrel_strerror(r));
		rep->items[i].nsigs = bv->nsigs;
	}
	return 0;
}

static int rehash(void *ctx, const void *p, size_t n)
{
	return petrel_digest_update(ctx, p, n);
}

/* One blob, read from the store and re-hashed on the way. */
static int write_blob(struct petrel_engine *e, struct petrel_bundle_writer *w,
		      const struct petrel_bundle_version *bv, struct petrel_err *err)
{
	struct petrel_digest *d = NULL;
	char path[PATH_MAX], hex[65];
	uint8_t got[32];
	struct stat st;
	int fd, r;

	if ((r = petrel_store_blob_path(&e->store, bv->build.sha256, path, sizeof(path))) < 0)
		return petrel_fail(err, r, "%s: blob path too long", bv->build.uuid);
	if ((fd = petrel_open_regular(path, 0, &st)) < 0)
		return petrel_fail(err, fd == -EINVAL ? -PETREL_ECORRUPT : fd, "%s: %s (run "
				   "petrel fsck)", path, fd == -EINVAL ? "not a regular file" :
				   strerror(-fd));
	if ((uint64_t)st.st_size != bv->build.size) {
		close(fd);
		return petrel_fail(err, -PETREL_ECORRUPT, "%s: %lld bytes, recorded %llu (run "
				   "petrel fsck)", path, (long long)st.st_size,
				   (unsigned long long)bv->build.size);
	}
	if ((r = petrel_digest_new(&d, PETREL_DIGEST_SHA256)) == 0 &&
	    (r = petrel_bundle_write_blob(w, bv, fd, rehash, d, err)) == 0 &&
	    (r = petrel_digest_final(d, got, NULL)) == 0 && memcmp(got, bv->build.sha256, 32)) {
		petrel_hex(got, 32, hex);
		r = petrel_fail(err, -PETREL_ECORRUPT, "%s: sha256 is %s, not its name (run "
				"petrel fsck)", path, hex);
	}
	petrel_digest_free(d);
	close(fd);
	return r;
}

static int write_bundle(struct petrel_engine *e, int fd, enum petrel_bundle_filter f,
			const struct petrel_bundle *b, struct petrel_err *err)
{
	struct petrel_bundle_writer *w;
	int r;

	if ((r = petrel_bundle_writer_open(&w, fd, f, (int64_t)time(NULL), err)) < 0)
		return r;
	r = petrel_bundle_write_manifest(w, b, err);
	for (size_t i = 0; r == 0 && i < b->nversions; i++)
		if ((r = petrel_bundle_write_meta(w, &b->versions[i], err)) == 0)
			r = write_blob(e, w, &b->versions[i], err);
	if (r < 0) {
		petrel_bundle_writer_free(w);
		return r;
	}
	return petrel_bundle_writer_close(w, err);
}

/* FILE.tmp-XXXXXX beside file, written whole, then renamed over it. */
static int write_file(struct petrel_engine *e, const char *file, enum petrel_bundle_filter f,
		      const struct petrel_bundle *b, struct petrel_err *err)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, r;

	if (petrel_snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", file) < 0 ||
	    petrel_dirname(file, dir, sizeof(dir)) < 0)
		return petrel_fail(err, -ENAMETOOLONG, "%s: name too long", file);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return petrel_fail(err, -errno, "%s: %s", tmp, strerror(errno));
	r = write_bundle(e, fd, f, b, err);
	if (r == 0 && (fchmod(fd, 0644) < 0 || petrel_fsync(fd) < 0))
		r = petrel_fail(err, -errno, "%s: %s", tmp, strerror(errno));
	if (petrel_close(fd) < 0 && r == 0)
		r = petrel_fail(err, -errno, "%s: %s", tmp, strerror(errno));
	if (r == 0 && petrel_sys.rename(tmp, file) < 0)
		r = petrel_fail(err, -errno, "renaming %s to %s: %s", tmp, file, strerror(errno));
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	if ((r = petrel_fsync_dir(dir)) < 0)
		return petrel_fail(err, r, "%s: fsync: %s", dir, strerror(-r));
	return 0;
}

int petrel_export(struct petrel_engine *e, const struct petrel_target *const *ts, size_t n,
		  const char *uuid, const char *file, struct petrel_bundle_report *rep,
		  struct petrel_err *err)
{
	enum petrel_bundle_filter f = PETREL_BUNDLE_NONE;
	struct petrel_bundle b;
	int r;

	memset(rep, 0, sizeof(*rep));
	petrel_bundle_init(&b);
	if (strcmp(file, "-") && (r = petrel_bundle_filter_for(file, &f, err)) < 0)
		return r;
	if ((r = collect(e, ts, n, uuid, rep, err)) < 0 || (r = describe(e, rep, &b, err)) < 0)
		goto out;
	if (!strcmp(file, "-"))
		r = write_bundle(e, STDOUT_FILENO, f, &b, err);
	else
		r = write_file(e, file, f, &b, err);
out:
	petrel_bundle_release(&b);
	return r;
}
