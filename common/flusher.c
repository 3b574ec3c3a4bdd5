/* A background fdatasync thread for a file being written. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "flusher.h"
#include "fs.h"

struct petrel_flusher {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	int fd;
	int asked;	/* a flush was asked for since the last one began */
	int stopping;
	int err;	/* the first flush's error */
};

static void *flush_loop(void *arg)
{
	struct petrel_flusher *f = arg;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		int r;

		while (!f->asked && !f->stopping)
			pthread_cond_wait(&f->wake, &f->lock);
		if (!f->asked)	/* stopping, and every flush asked for was made */
			break;
		f->asked = 0;
		pthread_mutex_unlock(&f->lock);
		r = petrel_flush(f->fd);
		pthread_mutex_lock(&f->lock);
		if (r < 0 && !f->err)
			f->err = r;
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int petrel_flusher_new(struct petrel_flusher **out, int fd)
{
	struct petrel_flusher *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	f->fd = fd;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	if ((r = pthread_create(&f->thread, NULL, flush_loop, f)) != 0) {
		pthread_cond_destroy(&f->wake);
		pthread_mutex_destroy(&f->lock);
		free(f);
		return -r;
	}
	*out = f;
	return 0;
}

void petrel_flusher_kick(struct petrel_flusher *f)
{
	pthread_mutex_lock(&f->lock);
	f->asked = 1;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

int petrel_flusher_stop(struct petrel_flusher *f)
{
	int r;

	if (!f)
		return 0;
	pthread_mutex_lock(&f->lock);
	f->stopping = 1;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	r = f->err;
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return r;
}
