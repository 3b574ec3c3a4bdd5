/* The fetch transaction: gather signatures, stream and hash, verify, store. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fanout.h"
#include "common/flusher.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/util.h"
#include "engine.h"
#include "fetch.h"
#include "fetcher/builderweb.h"
#include "rebuild.h"
#include "sigs.h"
#include "solo5.h"
#include "space.h"
#include "verify/digest.h"

/*
 * A build offered as newest must not be older than the newest ever verified. by_finish
 * compares its finish time with the newest verified finish time (what can be judged
 * before verification); otherwise ts (signed timestamp, else finish time) is compared
 * with the newest verified one.
 */
int petrel_rollback_check(struct petrel_engine *e, const struct petrel_target *t,
			  const struct petrel_build *b, int64_t ts, int by_finish, struct petrel_err *err)
{
	char when[32], mark[32];
	int64_t hw = 0;
	int r;

	r = by_finish ? petrel_store_high_water_finish(&e->store, t->name, &hw, err) :
			petrel_store_high_water(&e->store, t->name, &hw, err);
	if (r < 0)
		return r;
	if (ts >= hw)
		return 0;
	petrel_format_time(ts, when, sizeof(when));
	petrel_format_time(hw, mark, sizeof(mark));
	return petrel_fail(err, -PETREL_EROLLBACK,
			   "server offers build %s from %s as newest, but a build "
			   "from %s was already verified (rollback refused)", b->uuid, when, mark);
}

/* The download in progress: where bytes go and what hashes them. The consumers run
 * on their own threads (common/fanout.h): SHA-256, the writer (to tmp/), and the
 * signatures' BLAKE2b-512 when a prehashed signature needs it. Legacy signatures are
 * verified after the download, over the file mapped read-only. */
struct download {
	int fd;
	char tmppath[PATH_MAX];
	int blobfd;		/* the stored blob, when the store had the bytes already */
	struct petrel_digest *sha;
	struct petrel_digest *b2;	/* NULL when no prehashed signature needs it */
	struct petrel_sigset *sigs;
	const struct petrel_evidence *rebuilt;	/* the rebuilders' answers */
	struct petrel_fanout *fo;
	struct petrel_err store_err, sigs_err;	/* each consumer's, on its own thread */
	uint64_t expect;	/* the build's size: the last byte written ends the file */
	uint64_t written;	/* bytes written to fd so far */
	uint64_t flushing;	/* writeback started up to here */
	uint64_t kicked;	/* a flush was asked for up to here */
	struct petrel_flusher *flusher;	/* started by the writer at its first window */
	int no_flusher;		/* it could not start: the last fsync does it all */
	int no_range_sync;	/* the file system refused sync_file_range: leave it */
	int uncached;		/* no switch reads the file back at once (engine's stage_only) */
	int try_direct;		/* whole blocks may bypass the page cache (the ring's slots) */
	int direct;		/* O_DIRECT on fd: 1, 0, or -1 not known (ask the next write) */
	int no_direct;		/* the file system refused O_DIRECT: the page cache it is */
	uint64_t offered;	/* bytes handed to the consumers: where a resume starts */
	uint8_t sha_got[32], b2_got[64];	/* the digests, once download_hash ran */
};

/* Where the file stands for the next write: at byte at (0, or where a download that
 * starts again resumes; fd's offset must be there too), its O_DIRECT flag to be set
 * again by that write. A new struct download stands at 0 already. */
static void download_reset_file(struct download *d, uint64_t at)
{
	d->written = d->flushing = d->kicked = at;
	d->direct = -1;
	d->no_direct = d->no_range_sync = d->no_flusher = 0;
}

/*
 * Why: a download is fsynced before it is stored. Left to the end, that fsync writes the
 * whole file after the last byte arrived (a second or more for 1 GiB). Started window
 * by window as the bytes are written, the disk works while the network and the hashers
 * do, and the file is made durable as soon as its last byte is written, while the
 * other hasher finishes: the store's own fsync then has (almost) nothing left to do.
 */
#define PETREL_WRITEBACK_WINDOW (8u << 20)

