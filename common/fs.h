/* File-system helpers with the durability recipe written down once. */
#ifndef PETREL_FS_H
#define PETREL_FS_H

#include <stddef.h>
#include <sys/types.h>

struct stat;

/*
 * The syscalls that matter for durability go through this table so tests can fail
 * them. PETREL_FAULT="write:N,fsync:N,rename:N,unlink:N" in the environment makes
 * the N-th call (1-based, counted per kind) fail with EIO; see petrel_fault_init().
 * "noexchange:1" makes every exchange fail with EINVAL, as on a file system without
 * RENAME_EXCHANGE (NFS, many FUSE file systems), so tests reach the fallback.
 * "nodirect:1" makes every write to a file opened O_DIRECT fail with EINVAL (not
 * counted as a write), as on a file system that refuses it. "flush:N" fails the N-th
 * fdatasync of a download's flusher (common/flusher.h), which fsync:N does not count.
 */
struct petrel_sysops {
	ssize_t (*write)(int fd, const void *buf, size_t n);
	int (*fsync)(int fd);
	int (*rename)(const char *from, const char *to);
	/* renameat2(RENAME_EXCHANGE): a and b swap names atomically; counted as a rename */
	int (*exchange)(const char *a, const char *b);
	int (*unlink)(const char *path);	/* gc's removal of a blob */
	int (*flush)(int fd);	/* fdatasync(2) while the file is still being written */
};
extern struct petrel_sysops petrel_sys;

/* Reads PETREL_FAULT and arms the fault table. 0 or -EINVAL for a bad value. */
int petrel_fault_init(void);

/* Writes all n bytes (retrying short writes and EINTR). 0 or -errno. */
int petrel_write_all(int fd, const void *p, size_t n);
/* Turns O_DIRECT on or off for fd (fcntl F_SETFL). 0 or -errno: -EINVAL where the file
 * system has no O_DIRECT. */
int petrel_set_direct(int fd, int on);
/* fsync(2) through the ops table. 0 or -errno. */
int petrel_fsync(int fd);
/* fdatasync(2) through the ops table (the flusher's; fault kind "flush"). 0 or -errno. */
int petrel_flush(int fd);
/* Opens dir and fsyncs it, so a rename or create inside it is durable. 0 or -errno. */
int petrel_fsync_dir(const char *dir);
/* Parent directory of path into out (size n). 0 or -PETREL_ETOOBIG. */
int petrel_dirname(const char *path, char *out, size_t n);
/* mkdir -p with mode for created components. 0 or -errno. */
int petrel_mkdir_p(const char *path, mode_t mode);
/* close(2) that reports failure (a close is a write that can fail). 0 or -errno. */
int petrel_close(int fd);

/*
 * The atomic-replace recipe: create a temp file beside path with O_EXCL|O_CLOEXEC,
 * write, fchmod to mode, fsync, rename over path, fsync the directory. A reader of
 * path sees the old complete file or the new one, never anything else. A failure
 * before the rename removes the temp file and leaves path untouched; a failure of the
 * directory's fsync comes after it: path then holds the new file, which a crash may
 * still undo. 0 or -errno.
 */
int petrel_atomic_write(const char *path, const void *data, size_t n, mode_t mode);

/*
 * Opens path read-only as a file petrel does not trust: O_NONBLOCK (a FIFO never holds
 * the open), O_NOFOLLOW unless follow (a symlink is then "not a regular file"), and
 * fstat must say a regular file; *st (may be NULL) gets what fstat said. Reads stay
 * bounded by the size the caller recorded, never by what the file says. The fd, or
 * -EINVAL when path is not a regular file (a symlink without follow, a FIFO, a device,
 * a directory), or -errno.
 */
int petrel_open_regular(const char *path, int follow, struct stat *st);

/* Reads a whole regular file of at most max bytes into *out (NUL-terminated,
 * caller frees). Symlinks are followed (config and key paths may be symlinks); a
 * FIFO or device is -EINVAL without blocking. 0, -errno, or -PETREL_ETOOBIG. */
int petrel_read_file(const char *path, size_t max, char **out, size_t *outlen);

#endif
