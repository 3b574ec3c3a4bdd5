/* Bundles: the tar that carries verified builds to hosts without the network (libarchive). */
#ifndef PETREL_BUNDLE_H
#define PETREL_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/build.h"
#include "common/error.h"

/*
 * The format (version 1), README "Bundles":
 *
 *   petrel-bundle.json                  first entry: {"format": "petrel-bundle",
 *                                       "version": 1, "created": EPOCH, "versions":
 *                                       [{"uuid", "job", "sha256", "size"}, ...]}
 *   VERSIONS/UUID/meta.json             the version: job, uuid, platform, start_time,
 *                                       finish_time, filename, size, sha256, solo5_abi,
 *                                       solo5_devices, trust {mode, keys, rebuilders,
 *                                       timestamp, trusted_comment}
 *   VERSIONS/UUID/sig/NAME.minisig      every signature it was verified with (0 or more)
 *   VERSIONS/UUID/blob                  the bytes
 *
 * Order: the manifest first; a version's meta.json before its signatures and its blob;
 * otherwise any order. Every entry is a regular file with a name of this list, once.
 * Nothing else is accepted, and every limit below is a refusal (-PETREL_EBUNDLE) naming
 * the entry, the limit and its value.
 */
#define PETREL_BUNDLE_VERSION 1
#define PETREL_BUNDLE_MANIFEST "petrel-bundle.json"
#define PETREL_BUNDLE_ENTRIES_MAX 512		/* entries in one bundle (fewer than 64
						 * versions with 8 signatures each) */
#define PETREL_BUNDLE_VERSIONS_MAX 64		/* versions in one bundle */
#define PETREL_BUNDLE_SIGS_MAX 8		/* signatures of one version */
#define PETREL_BUNDLE_JSON_MAX 65536		/* the manifest, one meta.json */
#define PETREL_BUNDLE_SIG_MAX 4096		/* one .minisig (PETREL_MINISIGN_FILE_MAX) */
#define PETREL_BUNDLE_PATH_MAX 255		/* an entry's name */
#define PETREL_BUNDLE_SIGNAME_MAX 64		/* NAME of NAME.minisig */
#define PETREL_BUNDLE_RATIO_MAX 200		/* unpacked bytes per compressed byte, */
#define PETREL_BUNDLE_RATIO_FLOOR (1 << 20)	/* checked once this much is unpacked */
#define PETREL_BUNDLE_TOTAL_MAX ((int64_t)64 << 30)	/* unpacked bytes in one bundle */

/* Compressions a bundle's file name chooses (writer) and the reader accepts. */
enum petrel_bundle_filter {
	PETREL_BUNDLE_NONE, PETREL_BUNDLE_GZIP, PETREL_BUNDLE_XZ, PETREL_BUNDLE_ZSTD
};

struct petrel_bundle_sig {
	char name[PETREL_BUNDLE_SIGNAME_MAX + 1];	/* NAME of sig/NAME.minisig */
	char *text;					/* owned, NUL-terminated */
	size_t len;
};

/* One version as meta.json describes it, and what the reader saw of it. */
struct petrel_bundle_version {
	struct petrel_build build;
	/* the exporting host's evidence: shown, never trusted */
	char trust[16];
	char keyids[256];
	char rebuilders[1024];
	int64_t timestamp;
	size_t nsigs;
	struct petrel_bundle_sig sigs[PETREL_BUNDLE_SIGS_MAX];
	int have_meta;
	int have_blob;
};

struct petrel_bundle {
	int64_t created;
	size_t nversions;
	struct petrel_bundle_version *versions;	/* owned, nversions */
};

void petrel_bundle_init(struct petrel_bundle *b);
void petrel_bundle_release(struct petrel_bundle *b);

/*
 * What the reader does with a blob: begin is called once per version, before its first
 * byte, with meta.json read (size and sha256 known); write gets the bytes in order, never
 * more than the size meta.json gives. manifest (may be NULL) is called once the manifest
 * is read, with the sum of its sizes (a space check before any blob byte). Each returns
 * 0 or a negative code with a message, which ends the read with that code.
 */
struct petrel_bundle_sink {
	int (*manifest)(void *ctx, const struct petrel_bundle *b, uint64_t total,
			struct petrel_err *err);
	int (*begin)(void *ctx, size_t i, const struct petrel_bundle_version *v,
		     struct petrel_err *err);
	int (*write)(void *ctx, size_t i, const void *p, size_t n, struct petrel_err *err);
	void *ctx;
	uint64_t max_blob;	/* a version announcing more is refused (max_artifact_size) */
};

/*
 * Reads a whole bundle from fd (a file or a pipe; read to its end), or from memory,
 * through libarchive (tar; none, gzip, xz or zstd), checking every entry as the format
 * above says and streaming each blob into sink. name says in messages which bundle
 * ("FILE", "stdin"). Fills out (petrel_bundle_release it in every case). 0 when the
 * bundle is whole and well-formed: every version has its meta.json and its blob of the
 * announced size (whether its bytes hash to what it says is the caller's to check), or
 * -PETREL_EBUNDLE "NAME: ENTRY: why", or the sink's failure.
 */
int petrel_bundle_read_fd(int fd, const char *name, const struct petrel_bundle_sink *sink,
			  struct petrel_bundle *out, struct petrel_err *err);
int petrel_bundle_read_mem(const void *p, size_t n, const char *name,
			   const struct petrel_bundle_sink *sink, struct petrel_bundle *out,
			   struct petrel_err *err);

/* The compression a file name asks for: .tar, .tar.gz/.tgz, .tar.xz, .tar.zst; 0 or
 * -PETREL_EUSAGE naming the suffixes. */
int petrel_bundle_filter_for(const char *filename, enum petrel_bundle_filter *out,
			     struct petrel_err *err);

/* The writer: entries in the format's order, each a regular file 0644 at mtime. */
struct petrel_bundle_writer;
/* Writes to fd (not closed by the writer). 0 or a negative code with a message. */
int petrel_bundle_writer_open(struct petrel_bundle_writer **w, int fd,
			      enum petrel_bundle_filter filter, int64_t mtime,
			      struct petrel_err *err);
/* The manifest of b's versions (build fields only). */
int petrel_bundle_write_manifest(struct petrel_bundle_writer *w, const struct petrel_bundle *b,
				 struct petrel_err *err);
/* meta.json and the signatures of v. */
int petrel_bundle_write_meta(struct petrel_bundle_writer *w,
			     const struct petrel_bundle_version *v, struct petrel_err *err);
/*
 * v's blob, v->build.size bytes read from fd (from its current offset) and handed to
 * check (may be NULL: e.g. a re-hash) as they go; fewer bytes than the size is -EIO.
 */
typedef int (*petrel_bundle_check_fn)(void *ctx, const void *p, size_t n);
int petrel_bundle_write_blob(struct petrel_bundle_writer *w,
			     const struct petrel_bundle_version *v, int fd,
			     petrel_bundle_check_fn check, void *ctx, struct petrel_err *err);
/* Finishes the archive (trailer, compressor flush) and frees w; NULL is fine. 0 or
 * the first failure. */
int petrel_bundle_writer_close(struct petrel_bundle_writer *w, struct petrel_err *err);
/* Frees w after a failure, without finishing the archive. */
void petrel_bundle_writer_free(struct petrel_bundle_writer *w);

#endif