/* Starts the disk writing what was written since the last window (it does not wait;
 * a writeback error is still the store's fsync's to report). Its own error is the
 * write's; a file system without it is simply left to that fsync. */
static int start_writeback(struct download *d)
{
	uint64_t from = d->flushing, len = d->written - from;

	if (d->no_range_sync || len < PETREL_WRITEBACK_WINDOW)
		return 0;
	d->flushing = d->written;
	if (sync_file_range(d->fd, (off_t)from, (off_t)len, SYNC_FILE_RANGE_WRITE) == 0)
		return 0;
	if (errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP || errno == ESPIPE) {
		d->no_range_sync = 1;
		return 0;
	}
	return -errno;
}

/*
 * Why a flush per window besides the writeback: the writeback hands the bytes to the
 * disk, but a virtual disk keeps them in the host's cache until a flush, and the fsync
 * after the last byte then waited for the host to write the whole file (common/
 * flusher.h). A flush holds the virtual disk's queue, so the writer waits behind it
 * while the ring (8 MiB) fills: small windows flush often, large ones long. Measured on
 * a 1 GiB petrel fetch (medians of 7, interleaved): no flusher 2.06 s, windows of
 * 16 MiB 1.92 s, 32 MiB 1.77 s, 64 MiB 1.90 s, 128 MiB 1.99 s; the last fsync went from
 * 0.55-0.6 s to about 0.03 s. A 1 GiB upgrade (page cache, not O_DIRECT): 4.6 to 4.15 s.
 */
#define PETREL_FLUSH_WINDOW (32u << 20)

/* Asks the flusher for an fdatasync once a window more was written (starting it the
 * first time): only for a download of a known size, whose end stops it. A flusher
 * that cannot start (no memory, no thread) is done without: the last fsync makes the
 * file durable all the same, only later. */
static void start_flush(struct download *d)
{
	if (d->expect == 0 || d->no_flusher || d->written - d->kicked < PETREL_FLUSH_WINDOW)
		return;
	d->kicked = d->written;
	if (!d->flusher && petrel_flusher_new(&d->flusher, d->fd) < 0) {
		d->no_flusher = 1;
		return;
	}
	petrel_flusher_kick(d->flusher);
}

/* Stops the flusher (the writer stopped first: it starts it): its error, or 0. */
static int stop_flush(struct download *d)
{
	int r = petrel_flusher_stop(d->flusher);

	d->flusher = NULL;
	return r;
}

/* After each write: the next window's writeback and flush, and the fsync once the file
 * is whole (expect 0, a size not known in advance: only the store's fsync). */
static int settle(struct download *d, size_t n)
{
	int r;

	d->written += n;
	if (n > 0 && d->written == d->expect)
		return petrel_fsync(d->fd);
	if ((r = start_writeback(d)) < 0)
		return r;
	start_flush(d);
	return 0;
}

/*
 * Why O_DIRECT: at 1 GiB, copying every byte into the page cache and writing it back
 * cost the writer more CPU than SHA-256 did (perf: copy_folio_from_iter_atomic); the
 * ring's slots are page-aligned whole blocks the disk can take as they are. What is
 * not whole blocks at an aligned offset (the last slot's tail, bytes from elsewhere)
 * goes through the page cache; the fsync covers both. The cost: the blob is not left
 * in the page cache, so a switch right after the fetch would read it back from the
 * disk (1 GiB upgrade: about +8%, measured). So only a fetch that deploys nothing
 * (petrel fetch, a daemon with auto = fetch: the engine's stage_only) bypasses it.
 */
#define PETREL_DIRECT_ALIGN 4096u

/* O_DIRECT on or off for d->fd. A file system that refuses it is not asked again. */
static int set_direct(struct download *d, int on)
{
	int r;

	if (on == d->direct)
		return 0;
	r = petrel_set_direct(d->fd, on);
	if (r == -EINVAL && on) {
		d->no_direct = 1;
		r = 0;
	} else if (r == 0) {
		d->direct = on;
	}
	return r;
}

/* How many of the n bytes at p may bypass the page cache: whole blocks, from an
 * aligned buffer, at an aligned offset. */
