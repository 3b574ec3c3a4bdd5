/*
 * petrel daemon: polls each target's server on its interval and stages or deploys
 * per the target's `auto` policy, through the same engine as the commands.
 *
 * One loop, signals through a self-pipe (s6's way): SIGTERM/SIGINT ask the engine to
 * stop at its next safe point (petrel_cancel: a download is abandoned and its tmp
 * file removed; a health check stops and the switch is rolled back; a running adapter
 * is waited for, then one health check finishes or rolls back), SIGHUP re-reads the
 * configuration. The state directory's lock is taken per cycle, not held while
 * sleeping, so `petrel revert` works while the daemon waits; STATE/daemon.lock keeps
 * a second daemon away.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "cli.h"
#include "common/cancel.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/schedule.h"
#include "common/util.h"
#include "deploy/metrics.h"
#include "deploy/space.h"
#include "output.h"

/* Message slots: what happens to a target, and the freeze warning beside it. */
enum { SLOT_MAIN, SLOT_FROZEN };

/* Per target: when it is due and how its last polls went. */
struct tstate {
	char name[PETREL_NAME_MAX + 1];
	int64_t due;			/* ms, monotonic */
	int64_t not_before;		/* ms, monotonic: a Retry-After's, 0: none */
	int fresh;			/* its first poll is not planned yet (plan_first) */
	int forget_recorded;		/* new or changed at a reload: what a daemon
					 * recorded for it before is not for this */
	unsigned fails;			/* consecutive failures not blamed on the server */
	int failing;			/* the last poll failed */
	int window_wait;		/* a staged build waits for the maintenance window */
	char last[2][320];		/* last message logged for it in each slot (SLOT_*);
					 * a repeat goes to debug */
};

/* Per server: consecutive failures and the backoff they earned. */
struct sstate {
	char name[PETREL_NAME_MAX + 1];
	unsigned fails;
	int64_t until;			/* ms, monotonic: no request before */
};

struct daemon {
	struct petrel_cli *cli;
	struct petrel_config *cfg;	/* the live configuration (cli->cfg or a reload) */
	struct tstate *ts;		/* parallel to cfg->targets */
	struct sstate *ss;		/* parallel to cfg->servers */
	struct petrel_engine engine;	/* kept across cycles: connections stay alive */
	int engine_ready;		/* engine initialised for cfg */
	int lockfd;
	int once;
	const char *metrics;		/* --metrics FILE, written after every cycle */
	int worst;			/* --once: the worst exit status of the cycle */
	json_t *results;		/* --once --json: target name -> what its poll did */
	int at_once;			/* --now: the first polls at once */
	struct petrel_rng rng;		/* for every poll time: seeded from getrandom */
	uint64_t watchdog_usec;		/* 0: no watchdog */
	int64_t fed;			/* last WATCHDOG=1, ms */
};

static int selfpipe[2] = { -1, -1 };
static struct tstate daemon_state = { .name = "daemon" };	/* its own errors, deduplicated */
static volatile sig_atomic_t reload_asked;
static struct daemon *the_daemon;	/* for the tick hook */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
	int e = errno;

	if (sig == SIGHUP)
		reload_asked = 1;
	else
		petrel_cancel();
	(void)!write(selfpipe[1], "x", 1);
	errno = e;
}

