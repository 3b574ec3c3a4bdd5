/* Running the operator's programs: fork, exec in a fresh process group, capture, time out. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cancel.h"
#include "common/error.h"
#include "common/util.h"
#include "run.h"

extern char **environ;

#define KILL_GRACE_MS 2000	/* SIGTERM to SIGKILL */
#define POLL_SLICE_MS 100	/* how often we look whether the child has exited */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t env_name_len(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq ? (size_t)(eq - s) : strlen(s);
}

/* environ minus the names env overrides, then env; caller frees the array only. */
static int build_envp(const char *const *env, size_t nenv, char ***out, struct petrel_err *err)
{
	size_t n = 0, k = 0;
	char **envp;

	for (size_t i = 0; i < nenv; i++)
		if (!strchr(env[i], '=') || env[i][0] == '=')
			return petrel_fail(err, -EINVAL, "environment entry '%s' is not NAME=value",
					   env[i]);
	while (environ && environ[n])
		n++;
	if (!(envp = calloc(n + nenv + 1, sizeof(*envp))))
		return petrel_fail(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t len = env_name_len(environ[i]), j;

		for (j = 0; j < nenv; j++)
			if (env_name_len(env[j]) == len && !strncmp(env[j], environ[i], len))
				break;
		if (j == nenv)
			envp[k++] = environ[i];
	}
	for (size_t j = 0; j < nenv; j++)
		envp[k++] = (char *)env[j];
	envp[k] = NULL;
	*out = envp;
	return 0;
}

/*
 * The child: only async-signal-safe calls from here to exec. Our descriptors are
 * moved above 2 first, so that dup2 onto 0, 1 and 2 cannot clobber one we still need.
 * On failure errno travels through the CLOEXEC status pipe.
 */
static void child(const char *const *argv, char **envp, int devnull, int outw, int stw,
		  int gor, int gow)
{
	struct sigaction sa;
	sigset_t none;
	int e, nfd, ofd, sfd;
	char go;

	setpgid(0, 0);
	/* with a started callback: wait for the parent's go; a parent that died before
	 * giving it (EOF) means nobody recorded us, so nothing runs */
	if (gor >= 0) {
		ssize_t n;

		close(gow);	/* else our own copy would keep the pipe from ever ending */
		while ((n = read(gor, &go, 1)) < 0 && errno == EINTR)
			;
		if (n != 1)
			_exit(127);
	}
	if ((sfd = fcntl(stw, F_DUPFD_CLOEXEC, 3)) < 0)
		_exit(127);
	if ((nfd = fcntl(devnull, F_DUPFD_CLOEXEC, 3)) < 0 ||
	    (ofd = fcntl(outw, F_DUPFD_CLOEXEC, 3)) < 0 ||
	    dup2(nfd, 0) < 0 || dup2(ofd, 1) < 0 || dup2(ofd, 2) < 0)
		goto fail;
	/* ignored signals and the mask survive exec: the program gets a clean slate */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
#ifdef CLOSE_RANGE_CLOEXEC
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);	/* a leaked fd of a library, not ours */
#endif
	if (strchr(argv[0], '/'))
		execve(argv[0], (char *const *)argv, envp);
	else
		execvpe(argv[0], (char *const *)argv, envp);
fail:
	e = errno;
	while (write(sfd, &e, sizeof(e)) < 0 && errno == EINTR)
		;
	_exit(127);
}

/* Keeps the last PETREL_RUN_OUTPUT_MAX bytes. */
static void keep_tail(struct petrel_run_result *res, size_t *len, const char *p, size_t n)
{
	const size_t max = PETREL_RUN_OUTPUT_MAX;

	if (n >= max) {
		memcpy(res->output, p + (n - max), max);
		*len = max;
		return;
	}
	if (*len + n > max) {
		size_t drop = *len + n - max;

		memmove(res->output, res->output + drop, *len - drop);
		*len -= drop;
	}
	memcpy(res->output + *len, p, n);
	*len += n;
}

static void pass_through(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(2, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* our stderr is gone: the capture still works */
		p += w;
		n -= (size_t)w;
	}
}

/* Reads what is available now. 1 at end of file (or a read error), else 0. */
static int drain(int fd, struct petrel_run_result *res, size_t *len, int passthrough)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			keep_tail(res, len, buf, (size_t)n);
			if (passthrough)
				pass_through(buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return 1;
	}
}

