/* The state directory's lock: one petrel operation at a time. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/cancel.h"
#include "common/error.h"
#include "common/util.h"
#include "store.h"

/* Who holds it, from the pid the holder wrote (best effort: "unknown" if unreadable). */
static void holder(int fd, char *out, size_t n)
{
	char buf[32];
	ssize_t got = pread(fd, buf, sizeof(buf) - 1, 0);

	if (got <= 0) {
		petrel_strcpy_whole(out, "an unknown process", n);
		return;
	}
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	petrel_snprintf(out, n, "pid %s", buf);
}

/* Records our pid for the next one who waits; the content is informational. */
static void write_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) == 0 && n > 0)
		(void)!pwrite(fd, buf, (size_t)n, 0);
}

int petrel_lockfile_try(const char *path, char *who, size_t n, struct petrel_err *err)
{
	/* O_NONBLOCK: a FIFO at the name never holds the open; only a regular file is
	 * chmod'ed, truncated and written */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644), e;
	struct stat st;

	if (fd < 0)
		return petrel_fail(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		e = fstat(fd, &st) < 0 ? errno : EINVAL;
		close(fd);
		return petrel_fail(err, -e, "%s: %s", path, e == EINVAL ? "not a regular file" :
				   strerror(e));
	}
	(void)fchmod(fd, 0644);	/* whoever can read the state directory sees the holder */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if ((e = errno) == EINTR)
			continue;
		if (e == EWOULDBLOCK)
			holder(fd, who, n);
		close(fd);
		return e == EWOULDBLOCK ? -EWOULDBLOCK :
			petrel_fail(err, -e, "locking %s: %s", path, strerror(e));
	}
	write_pid(fd);
	return fd;
}

int petrel_store_lock(struct petrel_store *s, long timeout, struct petrel_err *err)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	char path[PATH_MAX], who[64];
	long waited;
	int fd;

	if (s->lockfd >= 0)	/* petrel_store_open_locked took it already */
		return 0;
	if (petrel_snprintf(path, sizeof(path), "%s/lock", s->dir) < 0)
		return petrel_fail(err, -ENAMETOOLONG, "%s: path too long", s->dir);
	for (waited = 0; (fd = petrel_lockfile_try(path, who, sizeof(who), err)) == -EWOULDBLOCK;
	     waited++) {
		if (waited >= timeout * 10)
			return petrel_fail(err, -PETREL_ELOCKED,
					   "state directory %s is locked by %s "
					   "(waited %ld s; see lock_timeout)", s->dir, who, timeout);
		if (petrel_cancelled())
			return petrel_fail(err, -ECANCELED, "waiting for the lock of %s: cancelled",
					   s->dir);
		nanosleep(&pause, NULL);
		if (waited % 10 == 9)
			petrel_tick();
	}
	if (fd < 0)
		return fd;
	s->lockfd = fd;
	return 0;
}

void petrel_store_unlock(struct petrel_store *s)
{
	if (s->lockfd >= 0) {
		close(s->lockfd);	/* releases the flock */
		s->lockfd = -1;
	}
}

/*
 * /proc/locks names each flock with its holder's pid and the file's device and inode
 * ("1: FLOCK  ADVISORY  WRITE 1234 00:2f:5678 0 EOF"): reading it takes no lock, so a
 * status never makes a daemon that starts at that moment think another one runs.
 * 1 with *pid when an exclusive flock on st's file is listed, 0 when none, -1 when
 * /proc/locks cannot be read.
 */
static int proc_locks_holder(const struct stat *st, long *pid)
{
	char line[256], want[64];
	FILE *f = fopen("/proc/locks", "re");
	int found = 0;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "%02x:%02x:%llu", major(st->st_dev), minor(st->st_dev),
		 (unsigned long long)st->st_ino);
	while (!found && fgets(line, sizeof(line), f)) {
		char *field[6], *save = NULL, *p = line;
		int n = 0;

		while (n < 6 && (field[n] = strtok_r(p, " \t\n", &save)) != NULL) {
			p = NULL;
			n++;
		}
		if (n == 6 && !strcmp(field[1], "FLOCK") && !strcmp(field[3], "WRITE") &&
		    !strcmp(field[5], want)) {
			*pid = strtol(field[4], NULL, 10);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

int petrel_lockfile_holder(const char *path, long *pid)
{
	struct stat st;
	int held;

	*pid = 0;
	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if ((held = proc_locks_holder(&st, pid)) >= 0)
		return held;
	return -ENOSYS;	/* without /proc, nobody's lock is probed */
}
