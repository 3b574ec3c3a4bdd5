/* The engine's lifecycle and operations: open, resolve, check, fetch, upgrade, revert. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/cancel.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/util.h"
#include "engine.h"
#include "fetch.h"
#include "fetcher/builderweb.h"
#include "follow.h"
#include "run.h"
#include "solo5.h"
#include "switch.h"

int petrel_engine_init(struct petrel_engine *e, const struct petrel_config *cfg,
		       struct petrel_err *err)
{
	int r;

	memset(e, 0, sizeof(*e));
	e->cfg = cfg;
	if ((r = petrel_http_new(&e->http, &cfg->limits, err)) < 0)
		return r;
	petrel_http_set_progress(e->http, petrel_log_level >= PETREL_LOG_INFO);
	return 0;
}

int petrel_engine_lock(struct petrel_engine *e, unsigned flags, struct petrel_err *err)
{
	int r;

	if ((r = petrel_store_open_locked(&e->store, e->cfg->state_dir, e->cfg->lock_timeout,
					  err)) < 0)
		return r;
	e->locked = 1;
	/* Holding the lock, whatever is in tmp/ was left by a run that died. */
	if (!(flags & PETREL_ENGINE_KEEP_TMP) && (r = petrel_store_clean_tmp(&e->store)) < 0)
		r = petrel_fail(err, r, "%s/tmp: %s", e->cfg->state_dir, strerror(-r));
	else
		r = petrel_recover(e, err);
	if (r < 0)
		petrel_engine_unlock(e);
	return r;
}

void petrel_engine_unlock(struct petrel_engine *e)
{
	if (!e->locked)
		return;
	petrel_store_close(&e->store);
	e->locked = 0;
	e->readonly = 0;
	e->said_for[0] = '\0';	/* the next lock polls the channel afresh */
}

void petrel_engine_release(struct petrel_engine *e)
{
	petrel_engine_unlock(e);
	petrel_http_free(e->http);
	e->http = NULL;
}

int petrel_engine_open(struct petrel_engine *e, const struct petrel_config *cfg,
		       struct petrel_err *err)
{
	int r;

	if ((r = petrel_engine_init(e, cfg, err)) == 0 && (r = petrel_engine_lock(e, 0, err)) < 0)
		petrel_engine_release(e);
	return r;
}

void petrel_engine_close(struct petrel_engine *e)
{
	petrel_engine_release(e);
}

int petrel_engine_open_read(struct petrel_engine *e, const struct petrel_config *cfg,
			    struct petrel_err *err)
{
	int r;

	if ((r = petrel_engine_init(e, cfg, err)) < 0)
		return r;
	if ((r = petrel_store_open_read(&e->store, cfg->state_dir, err)) < 0) {
		petrel_engine_release(e);
		return r;
	}
	e->locked = 1;
	e->readonly = 1;
	return 0;
}

void petrel_engine_set_progress(struct petrel_engine *e, int on)
{
	petrel_http_set_progress(e->http, on);
}

int petrel_engine_server_fault(const struct petrel_engine *e, const struct petrel_target *t,
			       int r)
{
	const char *failed = petrel_http_last_url(e->http);
	size_t n = strlen(t->server->url);

	return petrel_err_is(r, PETREL_ERR_TRANSIENT) && !strncmp(failed, t->server->url, n) &&
	       (failed[n] == '/' || failed[n] == '\0' || failed[n] == '?');
}

int64_t petrel_engine_take_retry_after(struct petrel_engine *e)
{
	return e->http ? petrel_http_take_retry_after(e->http) : 0;
}

static int resolve(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
		   struct petrel_build *out, struct petrel_err *err);

/*
 * What t's channel says (polled now, or within the last minute for t): 0 with the
 * release this host takes, 1 when it takes none (says->why tells why), or a failure.
 */
static int channel_says(struct petrel_engine *e, const struct petrel_target *t,
			struct petrel_channel_says *says, struct petrel_err *err)
{
	struct petrel_follow f;
	int64_t now = (int64_t)time(NULL);
	int r;

