/* Fan-out of a byte stream to consumer threads through a ring of fixed slots. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"

struct slot {
	char data[PETREL_FANOUT_SLOT];
	size_t len;
	unsigned pending;	/* consumers yet to process this slot */
};

struct consumer {
	struct petrel_fanout *f;
	petrel_consume_fn fn;
	void *ctx;
	unsigned long next;	/* sequence number of the next slot to consume */
	pthread_t thread;
};

struct petrel_fanout {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* any change: a slot published, released, or the end */
	struct slot slots[PETREL_FANOUT_SLOTS];
	unsigned long published;	/* slots handed to consumers so far */
	unsigned long released;		/* slots every consumer finished, in order */
	int done;			/* no more slots will be published */
	int err;			/* first consumer error */
	int finished, started;
	size_t n;
	struct consumer c[PETREL_FANOUT_MAX];
};

static void *consume(void *arg)
{
	struct consumer *c = arg;
	struct petrel_fanout *f = c->f;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		while (c->next == f->published && !f->done)
			pthread_cond_wait(&f->cond, &f->lock);
		if (c->next == f->published)
			break;
		struct slot *s = &f->slots[c->next % PETREL_FANOUT_SLOTS];
		int skip = f->err != 0;	/* after an error, drain without work */
		pthread_mutex_unlock(&f->lock);
		int r = skip ? 0 : c->fn(c->ctx, s->data, s->len);
		pthread_mutex_lock(&f->lock);
		if (r && !f->err)
			f->err = r;
		c->next++;
		if (--s->pending == 0) {
			while (f->released < f->published &&
			       f->slots[f->released % PETREL_FANOUT_SLOTS].pending == 0)
				f->slots[f->released++ % PETREL_FANOUT_SLOTS].len = 0;
			pthread_cond_broadcast(&f->cond);
		}
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int petrel_fanout_new(struct petrel_fanout **out, size_t n, const petrel_consume_fn *fns,
		      void *const *ctxs)
{
	struct petrel_fanout *f;
	int r;

	if (n == 0 || n > PETREL_FANOUT_MAX)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	for (size_t i = 0; i < n; i++) {
		f->c[i] = (struct consumer){ .f = f, .fn = fns[i], .ctx = ctxs[i] };
		if ((r = pthread_create(&f->c[i].thread, NULL, consume, &f->c[i])) != 0) {
			petrel_fanout_free(f);
			return -r;
		}
		f->n = i + 1;
	}
	f->started = 1;
	*out = f;
	return 0;
}

/* The slot being filled: the one after the last published, once it is free. */
static struct slot *current(struct petrel_fanout *f)
{
	while (f->published - f->released == PETREL_FANOUT_SLOTS && !f->err)
		pthread_cond_wait(&f->cond, &f->lock);
	return &f->slots[f->published % PETREL_FANOUT_SLOTS];
}

static void publish(struct petrel_fanout *f, struct slot *s)
{
	s->pending = (unsigned)f->n;
	f->published++;
	pthread_cond_broadcast(&f->cond);
}

int petrel_fanout_write(struct petrel_fanout *f, const void *p, size_t n)
{
	const char *c = p;
	int r;

	pthread_mutex_lock(&f->lock);
	while (n > 0 && !f->err) {
		struct slot *s = current(f);
		size_t take = PETREL_FANOUT_SLOT - s->len;

		if (f->err)
			break;
		if (take > n)
			take = n;
		pthread_mutex_unlock(&f->lock);	/* only the producer touches an unpublished slot */
		memcpy(s->data + s->len, c, take);
		pthread_mutex_lock(&f->lock);
		s->len += take;
		c += take;
		n -= take;
		if (s->len == PETREL_FANOUT_SLOT)
			publish(f, s);
	}
	r = f->err;
	pthread_mutex_unlock(&f->lock);
	return r;
}

static void stop(struct petrel_fanout *f)
{
	pthread_mutex_lock(&f->lock);
	f->done = 1;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	for (size_t i = 0; i < f->n; i++)
		pthread_join(f->c[i].thread, NULL);
	f->n = 0;
	f->finished = 1;
}

int petrel_fanout_finish(struct petrel_fanout *f)
{
	pthread_mutex_lock(&f->lock);
	struct slot *s = current(f);
	if (s->len > 0 && !f->err)
		publish(f, s);
	pthread_mutex_unlock(&f->lock);
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
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
