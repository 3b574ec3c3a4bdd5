/* The moment a binary goes live: the switch of an upgrade or a revert, and its recovery. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cancel.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/util.h"
#include "engine.h"
#include "switch.h"
#include "run.h"
#include "verify/digest.h"

/* Health check attempts are spaced as mollymawk does: 1, 1, 1, 2, 3, 3, 4, 5 s. */
static const unsigned health_pause[] = { 1, 1, 1, 2, 3, 3, 4, 5 };

/* Where copy_blob writes, and whether a write (not a read) failed. */
struct copy_to {
	int fd;
	const char *tmp;
	int failed;
	struct petrel_err *err;
};

static int copy_chunk(void *ctx, const void *p, size_t n)
{
	struct copy_to *c = ctx;
	int r = petrel_write_all(c->fd, p, n);

	if (r < 0) {
		c->failed = 1;
		return petrel_fail(c->err, r, "writing %s: %s", c->tmp, strerror(-r));
	}
	return 0;
}

/*
 * Opens the store's blob sha256 as a regular file of exactly size bytes (no symlink, no
 * FIFO or device: never more than the recorded size is read from it). The fd, or
 * -PETREL_ECORRUPT naming the blob (missing, not a regular file, another size), or
 * -errno.
 */
static int open_blob(struct petrel_engine *e, const uint8_t sha256[32], uint64_t size,
		     char *src, size_t n, struct petrel_err *err)
{
	struct stat st;
	int in, r;

	if ((r = petrel_store_blob_path(&e->store, sha256, src, n)) < 0)
		return petrel_fail(err, r, "blob path too long");
	if ((in = petrel_open_regular(src, 0, &st)) < 0) {
		if (in == -ENOENT || in == -EINVAL)
			return petrel_fail(err, -PETREL_ECORRUPT, "%s: %s (run petrel fsck)", src,
					   in == -ENOENT ? "missing from the store" :
					   "not a regular file");
		return petrel_fail(err, in, "%s: %s", src, strerror(-in));
	}
	if ((uint64_t)st.st_size != size) {
		close(in);
		return petrel_fail(err, -PETREL_ECORRUPT, "%s: %lld bytes, the store records %llu "
				   "(run petrel fsck)", src, (long long)st.st_size,
				   (unsigned long long)size);
	}
	return in;
}

/* Copies the blob sha256 (size bytes) to fd, hashing it again: the store's bytes are
 * checked the moment they go live, so a blob changed behind our back is never deployed. */
static int copy_blob(struct petrel_engine *e, const uint8_t sha256[32], uint64_t size, int fd,
		     const char *tmp, struct petrel_err *err)
{
	struct copy_to to = { fd, tmp, 0, err };
	struct petrel_digest *d = NULL;
	char src[PATH_MAX];
	uint8_t got[32];
	uint64_t got_size = 0;
	int in, r;

	if ((in = open_blob(e, sha256, size, src, sizeof(src), err)) < 0)
		return in;
	if ((r = petrel_digest_new(&d, PETREL_DIGEST_SHA256)) < 0 ||
	    (r = petrel_digest_fd(d, in, src, size, copy_chunk, &to, &got_size, err)) < 0) {
		if (r == -EFBIG && !to.failed)	/* it grew since open_blob looked */
			r = petrel_fail(err, -PETREL_ECORRUPT, "%s changed while it was read", src);
		goto out;
	}
	if ((r = petrel_digest_final(d, got, NULL)) == 0 &&
	    (got_size != size || memcmp(got, sha256, 32)))
		r = petrel_fail(err, -PETREL_ECORRUPT,
				"%s no longer matches its sha256 (run petrel fsck)",
				src);
out:
	petrel_digest_free(d);
	close(in);
	return r;
}

/* Names beside the deployed path: the three files a switch moves between. */
struct beside {
	char path[PATH_MAX], fresh[PATH_MAX], prev[PATH_MAX], dir[PATH_MAX];
};

static int beside(const char *path, struct beside *b, struct petrel_err *err)
{
	if (petrel_strcpy_whole(b->path, path, sizeof(b->path)) < 0 ||
	    petrel_snprintf(b->fresh, sizeof(b->fresh), "%s" PETREL_NEW_SUFFIX, path) < 0 ||
	    petrel_snprintf(b->prev, sizeof(b->prev), "%s" PETREL_PREV_SUFFIX, path) < 0 ||
	    petrel_dirname(path, b->dir, sizeof(b->dir)) < 0)
		return petrel_fail(err, -ENAMETOOLONG, "%s: path too long", path);
	return 0;
}

/*
 * 1 when file is a regular file of size bytes whose SHA-256 is sha256; *id gets its
 * device and inode, hashed through the same descriptor (no symlink followed), so the
 * caller can check that what it then renames is the file it verified.
 */