static size_t direct_part(const struct download *d, const void *p, size_t n)
{
	if (!d->try_direct || d->no_direct || (uintptr_t)p % PETREL_DIRECT_ALIGN ||
	    d->written % PETREL_DIRECT_ALIGN)
		return 0;
	return n - n % PETREL_DIRECT_ALIGN;
}

/* Writes the whole blocks of the n bytes at p straight to the disk: how many it wrote
 * (0 when it could not), or -errno. A write the file system refused (EINVAL, after a
 * part of it maybe) is left to the page cache, from the start again. */
static ssize_t write_direct(struct download *d, const void *p, size_t n)
{
	size_t head = direct_part(d, p, n);
	int r;

	if (head == 0)
		return 0;
	if ((r = set_direct(d, 1)) < 0)
		return r;
	if (d->direct != 1)	/* refused */
		return 0;
	if ((r = petrel_write_all(d->fd, p, head)) == 0)
		return (ssize_t)head;
	if (r != -EINVAL)
		return r;
	d->no_direct = 1;
	return lseek(d->fd, (off_t)d->written, SEEK_SET) < 0 ? -errno : 0;
}

/* Writes n bytes at d->written: whole blocks straight to the disk when it can, the
 * rest through the page cache. */
static int write_chunk(struct download *d, const unsigned char *p, size_t n)
{
	ssize_t done = write_direct(d, p, n);
	int r;

	if (done < 0)
		return (int)done;
	if ((size_t)done == n)
		return 0;
	if ((r = set_direct(d, 0)) < 0)
		return r;
	return petrel_write_all(d->fd, p + done, n - (size_t)done);
}

static int consume_sha(void *ctx, const void *p, size_t n)
{
	struct download *d = ctx;

	return petrel_digest_update(d->sha, p, n);
}

static int consume_file(void *ctx, const void *p, size_t n)
{
	struct download *d = ctx;
	int r;

	if (d->fd >= 0 && ((r = write_chunk(d, p, n)) < 0 || (r = settle(d, n)) < 0))
		return petrel_fail(&d->store_err, r, "writing %s: %s", d->tmppath, strerror(-r));
	return 0;
}

static int consume_sigs(void *ctx, const void *p, size_t n)
{
	struct download *d = ctx;
	int r;

	if (d->b2 && (r = petrel_digest_update(d->b2, p, n)) < 0)
		return r;
	return 0;
}

static int sink(void *ctx, const void *p, size_t n)
{
	struct download *d = ctx;
	int r;

	if (d->fo)
		r = petrel_fanout_write(d->fo, p, n);
	else
		r = consume_sha(d, p, n) ?: consume_file(d, p, n) ?: consume_sigs(d, p, n);
	if (r == 0)
		d->offered += n;
	return r;
}

/*
 * Starts the consumer threads: SHA-256, the writer, and BLAKE2b when a signature needs
 * it. Why the writer alone: its O_DIRECT writes wait for the disk, during which the
 * hashers go on.
 */
static int download_start(struct download *d, struct petrel_err *err)
{
	petrel_consume_fn fns[3] = { consume_sha, consume_file, consume_sigs };
	void *ctxs[3] = { d, d, d };
	int r;

	/* the ring's slots are aligned; a legacy signature, or a switch right after, reads
	 * the file back */
	d->try_direct = d->uncached && !petrel_sigset_needs_file(d->sigs);
	r = petrel_fanout_new(&d->fo, d->b2 ? 3 : 2, fns, ctxs);
	return r < 0 ? petrel_fail(err, r, "starting hash threads: %s", strerror(-r)) : 0;
}

/* Streams the local blob through the digests (the store had the bytes already), never
 * past its recorded size; the blob stays open in d->blobfd for a legacy signature's
 * check. */
static int hash_blob(struct petrel_engine *e, const uint8_t sha256[32], uint64_t size,
		     struct download *d, struct petrel_err *err)
{
	char path[PATH_MAX];
	int fd, r;