	if (!strcmp(e->said_for, t->name) && now - e->said_at < 60 && now >= e->said_at) {
		*says = e->said;
		return says->takes ? 0 : 1;
	}
	e->said_for[0] = '\0';
	if ((r = petrel_follow_poll(e, t, &f, err)) < 0)
		return r;
	memset(says, 0, sizeof(*says));
	says->version = f.ch.version;
	says->has_release = f.ch.has_release;
	memcpy(says->uuid, f.ch.uuid, sizeof(says->uuid));
	memcpy(says->sha256, f.ch.sha256, 32);
	says->u = f.u;
	says->fraction = f.fraction;
	says->takes = f.takes;
	if (!f.takes)
		petrel_follow_why(&f, says->why, sizeof(says->why));
	petrel_follow_release(&f);
	e->said = *says;
	e->said_at = now;
	petrel_strcpy_whole(e->said_for, t->name, sizeof(e->said_for));
	return says->takes ? 0 : 1;
}

/* The channel's release must be the bytes the server lists for it. */
static int channel_binds(const struct petrel_channel_says *says, const struct petrel_build *b,
			 struct petrel_err *err)
{
	char want[65], got[65];

	if (!memcmp(says->sha256, b->sha256, 32))
		return 0;
	petrel_hex(says->sha256, 32, want);
	petrel_hex(b->sha256, 32, got);
	return petrel_fail(err, -PETREL_EBINDING, "the channel names sha256 %s for build %s, "
			   "the server's build has %s", want, b->uuid, got);
}

int petrel_resolve(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
		   struct petrel_build *out, struct petrel_err *err)
{
	struct petrel_channel_says says;
	int r;

	/* a channel names the newest build this host takes; the server still says what
	 * its bytes are, and they must be the channel's */
	if (uuid || !t->channel[0])
		return resolve(e, t, uuid, out, err);
	if ((r = channel_says(e, t, &says, err)) < 0)
		return r;
	if (r == 1)
		return petrel_fail(err, -PETREL_ENOTFOUND, "%s", says.why);
	if ((r = resolve(e, t, says.uuid, out, err)) < 0)
		return r;
	return channel_binds(&says, out, err);
}

static int resolve(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
		   struct petrel_build *out, struct petrel_err *err)
{
	const char *srv = t->server->url;
	int r;

	memset(out, 0, sizeof(*out));
	petrel_strcpy_whole(out->job, t->job, sizeof(out->job));
	if (uuid) {
		if (!petrel_uuid_valid(uuid))
			return petrel_fail(err, -PETREL_EUSAGE, "'%s' is not a build uuid", uuid);
		/* builder-web's uuids are lowercase; an operator may paste either case */
		for (size_t i = 0; uuid[i]; i++)
			out->uuid[i] = (char)tolower((unsigned char)uuid[i]);
	} else if ((r = petrel_bw_latest(e->http, srv, t->job, t->platform, out->uuid, err)) < 0) {
		return r;
	}
	if ((r = petrel_bw_job_binary(e->http, srv, t->platform, out, err)) < 0)
		return r;
	if (out->size > (uint64_t)e->cfg->max_artifact_size)	/* before a byte is stored */
		return petrel_fail(err, -PETREL_ETOOBIG,
				   "%s/job/%s: build %s announces %llu bytes, more "
				   "than max_artifact_size (%ld)", srv, t->job, out->uuid,
				   (unsigned long long)out->size, e->cfg->max_artifact_size);
	if ((r = petrel_bw_build_record(e->http, srv, out, err)) < 0)
		return r;
	if (t->platform[0] && strcmp(t->platform, out->platform))
		return petrel_fail(err, -PETREL_EMALFORMED,
				   "%s/job/%s/build/%s: platform '%s', asked for '%s'",
				   srv, t->job, out->uuid, out->platform, t->platform);
	return petrel_solo5_abi_check(t, out, err);
}

/* What is deployed (the current generation's version), and whether remote differs. */
/* What is deployed: the current generation's version, into out. */
static int deployed_now(struct petrel_engine *e, const struct petrel_target *t,
			struct petrel_check *out, struct petrel_err *err)
{
	struct petrel_generation g;
	int r;

	if ((r = petrel_store_current(&e->store, t->name, &g, NULL, err)) < 0)
		return r;
	out->have_deployed = g.number != 0;
	if (g.number) {
		out->deployed = g.version;
		out->deployed_generation = g.number;
		out->deployed_at = g.deployed_at;
	}
	return 0;
}