/* 1 when the child has exited (still a zombie, so its pid and group id stay ours). */
static int child_exited(pid_t pid)
{
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
			return si.si_pid == pid;
		if (errno != EINTR)
			return 1;	/* ECHILD: nothing left to wait for */
	}
}

static void fill_status(struct petrel_run_result *res, int st)
{
	if (WIFEXITED(st)) {
		res->exited = 1;
		res->status = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		res->signaled = 1;
		res->sig = WTERMSIG(st);
	}
}

/*
 * Collects output until the child exits, killing its group after the timeout.
 * Output a grandchild writes after the child has exited is not waited for.
 */
static void supervise(pid_t pid, int outr, long timeout, int flags,
		      struct petrel_run_result *res)
{
	long long deadline = timeout > 0 ? now_ms() + timeout * 1000LL : 0, kill_at = 0;
	size_t len = 0;
	int eof = 0, st = 0, killed = 0;

	for (;;) {
		struct pollfd p = { .fd = outr, .events = POLLIN };
		long long now = now_ms();
		int wait_ms = POLL_SLICE_MS;

		if (!res->timed_out && ((deadline && now >= deadline) ||
		    ((flags & PETREL_RUN_CANCELLABLE) && petrel_cancelled()))) {
			res->timed_out = 1;
			res->cancelled = !(deadline && now >= deadline);
			kill(-pid, SIGTERM);
			kill_at = now + KILL_GRACE_MS;
		}
		if (res->timed_out && !killed && now >= kill_at) {
			kill(-pid, SIGKILL);
			killed = 1;
		}
		if (child_exited(pid))
			break;
		petrel_tick();	/* a long adapter run must not starve a watchdog */
		if (deadline && !res->timed_out && deadline - now < wait_ms)
			wait_ms = (int)(deadline - now);
		if (res->timed_out && !killed && kill_at - now < wait_ms)
			wait_ms = (int)(kill_at - now);
		if (poll(&p, eof ? 0 : 1, wait_ms < 0 ? 0 : wait_ms) > 0)
			eof = drain(outr, res, &len, flags & PETREL_RUN_PASSTHROUGH);
	}
	if (!eof)
		drain(outr, res, &len, flags & PETREL_RUN_PASSTHROUGH);
	/* the child is a zombie: its group id cannot have been reused yet */
	if (res->timed_out && !killed)
		kill(-pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	fill_status(res, st);
	res->output[len] = '\0';
}

/* 0 when exec succeeded, else the child's errno (the child is then reaped). */
static int exec_status(pid_t pid, int str)
{
	int e = 0, st;
	ssize_t n;

	while ((n = read(str, &e, sizeof(e))) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(e))
		return 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return e ? e : EIO;
}

int petrel_run_ex(const char *const *argv, const char *const *env, size_t nenv, long timeout,
		  int flags, petrel_run_started started, void *ctx, struct petrel_run_result *res, struct petrel_err *err)
{
	int outp[2] = { -1, -1 }, stp[2] = { -1, -1 }, gop[2] = { -1, -1 }, devnull = -1, r, e;
	char **envp = NULL;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	if (!argv || !argv[0] || !argv[0][0])
		return petrel_fail(err, -EINVAL, "no program to run");
	if (nenv > PETREL_RUN_ENV_MAX)
		return petrel_fail(err, -E2BIG, "%s: more than %d environment entries", argv[0],
				   PETREL_RUN_ENV_MAX);
	if ((r = build_envp(env, nenv, &envp, err)) < 0)
		return r;
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(stp, O_CLOEXEC) < 0 ||
	    (started && pipe2(gop, O_CLOEXEC) < 0) ||
	    (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		r = petrel_fail(err, -errno, "%s: %s", argv[0], strerror(errno));
		goto out;
	}
	if ((pid = fork()) < 0) {
		r = petrel_fail(err, -errno, "%s: fork: %s", argv[0], strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(argv, envp, devnull, outp[1], stp[1], gop[0], gop[1]);
	setpgid(pid, pid);	/* also here: no window where a kill(-pid) would miss */
	close(outp[1]);
	close(stp[1]);
	outp[1] = stp[1] = -1;
	if (started) {
		close(gop[0]);
		gop[0] = -1;
		if ((r = started(ctx, pid)) < 0) {
			close(gop[1]);	/* EOF: the child exits without running anything */
			gop[1] = -1;
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			goto out;
		}
		(void)!write(gop[1], "g", 1);
	}
	if ((e = exec_status(pid, stp[0])) != 0) {
		r = petrel_fail(err, -e, "%s: %s", argv[0], strerror(e));
		goto out;
	}
	fcntl(outp[0], F_SETFL, fcntl(outp[0], F_GETFL) | O_NONBLOCK);
	supervise(pid, outp[0], timeout, flags, res);
	r = 0;
out:
	e = errno;
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (stp[i] >= 0)
			close(stp[i]);
		if (gop[i] >= 0)
			close(gop[i]);
	}
	if (devnull >= 0)
		close(devnull);
	free(envp);
	errno = e;
	return r;
}

int petrel_run(const char *const *argv, const char *const *env, size_t nenv, long timeout,
	       int flags, struct petrel_run_result *res, struct petrel_err *err)
{
	return petrel_run_ex(argv, env, nenv, timeout, flags, NULL, NULL, res, err);
}

int petrel_run_ok(const struct petrel_run_result *res)
{
	return res->exited && res->status == 0 && !res->timed_out;
}

void petrel_run_describe(const struct petrel_run_result *res, long timeout, char *out, size_t n)
{
	if (res->cancelled)
		petrel_snprintf(out, n, "interrupted: petrel is stopping");
	else if (res->timed_out)
		petrel_snprintf(out, n, "timed out after %ld s", timeout);
	else if (res->signaled)
		petrel_snprintf(out, n, "killed by signal %d", res->sig);
	else if (res->exited)
		petrel_snprintf(out, n, "exit status %d", res->status);
	else
		petrel_snprintf(out, n, "ended in an unknown way");
}

/* One word of cmd starting at *p into out (size n), as a shell reads it without
 * expanding anything: quotes group, a backslash escapes. 1 word, 0 none left, -EINVAL. */
static int next_word(const char **p, char *out, size_t n)
{
	const char *s = *p + strspn(*p, " \t");
	size_t len = 0;
	char quote = 0;

	if (!*s)
		return 0;
	for (; *s && (quote || (*s != ' ' && *s != '\t')); s++) {
		if (!quote && (*s == '\'' || *s == '"')) {
			quote = *s;
			continue;
		}
		if (quote && *s == quote) {
			quote = 0;
			continue;
		}
		if (*s == '\\' && quote != '\'' && s[1] &&
		    (!quote || strchr("\"\\$`", s[1])))
			s++;
		if (len + 1 >= n)
			return -E2BIG;
		out[len++] = *s;
	}
	if (quote)
		return -EINVAL;
	out[len] = '\0';
	*p = s;
	return 1;
}

int petrel_argv_split(struct petrel_argv *a, const char *cmd, const char *const *extra,
		      size_t nextra)
{
	const char *p = cmd;
	size_t used = 0;
	int r;

	a->n = 0;
	while ((r = next_word(&p, a->buf + used, sizeof(a->buf) - used)) > 0) {
		if (a->n == PETREL_ARGV_MAX)
			return -E2BIG;
		a->v[a->n++] = a->buf + used;
		used += strlen(a->buf + used) + 1;
	}
	if (r < 0)
		return r;
	if (a->n == 0)
		return -EINVAL;
	for (size_t i = 0; i < nextra; i++) {
		if (a->n == PETREL_ARGV_MAX)
			return -E2BIG;
		a->v[a->n++] = extra[i];
	}
	a->v[a->n] = NULL;
	return 0;
}

int petrel_argv_check(const char *what, const char *cmd, struct petrel_err *err)
{
	struct petrel_argv a;
	struct stat st;
	int r = petrel_argv_split(&a, cmd, NULL, 0);

	if (r == -EINVAL)
		return petrel_fail(err, -PETREL_ECONFIG, "%s '%s': %s", what, cmd,
				   cmd[strspn(cmd, " \t")] ? "a quote is not closed" : "empty");
	if (r < 0)
		return petrel_fail(err, -PETREL_ECONFIG, "%s '%s': too many or too long words",
				   what, cmd);
	if (a.v[0][0] != '/')
		return petrel_fail(err, -PETREL_ECONFIG, "%s '%s' must be an absolute path", what,
				   a.v[0]);
	if (stat(a.v[0], &st) < 0)
		return petrel_fail(err, -PETREL_ECONFIG, "%s %s: %s", what, a.v[0], strerror(errno));
	if (!S_ISREG(st.st_mode) || access(a.v[0], X_OK) < 0)
		return petrel_fail(err, -PETREL_ECONFIG, "%s %s: not an executable file", what,
				   a.v[0]);
	return 0;
}
