/* Fan-out of a byte stream to consumer threads through a ring of fixed slots. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"

struct consumer {
	struct petrel_fanout *f;
	petrel_consume_fn fn;
	void *ctx;
	unsigned long next;	/* sequence number of the next slot to consume */
	pthread_t thread;
};

/*
 * Slot k (sequence number) lives at ring[k % SLOTS]. The producer fills one slot at a
 * time outside the lock (no one else touches a slot before it is published) and takes
 * the lock once per slot, not once per write: curl hands over a few KiB to 512 KiB at a
 * time. Consumers and the producer each sleep on their own condition, woken only when
 * someone sleeps there.
 */
struct petrel_fanout {
	pthread_mutex_t lock;
	pthread_cond_t more;	/* for consumers: a slot published, or the end */
	pthread_cond_t room;	/* for the producer: a slot released, or an error */
	unsigned char *ring;	/* PETREL_FANOUT_SLOTS * PETREL_FANOUT_SLOT bytes */
	size_t len[PETREL_FANOUT_SLOTS];
	unsigned pending[PETREL_FANOUT_SLOTS];	/* consumers yet to process the slot */
	unsigned long published;	/* slots handed to consumers so far */
	unsigned long released;		/* slots every consumer finished (in order) */
	unsigned sleepers;		/* consumers waiting on more */
	int producer_sleeps;		/* the producer waits on room */
	int done;			/* no more slots will be published */
	int err;			/* first consumer error */
	int finished;
	/* the producer's, outside the lock: the slot being filled */
	unsigned char *fill;		/* NULL when none is held */
	size_t filled;
	size_t n;
	struct consumer c[PETREL_FANOUT_MAX];
};

/* Under the lock: the consumer's next slot is published, or the stream ended (0). */
static int wait_slot(struct consumer *c, struct petrel_fanout *f)
{
	while (c->next == f->published && !f->done) {
		f->sleepers++;
		pthread_cond_wait(&f->more, &f->lock);
		f->sleepers--;
	}
	return c->next != f->published;
}

/* Under the lock: c is done with its slot; the last consumer of it frees it. */
static void done_slot(struct consumer *c, struct petrel_fanout *f, int r)
{
	unsigned i = (unsigned)(c->next++ % PETREL_FANOUT_SLOTS);

	if (r && !f->err) {
		f->err = r;
		pthread_cond_broadcast(&f->more);	/* the others skip what is left */
		pthread_cond_signal(&f->room);
	}
	/* each consumer goes in order, so slots are finished in order too */
	if (--f->pending[i] == 0) {
		f->released++;
		if (f->producer_sleeps)
			pthread_cond_signal(&f->room);
	}
}

static void *consume(void *arg)
{
	struct consumer *c = arg;
	struct petrel_fanout *f = c->f;

	pthread_mutex_lock(&f->lock);
	while (wait_slot(c, f)) {
		unsigned i = (unsigned)(c->next % PETREL_FANOUT_SLOTS);
		int skip = f->err != 0;	/* after an error, drain without work */
		int r;

		pthread_mutex_unlock(&f->lock);
		r = skip ? 0 : c->fn(c->ctx, f->ring + (size_t)i * PETREL_FANOUT_SLOT, f->len[i]);
		pthread_mutex_lock(&f->lock);
		done_slot(c, f, r);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

static int fanout_alloc(struct petrel_fanout **out)
{
	struct petrel_fanout *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	/* page-aligned (fanout.h): a slot can be written with O_DIRECT as it is */
	f->ring = aligned_alloc(4096, (size_t)PETREL_FANOUT_SLOTS * PETREL_FANOUT_SLOT);
	if (!f->ring) {
		free(f);
		return -ENOMEM;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->more, NULL);
	pthread_cond_init(&f->room, NULL);
	*out = f;
	return 0;
}

int petrel_fanout_new(struct petrel_fanout **out, size_t n, const petrel_consume_fn *fns,
		      void *const *ctxs)
{
	struct petrel_fanout *f;
	int r;

	if (n == 0 || n > PETREL_FANOUT_MAX)
		return -EINVAL;
	if ((r = fanout_alloc(&f)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		f->c[i] = (struct consumer){ .f = f, .fn = fns[i], .ctx = ctxs[i] };
		if ((r = pthread_create(&f->c[i].thread, NULL, consume, &f->c[i])) != 0) {
			petrel_fanout_free(f);
			return -r;
		}
		f->n = i + 1;
	}
	*out = f;
	return 0;
}

/* Takes the next slot for filling, once every consumer is done with it. 0 or the first
 * consumer error. */
static int take_slot(struct petrel_fanout *f)
{
	int r;

	pthread_mutex_lock(&f->lock);
	while (f->published - f->released == PETREL_FANOUT_SLOTS && !f->err) {
		f->producer_sleeps = 1;
		pthread_cond_wait(&f->room, &f->lock);
		f->producer_sleeps = 0;
	}
	r = f->err;
	pthread_mutex_unlock(&f->lock);
	if (r == 0) {
		f->fill = f->ring + (size_t)(f->published % PETREL_FANOUT_SLOTS) * PETREL_FANOUT_SLOT;
		f->filled = 0;
	}
	return r;
}

/* Hands the slot being filled to the consumers. 0 or the first consumer error. */
static int publish(struct petrel_fanout *f)
{
	unsigned i = (unsigned)(f->published % PETREL_FANOUT_SLOTS);
	int r;

	pthread_mutex_lock(&f->lock);
	f->len[i] = f->filled;
	f->pending[i] = (unsigned)f->n;
	f->published++;
	if (f->sleepers)
		pthread_cond_broadcast(&f->more);
	r = f->err;
	pthread_mutex_unlock(&f->lock);
	f->fill = NULL;
	return r;
}

int petrel_fanout_write(struct petrel_fanout *f, const void *p, size_t n)
{
	const unsigned char *c = p;
	int r;

	while (n > 0) {
		size_t take;

		if (!f->fill && (r = take_slot(f)) != 0)
			return r;
		take = PETREL_FANOUT_SLOT - f->filled;
		if (take > n)
			take = n;
		memcpy(f->fill + f->filled, c, take);
		f->filled += take;
		c += take;
		n -= take;
		if (f->filled == PETREL_FANOUT_SLOT && (r = publish(f)) != 0)
			return r;
	}
	return 0;
}

static void stop(struct petrel_fanout *f)
{
	pthread_mutex_lock(&f->lock);
	f->done = 1;
	pthread_cond_broadcast(&f->more);
	pthread_mutex_unlock(&f->lock);
	for (size_t i = 0; i < f->n; i++)
		pthread_join(f->c[i].thread, NULL);
	f->n = 0;
	f->finished = 1;
}

int petrel_fanout_finish(struct petrel_fanout *f)
{
	if (f->fill && f->filled > 0)
		publish(f);	/* a consumer's error is read below, after the join */
	stop(f);
	return f->err;
}

void petrel_fanout_free(struct petrel_fanout *f)
{
	if (!f)
		return;
	if (!f->finished) {
		pthread_mutex_lock(&f->lock);
		if (!f->err)
			f->err = -ECANCELED;	/* consumers skip what is left */
		pthread_mutex_unlock(&f->lock);
		stop(f);
	}
	pthread_cond_destroy(&f->room);
	pthread_cond_destroy(&f->more);
	pthread_mutex_destroy(&f->lock);
	free(f->ring);
	free(f);
}
