/* Unit tests for deploy/run.c: exit statuses, signals, timeouts, environment, capture, start failures. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "deploy/run.h"

/* The err of the calls under test; reset where a test needs a fresh one. */
static struct petrel_err terr;

static struct petrel_run_result res;	/* large: keep it off the stack */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs /bin/sh -c script with a 10 s limit (unless given), no passthrough. */
static int sh(const char *script, long timeout)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };

	return petrel_run(argv, NULL, 0, timeout, 0, &res, &terr);
}

static void describe_is(long timeout, const char *want)
{
	char d[64];

	petrel_run_describe(&res, timeout, d, sizeof(d));
	assert_string_equal(d, want);
}

/* 1 when pid no longer runs (gone, or a zombie waiting for its new parent). */
static int process_gone(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* "pid (comm) S ..." */
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static int wait_gone(pid_t pid, double seconds)
{
	double end = now_s() + seconds;

	while (now_s() < end) {
		if (process_gone(pid))
			return 1;
		usleep(20000);
	}
	return process_gone(pid);
}

static void tmp_path(char *out, size_t n, const char *name)
{
	const char *d = getenv("TMPDIR");

	snprintf(out, n, "%s/petrel-test-run.%d.%s", d && *d ? d : "/tmp", (int)getpid(), name);
}

/* ---------------------------------------------------------------- statuses */

static void test_exit_zero(void **state)
{
	(void)state;
	assert_int_equal(sh("exit 0", 10), 0);
	assert_true(res.exited);
	assert_int_equal(res.status, 0);
	assert_false(res.signaled);
	assert_false(res.timed_out);
	assert_true(petrel_run_ok(&res));
	describe_is(10, "exit status 0");
}

static void test_exit_three(void **state)
{
	(void)state;
	assert_int_equal(sh("echo failing; exit 3", 10), 0);
	assert_true(res.exited);
	assert_int_equal(res.status, 3);
	assert_false(petrel_run_ok(&res));
	assert_string_equal(res.output, "failing\n");
	describe_is(10, "exit status 3");
}

static void test_signal(void **state)
{
	(void)state;
	assert_int_equal(sh("kill -9 $$", 10), 0);
	assert_false(res.exited);
	assert_true(res.signaled);
	assert_int_equal(res.sig, 9);
	assert_false(res.timed_out);
	assert_false(petrel_run_ok(&res));
	describe_is(10, "killed by signal 9");
}

static void test_path_search(void **state)
{
	const char *argv[] = { "sh", "-c", "echo found", NULL };

	(void)state;
	assert_int_equal(petrel_run(argv, NULL, 0, 10, 0, &res, &terr), 0);
	assert_true(petrel_run_ok(&res));
	assert_string_equal(res.output, "found\n");
}

/* ---------------------------------------------------------------- timeouts */

/* The child and a grandchild in the background: both die, within about 1 s. */
static void test_timeout_kills_group(void **state)
{
	char pids[256], script[1024];
	pid_t child = 0, grandchild = 0;
	double t0, took;
	FILE *f;

	(void)state;
	tmp_path(pids, sizeof(pids), "pids");
	unlink(pids);
	snprintf(script, sizeof(script),
		 "echo $$ >%s; sh -c 'sleep 30 & echo $! >>%s; wait'", pids, pids);
	t0 = now_s();
	assert_int_equal(sh(script, 1), 0);
	took = now_s() - t0;
	assert_true(took >= 0.9);
	assert_true(took < 4.0);
	assert_true(res.timed_out);
	assert_false(petrel_run_ok(&res));
	describe_is(1, "timed out after 1 s");
	assert_non_null(f = fopen(pids, "r"));
	assert_int_equal(fscanf(f, "%d %d", &child, &grandchild), 2);
	fclose(f);
	unlink(pids);
	assert_true(child > 1 && grandchild > 1);
	assert_true(wait_gone(child, 1.0));
	assert_true(wait_gone(grandchild, 1.0));
}

/* A child that ignores SIGTERM gets SIGKILL 2 s later. */
static void test_timeout_escalates(void **state)
{
	double t0, took;

	(void)state;
	t0 = now_s();
	assert_int_equal(sh("trap '' TERM; while :; do sleep 0.1; done", 1), 0);
	took = now_s() - t0;
	assert_true(took >= 2.5);
	assert_true(took < 5.0);
	assert_true(res.timed_out);
	assert_true(res.signaled);
	assert_int_equal(res.sig, 9);
	describe_is(1, "timed out after 1 s");
}

/* A background process that keeps our pipe open does not hold us once the child exits. */
static void test_background_does_not_block(void **state)
{
	char pids[256], script[1024];
	pid_t bg = 0;
	double t0;
	FILE *f;

	(void)state;
	tmp_path(pids, sizeof(pids), "bg");
	snprintf(script, sizeof(script), "sleep 30 & echo $! >%s; echo started", pids);
	t0 = now_s();
	assert_int_equal(sh(script, 20), 0);
	assert_true(now_s() - t0 < 2.0);
	assert_true(petrel_run_ok(&res));
	assert_string_equal(res.output, "started\n");
	assert_non_null(f = fopen(pids, "r"));
	assert_int_equal(fscanf(f, "%d", &bg), 1);
	fclose(f);
	unlink(pids);
	assert_true(bg > 1);
	kill(bg, SIGKILL);
}

/* ---------------------------------------------------------------- environment, stdin */

static void test_env_passed(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", "printf '%s|%s' \"$PETREL_X\" \"$PETREL_Y\"", NULL };
	const char *env[] = { "PETREL_X=hello world", "PETREL_Y=" };

	(void)state;
	setenv("PETREL_X", "from the parent", 1);
	assert_int_equal(petrel_run(argv, env, 2, 10, 0, &res, &terr), 0);
	unsetenv("PETREL_X");
	assert_true(petrel_run_ok(&res));
	assert_string_equal(res.output, "hello world|");
}