	if ((r = petrel_store_blob_path(&e->store, sha256, path, sizeof(path))) < 0)
		return r;
	fd = petrel_open_regular(path, 0, NULL);	/* no symlink, FIFO or device */
	if (fd < 0)
		return petrel_fail(err, fd, "%s: %s", path, fd == -EINVAL ?
				   "not a regular file (run petrel fsck)" : strerror(-fd));
	d->blobfd = fd;
	return petrel_digest_fd(NULL, fd, path, size, sink, d, NULL, err);	/* never past its size */
}

static int check_hash(const struct petrel_build *b, const uint8_t got[32], const char *url,
		      struct petrel_err *err)
{
	char want[65], have[65];

	if (!memcmp(b->sha256, got, 32))
		return 0;
	petrel_hex(b->sha256, 32, want);
	petrel_hex(got, 32, have);
	return petrel_fail(err, -PETREL_EHASH, "sha256 mismatch for %s: expected %s, got %s", url,
			   want, have);
}

/* A consumer's failure (the stream then fails with its code) carries its message. */
static int consumer_failed(const struct download *d, int r, struct petrel_err *err)
{
	if (d->store_err.code)
		return petrel_err_forward(err, &d->store_err, r);
	if (d->sigs_err.code)
		return petrel_err_forward(err, &d->sigs_err, r);
	return r;
}

/* Ends the stream and takes the digests into sha_got and b2_got. A flush that failed
 * fails the file as a write does. */
static int download_hash(struct download *d, struct petrel_err *err)
{
	int r;

	if (d->fo && (r = petrel_fanout_finish(d->fo)) < 0)
		return r;
	if ((r = stop_flush(d)) < 0)
		return petrel_fail(&d->store_err, r, "writing %s: %s", d->tmppath, strerror(-r));
	if ((r = petrel_digest_final(d->sha, d->sha_got, NULL)) < 0 ||
	    (d->b2 && (r = petrel_digest_final(d->b2, NULL, d->b2_got)) < 0))
		return petrel_fail(err, r, "hashing %s: %s", d->tmppath, petrel_strerror(r));
	return 0;
}

/* Starts over from byte 0 for another source: the consumers stopped, the digests new,
 * the file emptied. */
static int download_rewind(struct download *d, struct petrel_err *err)
{
	int r, b2 = d->b2 != NULL;

	petrel_fanout_free(d->fo);
	d->fo = NULL;
	stop_flush(d);	/* what it flushed is emptied below */
	petrel_digest_free(d->sha);
	petrel_digest_free(d->b2);
	d->sha = d->b2 = NULL;
	petrel_err_reset(&d->store_err);
	petrel_err_reset(&d->sigs_err);
	d->offered = 0;
	if (ftruncate(d->fd, 0) < 0 || lseek(d->fd, 0, SEEK_SET) < 0)
		return petrel_fail(err, -errno, "emptying %s: %s", d->tmppath, strerror(errno));
	download_reset_file(d, 0);
	if ((r = petrel_digest_new(&d->sha, PETREL_DIGEST_SHA256)) < 0 ||
	    (b2 && (r = petrel_digest_new(&d->b2, PETREL_DIGEST_BLAKE2B)) < 0))
		return petrel_fail(err, r, "starting the digests: %s", petrel_strerror(r));
	return download_start(d, err);
}

/*
 * Why: a download that breaks off after most of a large artifact should not start
 * over. A source that said Accept-Ranges: bytes is asked for the rest (Range) where
 * its answer ended, as long as each try brings bytes; builder-web says no such thing,
 * so a download from it starts over at the next attempt, as before.
 */
#define PETREL_RESUMES_MAX 5

/* One source's bytes into d: from the origin (origin set: url is the server) or from
 * url (a mirror's copy), resumed while it can, then hashed. */
static int from_source(struct petrel_engine *e, const struct petrel_build *b,
		       struct download *d, const char *url, int origin,
		       struct petrel_bw_got *got, struct petrel_err *err)
{
	char at[PETREL_URL_MAX + 1];
	int r, resumes = 0;

