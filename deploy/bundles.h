/* petrel export and import: verified builds carried on a file (store/bundle.h's format). */
#ifndef PETREL_BUNDLES_H
#define PETREL_BUNDLES_H

#include <stddef.h>

#include "common/error.h"
#include "engine.h"

/* One version a bundle carried, and for which target. */
struct petrel_bundle_item {
	const struct petrel_target *t;	/* borrowed from the configuration */
	struct petrel_version v;	/* as the store has it (after an import: as recorded) */
	int already;			/* import: the store had it for t; nothing changed */
	size_t nsigs;			/* export: the signatures written with it */
};

struct petrel_bundle_report {
	size_t n;
	struct petrel_bundle_item *items;	/* owned, n */
};
void petrel_bundle_report_release(struct petrel_bundle_report *r);

/*
 * Writes one bundle to file ("-": stdout, an uncompressed tar) holding, for each of the
 * n targets ts, the version uuid names (the store's, for that target) or, without uuid,
 * its current one: meta.json, every signature stored with it, its blob (re-hashed on
 * the way: a blob that no longer matches its record is -PETREL_ECORRUPT). A version two
 * targets share is written once. The compression follows file's name
 * (petrel_bundle_filter_for). A file is written as FILE.tmp-XXXXXX in its directory,
 * fsynced and renamed over FILE, the directory fsynced; on failure it is removed. Needs
 * a store opened for reading only. 0 or a negative code with a message; rep lists what
 * went in.
 */
int petrel_export(struct petrel_engine *e, const struct petrel_target *const *ts, size_t n,
		  const char *uuid, const char *file, struct petrel_bundle_report *rep,
		  struct petrel_err *err);

struct petrel_import_opts {
	int offline_ok;		/* trust = rebuilt or signed+rebuilt: accept the build on
				 * what can be checked offline (signatures; the hash alone
				 * under rebuilt), recorded as such */
	int allow_downgrade;	/* no rollback mark: a build older than one verified */
};

/*
 * Reads a bundle from fd (name says which in messages) and verifies each version for
 * every target of the configuration whose job (and platform, when the target sets one)
 * it is, exactly as a fetch does: sha256 and size, the bundle's signatures with the
 * target's keys, threshold and binding, the target's trust policy, the Solo5 abi, and
 * the rollback mark (unless allow_downgrade). Rebuilders cannot be asked offline: a
 * target whose trust needs them is refused (-PETREL_EPOLICY) unless offline_ok. Only
 * when every version verified for every target are the blobs moved into the store and
 * the versions recorded (with their signatures, and an "import" journal row each); a
 * hostile or broken bundle (-PETREL_EBUNDLE), a version no target takes, or a refusal
 * leaves the store, the database and tmp/ as they were. The caller holds the lock.
 */
int petrel_import(struct petrel_engine *e, int fd, const char *name,
		  const struct petrel_import_opts *o, struct petrel_bundle_report *rep,
		  struct petrel_err *err);

#endif