static void test_env_inherited(void **state)
{
	(void)state;
	setenv("PETREL_INHERITED", "yes", 1);
	assert_int_equal(sh("printf %s \"$PETREL_INHERITED\"", 10), 0);
	unsetenv("PETREL_INHERITED");
	assert_string_equal(res.output, "yes");
}

static void test_env_limits(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", "exit 0", NULL };
	const char *env[PETREL_RUN_ENV_MAX + 1];
	const char *bad[] = { "NOEQUALS" };

	(void)state;
	for (size_t i = 0; i < PETREL_RUN_ENV_MAX + 1; i++)
		env[i] = "A=b";
	petrel_err_reset(&terr);
	assert_int_equal(petrel_run(argv, env, PETREL_RUN_ENV_MAX + 1, 10, 0, &res, &terr), -E2BIG);
	petrel_err_reset(&terr);
	assert_int_equal(petrel_run(argv, env, PETREL_RUN_ENV_MAX, 10, 0, &res, &terr), 0);
	assert_int_equal(petrel_run(argv, bad, 1, 10, 0, &res, &terr), -EINVAL);
	assert_non_null(strstr(terr.msg, "NOEQUALS"));
	petrel_err_reset(&terr);
}

static void test_stdin_devnull(void **state)
{
	(void)state;
	assert_int_equal(sh("if read x; then echo got \"$x\"; else echo eof; fi; "
			    "readlink /proc/$$/fd/0", 10), 0);
	assert_string_equal(res.output, "eof\n/dev/null\n");
}

/* ---------------------------------------------------------------- output */

static void test_output_both_streams(void **state)
{
	(void)state;
	assert_int_equal(sh("echo out; echo err >&2; echo out2", 10), 0);
	assert_string_equal(res.output, "out\nerr\nout2\n");
}

/* 2000 lines of "%05d\n" (12000 bytes): the last PETREL_RUN_OUTPUT_MAX bytes are kept. */
static void test_output_keeps_tail(void **state)
{
	static char want[12001];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(want + n, sizeof(want) - n, "%05d\n", i);
	assert_int_equal(n, 12000);
	assert_int_equal(sh("i=0; while [ $i -lt 2000 ]; do printf '%05d\\n' $i; i=$((i+1)); done",
			    20), 0);
	assert_true(petrel_run_ok(&res));
	assert_int_equal(strlen(res.output), PETREL_RUN_OUTPUT_MAX);
	assert_memory_equal(res.output, want + n - PETREL_RUN_OUTPUT_MAX, PETREL_RUN_OUTPUT_MAX);
}

/* One write bigger than the whole buffer. */
static void test_output_big_write(void **state)
{
	(void)state;
	assert_int_equal(sh("head -c 100000 /dev/zero | tr '\\0' a; printf END", 20), 0);
	assert_int_equal(strlen(res.output), PETREL_RUN_OUTPUT_MAX);
	assert_memory_equal(res.output + PETREL_RUN_OUTPUT_MAX - 4, "aEND", 4);
}

static void test_passthrough(void **state)
{
	const char *argv[] = { "/bin/sh", "-c", "echo to-stderr >&2; echo to-stdout", NULL };
	char path[256], buf[128];
	int saved, fd;
	ssize_t n;

	(void)state;
	tmp_path(path, sizeof(path), "stderr");
	fflush(stderr);
	assert_true((saved = dup(2)) >= 0);
	assert_true((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0);
	dup2(fd, 2);
	assert_int_equal(petrel_run(argv, NULL, 0, 10, 1, &res, &terr), 0);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, "to-stderr\nto-stdout\n");
	assert_string_equal(res.output, "to-stderr\nto-stdout\n");
}

/* ---------------------------------------------------------------- start failures */