	got->from = 0;
	r = origin ? petrel_bw_download(e->http, url, b, sink, d, got, err) :
		     petrel_bw_download_copy(e->http, url, b, 0, sink, d, got, err);
	while (r == -PETREL_ENET && got->accept_ranges && d->offered > got->from &&
	       d->offered < b->size && resumes++ < PETREL_RESUMES_MAX) {
		petrel_log_warn("%s; resuming at byte %llu of %llu", err->msg,
				(unsigned long long)d->offered, (unsigned long long)b->size);
		petrel_err_reset(err);
		got->from = d->offered;
		memcpy(at, got->url, sizeof(at));
		r = petrel_bw_download_copy(e->http, at, b, origin, sink, d, got, err);
	}
	if (r == 0)
		r = download_hash(d, err);
	return r < 0 ? consumer_failed(d, r, err) : 0;
}

/* A failure no other source can mend: the disk, the memory, a cancellation. */
static int ours(const struct download *d, int r)
{
	return d->store_err.code || d->sigs_err.code || r == -ECANCELED || r == -ENOMEM;
}

/*
 * The bytes from the server's mirrors in order, then from the origin: any bad answer
 * of a mirror (an error, the wrong length, the wrong hash) is logged and the next
 * source starts over. Only the origin's failure is the fetch's. The hash checked is
 * the origin's (b, from its listing or record): a mirror supplies bytes, never trust.
 */
static int download_any(struct petrel_engine *e, const struct petrel_target *t,
			const struct petrel_build *b, struct download *d, char *url, size_t n,
			struct petrel_err *err)
{
	const struct petrel_server *s = t->server;
	struct petrel_bw_got got;
	char src[PETREL_URL_MAX + 1], shown[PETREL_URL_MAX + 1];
	int r;

	for (size_t i = 0; i < s->nmirrors; i++) {
		struct petrel_err e1 = PETREL_ERR_INIT;

		if ((r = petrel_bw_file_url(s->mirrors[i], b, src, sizeof(src))) < 0)
			r = petrel_fail(&e1, r, "a mirror's URL for %s is too long", b->uuid);
		else if ((r = from_source(e, b, d, src, 0, &got, &e1)) == 0) {
			petrel_mask_url(got.url, shown, sizeof(shown));
			if ((r = check_hash(b, d->sha_got, shown, &e1)) == 0)
				return petrel_strcpy_whole(url, got.url, n);
		}
		if (ours(d, r))
			return petrel_err_forward(err, &e1, r);
		petrel_mask_url(i + 1 < s->nmirrors ? s->mirrors[i + 1] : s->url, shown,
				sizeof(shown));
		petrel_log_warn("%s: mirror refused: %s; trying %s %s", t->name, e1.msg,
				i + 1 < s->nmirrors ? "the next mirror," : "the origin,", shown);
		if ((r = download_rewind(d, err)) < 0)
			return r;
	}
	if ((r = from_source(e, b, d, s->url, 1, &got, err)) < 0)
		return r;
	return petrel_strcpy_whole(url, got.url, n);
}

/* Gets the bytes (from the store or the servers) through the digests into d. */
static int obtain(struct petrel_engine *e, const struct petrel_target *t,
		  const struct petrel_build *b, struct download *d, int have_blob,
		  char *url, size_t n, struct petrel_err *err)
{
	int r;

	if (have_blob) {
		petrel_store_blob_path(&e->store, b->sha256, url, n);
		r = hash_blob(e, b->sha256, b->size, d, err);
		if (r == 0)
			r = download_hash(d, err);
		return r < 0 ? consumer_failed(d, r, err) : 0;
	}
	if ((r = petrel_store_tmpfile(&e->store, &d->fd, d->tmppath, sizeof(d->tmppath))) < 0)
		return petrel_fail(err, r, "creating a file in %s/tmp: %s", e->store.dir,
				   strerror(-r));
	d->expect = b->size;
	petrel_log_debug("downloading %s %s (%llu bytes)", b->job, b->uuid,
			 (unsigned long long)b->size);
	if ((r = download_start(d, err)) < 0)
		return r;
	petrel_http_set_label(e->http, t->name);
	return download_any(e, t, b, d, url, n, err);
}

/* The time that orders the build: the signers' (petrel_evidence_decide_time), else the
 * server's finish time; either cut at the moment of verification, so that a clock (or
 * a lie) far in the future cannot make every later build look older. */