static int setup_signals(struct petrel_err *err)
{
	struct sigaction sa;

	if (pipe2(selfpipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return petrel_fail(err, -errno, "self-pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);	/* no SA_RESTART: waits return early */
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGHUP, &sa, NULL) < 0)
		return petrel_fail(err, -errno, "sigaction: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/*
 * One line per event: "petrel: LEVEL TARGET: WHAT[: WHY]". A message equal to the
 * last one logged for the same target in the same slot is demoted to debug, so a
 * target failing (or waiting, or frozen) the same way every cycle does not flood the
 * log; the freeze warning has its own slot so it does not defeat that by alternating
 * with the target's other message.
 */
static void vevent(struct tstate *s, int slot, int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
static void vevent(struct tstate *s, int slot, int level, const char *fmt, va_list ap)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char msg[sizeof(s->last[0])], safe[4 * sizeof(s->last[0])];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (s && !strcmp(msg, s->last[slot]))
		level = PETREL_LOG_DEBUG;
	else if (s)
		petrel_strcpy_whole(s->last[slot], msg, sizeof(s->last[slot]));
	if (level > petrel_log_level)
		return;
	petrel_text_safe(msg, safe, sizeof(safe));	/* it quotes servers */
	fprintf(stderr, "%spetrel: %s %s: %s\n", petrel_log_priority(level), names[level],
		s ? s->name : "daemon", safe);
}

static void event(struct tstate *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void event(struct tstate *s, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vevent(s, SLOT_MAIN, level, fmt, ap);
	va_end(ap);
}

static void frozen_event(struct tstate *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void frozen_event(struct tstate *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vevent(s, SLOT_FROZEN, PETREL_LOG_WARN, fmt, ap);
	va_end(ap);
}

static void notify(const char *what)
{
	if (getenv("NOTIFY_SOCKET"))
		sd_notify(0, what);
}

/* The tick hook: feeds systemd's watchdog at a quarter of its period, also mid-download. */
static void feed_watchdog(void)
{
	struct daemon *d = the_daemon;
	int64_t now = now_ms();

	if (!d || !d->watchdog_usec || now - d->fed < (int64_t)(d->watchdog_usec / 4000))
		return;
	d->fed = now;
	notify("WATCHDOG=1");
}

/* An error of the daemon itself (not of one target): a repeat goes to debug. */
static void daemon_error(const char *msg)
{
	event(&daemon_state, PETREL_LOG_ERROR, "%s", msg);
}

/* Exit statuses from least to most severe, for --once. */
static int severity(int status)
{
	static const int order[] = { PETREL_EXIT_OK, PETREL_EXIT_UPDATE, PETREL_EXIT_SERVER,
				      PETREL_EXIT_REFUSED, PETREL_EXIT_REVERTED, PETREL_EXIT_AUDIT,
				      PETREL_EXIT_FAIL, PETREL_EXIT_USAGE };

	for (size_t i = 0; i < PETREL_ARRAY_SIZE(order); i++)
		if (order[i] == status)
			return (int)i;
	return (int)PETREL_ARRAY_SIZE(order);
}

static void note_status(struct daemon *d, int status)
{
	if (severity(status) > severity(d->worst))
		d->worst = status;
}

/* A wall-clock time (s) as a time on the monotonic clock (ms); 0 stays 0. */
static int64_t mono_of_wall(int64_t wall)
{
	struct timespec ts;

	if (!wall)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	return now_ms() + wall * 1000 - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* When t is polled next (common/schedule.h), after `failures` (PETREL_POLL_START: the
 * first poll; 0: a good poll) and what the last answer's Retry-After said (mono ms);
 * *by_retry (may be NULL): the Retry-After decided it. */
static int64_t next_poll(struct daemon *d, const struct petrel_target *t, int failures,
			 int64_t retry_at, int64_t now, int *by_retry)
{
	struct petrel_poll_plan p = { .now = now, .interval = (int64_t)t->interval * 1000,
				      .backoff_cap = (int64_t)d->cfg->backoff_max * 1000,
				      .failures = failures, .retry_at = retry_at };

	return petrel_next_poll(&p, &d->rng, by_retry);
}

static int minute_of_day(void)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	return tm.tm_hour * 60 + tm.tm_min;
}

/* Milliseconds from now until local time next reads minute-of-day m (at its second 0). */
static int64_t ms_until_minute(int m)
{
	time_t now = time(NULL);
	struct tm tm;
	int64_t in_day;

	localtime_r(&now, &tm);
	in_day = (int64_t)(tm.tm_hour * 60 + tm.tm_min) * 60 + tm.tm_sec;
	return ((((int64_t)m * 60 - in_day) % 86400 + 86400) % 86400) * 1000 + 500;
}

/* What one poll did, for --once --json. */
struct outcome {
	const char *action;	/* "up-to-date", "rejected", "fetched", "held", "upgraded",
				 * "waiting", "reverted" (channel) */
	int have_check, have_staged, have_res;
	struct petrel_check check;	/* the server's newest build against the store */
	struct petrel_version staged;	/* fetched or held: verified, not deployed */
	struct petrel_upgrade_result res;	/* upgraded */
};

/* The build the store holds for the server's newest, or fetched and verified now. */
static int staged(struct petrel_engine *e, const struct petrel_target *t, struct tstate *s,
		  const struct petrel_check *c, struct petrel_version *v, struct petrel_err *err)
{
	char h[13];
	int r, already;

	/* auto = fetch deploys nothing: its bytes need not stay cached */
	e->stage_only = t->autopolicy == PETREL_AUTO_FETCH;
	r = petrel_stage(e, t, c, v, &already, err);
	e->stage_only = 0;
	if (r == 0 && !already) {
		petrel_short_hash(v->build.sha256, h);
		event(s, PETREL_LOG_INFO, "staged %s %s (verified, trust %s)", v->build.uuid, h,
		      v->trust);
	}
	return r;
}

/* Retention after a deploy, when the target sets keep: a failure is a warning, the
 * deploy stands. */
static void gc_after(struct petrel_engine *e, const struct petrel_target *t, struct tstate *s)
{
	struct petrel_err err = PETREL_ERR_INIT;
	int64_t versions = 0, bytes = 0;
	int r = petrel_space_gc_target(e, t, &versions, &bytes, &err);

	if (r < 0)
		event(s, PETREL_LOG_WARN, "gc after the upgrade failed: %s", petrel_err_msg(&err, r));
	else if (versions || bytes)
		event(s, PETREL_LOG_INFO, "gc (keep = %u): removed %lld version%s, %lld bytes",
		      t->keep, (long long)versions, versions == 1 ? "" : "s", (long long)bytes);
}

static int deploy(struct petrel_engine *e, const struct petrel_target *t, struct tstate *s,
		  const struct petrel_version *v, struct outcome *o, struct petrel_err *err)
{
	struct petrel_upgrade_result res;
	char h[13], was[64] = "nothing deployed";
	int r;

	if ((r = petrel_upgrade_newest(e, t, v, &res, err)) < 0)
		return r;
	o->res = res;
	o->have_res = 1;
	o->action = res.noop ? "up-to-date" : "upgraded";
	petrel_short_hash(res.now.version.build.sha256, h);
	if (res.has_before && !res.noop) {
		char bh[13];

		petrel_short_hash(res.before.version.build.sha256, bh);
		snprintf(was, sizeof(was), "was generation %lld, %s", (long long)res.before.number,
			 bh);
	}
	if (!res.noop)
		event(s, PETREL_LOG_INFO, "deployed generation %lld: %s %s at %s (%s)",
		      (long long)res.now.number, res.now.version.build.uuid, h, t->path, was);
	if (!res.noop && t->keep_set)
		gc_after(e, t, s);
	return 0;
}

/* The deployed build is blocked by the channel and no release takes its place: back to
 * the previous generation (a revert refuses one the channel blocks too). */
static int leave(struct petrel_engine *e, const struct petrel_target *t, struct tstate *s,
		 const struct petrel_check *c, struct outcome *o, struct petrel_err *err)
{
	struct petrel_upgrade_result res;
	char h[13], bh[13];
	int r;

	petrel_short_hash(c->deployed.build.sha256, bh);
	if ((r = petrel_revert(e, t, &res, err)) < 0) {
		petrel_err_prefix(err, "deployed build %s %s is blocked by the channel: ",
				  c->deployed.build.uuid, bh);
		return r;
	}
	o->res = res;
	o->have_res = 1;
	o->action = "reverted";
	petrel_short_hash(res.now.version.build.sha256, h);
	event(s, PETREL_LOG_WARN, "deployed build %s %s is blocked by the channel: reverted to "
	      "generation %lld: %s %s at %s", c->deployed.build.uuid, bh,
	      (long long)res.now.number, res.now.version.build.uuid, h, t->path);
	return 0;
}

/* One poll of one target: check, then stage or deploy per policy; o says what it did.
 * 0 or a code. */
static int poll_target(struct petrel_engine *e, const struct petrel_target *t, struct tstate *s,
		       struct outcome *o, struct petrel_err *err)
{
	struct petrel_check c;
	struct petrel_version v;
	struct petrel_err frozen = PETREL_ERR_INIT;
	char h[13];
	int r;

	s->window_wait = 0;
	if ((r = petrel_check_target(e, t, &c, err)) < 0)
		return r;
	o->check = c;
	o->have_check = 1;
	if ((r = petrel_check_frozen(t, &c, 0, &frozen)) < 0) {	/* a warning: the build may
								 * still be good */
		frozen_event(s, "frozen: %s", petrel_err_msg(&frozen, r));
	} else {
		s->last[SLOT_FROZEN][0] = '\0';	/* warn again if it freezes again */
	}
	petrel_short_hash(c.remote.sha256, h);
	if (c.leave)	/* a publisher's block outranks a pin: never run a blocked hash */
		return leave(e, t, s, &c, o, err);
	if (c.waiting) {
		o->action = "waiting";
		event(s, PETREL_LOG_INFO, "%s", c.says.why);
		return 0;
	}
	if (c.pinned) {
		o->action = "pinned";
		event(s, PETREL_LOG_INFO, "pinned at %s; left alone (newest %s %s)", c.pin.uuid,
		      c.remote.uuid, h);
		return 0;
	}
	if (!c.update && c.refused && !c.retry) {
		struct petrel_err why = PETREL_ERR_INIT;

		o->action = "refused";
		event(s, PETREL_LOG_INFO, "%s",
		      petrel_err_msg(&why, petrel_refused_refusal(&c, &why)));
		return 0;
	}
	if (!c.update && !c.retry) {
		o->action = c.rejected ? "rejected" : "up-to-date";
		if (c.rejected)
			event(s, PETREL_LOG_INFO,
			      "newest build %s %s was rejected here; waiting for a "
			      "newer one (%s)", c.remote.uuid, h, c.rejected_reason);
		else
			petrel_log_debug("%s: up to date (%s %s)", t->name, c.remote.uuid, h);
		return 0;
	}
	if ((r = staged(e, t, s, &c, &v, err)) < 0)
		return r;
	o->staged = v;
	o->have_staged = 1;
	o->action = "fetched";
	if (t->autopolicy == PETREL_AUTO_FETCH)
		return 0;
	s->window_wait = !petrel_window_open(t->window_start, t->window_end, minute_of_day());
	if (s->window_wait) {
		o->action = "held";
		event(s, PETREL_LOG_INFO,
		      "%s %s waits for the maintenance window %02d:%02d-%02d:%02d",
		      v.build.uuid, h, t->window_start / 60, t->window_start % 60,
		      t->window_end / 60, t->window_end % 60);
		return 0;
	}
	return deploy(e, t, s, &v, o, err);
}

/* Logs a failed poll and schedules the retry (full jitter, and never before the
 * answer's Retry-After, mono ms or 0): the server backs off, or the target. */
static void failed(struct daemon *d, const struct petrel_target *t, struct tstate *s,
		   struct sstate *ss, int r, const struct petrel_err *err, int64_t retry_at,
		   int64_t now)
{
	const char *msg = petrel_err_msg(err, r);
	int status = petrel_err_exit(r);
	int server = petrel_engine_server_fault(&d->engine, t, r);
	unsigned fails = server ? ++ss->fails : ++s->fails;
	int by_retry;
	int64_t at = next_poll(d, t, (int)(fails < 64 ? fails : 64), retry_at, now, &by_retry);
	long long secs = (at - now + 999) / 1000;

	if (server) {
		ss->until = at;
		event(s, PETREL_LOG_WARN,
		      "server %s: %s; backing off (failure %u, next try in %lld s%s)",
		      ss->name, msg, fails, secs,
		      by_retry ? ", as the server's Retry-After asks" : "");
	} else if (status == PETREL_EXIT_USAGE) {
		/* an unknown job or platform: the operator's to fix, not the network's; once
		 * per backoff step (the step is in the text, so the repeat filter lets it by) */
		event(s, PETREL_LOG_ERROR, "configuration: %s (failure %u, next try in %lld s)",
		      msg, fails, secs);
	} else {
		event(s, status == PETREL_EXIT_REVERTED || status == PETREL_EXIT_FAIL ?
		      PETREL_LOG_ERROR : PETREL_LOG_WARN, "%s: %s",
		      status == PETREL_EXIT_REFUSED ? "refused" : status == PETREL_EXIT_REVERTED ?
		      "deploy failed" : "failed", msg);
	}
	s->due = at;
	s->not_before = by_retry ? at : 0;
	s->failing = 1;
	note_status(d, status);
}

/* --once --json: what the poll of t did (r < 0: how it failed), with what is deployed
 * now when the store can say (locked: the cycle holds its lock). Names as status,
 * check and upgrade --json use them. */
static void record(struct daemon *d, const struct petrel_target *t, const struct outcome *o,
		   int r, const struct petrel_err *err, int locked)
{
	struct petrel_generation cur, prev;
	struct petrel_err ignored = PETREL_ERR_INIT;
	int status = r < 0 ? petrel_err_exit(r) : PETREL_EXIT_OK;
	const char *action = o->action;
	json_t *j;

	if (!d->results)
		return;
	if (r < 0)
		action = petrel_cancelled() ? "stopped" : status == PETREL_EXIT_REFUSED ? "refused" :
			 status == PETREL_EXIT_REVERTED ? "upgrade-failed" : "error";
	j = json_pack("{s:o, s:s, s:i}", "name", petrel_json_text(t->name), "action", action,
		      "exit", status);
	if (!j)
		return;
	if (r < 0)
		json_object_set_new(j, "error", petrel_json_text(petrel_err_msg(err, r)));
	locked = locked && petrel_store_current(&d->engine.store, t->name, &cur, &prev,
						&ignored) == 0 && cur.number;
	json_object_set_new(j, "current", locked ? petrel_json_generation(&cur) : json_null());
	json_object_set_new(j, "remote", o->have_check ? petrel_json_build(&o->check.remote) :
			    json_null());
	json_object_set_new(j, "rejected", o->have_check && o->check.rejected ?
			    petrel_json_rejection(o->check.remote.uuid, o->check.remote.sha256,
						  o->check.rejected_reason, o->check.rejected_at) :
			    json_null());
	json_object_set_new(j, "refused", o->have_check && o->check.refused ?
			    petrel_json_refusal(&o->check.refusal) : json_null());
	json_object_set_new(j, "pinned", o->have_check && o->check.pinned ?
			    petrel_json_pin(&o->check.pin) : json_null());
	json_object_set_new(j, "staged", r == 0 && o->have_staged && !o->have_res ?
			    petrel_json_version(&o->staged) : json_null());
	json_object_set_new(j, "before", o->have_res && o->res.has_before && !o->res.noop ?
			    petrel_json_generation(&o->res.before) : json_null());
	json_object_set_new(d->results, t->name, j);
}

/* --once --json: one document, the targets in the configuration's order; a target
 * the cycle did not reach (auto = off, or a signal came first) says so. */
static void print_results(struct daemon *d)
{
	json_t *arr = json_array();
	struct outcome none = { .action = "off" };

	for (size_t i = 0; arr && i < d->cfg->ntargets; i++) {
		const struct petrel_target *t = &d->cfg->targets[i];
		json_t *j = json_object_get(d->results, t->name);

		if (!j) {
			none.action = t->autopolicy == PETREL_AUTO_OFF ? "off" : "stopped";
			record(d, t, &none, 0, NULL, 0);
			j = json_object_get(d->results, t->name);
		}
		json_array_append(arr, j);
	}
	petrel_json_print(json_pack("{s:o}", "targets", arr));
}

/*
 * Whether target i is polled in a cycle starting at now: due, or, with group (another
 * target is due), due within a tenth of its interval, so that targets whose times lie
 * close together share one cycle (one lock, one metrics write) instead of one each.
 * Never grouped without a target that is due: a daemon that starts (or plans after a
 * reload) would otherwise poll a tenth of its targets at once, and a fleet with them.
 */
static int due(const struct daemon *d, size_t i, int64_t now, int group)
{
	const struct petrel_target *t = &d->cfg->targets[i];
	const struct sstate *ss = &d->ss[t->server - d->cfg->servers];
	int64_t slack = group ? (int64_t)t->interval * 100 : 0;

	return t->autopolicy != PETREL_AUTO_OFF &&
	       (d->once || (d->ts[i].due <= now + slack && ss->until <= now &&
			    d->ts[i].not_before <= now));
}

/* For status: when the target is polled next, in wall-clock time. */
static void note_next_poll(struct petrel_engine *e, const struct petrel_target *t,
			   int64_t in_ms)
{
	struct petrel_err rec = PETREL_ERR_INIT;	/* a debug line at most */

	if (petrel_store_note_next_poll(&e->store, t->name, (int64_t)time(NULL) +
					(in_ms + 999) / 1000, &rec) < 0)
		petrel_log_debug("%s: %s", t->name, petrel_err_msg(&rec, -PETREL_EDB));
}

/*
 * The first poll of target i after a start or a reload (common/schedule.h): at a
 * random moment of its interval, or where a previous daemon's recorded retry (a
 * backoff, a Retry-After: the last check failed) or regular poll says; --now polls at
 * once but still honours a recorded retry. Recorded for status at once, before the
 * poll, so that status tells the truth while the daemon waits.
 */
static void plan_first(struct daemon *d, size_t i, int64_t now)
{
	const struct petrel_target *t = &d->cfg->targets[i];
	struct tstate *s = &d->ts[i];
	struct petrel_target_facts f = { 0 };
	struct petrel_err ignored = PETREL_ERR_INIT;	/* nothing recorded: a fresh draw */
	struct petrel_poll_plan p = { .now = now, .interval = (int64_t)t->interval * 1000,
				      .backoff_cap = (int64_t)d->cfg->backoff_max * 1000,
				      .failures = PETREL_POLL_START,
				      .at_once = d->at_once && !s->forget_recorded };
	int kept, kept_retry;

	if (!s->forget_recorded &&
	    petrel_store_target_facts(&d->engine.store, t->name, &f, &ignored) == 0) {
		p.recorded = mono_of_wall(f.next_poll);
		p.recorded_retry = f.last_check > f.last_success;
	}
	s->due = petrel_next_poll(&p, &d->rng, NULL);
	kept = s->due == p.recorded;
	kept_retry = kept && p.recorded_retry;
	s->not_before = kept_retry ? s->due : 0;	/* not polled sooner, grouped or not */
	s->fresh = s->forget_recorded = 0;
	if (t->autopolicy == PETREL_AUTO_OFF)
		return;
	if (!kept)	/* else the store has it already */
		note_next_poll(&d->engine, t, s->due - now);
	petrel_log_debug("%s: first poll in %lld s (%s)", t->name,
			 (long long)((s->due - now + 999) / 1000),
			 kept_retry ? "the last daemon's retry time, kept" :
			 kept ? "the last daemon's next poll, kept" :
			 p.at_once ? "--now" : "at random in its interval");
}

/* A minute or the interval when shorter, +-10 %: the next try after a lock failure. */
static int64_t soon(struct daemon *d, const struct petrel_target *t)
{
	int64_t ms = (int64_t)(t->interval < 60 ? t->interval : 60) * 1000;

	return ms - ms / 10 + (int64_t)petrel_rng_below(&d->rng, (uint64_t)(ms / 5 + 1));
}

/* Polls every due target under one engine (one store lock, one HTTP connection pool). */
static void cycle(struct daemon *d)
{
	struct petrel_engine *e = &d->engine;
	struct petrel_err err = PETREL_ERR_INIT;
	int64_t now = now_ms(), retry_at;
	size_t i, n = 0, fresh = 0;
	int r = 0;

	for (i = 0; i < d->cfg->ntargets; i++) {
		n += due(d, i, now, 0);
		fresh += d->ts[i].fresh && !d->once;
	}
	if (!n && !fresh && !d->results)	/* --json: what is deployed where auto = off */
		return;
	if (!d->engine_ready && (r = petrel_engine_init(e, d->cfg, &err)) == 0) {
		d->engine_ready = 1;
		petrel_engine_set_progress(e, 0);	/* one log line per event */
	}
	if (!d->engine_ready || (r = petrel_engine_lock(e, 0, &err)) < 0) {
		if (r != -ECANCELED)
			daemon_error(petrel_err_msg(&err, r));
		note_status(d, petrel_err_exit(r));
		for (i = 0; d->results && i < d->cfg->ntargets; i++)
			if (due(d, i, now, 0))
				record(d, &d->cfg->targets[i], &(struct outcome){ 0 }, r, &err, 0);
		/* e.g. an operator's upgrade held the lock past lock_timeout: try again soon */
		for (i = 0; i < d->cfg->ntargets; i++)
			if (due(d, i, now, 0) || d->ts[i].fresh)
				d->ts[i].due = now + soon(d, &d->cfg->targets[i]);
		return;
	}
	for (i = 0; fresh && i < d->cfg->ntargets; i++)
		if (d->ts[i].fresh)
			plan_first(d, i, now);
	for (i = 0, n = 0; i < d->cfg->ntargets; i++)
		n += due(d, i, now, 0);
	for (i = 0; i < d->cfg->ntargets && !petrel_cancelled(); i++) {
		const struct petrel_target *t = &d->cfg->targets[i];
		struct sstate *ss = &d->ss[t->server - d->cfg->servers];
		struct tstate *s = &d->ts[i];
		struct petrel_err poll_err = PETREL_ERR_INIT;	/* this target's */
		struct outcome o = { .action = "off" };

		now = now_ms();
		if (!due(d, i, now, n > 0)) {
			if (t->autopolicy == PETREL_AUTO_OFF)
				record(d, t, &o, 0, NULL, 1);
			continue;
		}
		petrel_tick();
		(void)petrel_engine_take_retry_after(e);	/* not this poll's */
		r = poll_target(e, t, s, &o, &poll_err);
		retry_at = mono_of_wall(petrel_engine_take_retry_after(e));
		record(d, t, &o, r, &poll_err, 1);
		now = now_ms();
		if (retry_at > now + PETREL_RETRY_AFTER_MAX_MS)	/* as next_poll counts it */
			retry_at = now + PETREL_RETRY_AFTER_MAX_MS;
		if (r < 0 && petrel_cancelled()) {
			event(s, PETREL_LOG_INFO, "stopped: %s", petrel_err_msg(&poll_err, r));
			break;
		}
		if (r < 0) {
			failed(d, t, s, ss, r, &poll_err, retry_at, now);
		} else {
			if (s->failing)
				event(s, PETREL_LOG_INFO, "recovered");
			s->failing = 0;
			s->fails = 0;
			ss->fails = 0;
			int by_retry;

			s->due = next_poll(d, t, 0, retry_at, now, &by_retry);
			s->not_before = by_retry ? s->due : 0;
		}
		note_next_poll(e, t, s->due - now);
	}
	if (d->metrics && (r = petrel_metrics_write(d->metrics, &e->store, d->cfg, &err)) < 0)
		daemon_error(petrel_err_msg(&err, r));
	daemon_state.last[SLOT_MAIN][0] = '\0';	/* a cycle ran: the next error is news */
	petrel_engine_unlock(e);
}

/* (Re)builds the per-target and per-server state for cfg, keeping what names match. */
static int adopt(struct daemon *d, struct petrel_config *cfg)
{
	struct tstate *ts = calloc(cfg->ntargets + 1, sizeof(*ts));
	struct sstate *ss = calloc(cfg->nservers + 1, sizeof(*ss));
	int64_t now = now_ms();

	if (!ts || !ss) {
		free(ts);
		free(ss);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->ntargets; i++) {
		const struct petrel_target *t = &cfg->targets[i];

		petrel_strcpy_whole(ts[i].name, t->name, sizeof(ts[i].name));
		/* a new or changed target: its first poll is planned at the next cycle
		 * (plan_first), at a random moment of its interval after a reload too:
		 * a configuration pushed to a fleet must not make it poll at once */
		ts[i].due = now;
		ts[i].fresh = 1;
		ts[i].forget_recorded = d->cfg != NULL;
		for (size_t j = 0; d->cfg && j < d->cfg->ntargets; j++) {
			const struct petrel_target *o = &d->cfg->targets[j];

			if (strcmp(d->ts[j].name, ts[i].name))
				continue;
			if (strcmp(o->server->url, t->server->url) || strcmp(o->job, t->job) ||
			    strcmp(o->platform, t->platform) || strcmp(o->path, t->path) ||
			    o->autopolicy != t->autopolicy)
				break;	/* another thing now: a fresh start */
			ts[i] = d->ts[j];
			/* a shorter interval applies now, not after the old one */
			if (ts[i].due > now + (int64_t)t->interval * 1000)
				ts[i].due = next_poll(d, t, PETREL_POLL_START, 0, now, NULL);
		}
	}
	for (size_t i = 0; i < cfg->nservers; i++) {
		petrel_strcpy_whole(ss[i].name, cfg->servers[i].name, sizeof(ss[i].name));
		for (size_t j = 0; d->cfg && j < d->cfg->nservers; j++)
			if (!strcmp(d->ss[j].name, ss[i].name) &&
			    !strcmp(d->cfg->servers[j].url, cfg->servers[i].url))
				ss[i] = d->ss[j];
	}
	free(d->ts);
	free(d->ss);
	d->ts = ts;
	d->ss = ss;
	d->cfg = cfg;
	return 0;
}

static void count_policies(const struct petrel_config *c, size_t n[3])
{
	n[0] = n[1] = n[2] = 0;
	for (size_t i = 0; i < c->ntargets; i++)
		n[c->targets[i].autopolicy]++;
}

/* Every target the daemon may deploy (auto = upgrade) can run its commands: said at
 * start (exit 2) or at a reload, not at the first deploy. */
static int targets_runnable(const struct petrel_config *cfg, struct petrel_err *err)
{
	int r;

	for (size_t i = 0; i < cfg->ntargets; i++)
		if (cfg->targets[i].autopolicy == PETREL_AUTO_UPGRADE &&
		    (r = petrel_target_runnable(cfg, &cfg->targets[i], err)) < 0)
			return r;
	return 0;
}

/* SIGHUP: a configuration that does not load leaves the running one in place. */
static void reload(struct daemon *d)
{
	struct petrel_config *next = calloc(1, sizeof(*next));
	struct petrel_err err = PETREL_ERR_INIT;
	size_t n[3];
	int r;

	notify("RELOADING=1");
	tzset();	/* a changed local time zone moves the maintenance windows */
	if (!next) {
		event(NULL, PETREL_LOG_ERROR,
		      "reload: out of memory; keeping the running configuration");
		goto out;
	}
	if ((r = petrel_config_load(next, d->cli->config_path, &err)) < 0 ||
	    (r = targets_runnable(next, &err)) < 0) {
		event(NULL, PETREL_LOG_ERROR, "reload: %s; keeping the running configuration",
		      petrel_err_msg(&err, r));
		petrel_config_release(next);	/* a failed load released it already */
		free(next);
		goto out;
	}
	if (strcmp(next->state_dir, d->cfg->state_dir)) {
		event(NULL, PETREL_LOG_ERROR,
		      "reload: state_dir changed from %s to %s; that needs a "
		      "restart; keeping the running configuration", d->cfg->state_dir, next->state_dir);
		petrel_config_release(next);
		free(next);
		goto out;
	}
	struct petrel_config *old = d->cfg;
	if (adopt(d, next) < 0) {
		petrel_config_release(next);
		free(next);
		goto out;
	}
	if (old != &d->cli->cfg) {
		petrel_config_release(old);
		free(old);
	}
	if (d->engine_ready)	/* the limits may have changed */
		petrel_engine_release(&d->engine);
	d->engine_ready = 0;
	count_policies(d->cfg, n);
	event(NULL, PETREL_LOG_INFO, "configuration reloaded from %s: %zu targets (%zu upgrade, "
	      "%zu fetch, %zu off)", d->cfg->path, d->cfg->ntargets, n[0], n[1], n[2]);
out:
	notify("READY=1");
}

/* Sleeps until the next target is due, a signal arrives, or the watchdog needs food. */
static void wait_next(struct daemon *d)
{
	int64_t now = now_ms(), next = now + 60 * 1000;
	struct pollfd p = { .fd = selfpipe[0], .events = POLLIN };
	char buf[64];

	for (size_t i = 0; i < d->cfg->ntargets; i++) {
		const struct petrel_target *t = &d->cfg->targets[i];
		const struct sstate *ss = &d->ss[t->server - d->cfg->servers];
		int64_t at;

		/* a staged build waiting for its window: poll when the window opens */
		if (d->ts[i].window_wait) {
			int64_t open_at = now + ms_until_minute(t->window_start);

			if (open_at < d->ts[i].due)
				d->ts[i].due = open_at;
		}
		at = d->ts[i].due > ss->until ? d->ts[i].due : ss->until;
		if (t->autopolicy != PETREL_AUTO_OFF && at < next)
			next = at;
	}
	if (d->watchdog_usec && next > d->fed + (int64_t)(d->watchdog_usec / 4000))
		next = d->fed + (int64_t)(d->watchdog_usec / 4000);
	if (next > now && !petrel_cancelled() && !reload_asked)
		poll(&p, 1, (int)(next - now));
	while (read(selfpipe[0], buf, sizeof(buf)) > 0)
		;
	feed_watchdog();
}

/* --metrics FILE must be writable where it is going to be: said at start, not per cycle. */
static int metrics_dir_ok(const char *file, struct petrel_err *err)
{
	char dir[PATH_MAX];

	if (!file)
		return 0;
	if (petrel_metrics_usable(file, err) < 0)
		return -PETREL_EUSAGE;
	if (petrel_dirname(file, dir, sizeof(dir)) < 0)
		return petrel_fail(err, -PETREL_EUSAGE, "--metrics: path too long");
	if (access(dir, W_OK | X_OK) < 0)
		return petrel_fail(err, -PETREL_EUSAGE, "--metrics %s: directory %s: %s", file, dir,
				   strerror(errno));
	return 0;
}

int petrel_cmd_daemon(struct petrel_cli *cli)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct daemon d = { .cli = cli, .lockfd = -1, .worst = PETREL_EXIT_OK, .once = cli->once,
			    .at_once = cli->at_once, .metrics = cli->metrics };
	size_t n[3];
	int r;

	if (cli->json && !cli->once) {	/* a running daemon reports on stderr only */
		petrel_cli_error(NULL, petrel_fail(&err, -PETREL_EUSAGE, "daemon: --json needs "
						   "--once (the daemon logs one line per event "
						   "on stderr)"), &err);
		return PETREL_EXIT_USAGE;
	}
	if (cli->json && !(d.results = json_object()))
		return PETREL_EXIT_FAIL;
	if ((r = metrics_dir_ok(d.metrics, &err)) < 0 ||
	    (r = targets_runnable(&cli->cfg, &err)) < 0 || (r = adopt(&d, &cli->cfg)) < 0 ||
	    (r = d.lockfd = petrel_daemon_lock(d.cfg, &err)) < 0 || (r = setup_signals(&err)) < 0) {
		petrel_cli_error(NULL, r, &err);
		free(d.ts);
		free(d.ss);
		return petrel_err_exit(r);
	}
	if (petrel_rng_seed_os(&d.rng) < 0)	/* getrandom(2) failing: still per host */
		petrel_rng_seed(&d.rng, (uint64_t)time(NULL) << 32 ^ (uint64_t)getpid() ^
				(uint64_t)now_ms() << 16);
	the_daemon = &d;
	petrel_tick_hook = feed_watchdog;
	if (getenv("NOTIFY_SOCKET") && sd_watchdog_enabled(0, &d.watchdog_usec) <= 0)
		d.watchdog_usec = 0;
	count_policies(d.cfg, n);
	event(NULL, PETREL_LOG_INFO, "started (pid %ld, %s): %zu targets (%zu upgrade, %zu fetch, "
	      "%zu off), state %s", (long)getpid(), d.once ? "one cycle" : "until SIGTERM",
	      d.cfg->ntargets, n[0], n[1], n[2], d.cfg->state_dir);
	notify("READY=1\nSTATUS=polling");
	d.fed = now_ms();
	while (!petrel_cancelled()) {
		if (reload_asked) {
			reload_asked = 0;
			reload(&d);
		}
		cycle(&d);
		if (d.once)
			break;
		wait_next(&d);
	}
	notify("STOPPING=1");
	if (d.engine_ready)
		petrel_engine_release(&d.engine);
	event(NULL, PETREL_LOG_INFO, "%s",
	      petrel_cancelled() ? "stopping on signal" : "cycle done");
	if (d.results) {
		print_results(&d);
		json_decref(d.results);
	}
	the_daemon = NULL;
	petrel_tick_hook = NULL;
	close(d.lockfd);
	if (d.cfg != &cli->cfg) {
		petrel_config_release(d.cfg);
		free(d.cfg);
	}
	free(d.ts);
	free(d.ss);
	return d.once && !petrel_cancelled() ? d.worst : PETREL_EXIT_OK;
}
