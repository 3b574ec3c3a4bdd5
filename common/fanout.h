/* A byte stream fanned out to consumers that each run on their own thread. */
#ifndef PETREL_FANOUT_H
#define PETREL_FANOUT_H

#include <stddef.h>

/*
 * Why: a download is received, written to tmp/, SHA-256'd and BLAKE2b'd. Done in
 * sequence on one core that costs several times the bare download; fanned out, the
 * receiver, the SHA-256, the writer and the BLAKE2b run at once. Memory stays constant:
 * PETREL_FANOUT_SLOTS buffers of PETREL_FANOUT_SLOT bytes, whatever the stream size.
 * Each consumer sees every byte, in order, in chunks of exactly PETREL_FANOUT_SLOT but
 * the last: large batches, whatever sizes the producer writes in, so that a hasher
 * works without a pause and the threads meet (take the lock) once per slot. The ring
 * (8 MiB) absorbs a consumer's moment of delay (a writeback, a page fault) without
 * stopping the receiver. Each slot starts on a 4096-byte boundary: a consumer may hand
 * a whole one to an O_DIRECT write.
 */
#define PETREL_FANOUT_SLOT (512 * 1024)
#define PETREL_FANOUT_SLOTS 16
#define PETREL_FANOUT_MAX 4	/* consumers */

typedef int (*petrel_consume_fn)(void *ctx, const void *p, size_t n);

struct petrel_fanout;

/* Starts one thread per consumer. 0, -ENOMEM or -errno of pthread_create. */
int petrel_fanout_new(struct petrel_fanout **out, size_t n, const petrel_consume_fn *fns,
		      void *const *ctxs);
/* Copies p into the stream, blocking while every slot is in use. Returns the first
 * error a consumer returned (the stream is then dead; seen at the latest when the slot
 * being filled is handed over), else 0. Only one thread writes. */
int petrel_fanout_write(struct petrel_fanout *f, const void *p, size_t n);
/* Hands over the last partial slot, waits for every consumer, joins the threads.
 * Returns the first consumer error or 0. Must be called once before _free. */
int petrel_fanout_finish(struct petrel_fanout *f);
/* Frees; if _finish was not called, stops the consumers first (their error ignored). */
void petrel_fanout_free(struct petrel_fanout *f);

#endif
