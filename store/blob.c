/* Content-addressed blobs under objects/sha256/XX/REST and downloads in tmp/. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/util.h"
#include "store/internal.h"

int petrel_store_blob_path(const struct petrel_store *s, const uint8_t sha256[32],
			   char *out, size_t n)
{
	char hex[PETREL_HASH_HEX + 1];

	petrel_hex(sha256, 32, hex);
	if (petrel_snprintf(out, n, "%s/objects/sha256/%.2s/%s", s->dir, hex, hex + 2) < 0)
		return -ENAMETOOLONG;
	return 0;
}

/* The fan-out directory objects/sha256/XX of a blob, and its parent. */
static int blob_dirs(const struct petrel_store *s, const uint8_t sha256[32],
		     char *xx, char *top, size_t n)
{
	char hex[PETREL_HASH_HEX + 1];

	petrel_hex(sha256, 32, hex);
	if (petrel_snprintf(top, n, "%s/objects/sha256", s->dir) < 0 ||
	    petrel_snprintf(xx, n, "%s/%.2s", top, hex) < 0)
		return -ENAMETOOLONG;
	return 0;
}

int petrel_store_has_blob(const struct petrel_store *s, const uint8_t sha256[32],
			  struct petrel_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	if ((r = petrel_store_blob_path(s, sha256, path, sizeof(path))) < 0)
		return r;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISREG(st.st_mode))
		return petrel_fail(err, -PETREL_ECORRUPT, "%s: blob is not a regular file", path);
	return 1;
}

int petrel_store_tmpfile(const struct petrel_store *s, int *fd, char *path, size_t n)
{
	if (petrel_snprintf(path, n, "%s/tmp/dl-XXXXXX", s->dir) < 0)
		return -ENAMETOOLONG;
	/* mkostemp opens with O_CREAT|O_EXCL and mode 0600. */
	*fd = mkostemp(path, O_CLOEXEC);
	if (*fd < 0)
		return -errno;
	return 0;
}

/* Durable, read-only, closed: the temp file's half of the commit. Consumes fd. */
static int seal(int fd)
{
	int r, cr;

	r = petrel_fsync(fd);
	if (r == 0 && fchmod(fd, 0444) < 0)
		r = -errno;
	cr = petrel_close(fd);
	return r < 0 ? r : cr;
}

/* Creates objects/sha256/XX if missing, durably (the parent is fsynced). */
static int make_fanout(const char *xx, const char *top)
{
	int r;

	if (mkdir(xx, 0755) < 0)
		return errno == EEXIST ? 0 : -errno;
	(void)chmod(xx, 0755);	/* readable by any user, whatever the umask */
	/* Not known durable: remove it, so the next commit creates and fsyncs again. */
	if ((r = petrel_fsync_dir(top)) < 0)
		rmdir(xx);
	return r;
}

/* rename into place, then make the new name durable; undone on failure. */
static int place(const char *tmppath, const char *blob, const char *xx)
{
	int r;

	if (petrel_sys.rename(tmppath, blob) < 0)
		return -errno;
	if ((r = petrel_fsync_dir(xx)) < 0)
		unlink(blob);	/* not known durable: the caller sees failure, so leave nothing */
	return r;
}

int petrel_store_commit_blob(const struct petrel_store *s, int fd, const char *tmppath,
			     const uint8_t sha256[32], struct petrel_err *err)
{
	char blob[PATH_MAX], xx[PATH_MAX], top[PATH_MAX];
	int r, have;

	if ((r = seal(fd)) < 0)
		goto out;
	if ((r = petrel_store_blob_path(s, sha256, blob, sizeof(blob))) < 0 ||
	    (r = blob_dirs(s, sha256, xx, top, sizeof(xx))) < 0 ||
	    (r = make_fanout(xx, top)) < 0)
		goto out;
	have = petrel_store_has_blob(s, sha256, err);
	if (have != 0) {
		r = have < 0 ? have : 0;
		goto out;	/* present already: same bytes by name, drop ours */
	}
	r = place(tmppath, blob, xx);
	if (r == 0)
		return 0;
out:
	unlink(tmppath);
	if (r < 0)
		petrel_fail(err, r, "%s: cannot store blob: %s", tmppath, petrel_strerror(r));
	return r;
}

/* Removes one entry of tmp/ unless it is a directory (never ours: left for fsck). */
static int remove_tmp_entry(int dfd, const char *name)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode))
		return 0;
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int petrel_store_clean_tmp(const struct petrel_store *s)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int r = 0, er;

	if (petrel_snprintf(path, sizeof(path), "%s/tmp", s->dir) < 0)
		return -ENAMETOOLONG;
	if (!petrel_store_is_ours(s->dir))	/* never someone else's files */
		return -PETREL_ECONFIG;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		er = remove_tmp_entry(dirfd(d), e->d_name);
		if (r == 0)
			r = er;
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(d);
	return r;
}