static int64_t ordering_time(const struct petrel_evidence *ev, const struct petrel_build *b)
{
	int64_t ts = ev->has_timestamp ? ev->timestamp : b->finish_time;
	int64_t now = (int64_t)time(NULL);

	return ts < now ? ts : now;
}

static void fill_version(struct petrel_version *v, const struct petrel_target *t,
			 const struct petrel_build *b, const struct petrel_evidence *ev,
			 const uint8_t *b2, const char *url)
{
	size_t i;

	memset(v, 0, sizeof(*v));
	petrel_strcpy_whole(v->target, t->name, sizeof(v->target));
	v->build = *b;
	petrel_strcpy_whole(v->trust, petrel_trust_name(t->trust), sizeof(v->trust));
	petrel_evidence_agreed(ev, v->rebuilders, sizeof(v->rebuilders));
	for (i = 0; i < ev->nkeys; i++) {
		char id[17];

		petrel_keyid_str(ev->keyids[i], id);
		if (i)
			strncat(v->keyids, ",", sizeof(v->keyids) - strlen(v->keyids) - 1);
		strncat(v->keyids, id, sizeof(v->keyids) - strlen(v->keyids) - 1);
	}
	petrel_strcpy_whole(v->trusted_comment, ev->trusted, sizeof(v->trusted_comment));
	v->timestamp = ordering_time(ev, b);
	v->verified_at = (int64_t)time(NULL);
	petrel_strcpy_whole(v->url, url, sizeof(v->url));
	if (b2)
		petrel_hex(b2, 64, v->blake2b);
}

int petrel_map_file(int fd, const char *path, uint64_t size, long max, struct petrel_msg *out,
		    void **map, struct petrel_err *err)
{
	struct stat st;

	*map = NULL;
	out->p = NULL;
	out->n = 0;
	if (fstat(fd, &st) < 0)
		return petrel_fail(err, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size != size)
		return petrel_fail(err, -EIO, "%s: not the %llu-byte regular file just hashed",
				   path, (unsigned long long)size);
	if (size > (uint64_t)max || size > SIZE_MAX)
		return petrel_fail(err, -PETREL_ETOOBIG, "%s: %llu bytes, more than "
				   "max_artifact_size (%ld)", path, (unsigned long long)size, max);
	if (size == 0)
		return 0;
	*map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (*map == MAP_FAILED) {
		*map = NULL;
		return petrel_fail(err, -errno, "mapping %s: %s", path, strerror(errno));
	}
	out->p = *map;
	out->n = (size_t)size;
	return 0;
}

/* Verifies the signatures: over the BLAKE2b-512, and over the mapped file when a
 * legacy signature needs it (the mapping ends before anything is stored). */
static int verify_sigs(struct petrel_engine *e, const struct petrel_build *b, struct download *d,
		       const uint8_t b2[64], const char *url, struct petrel_evidence *ev,
		       struct petrel_err *err)
{
	struct petrel_msg file;
	void *map = NULL;
	int r;

	if (!petrel_sigset_needs_file(d->sigs))
		return petrel_sigset_verify(d->sigs, b2, NULL, ev, err);
	r = petrel_map_file(d->fd >= 0 ? d->fd : d->blobfd, d->fd >= 0 ? d->tmppath : url, b->size,
		     e->cfg->max_artifact_size, &file, &map, err);
	if (r == 0)
		r = petrel_sigset_verify(d->sigs, b2, &file, ev, err);
	if (map)
		munmap(map, file.n);
	return r;
}

/* What the bytes must pass, once hashed (sha, and b2 when a prehashed signature needs
 * it): hash, signatures, policy, rollback. Fills out; stores nothing. */
static int verify_bytes(struct petrel_engine *e, const struct petrel_target *t,
			const struct petrel_build *b, struct download *d, const uint8_t sha[32],
			const uint8_t *b2, const char *url, int newest, struct petrel_version *out,
			struct petrel_err *err)
{
	struct petrel_policy policy = { t->trust, t->threshold, t->agree };
	struct petrel_evidence ev;
	int r;