static int file_holds(const char *file, const uint8_t sha256[32], uint64_t size,
		      struct stat *id)
{
	struct petrel_digest *d = NULL;
	uint8_t got[32];
	uint64_t got_size = 0;
	int fd, ok = 0;

	/* O_NONBLOCK: a FIFO put at the name never holds the open (under the lock) */
	fd = petrel_open_regular(file, 0, id);
	if (fd < 0)
		return 0;
	if ((uint64_t)id->st_size != size || petrel_digest_new(&d, PETREL_DIGEST_SHA256) < 0)
		goto out;
	ok = petrel_digest_fd(d, fd, NULL, size, NULL, NULL, &got_size, NULL) == 0 &&
	     got_size == size && petrel_digest_final(d, got, NULL) == 0 &&
	     !memcmp(got, sha256, 32);
out:
	petrel_digest_free(d);
	close(fd);
	return ok;
}

/* Writes the blob to b->fresh: mode 0755, fsynced, re-hashed while copied. */
static int write_fresh(struct petrel_engine *e, const struct beside *b, const uint8_t sha256[32],
		       uint64_t size, struct petrel_err *err)
{
	int fd, r;

	unlink(b->fresh);	/* a leftover of a crash; we hold the lock */
	fd = open(b->fresh, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return petrel_fail(err, -errno, "%s: %s", b->fresh, strerror(errno));
	r = copy_blob(e, sha256, size, fd, b->fresh, err);
	if (r == 0 && fchmod(fd, 0755) < 0)
		r = petrel_fail(err, -errno, "%s: %s", b->fresh, strerror(errno));
	if (r == 0 && (r = petrel_fsync(fd)) < 0)
		petrel_fail(err, r, "fsync %s: %s", b->fresh, strerror(-r));
	if (petrel_close(fd) < 0 && r == 0)
		r = petrel_fail(err, -EIO, "closing %s: %s", b->fresh, strerror(EIO));
	if (r < 0)
		unlink(b->fresh);
	return r;
}

/*
 * Puts file (a complete, fsynced file beside path) at path in one atomic step and
 * keeps what path held as path.petrel-prev: renameat2(RENAME_EXCHANGE) swaps the two
 * names, then the displaced file takes the prev name. A reader of path sees the old
 * complete file or the new one. Without RENAME_EXCHANGE (EINVAL: the file system
 * lacks it; ENOSYS: the kernel does) a plain rename replaces path and nothing is kept:
 * what a rollback needs is in the store anyway (adopt_unmanaged).
 */
static int swap_in(const struct beside *b, const char *file, struct petrel_err *err)
{
	struct stat st;
	int r = 0;

	if (lstat(b->path, &st) < 0) {
		if (petrel_sys.rename(file, b->path) < 0)
			r = -errno;
	} else if (petrel_sys.exchange(file, b->path) == 0) {
		if (strcmp(file, b->prev) && petrel_sys.rename(file, b->prev) < 0)
			r = -errno;
	} else if (errno == EINVAL || errno == ENOSYS) {
		if (petrel_sys.rename(file, b->path) < 0)
			r = -errno;
	} else {
		r = -errno;
	}
	if (r < 0)
		return petrel_fail(err, r, "putting %s in place of %s: %s", file, b->path,
				   strerror(-r));
	if ((r = petrel_fsync_dir(b->dir)) < 0)
		return petrel_fail(err, r, "fsync %s: %s", b->dir, strerror(-r));
	return 0;
}

/* What st is, for a message. */
static const char *kind_of(const struct stat *st)
{
	return S_ISLNK(st->st_mode) ? "a symbolic link" : S_ISDIR(st->st_mode) ? "a directory" :
	       S_ISFIFO(st->st_mode) ? "a FIFO" : S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ?
	       "a device node" : S_ISSOCK(st->st_mode) ? "a socket" : "not a regular file";
}

/*
 * The deployed path is a regular file or nothing: anything else there (a symlink, a
 * directory, a FIFO, a device) is not petrel's to replace: -EEXIST, path untouched.
 * PATH.petrel-prev is petrel's own name: whatever is there is replaced (a FIFO is
 * never opened for more than an fstat), except a directory, which a rename cannot.
 */
static int replaceable(const struct beside *b, struct petrel_err *err)
{
	struct stat st;

	if (lstat(b->path, &st) == 0 && !S_ISREG(st.st_mode))
		return petrel_fail(err, -EEXIST, "%s is %s, not a regular file; petrel replaces "
				   "only a regular file: move it away first", b->path,
				   kind_of(&st));
	if (lstat(b->prev, &st) == 0 && S_ISDIR(st.st_mode))
		return petrel_fail(err, -EEXIST, "%s is a directory; move it away first", b->prev);
	return 0;
}

/*
 * Makes path hold exactly the blob sha256 (size bytes), or nothing when sha256 is
 * NULL; what it held is kept as path.petrel-prev, so the next revert is a rename of
 * a file already written and fsynced (verified again by hashing) rather than a copy.
 */
static int place(struct petrel_engine *e, const char *path, const uint8_t *sha256,
		 uint64_t size, struct petrel_err *err)
{
	struct stat id, now;
	struct beside b;
	int r;

	if ((r = beside(path, &b, err)) < 0 || (r = replaceable(&b, err)) < 0)
		return r;
	if (!sha256) {
		if (petrel_sys.rename(path, b.prev) < 0 && errno != ENOENT)
			return petrel_fail(err, -errno, "moving %s aside: %s", path,
					   strerror(errno));
		return petrel_fsync_dir(b.dir);
	}
	if (file_holds(b.prev, sha256, size, &id)) {
		if ((r = swap_in(&b, b.prev, err)) < 0)
			return r;
		if (lstat(path, &now) == 0 && now.st_dev == id.st_dev && now.st_ino == id.st_ino)
			return 0;
		/* replaced between its check and the rename: put it back, copy from the store */
		petrel_log_warn("%s changed while it was being verified; copying from the store",
				b.prev);
		if (petrel_sys.exchange(b.prev, path) < 0)
			return petrel_fail(err, -errno, "putting %s back: %s", b.prev,
					   strerror(errno));
	}
	if ((r = petrel_mkdir_p(b.dir, 0755)) < 0)
		return petrel_fail(err, r, "%s: %s", b.dir, strerror(-r));
	if ((r = write_fresh(e, &b, sha256, size, err)) < 0)
		return r;
	if ((r = swap_in(&b, b.fresh, err)) < 0)
		unlink(b.fresh);
	return r;
}

/* 1 when path holds exactly sha256 (or is absent when sha256 is NULL). */
static int path_holds(const char *path, const uint8_t *sha256)
{
	uint8_t got[32];

	if (petrel_sha256_file(path, got, NULL) < 0)
		return !sha256 && access(path, F_OK) < 0 && errno == ENOENT;
	return sha256 && !memcmp(got, sha256, 32);
}

/* The adapter's environment for a switch from old to new. */
struct adapter_env {
	char target[PETREL_NAME_MAX + 32], path[PATH_MAX + 16], new_sha[96], old_sha[96];
	char job[PETREL_NAME_MAX + 16], uuid[64];
	const char *list[6];
};

static void adapter_env(struct adapter_env *a, const char *target, const char *path,
			const uint8_t *new_sha, const uint8_t *old_sha, const struct petrel_build *b)
{
	char hex[65] = "";

	snprintf(a->target, sizeof(a->target), "PETREL_TARGET=%s", target);
	snprintf(a->path, sizeof(a->path), "PETREL_PATH=%s", path);
	if (new_sha)
		petrel_hex(new_sha, 32, hex);
	snprintf(a->new_sha, sizeof(a->new_sha), "PETREL_NEW_SHA256=%s", hex);
	hex[0] = '\0';
	if (old_sha)
		petrel_hex(old_sha, 32, hex);
	snprintf(a->old_sha, sizeof(a->old_sha), "PETREL_OLD_SHA256=%s", hex);
	snprintf(a->job, sizeof(a->job), "PETREL_JOB=%s", b ? b->job : "");
	snprintf(a->uuid, sizeof(a->uuid), "PETREL_UUID=%s", b ? b->uuid : "");
	a->list[0] = a->target, a->list[1] = a->path, a->list[2] = a->new_sha;
	a->list[3] = a->old_sha, a->list[4] = a->job, a->list[5] = a->uuid;
}

/* Who records an adapter's pid: the intent of the switch it runs for. */
struct adapter_rec {
	struct petrel_engine *e;
	const char *target;
	struct petrel_err *err;
};

static int record_adapter(void *ctx, pid_t pid)
{
	const struct adapter_rec *rec = ctx;

	return petrel_store_intent_adapter(&rec->e->store, rec->target, (int64_t)pid, rec->err);
}

/* A command line that does not split into words: the configuration's fault. */
static int unusable(const char *what, const char *cmd, char *why, size_t n)
{
	snprintf(why, n, "%s '%.200s': a quote is not closed, or too many words", what, cmd);
	return -PETREL_ECONFIG;
}

/* Runs argv with env; 0 when it exited 0, else -PETREL_EDEPLOY (-PETREL_ECONFIG when it
 * could not be started, -ECANCELED when petrel stopped it) with why filled. With
 * rec, the child's pid goes into the intent before the child runs (petrel_run_ex). */
static int run_step(const char *what, const char *const *argv, const struct adapter_env *a,
		    long timeout, int flags, const struct adapter_rec *rec, char *why, size_t n)
{
	struct petrel_run_result res;
	struct petrel_err e = PETREL_ERR_INIT;	/* becomes why */
	struct adapter_rec with_err;
	char desc[96];
	int r;

	if (rec) {
		with_err = *rec;
		with_err.err = &e;
		rec = &with_err;
	}
	r = petrel_run_ex(argv, a->list, PETREL_ARRAY_SIZE(a->list), timeout,
			  PETREL_RUN_PASSTHROUGH | flags, rec ? record_adapter : NULL, (void *)rec,
			  &res, &e);
	if (rec)	/* it ended (or never ran): recovery need not wait for it */
		(void)petrel_store_intent_adapter(&rec->e->store, rec->target, 0, NULL);
	if (r < 0) {
		snprintf(why, n, "%s: %s", what, petrel_err_msg(&e, r));
		/* a command that cannot run is the operator's to fix, not the build's fault */
		return r == -ENOMEM ? -PETREL_EDEPLOY : -PETREL_ECONFIG;
	}
	if (petrel_run_ok(&res))
		return 0;
	petrel_run_describe(&res, timeout, desc, sizeof(desc));
	snprintf(why, n, "%s %s: %s", what, argv[0], desc);
	return res.cancelled ? -ECANCELED : -PETREL_EDEPLOY;
}

/* The adapter, its pid recorded in in's intent (in NULL: not recorded). */
static int run_adapter(struct petrel_engine *e, const struct petrel_target *t,
		       const struct petrel_intent *in, const char *action,
		       const struct adapter_env *a, char *why, size_t n)
{
	struct adapter_rec rec = { e, in ? in->target : NULL, NULL };
	struct petrel_argv argv;

	if (!strcmp(t->orchestrator, "none"))
		return 0;
	if (petrel_argv_split(&argv, t->orchestrator, &action, 1) < 0)
		return unusable("orchestrator", t->orchestrator, why, n);
	return run_step("orchestrator", argv.v, a, t->orchestrator_timeout, 0, in ? &rec : NULL,
			why, n);
}

/* The health command, retried with mollymawk's spacing; 0 once it exits 0. */
static int run_health(const struct petrel_target *t, const struct adapter_env *a,
		      char *why, size_t n)
{
	struct petrel_argv a1;
	const char *const *argv = a1.v;
	int r = 0;

	if (!t->health[0])
		return 0;
	if (petrel_argv_split(&a1, t->health, NULL, 0) < 0)
		return unusable("health check", t->health, why, n);
	if (petrel_cancelled()) {
		/* asked to stop while the adapter ran: the switch is finished if one attempt
		 * says healthy (not cut short), else rolled back, without blaming the build */
		if ((r = run_step("health check", argv, a, t->health_timeout, 0, NULL, why,
				  n)) == 0)
			return 0;
		snprintf(why + strlen(why), n - strlen(why), " (one attempt: petrel is stopping)");
		return -ECANCELED;
	}
	for (long i = 0; i < t->health_retries; i++) {
		if (i > 0 && petrel_sleep_ms(1000L * health_pause[(size_t)(i - 1) %
						PETREL_ARRAY_SIZE(health_pause)]) < 0) {
			petrel_snprintf(why, n, "health check %s: interrupted: petrel is stopping",
					t->health);
			return -ECANCELED;
		}
		if ((r = run_step("health check", argv, a, t->health_timeout,
				  PETREL_RUN_CANCELLABLE, NULL, why, n)) == 0)
			return 0;
		if (r == -ECANCELED || r == -PETREL_ECONFIG)
			return r;
		petrel_log_debug("%s: attempt %ld of %ld failed: %s", t->name, i + 1,
				 t->health_retries, why);
	}
	snprintf(why + strlen(why), n - strlen(why), " (after %ld attempts)", t->health_retries);
	return r;
}

static const struct petrel_target *target_named(struct petrel_engine *e, const char *name)
{
	for (size_t i = 0; i < e->cfg->ntargets; i++)
		if (!strcmp(e->cfg->targets[i].name, name))
			return &e->cfg->targets[i];
	return NULL;
}

/* ---- recovery ---- */

/* 1 while process pid exists and is not a zombie (an orphan nobody reaped yet). */
static int alive(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

/*
 * Waits (up to timeout seconds, then 2 more) for the adapter in's switch recorded as
 * running, when it outlived the petrel that started it. Never kills it: the pid could
 * in principle have been reused. -ECANCELED when asked to stop, else 0.
 */
static int wait_orphan(const struct petrel_intent *in, long timeout, struct petrel_err *err)
{
	pid_t pid = (pid_t)in->adapter_pid;
	long waited = 0;

	if (pid <= 0 || !alive(pid))
		return 0;
	petrel_log_warn("%s: the orchestrator adapter (pid %ld) of the interrupted %s still runs; "
			"waiting for it to end", in->target, (long)pid, in->op);
	while (alive(pid) && waited < (timeout + 2) * 1000) {
		if (petrel_sleep_ms(100) < 0)
			return petrel_fail(err, -ECANCELED,
					   "%s: waiting for the adapter (pid %ld): "
					   "cancelled", in->target, (long)pid);
		waited += 100;
	}
	if (alive(pid))
		petrel_log_warn("%s: the adapter (pid %ld) still runs after %ld s; recovering "
				"anyway", in->target, (long)pid, timeout + 2);
	return 0;
}

struct recovery {
	struct petrel_engine *e;
	struct petrel_err *err;
};

/*
 * 1 when putting from back failed because it cannot be done, by this run or any
 * later one: its bytes are gone (neither PATH.petrel-prev nor the store's blob holds
 * them: missing, replaced, not a regular file) or path is something petrel does not
 * replace. Other failures (a full disk, an I/O error) may pass: the intent stays and the
 * next run tries again.
 */
static int impossible(int r)
{
	return r == -PETREL_ECORRUPT || r == -EEXIST;
}

/*
 * The end of a switch whose rollback is impossible (why): the switch is finished
 * forward, so no later run fails on it again. The new build is put (or stays) live,
 * its generation becomes current with why recorded, a journal row
 * "rollback-impossible" says so, and one warning. A build that failed its health check
 * is still rejected. If even the new build cannot be put in place, the database says
 * it is current all the same and `petrel audit` reports the file (exit 6).
 */
static int finish_forward(struct petrel_engine *e, const struct petrel_target *t,
			  const struct petrel_intent *in, const char *why, struct petrel_err *err)
{
	struct petrel_err fe = PETREL_ERR_INIT;
	char reason[1024], why_not[512] = "";
	struct adapter_env a;
	int upgrade = !strcmp(in->op, "upgrade"), r;

	if (!path_holds(in->path, in->to_sha256) &&
	    (r = place(e, in->path, in->to_sha256, in->to_size, &fe)) < 0)
		snprintf(why_not, sizeof(why_not), "; the new build could not be put in place "
			 "either (%s): petrel audit reports the file", petrel_err_msg(&fe, r));
	snprintf(reason, sizeof(reason), "%s to generation %lld could not be rolled back "
		 "(%s); generation %lld stays current%s", in->op, (long long)in->to_gen, why,
		 (long long)in->to_gen, why_not);
	if (t && strcmp(in->phase, "prepared")) {	/* the adapter may have run */
		adapter_env(&a, in->target, in->path, in->to_sha256,
			    in->has_from ? in->from_sha256 : NULL, NULL);
		if (run_adapter(e, t, in, in->op, &a, why_not, sizeof(why_not)) < 0)
			petrel_log_warn("%s: after finishing forward: %s", in->target, why_not);
	}
	if ((r = petrel_store_intent_forward(&e->store, in, reason, upgrade &&
					     !strcmp(in->phase, "failing"), err)) < 0)
		return r;
	petrel_log_warn("%s: %s", in->target, reason);
	return 0;
}

/* Puts from back (path holding it, or nothing), for a rollback. 0, or negative with a
 * message in err. */
static int put_back(struct petrel_engine *e, const struct petrel_intent *in,
		    struct petrel_err *err)
{
	const uint8_t *from = in->has_from ? in->from_sha256 : NULL;

	if (path_holds(in->path, from))
		return 0;
	return place(e, in->path, from, in->from_size, err);
}

static int recover_one(void *ctx, const struct petrel_intent *in)
{
	const struct recovery *rc = ctx;
	struct petrel_engine *e = rc->e;
	struct petrel_err *err = rc->err;
	const struct petrel_target *t = target_named(e, in->target);
	const uint8_t *from = in->has_from ? in->from_sha256 : NULL;
	char tmp[PATH_MAX + 16], why[512];
	struct adapter_env a;
	int r;

	/* an adapter the dead petrel started may still run: let it end before the file
	 * changes under it and the adapter runs again */
	struct petrel_err pe = PETREL_ERR_INIT;	/* why putting back failed */

	if ((r = wait_orphan(in, t ? t->orchestrator_timeout : 120, err)) < 0)
		return r;
	if ((r = put_back(e, in, &pe)) < 0) {
		if (impossible(r)) {	/* no later run could: end it here */
			snprintf(why, sizeof(why), "%s%s%s", in->reason, in->reason[0] ? "; " : "",
				 petrel_err_msg(&pe, r));
			return finish_forward(e, t, in, why, err);
		}
		petrel_fail(err, r, "%s", petrel_err_msg(&pe, r));
		petrel_err_prefix(err, "%s: recovering the interrupted %s: ", in->target, in->op);
		return r;
	}
	snprintf(tmp, sizeof(tmp), "%s" PETREL_NEW_SUFFIX, in->path);
	unlink(tmp);
	/* the adapter runs before the intent goes: killed during it, the next petrel
	 * waits for it and runs it again */
	if (t && strcmp(in->phase, "prepared")) {	/* the adapter may have run */
		adapter_env(&a, in->target, in->path, from, in->to_sha256, NULL);
		if (run_adapter(e, t, in, "revert", &a, why, sizeof(why)) < 0)
			petrel_log_warn("%s: after recovery: %s", in->target, why);
	}
	if (!strcmp(in->phase, "failing"))	/* it failed; only the rollback was cut short */
		r = petrel_store_intent_undo(&e->store, in, "failed",
					     !strcmp(in->op, "upgrade") ? "upgrade-failed" : "revert-failed",
					     in->reason, !strcmp(in->op, "upgrade"), err);
	else
		r = petrel_store_intent_undo(&e->store, in, "interrupted", "recover",
					     "interrupted; rolled back by recovery", 0, err);
	if (r < 0)
		return r;
	petrel_log_warn("%s: an interrupted %s (generation %lld) was rolled back; generation %lld "
			"is current", in->target, in->op, (long long)in->to_gen,
			(long long)in->from_gen);
	return 0;
}

int petrel_recover(struct petrel_engine *e, struct petrel_err *err)
{
	struct recovery rc = { e, err };

	return petrel_store_intents(&e->store, recover_one, &rc, err);
}

/* Puts from back after a failed switch and records why; the adapter runs again. */
static int roll_back(struct petrel_engine *e, const struct petrel_target *t,
		     struct petrel_intent *in, const char *why, int reject, int *forward,
		     struct petrel_err *err)
{
	const uint8_t *from = in->has_from ? in->from_sha256 : NULL;
	const struct petrel_build *b = NULL;
	struct petrel_generation g;
	char again[512] = "";
	struct adapter_env a;
	int r;

	struct petrel_err pe = PETREL_ERR_INIT;	/* why putting back failed */
	char gone[1024];

	if (reject && (r = petrel_store_intent_failing(&e->store, in, why, err)) < 0)
		return r;
	if ((r = put_back(e, in, &pe)) < 0) {
		if (!impossible(r))	/* the intent stays: the next petrel recovers */
			return petrel_fail(err, r, "%s", petrel_err_msg(&pe, r));
		snprintf(gone, sizeof(gone), "%s; %s", why, petrel_err_msg(&pe, r));
		*forward = 1;
		return finish_forward(e, t, in, gone, err);
	}
	/* only for the adapter's environment: without it, the variables stay empty */
	if (in->from_gen && petrel_store_generation(&e->store, t->name, in->from_gen, &g,
						    NULL) == 0)
		b = &g.version.build;
	adapter_env(&a, t->name, t->path, from, in->to_sha256, b);
	/* before the intent goes, as in recovery: a kill during it is recovered */
	if (strcmp(in->phase, "prepared") &&	/* the adapter may have run */
	    run_adapter(e, t, in, !strcmp(in->op, "upgrade") ? "revert" : "upgrade", &a, again,
			sizeof(again)) < 0)
		petrel_log_warn("%s: after putting generation %lld back: %s", t->name,
				(long long)in->from_gen, again);
	return petrel_store_intent_undo(&e->store, in, "failed",
					!strcmp(in->op,
						"upgrade") ? "upgrade-failed" : "revert-failed",
					why, reject, err);
}

/*
 * A switch failed for why: put what was there back and say so in one line,
 * -PETREL_EDEPLOY. If even that fails, the message keeps both causes and the intent
 * stays, so the next petrel finishes the rollback.
 */
static int switch_failed(struct petrel_engine *e, const struct petrel_target *t,
			 struct petrel_intent *in, const struct petrel_build *b,
			 const char *why, int reject, int code, struct petrel_err *err)
{
	char back[64];
	int r, forward = 0;

	if (in->from_gen)
		snprintf(back, sizeof(back), "generation %lld is back", (long long)in->from_gen);
	else
		snprintf(back, sizeof(back), "%s",
			 in->has_from ? "the file that was there is back" :
			 "nothing is deployed");
	if ((r = roll_back(e, t, in, why, reject, &forward, err)) < 0) {
		petrel_err_prefix(err,
				  "%s to generation %lld (%s) failed: %s; putting back what was "
				    "there failed too (the next petrel run finishes it): ", in->op,
				    (long long)in->to_gen, b->uuid, why);
		return r;
	}
	if (forward)	/* finish_forward warned with the whole story */
		return petrel_fail(err, -ENOENT, "%s to generation %lld (%s) failed: %s; what was "
				   "there before is gone, so generation %lld stays current",
				   in->op, (long long)in->to_gen, b->uuid, why, (long long)in->to_gen);
	return petrel_fail(err, code, "%s to generation %lld (%s) failed: %s; %s%s", in->op,
			   (long long)in->to_gen, b->uuid, why, back,
			   reject ? " and the build is rejected" :
			   code == -PETREL_ECONFIG ? " (a configuration error: the build is not "
			   "rejected)" : "");
}

/* The switch itself, shared by upgrade and revert: intent, file, pointers, adapter, health;
 * verdict (NULL: none) is recorded with its end. */
static int do_switch(struct petrel_engine *e, const struct petrel_target *t,
		     struct petrel_intent *in, int64_t version_id, const struct petrel_build *b,
		     const struct petrel_verdict *verdict, struct petrel_err *err)
{
	const uint8_t *from = in->has_from ? in->from_sha256 : NULL;
	char why[768] = "", detail[512], hex[65];
	struct petrel_err placing = PETREL_ERR_INIT;	/* becomes why */
	struct adapter_env a;
	int upgrade = !strcmp(in->op, "upgrade");
	int r;

	petrel_strcpy_whole(in->target, t->name, sizeof(in->target));
	petrel_strcpy_whole(in->path, t->path, sizeof(in->path));
	if ((r = petrel_store_intent_begin(&e->store, in, version_id, err)) < 0)
		return r;
	if ((r = place(e, t->path, in->to_sha256, in->to_size, &placing)) < 0) {
		snprintf(why, sizeof(why), "%s", petrel_err_msg(&placing, r));
		/* the host's fault (a full or read-only disk), not the build's: exit 1 */
		return switch_failed(e, t, in, b, why, 0, r, err);
	}
	if ((r = petrel_store_intent_switched(&e->store, in, err)) < 0)
		return r;	/* the intent stays: recovery puts from back */
	adapter_env(&a, t->name, t->path, in->to_sha256, from, b);
	r = run_adapter(e, t, in, in->op, &a, why, sizeof(why));
	if (r == 0 && upgrade)
		r = run_health(t, &a, why, sizeof(why));
	/* a build is not rejected for an interrupted health check, for an adapter that
	 * failed while petrel was stopping (a service manager signals the adapter too), nor
	 * for a command that cannot run (the configuration's fault: exit 2) */
	if (r < 0)
		return switch_failed(e, t, in, b, why, upgrade && r != -ECANCELED &&
				     r != -PETREL_ECONFIG && !petrel_cancelled(),
				     r == -PETREL_ECONFIG ? r : -PETREL_EDEPLOY, err);
	petrel_hex(in->to_sha256, 32, hex);
	snprintf(detail, sizeof(detail), "generation=%lld uuid=%s sha256=%s from=%lld",
		 (long long)in->to_gen, b->uuid, hex, (long long)in->from_gen);
	return petrel_store_intent_done_verdict(&e->store, in, in->op, detail, verdict, err);
}

/*
 * Before the first deploy, a file may already be at path (installed by hand, or by the
 * tool petrel replaces). It is what "before" means for this switch, so a failed or
 * interrupted first upgrade puts exactly it back instead of leaving nothing. Its bytes
 * are copied into the store as a blob (hashed while copied, so the hash names exactly
 * the bytes stored) before anything changes: PATH.petrel-prev may be removed or altered,
 * or never exist (no RENAME_EXCHANGE), and the rollback still has them. The blob has no
 * versions row: gc keeps it while an intent names it (its from_sha256) and removes it
 * as an orphan afterwards, when nothing can roll back to it any more.
 */
static int adopt_unmanaged(struct petrel_engine *e, const struct petrel_target *t,
			   struct petrel_intent *in, struct petrel_err *err)
{
	struct petrel_digest *d = NULL;
	struct copy_to to = { -1, NULL, 0, err };
	char tmp[PATH_MAX];
	struct stat st;
	int fd, r;

	if ((fd = petrel_open_regular(t->path, 0, &st)) < 0) {
		if (fd == -ENOENT)
			return 0;
		if (fd == -EINVAL && lstat(t->path, &st) == 0)
			return petrel_fail(err, -EEXIST, "%s is %s, not a regular file; petrel "
					   "replaces only a regular file: move it away first",
					   t->path, kind_of(&st));
		return petrel_fail(err, fd, "%s: %s", t->path, strerror(-fd));
	}
	if ((r = petrel_store_tmpfile(&e->store, &to.fd, tmp, sizeof(tmp))) < 0) {
		close(fd);
		return petrel_fail(err, r, "%s/tmp: %s", e->store.dir, strerror(-r));
	}
	to.tmp = tmp;
	/* bounded by the size fstat said: a file that grows while it is read is refused */
	if ((r = petrel_digest_new(&d, PETREL_DIGEST_SHA256)) < 0 ||
	    (r = petrel_digest_fd(d, fd, t->path, (uint64_t)st.st_size, copy_chunk, &to,
				  &in->from_size, err)) < 0 ||
	    (r = petrel_digest_final(d, in->from_sha256, NULL)) < 0) {
		if (r == -EFBIG && !to.failed)
			petrel_err_prefix(err, "%s changed while it was copied into the store: ",
					  t->path);
		close(to.fd);
		unlink(tmp);
		goto out;
	}
	/* consumes to.fd */
	if ((r = petrel_store_commit_blob(&e->store, to.fd, tmp, in->from_sha256, err)) < 0)
		goto out;
	in->has_from = 1;
out:
	petrel_digest_free(d);
	close(fd);
	if (r < 0)
		petrel_err_prefix(err, "keeping the file at %s in the store before the first "
				  "deploy: ", t->path);
	return r;
}

/* Nothing changes unless path (and PATH.petrel-prev) may be replaced: said up front. */
static int path_ready(const struct petrel_target *t, struct petrel_err *err)
{
	struct beside b;
	int r;

	if ((r = beside(t->path, &b, err)) < 0 || (r = replaceable(&b, err)) < 0)
		return r;
	return 0;
}

/*
 * The build a switch puts live must be in the store as the regular file of its recorded
 * size, checked before anything changes: a blob missing or replaced (by a symlink to a
 * device, say) is refused here, with nothing written, rather than half-way through.
 */
static int blob_ready(struct petrel_engine *e, const uint8_t sha256[32], uint64_t size,
		      const char *uuid, struct petrel_err *err)
{
	char src[PATH_MAX];
	int fd = open_blob(e, sha256, size, src, sizeof(src), err);

	if (fd < 0) {
		petrel_err_prefix(err, "build %s cannot be deployed: ", uuid);
		return fd;
	}
	close(fd);
	return 0;
}

int petrel_preflight(struct petrel_engine *e, const struct petrel_target *t,
		     const struct petrel_version *v, const uint8_t *before_sha256,
		     struct petrel_err *err)
{
	char blob[PATH_MAX], why[512];
	const char *extra[] = { blob };
	struct petrel_argv argv;
	struct adapter_env a;
	int r;

	if (!t->preflight[0])
		return 0;
	petrel_store_blob_path(&e->store, v->build.sha256, blob, sizeof(blob));
	adapter_env(&a, t->name, t->path, v->build.sha256, before_sha256, &v->build);
	r = petrel_argv_split(&argv, t->preflight, extra, 1) < 0 ?
		unusable("preflight", t->preflight, why, sizeof(why)) :
		run_step("preflight", argv.v, &a, t->orchestrator_timeout, 0, NULL, why, sizeof(why));
	if (r == -PETREL_ECONFIG)	/* the command, not the build: nothing is refused */
		return petrel_fail(err, r, "%s", why);
	if (r < 0)
		return petrel_fail(err, -PETREL_EPOLICY, "%s refused build %s", why, v->build.uuid);
	return 0;
}

int petrel_switch_to(struct petrel_engine *e, const struct petrel_target *t,
		     const struct petrel_generation *before, int64_t prev,
		     const struct petrel_version *v, int64_t *to_gen, struct petrel_err *err)
{
	struct petrel_intent in;
	int r;

	memset(&in, 0, sizeof(in));
	petrel_strcpy_whole(in.op, "upgrade", sizeof(in.op));
	in.from_gen = before ? before->number : 0;
	in.from_prev = prev;
	in.has_from = before != NULL;
	if (before) {
		memcpy(in.from_sha256, before->version.build.sha256, 32);
		in.from_size = before->version.build.size;
	}
	memcpy(in.to_sha256, v->build.sha256, 32);
	in.to_size = v->build.size;
	if ((r = path_ready(t, err)) < 0 ||
	    (r = blob_ready(e, in.to_sha256, in.to_size, v->build.uuid, err)) < 0 ||
	    (!before && (r = adopt_unmanaged(e, t, &in, err)) < 0))
		return r;
	if ((r = do_switch(e, t, &in, v->id, &v->build, NULL, err)) < 0)
		return r;
	*to_gen = in.to_gen;
	return 0;
}

int petrel_switch_back(struct petrel_engine *e, const struct petrel_target *t,
		       const struct petrel_generation *cur, const struct petrel_generation *prev,
		       const struct petrel_verdict *verdict, struct petrel_err *err)
{
	struct petrel_intent in;
	int r;

	memset(&in, 0, sizeof(in));
	petrel_strcpy_whole(in.op, "revert", sizeof(in.op));
	in.from_gen = cur->number;
	in.from_prev = prev->number;
	in.to_gen = prev->number;
	in.to_prev = cur->number;
	in.has_from = 1;
	memcpy(in.from_sha256, cur->version.build.sha256, 32);
	in.from_size = cur->version.build.size;
	memcpy(in.to_sha256, prev->version.build.sha256, 32);
	in.to_size = prev->version.build.size;
	if ((r = path_ready(t, err)) < 0 ||
	    (r = blob_ready(e, in.to_sha256, in.to_size, prev->version.build.uuid, err)) < 0)
		return r;
	return do_switch(e, t, &in, 0, &prev->version.build, verdict, err);
}