static int deployed_version(struct petrel_engine *e, const struct petrel_target *t,
			    struct petrel_check *out, struct petrel_err *err)
{
	int r;

	if ((r = deployed_now(e, t, out, err)) < 0)
		return r;
	out->update = !out->have_deployed ||
		      memcmp(out->deployed.build.sha256, out->remote.sha256, 32) != 0;
	if (!out->update)
		return 0;
	/* a build that failed here is not offered again (the daemon skips it too) */
	r = petrel_store_rejected(&e->store, t->name, out->remote.sha256, out->rejected_reason,
				  &out->rejected_at, err);
	if (r < 0 && r != -PETREL_ENOTFOUND)
		return r;
	out->rejected = r == 0;
	out->update = !out->rejected;
	if (out->rejected)
		return 0;
	/* nor is one that failed verification, until it verifies (after its backoff) */
	r = petrel_store_refused(&e->store, t->name, out->remote.sha256, &out->refusal, err);
	if (r == -PETREL_ENOTFOUND)
		return 0;
	out->refused = r == 0;
	out->update = !out->refused;
	out->retry = out->refused && out->refusal.retry_at <= (int64_t)time(NULL);
	return r;
}

/* Whether the operator holds t at a build. */
static int pinned(struct petrel_engine *e, const struct petrel_target *t,
		  struct petrel_check *out, struct petrel_err *err)
{
	int r = petrel_store_pinned(&e->store, t->name, &out->pin, err);

	out->pinned = r == 0;
	return r == -PETREL_ENOTFOUND ? 0 : r;
}

int petrel_pin_refusal(const struct petrel_target *t, const struct petrel_pin *pin,
		       struct petrel_err *err)
{
	char when[32];

	petrel_format_time(pin->at, when, sizeof(when));
	return petrel_fail(err, -PETREL_EPOLICY,
			   "pinned at %s since %s; 'petrel unpin %s' lets it move again, "
			   "'petrel upgrade %s --to UUID' moves it by hand", pin->uuid, when,
			   t->name, t->name);
}

int petrel_refused_refusal(const struct petrel_check *c, struct petrel_err *err)
{
	char first[32], next[32];

	petrel_format_time(c->refusal.first_at, first, sizeof(first));
	petrel_format_time(c->refusal.retry_at, next, sizeof(next));
	return petrel_fail(err, -PETREL_EPOLICY,
			   "newest build %s failed verification (%lld time%s since %s; "
			   "next try %s%s): %s", c->remote.uuid, (long long)c->refusal.count,
			   c->refusal.count == 1 ? "" : "s", first, c->retry ? "due, was " : "at ",
			   next, c->refusal.reason);
}

/*
 * The server's newest build of t. When `latest` names a uuid the store verified for t,
 * that is the whole poll: one request, the rest is our own verified record (a fleet of
 * up-to-date hosts costs builder-web one redirect each, not a listing and a record).
 */
static int newest(struct petrel_engine *e, const struct petrel_target *t,
		  struct petrel_check *out, struct petrel_version *v, struct petrel_err *err)
{
	char uuid[PETREL_UUID_LEN + 1];
	int r;

	if (t->channel[0]) {
		out->channel = 1;
		if ((r = channel_says(e, t, &out->says, err)) < 0)
			return r;
		out->waiting = r == 1;
		if (out->waiting)
			return 0;
		memcpy(uuid, out->says.uuid, sizeof(uuid));
	} else if ((r = petrel_bw_latest(e->http, t->server->url, t->job, t->platform, uuid,
					 err)) < 0) {
		return r;
	}
	r = petrel_store_find_uuid(&e->store, t->name, uuid, v, err);
	if (r == 0) {
		out->remote = v->build;
		out->in_store = 1;
		return out->channel ? channel_binds(&out->says, &out->remote, err) : 0;
	}
	if (r != -PETREL_ENOTFOUND || (r = resolve(e, t, uuid, &out->remote, err)) < 0 ||
	    (out->channel && (r = channel_binds(&out->says, &out->remote, err)) < 0))
		return r;
	r = petrel_store_find_version(&e->store, t->name, out->remote.sha256, v, err);
	if (r < 0 && r != -PETREL_ENOTFOUND)
		return r;
	out->in_store = r == 0;
	return 0;
}