	if ((r = check_hash(b, sha, url, err)) < 0 ||
	    (r = verify_sigs(e, b, d, b2, url, &ev, err)) < 0)
		return r;
	/* the rebuilders vouched for b->sha256, which the bytes were just checked against */
	ev.nrebuilders = d->rebuilt->nrebuilders;
	memcpy(ev.rebuilders, d->rebuilt->rebuilders, sizeof(ev.rebuilders));
	if ((r = petrel_policy_evaluate(&policy, &ev, err)) < 0)
		return r;
	fill_version(out, t, b, &ev, b2, url);
	if (newest && (r = petrel_rollback_check(e, t, b, out->timestamp, 0, err)) < 0)
		return r;
	return 0;
}

/* The verified bytes into objects/ (once: d->fd is consumed), the version into sqlite. */
static int commit_bytes(struct petrel_engine *e, const struct petrel_build *b,
			struct download *d, struct petrel_sigset *sigs, const char *url,
			struct petrel_version *v, struct petrel_err *err)
{
	struct petrel_stored_sig kept[PETREL_SIGURLS_MAX];
	int r;

	if (d->fd >= 0) {
		r = petrel_store_commit_blob(&e->store, d->fd, d->tmppath, b->sha256, err);
		d->fd = -1;
		if (r < 0)
			return petrel_fail(err, r, "storing %s: %s", url, petrel_strerror(r));
	}
	/* the signatures go with the row: trust is checked again before it goes live */
	return petrel_store_add_version_signed(&e->store, v, kept,
					       petrel_sigset_accepted(sigs, kept,
								      PETREL_SIGURLS_MAX), err);
}

/* Everything after the bytes arrived: hash, signatures, policy, rollback, commit. */
static int accept_build(struct petrel_engine *e, const struct petrel_target *t,
			const struct petrel_build *b, struct download *d, const char *url,
			int newest, struct petrel_version *out, struct petrel_err *err)
{
	int r;

	if ((r = verify_bytes(e, t, b, d, d->sha_got, d->b2 ? d->b2_got : NULL, url, newest,
			      out, err)) < 0)
		return r;
	return commit_bytes(e, b, d, d->sigs, url, out, err);
}

/* Asks the rebuilders before the download, so that too little agreement costs no
 * bytes; the answers are decided again with the whole evidence after it. */
static int gather_rebuilders(struct petrel_engine *e, const struct petrel_target *t,
			     const struct petrel_build *b, struct petrel_evidence *rebuilt, struct petrel_err *err)
{
	char shown[PETREL_URL_MAX + 1];
	int r;

	memset(rebuilt, 0, sizeof(*rebuilt));
	if ((r = petrel_rebuilders_ask(e->http, t, b, rebuilt, err)) < 0)
		return r;
	if ((r = petrel_policy_rebuilt(t->trust, t->agree, rebuilt, err)) < 0) {
		petrel_mask_url(t->server->url, shown, sizeof(shown));
		petrel_err_prefix(err, "%s/job/%s/build/%s: ", shown, b->job, b->uuid);
	}
	return r;
}

