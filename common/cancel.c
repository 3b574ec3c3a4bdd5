/* Cancellation flag, the tick hook and a sleep that both can interrupt. */
#include <errno.h>
#include <time.h>

#include "cancel.h"

volatile sig_atomic_t petrel_cancel_flag;
void (*petrel_tick_hook)(void);

void petrel_tick(void)
{
	if (petrel_tick_hook)
		petrel_tick_hook();
}

int petrel_sleep_ms(long ms)
{
	while (ms > 0) {
		long slice = ms < 100 ? ms : 100;
		struct timespec ts = { 0, slice * 1000L * 1000L };

		if (petrel_cancelled())
			return -ECANCELED;
		nanosleep(&ts, NULL);	/* EINTR: the loop re-checks the flag */
		ms -= slice;
		if (ms % 1000 < 100)
			petrel_tick();
	}
	return petrel_cancelled() ? -ECANCELED : 0;
}
