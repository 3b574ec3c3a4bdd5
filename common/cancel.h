/*
 * Cancellation: a signal handler asks the current operation to stop at its next safe
 * point. Long waits (downloads, lock waits, health-check pauses, child processes that
 * only read) poll petrel_cancelled() and give up with -ECANCELED; steps that must not
 * be cut short (writing the deployed file, the orchestrator adapter) do not look.
 */
#ifndef PETREL_CANCEL_H
#define PETREL_CANCEL_H

#include <signal.h>

extern volatile sig_atomic_t petrel_cancel_flag;

/* Async-signal-safe: only sets the flag. */
static inline void petrel_cancel(void) { petrel_cancel_flag = 1; }
static inline int petrel_cancelled(void) { return petrel_cancel_flag != 0; }

/*
 * Called from long waits about once a second (download progress, sleeps), so a
 * supervisor's watchdog can be fed while petrel is busy. NULL by default.
 */
extern void (*petrel_tick_hook)(void);
void petrel_tick(void);

/* Sleeps ms milliseconds in short slices; -ECANCELED as soon as cancellation is asked. */
int petrel_sleep_ms(long ms);

#endif
