/* Running the operator's programs: orchestrator adapters, health checks, preflight. */
#ifndef PETREL_RUN_H
#define PETREL_RUN_H

#include <sys/types.h>
#include <stddef.h>
#include "common/error.h"

#define PETREL_RUN_ENV_MAX 16	/* extra environment entries */
#define PETREL_RUN_OUTPUT_MAX 4096	/* bytes of the child's output kept for messages */

struct petrel_run_result {
	int exited;		/* 1: exit status valid */
	int status;		/* exit status */
	int signaled;		/* 1: killed by signal sig */
	int sig;
	int timed_out;		/* 1: killed by us after the timeout */
	int cancelled;		/* 1: killed by us because petrel is stopping */
	char output[PETREL_RUN_OUTPUT_MAX + 1];	/* the last bytes of stdout+stderr, NUL-terminated */
};

/*
 * Runs argv[0] (an executable path, no shell, no PATH search when it contains '/')
 * with argv, the current environment plus env ("NAME=value" strings, at most
 * PETREL_RUN_ENV_MAX), stdin from /dev/null, stdout and stderr captured (the last
 * PETREL_RUN_OUTPUT_MAX bytes kept) and also passed through to our stderr when
 * flags has PETREL_RUN_PASSTHROUGH. The child runs in its own process group; after
 * timeout seconds the group gets SIGTERM, then SIGKILL 2 s later. With
 * PETREL_RUN_CANCELLABLE the same happens as soon as petrel_cancelled() (for steps
 * that only observe, like a health check; never for the orchestrator).
 * Returns 0 when the child ran (whatever its status: see res), or -errno when it
 * could not be started (the message names argv[0] and the reason).
 * petrel_run_ok(res) is 1 for exit status 0.
 */
#define PETREL_RUN_PASSTHROUGH 1
#define PETREL_RUN_CANCELLABLE 2

int petrel_run(const char *const *argv, const char *const *env, size_t nenv, long timeout,
	       int flags, struct petrel_run_result *res, struct petrel_err *err);

/*
 * petrel_run, telling started(ctx, pid) the child's pid (its process group) before the
 * child runs anything: the child waits for the go that follows a 0 return, so a caller
 * that records the pid (for the recovery after a crash) never has a child it did not
 * record. A negative return from started is returned, and the child exits unrun.
 */
typedef int (*petrel_run_started)(void *ctx, pid_t pid);
int petrel_run_ex(const char *const *argv, const char *const *env, size_t nenv, long timeout,
		  int flags, petrel_run_started started, void *ctx, struct petrel_run_result *res, struct petrel_err *err);
int petrel_run_ok(const struct petrel_run_result *res);
/* "exit status 3", "killed by signal 9", "timed out after 5 s" into out. */
void petrel_run_describe(const struct petrel_run_result *res, long timeout, char *out, size_t n);

/*
 * The operator's command line (orchestrator, health, preflight) split into words as a
 * shell would, without expanding anything: blanks separate, '...' and "..." group, a
 * backslash escapes (in "..." only before " \ $ `). extra is appended. No shell runs it.
 */
#define PETREL_ARGV_MAX 32
struct petrel_argv {
	char buf[4096 + 64];
	const char *v[PETREL_ARGV_MAX + 1];	/* NULL-terminated */
	size_t n;
};
/* 0, -EINVAL (no word, or a quote left open), -E2BIG (too many or too long). */
int petrel_argv_split(struct petrel_argv *a, const char *cmd, const char *const *extra,
		      size_t nextra);
/* A command line the configuration names (what: "health", ...) is usable: it splits, and
 * its program is an absolute path to an executable regular file. 0 or -PETREL_ECONFIG. */
int petrel_argv_check(const char *what, const char *cmd, struct petrel_err *err);

#endif