int petrel_fetch_build(struct petrel_engine *e, const struct petrel_target *t,
		       const struct petrel_build *b, int newest, struct petrel_version *out, struct petrel_err *err)
{
	struct petrel_sigset sigs;
	struct petrel_evidence rebuilt;
	struct download d = { .fd = -1, .blobfd = -1, .rebuilt = &rebuilt,
			      .uncached = e->stage_only };
	char url[PETREL_URL_MAX + 1], shown[PETREL_URL_MAX + 1];
	int r, have_blob;

	petrel_sigset_init(&sigs, t);
	d.sigs = &sigs;
	if ((r = petrel_sigset_gather(&sigs, e->http, t->server->url, b, err)) < 0 ||
	    (r = gather_rebuilders(e, t, b, &rebuilt, err)) < 0)
		goto out;
	if ((r = petrel_digest_new(&d.sha, PETREL_DIGEST_SHA256)) < 0 ||
	    (petrel_sigset_needs_blake2b(&sigs) &&
	     (r = petrel_digest_new(&d.b2, PETREL_DIGEST_BLAKE2B)) < 0))
		goto out;
	if ((have_blob = petrel_store_has_blob(&e->store, b->sha256, err)) < 0) {
		r = have_blob;
		goto out;
	}
	if ((!have_blob && (r = petrel_space_ensure(e, b->size, err)) < 0) ||
	    (r = obtain(e, t, b, &d, have_blob, url, sizeof(url), err)) < 0)
		goto out;
	/* what the store keeps and every message shows: credentials stay in the config */
	petrel_mask_url(url, shown, sizeof(shown));
	r = accept_build(e, t, b, &d, shown, newest, out, err);
out:
	petrel_fanout_free(d.fo);	/* the writer stopped before its file goes */
	stop_flush(&d);
	if (d.fd >= 0) {
		close(d.fd);
		unlink(d.tmppath);
	}
	if (d.blobfd >= 0)
		close(d.blobfd);
	petrel_digest_free(d.sha);
	petrel_digest_free(d.b2);
	petrel_sigset_release(&sigs);
	return r;
}

/* ---- bytes from elsewhere (a bundle's blob): the same sink, the same checks ---- */

struct petrel_intake {
	struct download d;
	struct petrel_evidence offline;	/* no rebuilder was asked */
	uint8_t sha[32], b2[64];
	int hashed;
};

int petrel_intake_new(struct petrel_engine *e, struct petrel_intake **out,
		      struct petrel_err *err)
{
	struct petrel_intake *in = calloc(1, sizeof(*in));
	int r;

	*out = in;
	if (!in)
		return petrel_fail(err, -ENOMEM, "out of memory");
	in->d.fd = in->d.blobfd = -1;
	in->d.rebuilt = &in->offline;
	if ((r = petrel_digest_new(&in->d.sha, PETREL_DIGEST_SHA256)) < 0 ||
	    (r = petrel_digest_new(&in->d.b2, PETREL_DIGEST_BLAKE2B)) < 0)
		return petrel_fail(err, r, "starting the digests: %s", petrel_strerror(r));
	if ((r = petrel_store_tmpfile(&e->store, &in->d.fd, in->d.tmppath,
				      sizeof(in->d.tmppath))) < 0)
		return petrel_fail(err, r, "creating a file in %s/tmp: %s", e->store.dir,
				   strerror(-r));
	download_reset_file(&in->d, 0);	/* written in sequence from byte 0 */
	return 0;
}

int petrel_intake_write(struct petrel_intake *in, const void *p, size_t n,
			struct petrel_err *err)
{
	int r = sink(&in->d, p, n);

	return r < 0 ? consumer_failed(&in->d, r, err) : 0;
}

int petrel_intake_verify(struct petrel_engine *e, const struct petrel_target *t,
			 struct petrel_intake *in, struct petrel_sigset *sigs,
			 const struct petrel_build *b, const char *url, int newest,
			 struct petrel_version *out, struct petrel_err *err)
{
	int r;

	if (!in->hashed) {
		if ((r = petrel_digest_final(in->d.sha, in->sha, NULL)) < 0 ||
		    (r = petrel_digest_final(in->d.b2, NULL, in->b2)) < 0)
			return petrel_fail(err, r, "hashing %s: %s", url, petrel_strerror(r));
		in->hashed = 1;
	}
	in->d.sigs = sigs;
	return verify_bytes(e, t, b, &in->d, in->sha, in->b2, url, newest, out, err);
}

int petrel_intake_commit(struct petrel_engine *e, struct petrel_intake *in,
			 struct petrel_sigset *sigs, const struct petrel_build *b, const char *url,
			 struct petrel_version *v, struct petrel_err *err)
{
	return commit_bytes(e, b, &in->d, sigs, url, v, err);
}

void petrel_intake_free(struct petrel_intake *in)
{
	if (!in)
		return;
	if (in->d.fd >= 0) {
		close(in->d.fd);
		unlink(in->d.tmppath);
	}
	petrel_digest_free(in->d.sha);
	petrel_digest_free(in->d.b2);
	free(in);
}