/* A channel that moves this host nowhere: what is deployed stands for the newest, no
 * update; unless the channel blocks it, and then the daemon leaves it (reverts). */
static int channel_waits(struct petrel_engine *e, const struct petrel_target *t,
			 struct petrel_check *out, struct petrel_err *err)
{
	struct petrel_err blocked = PETREL_ERR_INIT;
	int r;

	if ((r = pinned(e, t, out, err)) < 0 || (r = deployed_now(e, t, out, err)) < 0)
		return r;
	if (!out->have_deployed)
		return 0;
	out->remote = out->deployed.build;
	out->in_store = 1;
	r = petrel_follow_blocks(e, t, out->deployed.build.uuid, out->deployed.build.sha256,
				 &blocked);
	out->leave = r == -PETREL_EPOLICY;
	return r == -PETREL_EPOLICY ? 0 : r < 0 ? petrel_err_forward(err, &blocked, r) : 0;
}

static int check_target(struct petrel_engine *e, const struct petrel_target *t,
			struct petrel_check *out, struct petrel_err *err)
{
	struct petrel_version v;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = newest(e, t, out, &v, err)) < 0)
		return r;
	if (out->waiting)
		return channel_waits(e, t, out, err);
	r = out->in_store ? petrel_rollback_check(e, t, &out->remote, v.timestamp, 0, err) :
			    petrel_rollback_check(e, t, &out->remote, out->remote.finish_time, 1,
						  err);
	if (r < 0)
		return r;
	out->newest = out->in_store ? v.timestamp : out->remote.finish_time;
	out->frozen = petrel_policy_frozen(t->max_age, out->newest, (int64_t)time(NULL), &out->age);
	if ((r = pinned(e, t, out, err)) < 0)
		return r;
	return deployed_version(e, t, out, err);
}

int petrel_check_target(struct petrel_engine *e, const struct petrel_target *t,
			struct petrel_check *out, struct petrel_err *err)
{
	int r = check_target(e, t, out, err);

	/* frozen answers are a refusal for the journal and monitoring (no success), but
	 * not an error here: the caller decides (check exits 3, the daemon warns) */
	if (r == 0 && out->frozen) {
		struct petrel_err frozen = PETREL_ERR_INIT;

		petrel_engine_note(e, t, "check", petrel_check_frozen(t, out, 0, &frozen), -1,
				   &frozen);
		return 0;
	}
	return petrel_engine_note(e, t, "check", r, r == 0 ? out->update : -1, err);
}

int petrel_check_frozen(const struct petrel_target *t, const struct petrel_check *c,
			int with_age, struct petrel_err *err)
{
	char shown[PETREL_URL_MAX + 1], when[32], age[48] = "", limit[32];

	if (!c->frozen)
		return 0;
	petrel_mask_url(t->server->url, shown, sizeof(shown));
	petrel_format_time(c->newest, when, sizeof(when));
	petrel_format_duration(t->max_age, limit, sizeof(limit));
	if (with_age) {
		petrel_format_duration(c->age, age + 2, sizeof(age) - 2);
		memcpy(age, ", ", 2);
		strncat(age, " old", sizeof(age) - strlen(age) - 1);
	}
	return petrel_fail(err, -PETREL_EPOLICY,
			   "%s/job/%s: newest build %s is from %s%s, more than "
			   "max_age %s (is the server or a mirror stuck on old answers?)",
			   shown, t->job, c->remote.uuid, when, age, limit);
}

int petrel_target_runnable(const struct petrel_config *cfg, const struct petrel_target *t,
			   struct petrel_err *err)
{
	const struct { const char *what, *cmd; } commands[] = {
		{ "orchestrator", strcmp(t->orchestrator, "none") ? t->orchestrator : "" },
		{ "health", t->health }, { "preflight", t->preflight },
	};
	int r;

	for (size_t i = 0; i < PETREL_ARRAY_SIZE(commands); i++)
		if (commands[i].cmd[0] &&
		    (r = petrel_argv_check(commands[i].what, commands[i].cmd, err)) < 0) {
			petrel_err_prefix(err, "%s:%d: target %s: ", cfg->path, t->line, t->name);
			return r;
		}
	return 0;
}

