/* A thread that makes a file's bytes durable while more are still being written. */
#ifndef PETREL_FLUSHER_H
#define PETREL_FLUSHER_H

/*
 * Why: a download is fsynced before it is stored, and on a virtual machine the fsync
 * after the last byte is where the disk does most of its work: the host writes out
 * everything the guest handed it (1 GiB: 0.5-0.7 s measured, after a download of about
 * 1.5 s, the bytes' only place on the critical path). Asked now and then while the
 * download goes on (an fdatasync per window, on its own thread, so that the writer
 * never waits for it), the disk writes while the network and the hashers work, and the
 * last fsync finds only the last window left.
 *
 * A flush's error is kept and returned by petrel_flusher_stop: an fdatasync that failed
 * may have consumed the file's error, so that a later fsync of the same file returns 0.
 */
struct petrel_flusher;

/* Starts the thread for fd (borrowed; open until petrel_flusher_stop returned).
 * 0, -ENOMEM or -errno of pthread_create. */
int petrel_flusher_new(struct petrel_flusher **out, int fd);
/* Asks for one more fdatasync of fd; does not wait. Requests made before the flusher
 * took the last one (while a flush runs, say) are served by one flush. */
void petrel_flusher_kick(struct petrel_flusher *f);
/* Waits until every flush asked for was made, joins the thread and frees f. The first
 * flush's error (-errno), else 0. NULL is a no-op (0). */
int petrel_flusher_stop(struct petrel_flusher *f);

#endif
