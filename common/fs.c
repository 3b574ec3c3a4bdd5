/* File-system helpers: the durability recipe, written once, with injectable faults. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fs.h"
#include "util.h"

/* Fault injection: the N-th call of a kind fails with EIO (0 = never). */
static struct { unsigned long fail_at, calls; } faults[7];
enum { F_WRITE, F_FSYNC, F_RENAME, F_UNLINK, F_NOEXCHANGE, F_NODIRECT, F_FLUSH };

static int fault(int kind)
{
	if (faults[kind].fail_at && ++faults[kind].calls == faults[kind].fail_at) {
		errno = EIO;
		return 1;
	}
	return 0;
}

static ssize_t sys_write(int fd, const void *buf, size_t n)
{
	if (faults[F_NODIRECT].fail_at && fcntl(fd, F_GETFL) & O_DIRECT) {
		errno = EINVAL;	/* a file system that takes no O_DIRECT write */
		return -1;
	}
	return fault(F_WRITE) ? -1 : write(fd, buf, n);
}

static int sys_fsync(int fd)
{
	return fault(F_FSYNC) ? -1 : fsync(fd);
}

/* only the flusher's thread calls it: its count is not shared */
static int sys_flush(int fd)
{
	return fault(F_FLUSH) ? -1 : fdatasync(fd);
}

static int sys_rename(const char *from, const char *to)
{
	return fault(F_RENAME) ? -1 : rename(from, to);
}

static int sys_exchange(const char *a, const char *b)
{
	if (faults[F_NOEXCHANGE].fail_at) {	/* a file system without it */
		errno = EINVAL;
		return -1;
	}
	return fault(F_RENAME) ? -1 : renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}

static int sys_unlink(const char *path)
{
	return fault(F_UNLINK) ? -1 : unlink(path);
}

struct petrel_sysops petrel_sys = { sys_write, sys_fsync, sys_rename, sys_exchange, sys_unlink,
				     sys_flush };

int petrel_fault_init(void)
{
	static const char *const kinds[] = { "write", "fsync", "rename", "unlink",
						     "noexchange", "nodirect", "flush" };
	const char *env = getenv("PETREL_FAULT");
	char spec[256], *item, *save = NULL;
	unsigned long fail_at[PETREL_ARRAY_SIZE(faults)] = { 0 };

	if (!env || !*env)
		return 0;
	if (petrel_strcpy_whole(spec, env, sizeof(spec)) < 0)
		return -EINVAL;
	for (item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':');
		uint64_t n;
		size_t k;

		if (!colon)
			return -EINVAL;
		*colon = '\0';
		if (petrel_parse_u64(colon + 1, &n) < 0)
			return -EINVAL;
		for (k = 0; k < PETREL_ARRAY_SIZE(kinds) && strcmp(kinds[k], item); k++)
			;
		if (k == PETREL_ARRAY_SIZE(kinds))
			return -EINVAL;
		fail_at[k] = n;
	}
	/* armed only once the whole spec parsed; counting starts afresh */
	for (size_t k = 0; k < PETREL_ARRAY_SIZE(faults); k++) {
		faults[k].fail_at = fail_at[k];
		faults[k].calls = 0;
	}
	return 0;
}

int petrel_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = petrel_sys.write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* op(fd) again while a signal interrupts it. 0 or -errno. */
static int retry_eintr(int (*op)(int fd), int fd)
{
	while (op(fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int petrel_fsync(int fd)
{
	return retry_eintr(petrel_sys.fsync, fd);
}

int petrel_flush(int fd)
{
	return retry_eintr(petrel_sys.flush, fd);
}

int petrel_set_direct(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) < 0)
		return -errno;
	return 0;
}

int petrel_close(int fd)
{
	if (close(fd) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int petrel_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = petrel_fsync(fd);
	close(fd);
	return r;
}

int petrel_dirname(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return petrel_strcpy_whole(out, ".", n);
	if (slash == path)
		return petrel_strcpy_whole(out, "/", n);
	if ((size_t)(slash - path) >= n)
		return -PETREL_ETOOBIG;
	memcpy(out, path, (size_t)(slash - path));
	out[slash - path] = '\0';
	return 0;
}

/* mkdir that accepts an existing directory, and only a directory; a directory it
 * creates is made durable in its parent. */
static int mkdir_one(const char *path, mode_t mode)
{
	char parent[4096];
	struct stat st;

	if (mkdir(path, mode) == 0) {
		(void)chmod(path, mode);	/* the mode asked for, whatever the umask */
		return petrel_dirname(path, parent, sizeof(parent)) < 0 ? -ENAMETOOLONG :
			petrel_fsync_dir(parent);
	}
	if (errno != EEXIST)
		return -errno;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int petrel_mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	char *p;
	int r;

	if (!*path)
		return -ENOENT;
	if ((r = petrel_strcpy_whole(buf, path, sizeof(buf))) < 0)
		return r;
	for (p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if ((r = mkdir_one(buf, mode)) < 0)
			return r;
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

/* Writes data to a fresh temp file beside path; returns its fd, name in tmp. */
static int write_temp(const char *path, const void *data, size_t n, mode_t mode,
		      char *tmp, size_t tmpsize)
{
	int fd, r;

	if ((r = petrel_snprintf(tmp, tmpsize, "%s.petrel-XXXXXX", path)) < 0)
		return r;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((r = petrel_write_all(fd, data, n)) < 0 ||
	    (fchmod(fd, mode) < 0 && (r = -errno)) ||
	    (r = petrel_fsync(fd)) < 0) {
		close(fd);
		unlink(tmp);
		return r;
	}
	return fd;
}

int petrel_atomic_write(const char *path, const void *data, size_t n, mode_t mode)
{
	char tmp[4096], dir[4096];
	int fd, r;

	if ((r = petrel_dirname(path, dir, sizeof(dir))) < 0)
		return r;
	fd = write_temp(path, data, n, mode, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	if ((r = petrel_close(fd)) < 0)
		goto fail;
	if (petrel_sys.rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	return petrel_fsync_dir(dir);
fail:
	unlink(tmp);
	return r;
}

int petrel_open_regular(const char *path, int follow, struct stat *st)
{
	struct stat own;
	int fd, e;

	if (!st)
		st = &own;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (follow ? 0 : O_NOFOLLOW));
	if (fd < 0)
		return errno == ELOOP && !follow ? -EINVAL : -errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		e = fstat(fd, st) < 0 ? errno : EINVAL;
		close(fd);
		return -e;
	}
	return fd;
}

int petrel_read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, r = 0;

	fd = petrel_open_regular(path, 1, &st);
	if (fd < 0)
		return fd;
	if ((size_t)st.st_size > max) {
		r = -PETREL_ETOOBIG;
		goto out;
	}
	buf = malloc(max + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			r = -PETREL_ETOOBIG;
			goto out;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}