/* Bytes that failed verification: not offered again before their backoff ends (a
 * flipped byte in transit must not block a genuine build for good, nor a bad build
 * be downloaded at every poll); forgotten when they verify. */
static void refuse(struct petrel_engine *e, const struct petrel_target *t,
		   const struct petrel_build *b, int r, const struct petrel_err *why)
{
	struct petrel_err rec = PETREL_ERR_INIT;	/* the recording's own */
	char reason[4 * PETREL_ERR_MSG_MAX];

	petrel_text_safe(petrel_err_msg(why, r), reason, sizeof(reason));	/* quotes servers */
	if (petrel_store_refuse(&e->store, t->name, b->sha256, b->uuid, reason,
				t->interval, (int64_t)time(NULL), &rec) < 0)
		petrel_log_warn("%s: recording the refusal failed: %s", t->name,
				petrel_err_msg(&rec, -PETREL_EDB));
}

/* petrel_fetch_target without its outcome recorded: petrel_upgrade records the whole
 * upgrade's once (a refusal is one journal row, not two). */
static int fetch_unnoted(struct petrel_engine *e, const struct petrel_target *t,
			 const char *uuid, struct petrel_version *out, int *already,
			 struct petrel_err *err)
{
	struct petrel_build b;
	int r;

	*already = 0;
	if ((r = petrel_resolve(e, t, uuid, &b, err)) < 0 ||
	    (r = petrel_solo5_devices_check(t, &b, err)) < 0)
		return r;
	r = petrel_store_find_version(&e->store, t->name, b.sha256, out, err);
	if (r == 0) {
		*already = 1;
		/* a replay of a build we have is still a replay */
		return uuid ? 0 : petrel_rollback_check(e, t, &b, out->timestamp, 0, err);
	}
	if (r != -PETREL_ENOTFOUND)
		return r;
	/* refuse a replay before downloading by finish time; the signed timestamp is
	 * compared again once verified */
	if (!uuid && (r = petrel_rollback_check(e, t, &b, b.finish_time, 1, err)) < 0)
		return r;
	r = petrel_fetch_build(e, t, &b, !uuid, out, err);
	if (r < 0 && petrel_err_is(r, PETREL_ERR_CONDEMNS) && !petrel_cancelled())
		refuse(e, t, &b, r, err);
	return r;
}

int petrel_fetch_target(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
			struct petrel_version *out, int *already, struct petrel_err *err)
{
	return petrel_engine_note(e, t, "fetch",
				  fetch_unnoted(e, t, uuid, out, already, err), -1, err);
}

/* ---- upgrade ---- */

static int current_generation(struct petrel_engine *e, const struct petrel_target *t,
			      struct petrel_upgrade_result *res, struct petrel_generation *prev,
			      struct petrel_err *err)
{
	int r = petrel_store_current(&e->store, t->name, &res->before, prev, err);

	res->has_before = res->before.number > 0;
	return r;
}

/* Refusals before anything changes: rejected, downgrade, preflight. */
static int may_deploy(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
		      int allow_downgrade, const struct petrel_version *v,
		      struct petrel_upgrade_result *res, struct petrel_err *err)
{
	const struct petrel_version *cur = &res->before.version;
	char reason[256], when[32];
	int64_t at;
	int r;

	/* never, not even by hand */
	if ((r = petrel_follow_blocks(e, t, v->build.uuid, v->build.sha256, err)) < 0)
		return r;
	r = petrel_store_rejected(&e->store, t->name, v->build.sha256, reason, &at, err);
	if (r == 0) {
		petrel_format_time(at, when, sizeof(when));
		if (!uuid)
			return petrel_fail(err, -PETREL_EPOLICY,
					   "build %s was rejected on %s (%s); deploy it "
					   "anyway with: petrel upgrade %s --to %s", v->build.uuid,
					   when, reason, t->name, v->build.uuid);
		petrel_log_warn("%s: build %s was rejected on %s (%s); deploying it as asked",
				t->name, v->build.uuid, when, reason);
		res->warned_rejected = 1;
	} else if (r != -PETREL_ENOTFOUND) {
		return r;
	}
	if (res->has_before && v->timestamp < cur->timestamp && !allow_downgrade) {
		char a1[32], a2[32];

		petrel_format_time(v->timestamp, a1, sizeof(a1));
		petrel_format_time(cur->timestamp, a2, sizeof(a2));
		return petrel_fail(err, -PETREL_EPOLICY,
				   "build %s (%s) is older than the current %s (%s); "
				   "refused without --allow-downgrade", v->build.uuid, a1,
				   cur->build.uuid, a2);
	}
	return petrel_preflight(e, t, v, res->has_before ? cur->build.sha256 : NULL, err);
}