static void test_nonexistent(void **state)
{
	const char *argv[] = { "/nonexistent/petrel-adapter", "upgrade", NULL };
	const char *bare[] = { "petrel-no-such-program-here", NULL };

	(void)state;
	petrel_err_reset(&terr);
	assert_int_equal(petrel_run(argv, NULL, 0, 10, 0, &res, &terr), -ENOENT);
	assert_string_equal(terr.msg,
			    "/nonexistent/petrel-adapter: No such file or directory");
	assert_false(petrel_run_ok(&res));
	petrel_err_reset(&terr);
	assert_int_equal(petrel_run(bare, NULL, 0, 10, 0, &res, &terr), -ENOENT);
	assert_non_null(strstr(terr.msg, "petrel-no-such-program-here: "));
	petrel_err_reset(&terr);
}

static void test_not_executable(void **state)
{
	char path[256], msg[512];
	const char *argv[] = { path, NULL };
	int fd;

	(void)state;
	tmp_path(path, sizeof(path), "noexec");
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
	close(fd);
	petrel_err_reset(&terr);
	assert_int_equal(petrel_run(argv, NULL, 0, 10, 0, &res, &terr), -EACCES);
	snprintf(msg, sizeof(msg), "%s: Permission denied", path);
	assert_string_equal(terr.msg, msg);
	petrel_err_reset(&terr);
	unlink(path);
}

static void test_no_program(void **state)
{
	const char *argv[] = { NULL };

	(void)state;
	petrel_err_reset(&terr);
	assert_int_equal(petrel_run(argv, NULL, 0, 10, 0, &res, &terr), -EINVAL);
	petrel_err_reset(&terr);
}

/* A descriptor opened without O_CLOEXEC (by some library, say) does not leak into the child. */
/* started: records the pid and whether the child had run anything yet. */
struct start_probe {
	pid_t pid;
	int marker_existed;
	const char *marker;
	int fail;
};

static int on_started(void *ctx, pid_t pid)
{
	struct start_probe *p = ctx;

	usleep(200 * 1000);	/* a child that did not wait would have run by now */
	p->pid = pid;
	p->marker_existed = access(p->marker, F_OK) == 0;
	return p->fail ? -EIO : 0;
}

static void test_started_before_run(void **state)
{
	char marker[256], script[512];
	struct start_probe p = { 0 };
	const char *argv[] = { "/bin/sh", "-c", script, NULL };

	(void)state;
	tmp_path(marker, sizeof(marker), "started");
	unlink(marker);
	snprintf(script, sizeof(script), "echo $$ >'%s'", marker);
	p.marker = marker;
	assert_int_equal(petrel_run_ex(argv, NULL, 0, 10, 0, on_started, &p, &res, &terr), 0);
	assert_true(petrel_run_ok(&res));
	assert_true(p.pid > 0);
	assert_false(p.marker_existed);		/* it waited for the go */
	assert_int_equal(access(marker, F_OK), 0);	/* and then ran */
	unlink(marker);
}

static void test_started_fails_nothing_runs(void **state)
{
	char marker[256], script[512];
	struct start_probe p = { .fail = 1 };
	const char *argv[] = { "/bin/sh", "-c", script, NULL };

	(void)state;
	tmp_path(marker, sizeof(marker), "never");
	unlink(marker);
	snprintf(script, sizeof(script), "echo ran >'%s'", marker);
	p.marker = marker;
	assert_int_equal(petrel_run_ex(argv, NULL, 0, 10, 0, on_started, &p, &res, &terr), -EIO);
	usleep(100 * 1000);
	assert_int_equal(access(marker, F_OK), -1);	/* the child exited unrun */
	assert_int_equal(kill(p.pid, 0), -1);		/* and was reaped */
}

static void test_no_fd_leak(void **state)
{
	char want[32];
	int fd, high;

	(void)state;
	assert_true((fd = open("/dev/null", O_RDONLY)) >= 0);	/* deliberately not CLOEXEC */
	assert_true((high = fcntl(fd, F_DUPFD, 100)) >= 100);
	close(fd);
	assert_int_equal(sh("printf ' '; for f in /proc/$$/fd/*; do printf '%s ' \"${f##*/}\"; done", 10), 0);
	close(high);
	assert_memory_equal(res.output, " 0 1 2 ", 7);
	snprintf(want, sizeof(want), " %d ", high);
	assert_null(strstr(res.output, want));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_zero),
		cmocka_unit_test(test_started_before_run),
		cmocka_unit_test(test_started_fails_nothing_runs),
		cmocka_unit_test(test_exit_three),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_path_search),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_timeout_escalates),
		cmocka_unit_test(test_background_does_not_block),
		cmocka_unit_test(test_env_passed),
		cmocka_unit_test(test_env_inherited),
		cmocka_unit_test(test_env_limits),
		cmocka_unit_test(test_stdin_devnull),
		cmocka_unit_test(test_output_both_streams),
		cmocka_unit_test(test_output_keeps_tail),
		cmocka_unit_test(test_output_big_write),
		cmocka_unit_test(test_passthrough),
		cmocka_unit_test(test_nonexistent),
		cmocka_unit_test(test_not_executable),
		cmocka_unit_test(test_no_program),
		cmocka_unit_test(test_no_fd_leak),
	};

	return cmocka_run_group_tests_name("run", tests, NULL, NULL);
}