/* A pinned target moves only to a build named by hand (with a warning). */
static int held(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
		struct petrel_err *err)
{
	struct petrel_pin pin;
	int r = petrel_store_pinned(&e->store, t->name, &pin, err);

	if (r == -PETREL_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	if (!uuid)
		return petrel_pin_refusal(t, &pin, err);
	if (strcasecmp(uuid, pin.uuid))
		petrel_log_warn("%s: pinned at %s; deploying %s as asked (the pin stays)",
				t->name, pin.uuid, uuid);
	return 0;
}

/* Before a build named by hand goes live, the channel's newest blocks: polled now, and
 * when its server cannot be reached, the ones this host accepted last (a warning). */
static int channel_news(struct petrel_engine *e, const struct petrel_target *t,
			struct petrel_err *err)
{
	struct petrel_channel_says says;
	struct petrel_err why = PETREL_ERR_INIT;
	int r;

	if (!t->channel[0])
		return 0;
	r = channel_says(e, t, &says, &why);
	if (r >= 0)
		return 0;
	if (!petrel_err_is(r, PETREL_ERR_TRANSIENT))
		return petrel_fail(err, r, "%s", petrel_err_msg(&why, r));
	petrel_log_warn("%s: %s; the blocks of the channel file accepted last apply", t->name,
			petrel_err_msg(&why, r));
	return 0;
}

static int upgrade(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
		   int allow_downgrade, struct petrel_upgrade_result *res, struct petrel_err *err)
{
	struct petrel_generation prev;
	struct petrel_version v;
	int64_t to_gen;
	int r, already = 1;

	memset(res, 0, sizeof(*res));
	if ((r = petrel_target_runnable(e->cfg, t, err)) < 0 ||	/* the operator's to fix */
	    (r = held(e, t, uuid, err)) < 0 ||
	    (uuid && (r = channel_news(e, t, err)) < 0))
		return r;
	/* a build the store already verified for t needs no server */
	if (!uuid && t->channel[0]) {
		struct petrel_channel_says says;

		if ((r = channel_says(e, t, &says, err)) < 0)
			return r;
		if (r == 1) {	/* the channel moves this host nowhere yet: nothing to do */
			petrel_log_info("%s: %s", t->name, says.why);
			if ((r = current_generation(e, t, res, &prev, err)) < 0)
				return r;
			res->noop = 1;
			res->now = res->before;
			return 0;
		}
	}
	r = uuid ? petrel_store_find_uuid(&e->store, t->name, uuid, &v, err) : -PETREL_ENOTFOUND;
	if (r == -PETREL_ENOTFOUND)
		r = fetch_unnoted(e, t, uuid, &v, &already, err);
	if (r < 0 || (r = current_generation(e, t, res, &prev, err)) < 0)
		return r;
	if (res->has_before && !memcmp(res->before.version.build.sha256, v.build.sha256, 32)) {
		res->noop = 1;
		res->now = res->before;
		return 0;
	}
	/* a build verified just now was judged by today's configuration already */
	if ((already && (r = petrel_trust_recheck(e, t, &v, err)) < 0) ||
	    (r = may_deploy(e, t, uuid, allow_downgrade, &v, res, err)) < 0 ||
	    (r = petrel_switch_to(e, t, res->has_before ? &res->before : NULL, prev.number, &v,
				  &to_gen, err)) < 0)
		return r;
	return petrel_store_generation(&e->store, t->name, to_gen, &res->now, err);
}

/*
 * A revert back is the operator saying "not that build": the build reverted from is
 * rejected for the target, so the daemon does not deploy it again at its next poll
 * (it waits for a newer one). A revert forward again takes the rejection back. The
 * verdict is recorded by the transaction that completes the revert.
 */
static void revert_policy(const struct petrel_upgrade_result *res, int blocked,
			  struct petrel_verdict *v)
{
	const struct petrel_build *from = &res->before.version.build;

	memset(v, 0, sizeof(*v));
	if (res->now.number > res->before.number) {
		v->reject = -1;
		memcpy(v->sha256, res->now.version.build.sha256, 32);
		return;
	}
	v->reject = 1;
	memcpy(v->sha256, from->sha256, 32);
	petrel_strcpy_whole(v->uuid, from->uuid, sizeof(v->uuid));
	snprintf(v->reason, sizeof(v->reason), "%s from generation %lld to %lld",
		 blocked ? "blocked by the channel: reverted" : "reverted by hand",
		 (long long)res->before.number, (long long)res->now.number);
}

int petrel_upgrade(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
		   int allow_downgrade, struct petrel_upgrade_result *res, struct petrel_err *err)
{
	int r = upgrade(e, t, uuid, allow_downgrade, res, err);

	/* the newest build deployed (or already current): no update is pending */
	return petrel_engine_note(e, t, "upgrade", r, r == 0 && !uuid ? 0 : -1, err);
}

int petrel_revert(struct petrel_engine *e, const struct petrel_target *t,
		  struct petrel_upgrade_result *res, struct petrel_err *err)
{
	struct petrel_verdict verdict;
	struct petrel_err leaving = PETREL_ERR_INIT;
	int r, blocked;

	memset(res, 0, sizeof(*res));
	if ((r = petrel_target_runnable(e->cfg, t, err)) < 0 ||
	    (r = current_generation(e, t, res, &res->now, err)) < 0)
		return r;
	if (!res->now.number)
		return petrel_fail(err, -ENOENT, "no previous generation to revert to");
	/* never onto a build the channel blocks, whatever the keys say */
	if ((r = petrel_follow_blocks(e, t, res->now.version.build.uuid,
				      res->now.version.build.sha256, err)) < 0)
		return petrel_engine_note_refusal(e, t, "revert", r, err);
	/* either way, back or forward again: a key removed since stops it (journaled) */
	if ((r = petrel_trust_recheck(e, t, &res->now.version, err)) < 0)
		return petrel_engine_note_refusal(e, t, "revert", r, err);
	/* leaving a build the channel blocks: the rejection says so (the daemon's leave) */
	blocked = res->before.number &&
		  petrel_follow_blocks(e, t, res->before.version.build.uuid,
				       res->before.version.build.sha256, &leaving) == -PETREL_EPOLICY;
	revert_policy(res, blocked, &verdict);
	return petrel_switch_back(e, t, &res->before, &res->now, &verdict, err);
}

int petrel_stage(struct petrel_engine *e, const struct petrel_target *t,
		 const struct petrel_check *c, struct petrel_version *v, int *already,
		 struct petrel_err *err)
{
	*already = c->in_store;
	if (c->in_store)
		return petrel_store_find_version(&e->store, t->name, c->remote.sha256, v, err);
	return petrel_fetch_target(e, t, NULL, v, already, err);
}

int petrel_upgrade_newest(struct petrel_engine *e, const struct petrel_target *t,
			  const struct petrel_version *v, struct petrel_upgrade_result *res,
			  struct petrel_err *err)
{
	int r = upgrade(e, t, v->build.uuid, 0, res, err);

	return petrel_engine_note(e, t, "upgrade", r, r == 0 ? 0 : -1, err);
}

int petrel_daemon_lock(const struct petrel_config *cfg, struct petrel_err *err)
{
	char path[PATH_MAX], who[64];
	int fd, r;

	if ((r = petrel_store_prepare(cfg->state_dir, err)) < 0)
		return r;	/* before daemon.lock is made in a directory petrel must not use */
	if (petrel_snprintf(path, sizeof(path), "%s/daemon.lock", cfg->state_dir) < 0)
		return petrel_fail(err, -ENAMETOOLONG, "%s: path too long", cfg->state_dir);
	if ((fd = petrel_lockfile_try(path, who, sizeof(who), err)) == -EWOULDBLOCK)
		return petrel_fail(err, -PETREL_ELOCKED, "another petrel daemon (%s) runs on %s",
				   who,
				   cfg->state_dir);
	return fd;
}
