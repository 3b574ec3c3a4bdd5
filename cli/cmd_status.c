/*
 * petrel status: what is deployed, what waits and why, what the server said last, and
 * whether a daemon runs. A read: a snapshot of the store, no lock, nothing written.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/error.h"
#include "deploy/follow.h"
#include "common/util.h"
#include "output.h"

/* Everything status says about one target, read from one snapshot. */
struct view {
	struct petrel_generation cur, prev;
	int have_newest, staged;	/* newest verified version; it is not deployed */
	struct petrel_version newest;
	int rejected;			/* the staged build was rejected here */
	char rejected_reason[256];
	int64_t rejected_at;
	int refused;			/* a newer build failed verification */
	struct petrel_refusal refusal;
	int pinned;
	struct petrel_pin pin;
	struct petrel_target_facts facts;
	int interrupted;
	struct petrel_intent intent;
	/* what the trust re-check says of current, previous and staged now ("": trusted) */
	char untrusted[3][PETREL_ERR_MSG_MAX];
	/* t->channel: the file this host accepted last (have_channel), or why none */
	int have_channel, deployed_blocked;
	struct petrel_follow follow;
	char channel_error[PETREL_ERR_MSG_MAX];
};

enum { CUR, PREV, STAGED };

/* Whether a daemon holds STATE/daemon.lock, read once per command. */
struct daemon_info {
	int known, running;
	long pid;
};
static struct daemon_info daemon_info;

static void daemon_probe(const struct petrel_config *cfg)
{
	char path[PATH_MAX];

	if (daemon_info.known)
		return;
	daemon_info.known = 1;
	if (petrel_snprintf(path, sizeof(path), "%s/daemon.lock", cfg->state_dir) == 0)
		daemon_info.running = petrel_lockfile_holder(path, &daemon_info.pid) == 1;
}

static int optional(int r)
{
	return r == -PETREL_ENOTFOUND ? 0 : r;
}

static int find_intent(void *ctx, const struct petrel_intent *in)
{
	struct view *v = ctx;

	if (strcmp(in->target, v->facts.target))
		return 0;
	v->intent = *in;
	v->interrupted = 1;
	return 0;
}

/* The staged build's rejection, and a refusal newer than anything verified. */
static int holds(struct petrel_store *s, const struct petrel_target *t, struct view *v,
		 struct petrel_err *err)
{
	int r;

	if (v->staged) {
		r = petrel_store_rejected(s, t->name, v->newest.build.sha256, v->rejected_reason,
					  &v->rejected_at, err);
		if ((r = optional(r)) < 0)
			return r;
		v->rejected = v->rejected_at != 0;
	}
	if ((r = optional(petrel_store_last_refusal(s, t->name, &v->refusal, err))) < 0)
		return r;
	v->refused = v->refusal.last_at &&
		     (!v->have_newest || v->refusal.last_at >= v->newest.verified_at);
	r = optional(petrel_store_pinned(s, t->name, &v->pin, err));
	v->pinned = r == 0 && v->pin.at;
	return r;
}

static int gather(struct petrel_store *s, const struct petrel_target *t, struct view *v,
		  struct petrel_err *err)
{
	int r;

	memset(v, 0, sizeof(*v));
	if ((r = petrel_store_current(s, t->name, &v->cur, &v->prev, err)) < 0)
		return r;
	r = petrel_store_newest_version(s, t->name, &v->newest, err);
	if ((r = optional(r)) < 0)
		return r;
	v->have_newest = v->newest.id != 0;
	v->staged = v->have_newest &&
		    (!v->cur.number || memcmp(v->newest.build.sha256, v->cur.version.build.sha256,
					      32));
	if ((r = holds(s, t, v, err)) < 0 ||
	    (r = optional(petrel_store_target_facts(s, t->name, &v->facts, err))) < 0)
		return r;
	snprintf(v->facts.target, sizeof(v->facts.target), "%s", t->name);
	return petrel_store_intents(s, find_intent, v, err);
}

/*
 * Whether today's keys still vouch for what is deployed, what a revert goes back to and
 * what waits (a key removed because it leaked): the re-check upgrade and revert make,
 * without reading a blob.
 */
static int recheck(struct petrel_engine *e, const struct petrel_target *t, struct view *v,
		   struct petrel_err *err)
{
	const struct petrel_version *of[3] = {
		v->cur.number ? &v->cur.version : NULL, v->prev.number ? &v->prev.version : NULL,
		v->staged ? &v->newest : NULL,
	};
	int r;

	for (size_t i = 0; i < 3; i++) {
		struct petrel_err why = PETREL_ERR_INIT;

		if (!of[i])
			continue;
		r = petrel_trust_recheck_flags(e, t, of[i], PETREL_RECHECK_NO_READ, &why);
		if (r < 0 && !petrel_err_is(r, PETREL_ERR_REFUSAL))
			return petrel_err_forward(err, &why, r);
		if (r < 0)
			petrel_text_safe(petrel_err_msg(&why, r), v->untrusted[i],
					 sizeof(v->untrusted[i]));
	}
	return 0;
}

static json_t *text_or_null(const char *text)
{
	return text[0] ? json_string(text) : json_null();
}

/* The channel file accepted last, verified again with the current keys; no network. */
static void gather_channel(struct petrel_engine *e, const struct petrel_target *t,
			   struct view *v)
{
	struct petrel_err err = PETREL_ERR_INIT;
	int r;

	if (!t->channel[0])
		return;
	r = petrel_follow_stored(e, t, &v->follow, &err);
	if (r == -PETREL_ENOTFOUND) {
		snprintf(v->channel_error, sizeof(v->channel_error), "none accepted yet");
		return;
	}
	if (r < 0) {
		petrel_text_safe(petrel_err_msg(&err, r), v->channel_error,
				 sizeof(v->channel_error));
		return;
	}
	v->have_channel = 1;
	v->deployed_blocked = v->cur.number &&
			      petrel_channel_blocks(&v->follow.ch, v->cur.version.build.sha256);
}

static json_t *channel_json(const struct petrel_target *t, const struct view *v)
{
	const struct petrel_channel *c = &v->follow.ch;
	json_t *blocked, *rel = json_null();
	char hex[65];

	if (!t->channel[0])
		return json_null();
	if (!v->have_channel)
		return json_pack("{s:o, s:s}", "url", petrel_json_text(t->channel), "error",
				 v->channel_error);
	blocked = json_array();
	for (size_t i = 0; i < c->nblocked; i++) {
		petrel_hex(c->blocked[i], 32, hex);
		json_array_append_new(blocked, json_string(hex));
	}
	if (c->has_release) {
		petrel_hex(c->sha256, 32, hex);
		rel = json_pack("{s:s, s:s, s:o, s:I, s:f, s:f, s:b}", "uuid", c->uuid,
				"sha256", hex, "start", petrel_json_time(c->start), "duration",
				(json_int_t)c->duration, "bucket", v->follow.u, "ramp",
				v->follow.fraction, "takes", v->follow.takes);
	}
	return json_pack("{s:s, s:I, s:o, s:o, s:o, s:o, s:b}", "url", v->follow.url,
			 "version", (json_int_t)c->version, "accepted_at",
			 petrel_json_time(v->follow.accepted_at), "expires",
			 petrel_json_time(c->expires), "release", rel, "blocked", blocked,
			 "deployed_blocked", v->deployed_blocked);
}

/* ---- JSON ---- */

static const char *const auto_names[] = { "upgrade", "fetch", "off" };

static void window_text(const struct petrel_target *t, char *out, size_t n)
{
	snprintf(out, n, "%02d:%02d-%02d:%02d", t->window_start / 60, t->window_start % 60,
		 t->window_end / 60, t->window_end % 60);
}

static json_t *policy_json(const struct petrel_target *t, const struct view *v)
{
	char win[48];

	window_text(t, win, sizeof(win));
	return json_pack("{s:s, s:o, s:I, s:o}", "auto", auto_names[t->autopolicy], "window",
			 t->window_start >= 0 ? json_string(win) : json_null(), "interval",
			 (json_int_t)t->interval, "pinned", v->pinned ? petrel_json_pin(&v->pin) :
			 json_null());
}

static json_t *check_json(const struct view *v)
{
	const struct petrel_target_facts *f = &v->facts;

	return json_pack("{s:o, s:o, s:o}", "last_check", petrel_json_time(f->last_check),
			 "last_success", petrel_json_time(f->last_success), "update_available",
			 f->update_available < 0 ? json_null() : json_boolean(f->update_available));
}

static void fill_json(json_t *o, const struct petrel_target *t, const struct view *v)
{
	json_object_set_new(o, "job", json_string(t->job));
	json_object_set_new(o, "server", json_string(t->server->name));
	json_object_set_new(o, "path", petrel_json_text(t->path));
	json_object_set_new(o, "current", v->cur.number ? petrel_json_generation(&v->cur) :
			    json_null());
	json_object_set_new(o, "previous", v->prev.number ? petrel_json_generation(&v->prev) :
			    json_null());
	json_object_set_new(o, "staged", v->staged ? petrel_json_version(&v->newest) :
			    json_null());
	json_object_set_new(o, "rejected", !v->rejected ? json_null() :
			    petrel_json_rejection(v->newest.build.uuid, v->newest.build.sha256,
						  v->rejected_reason, v->rejected_at));
	json_object_set_new(o, "refused", v->refused ? petrel_json_refusal(&v->refusal) :
			    json_null());
	json_object_set_new(o, "policy", policy_json(t, v));
	json_object_set_new(o, "channel", channel_json(t, v));
	json_object_set_new(o, "check", check_json(v));
	json_object_set_new(o, "daemon", json_pack("{s:b, s:o, s:o}", "running",
						   daemon_info.running, "pid", daemon_info.pid ?
						   json_integer(daemon_info.pid) : json_null(),
						   "next_poll", daemon_info.running ?
						   petrel_json_time(v->facts.next_poll) : json_null()));
	json_object_set_new(o, "untrusted", json_pack("{s:o, s:o, s:o}",
						      "current", text_or_null(v->untrusted[CUR]),
						      "previous", text_or_null(v->untrusted[PREV]),
						      "staged", text_or_null(v->untrusted[STAGED])));
	json_object_set_new(o, "interrupted", !v->interrupted ? json_null() :
			    json_pack("{s:s, s:s, s:o}", "op", v->intent.op, "phase",
				      v->intent.phase, "started_at",
				      petrel_json_time(v->intent.started_at)));
}

/* ---- text ---- */

static void print_version(const char *label, const struct petrel_version *v, int64_t gen,
			  int64_t deployed_at, int64_t now)
{
	char hex[65], when[32], age[32], size[32], trust[PETREL_TRUST_TEXT_MAX];
	int64_t at = deployed_at ? deployed_at : v->verified_at;

	petrel_hex(v->build.sha256, 32, hex);
	if (gen)
		printf("  %s: generation %lld, %s %s\n", label, (long long)gen, v->build.job,
		       v->build.uuid);
	else
		printf("  %s: %s %s\n", label, v->build.job, v->build.uuid);
	petrel_human_size(v->build.size, size, sizeof(size));
	printf("    file:     %s, %s (%llu bytes)\n", v->build.filename, size,
	       (unsigned long long)v->build.size);
	printf("    sha256:   %s\n", hex);
	petrel_trust_text(v, trust, sizeof(trust));
	printf("    trust:    %s\n", trust);
	petrel_format_time(at, when, sizeof(when));
	petrel_human_age(at, now, age, sizeof(age));
	printf("    %s %s (%s)\n", deployed_at ? "deployed:" : "verified:", when, age);
}

/* A version today's keys no longer vouch for: why, under it. */
static void print_untrusted(const char *why)
{
	if (why[0])
		printf("    NOT TRUSTED NOW: %s\n", why);
}

/* What the staged build waits for, in the words of what will happen to it. */
static void print_staged_fate(const struct petrel_target *t, const struct view *v)
{
	char when[32], win[48];

	if (v->rejected) {
		char why[4 * sizeof(v->rejected_reason)];

		petrel_format_time(v->rejected_at, when, sizeof(when));
		petrel_text_safe(v->rejected_reason, why, sizeof(why));
		printf("    rejected here on %s (%s): upgrade refuses it unless named with "
		       "--to\n", when, why);
	} else if (v->pinned) {
		printf("    held: %s is pinned ('petrel unpin %s')\n", t->name, t->name);
	} else if (t->autopolicy == PETREL_AUTO_OFF) {
		printf("    auto = off: 'petrel upgrade %s' deploys it\n", t->name);
	} else if (t->autopolicy == PETREL_AUTO_FETCH) {
		printf("    auto = fetch: staged; 'petrel upgrade %s' deploys it\n", t->name);
	} else if (t->window_start >= 0) {
		window_text(t, win, sizeof(win));
		printf("    staged, waits for the window %s (or 'petrel upgrade %s')\n", win,
		       t->name);
	} else {
		printf("    the daemon deploys it at its next poll (or 'petrel upgrade %s')\n",
		       t->name);
	}
}

static void print_check(const struct view *v, int64_t now)
{
	const struct petrel_target_facts *f = &v->facts;
	char age[32], ok[32];

	if (!f->last_check) {
		printf("  server:   not checked yet\n");
		return;
	}
	petrel_human_age(f->last_check, now, age, sizeof(age));
	if (f->last_success != f->last_check) {
		if (f->last_success)
			petrel_human_age(f->last_success, now, ok, sizeof(ok));
		printf("  server:   last check %s failed; last success %s\n", age,
		       f->last_success ? ok : "never");
		return;
	}
	printf("  server:   checked %s: %s\n", age, f->update_available == 1 ?
	       "update available" : f->update_available == 0 ? "up to date" : "ok");
}

static void print_refused(const struct view *v, int64_t now)
{
	const struct petrel_refusal *f = &v->refusal;
	char first[32], next[32], why[4 * sizeof(f->reason)];

	petrel_text_safe(f->reason, why, sizeof(why));	/* it quotes a server */
	petrel_format_time(f->first_at, first, sizeof(first));
	petrel_human_age(f->retry_at, now, next, sizeof(next));
	printf("  refused:  %s %.12s failed verification %lld time%s since %s; next try %s\n",
	       f->uuid, f->sha256, (long long)f->count, f->count == 1 ? "" : "s", first,
	       f->retry_at > now ? next : "at the next poll");
	printf("            %s\n", why);
}

static void print_policy(const struct petrel_target *t, const struct view *v, int64_t now)
{
	char win[48], when[32], age[32];

	printf("  policy:   auto = %s", auto_names[t->autopolicy]);
	if (t->window_start >= 0) {
		window_text(t, win, sizeof(win));
		printf(", window %s", win);
	}
	if (v->pinned) {
		petrel_format_time(v->pin.at, when, sizeof(when));
		printf(", pinned at %s since %s", v->pin.uuid, when);
	}
	printf("\n");
	if (!daemon_info.running) {
		printf("  daemon:   not running\n");
		return;
	}
	printf("  daemon:   pid %ld", daemon_info.pid);
	if (v->facts.next_poll > 0) {
		petrel_human_age(v->facts.next_poll, now, age, sizeof(age));
		printf(", next poll %s", v->facts.next_poll > now ? age : "due");
	}
	printf("\n");
}

static void print_channel(const struct petrel_target *t, const struct view *v, int64_t now)
{
	const struct petrel_channel *c = &v->follow.ch;
	char age[48], exp[32], h[13];

	if (!t->channel[0])
		return;
	if (!v->have_channel) {
		printf("  channel:  %s: %s\n", v->follow.url[0] ? v->follow.url : t->channel,
		       v->channel_error);
		return;
	}
	petrel_human_age(v->follow.accepted_at, now, age, sizeof(age));
	petrel_format_time(c->expires, exp, sizeof(exp));
	printf("  channel:  %s version %lld (accepted %s), expires %s%s\n", v->follow.url,
	       (long long)c->version, age, exp, now >= c->expires ? " (expired)" : "");
	if (c->has_release) {
		petrel_short_hash(c->sha256, h);
		printf("            release %s %s: ramp at %.1f %%, this host's bucket %.3f: %s\n",
		       c->uuid, h, 100 * v->follow.fraction, v->follow.u,
		       v->follow.takes ? "taken" : "not yet");
	} else {
		printf("            no release for job %s\n", t->job);
	}
	if (c->nblocked)
		printf("            %zu hash%s blocked%s\n", c->nblocked, c->nblocked == 1 ? "" : "es",
		       v->deployed_blocked ? ", the deployed build among them: the daemon "
		       "leaves it at its next poll" : "");
}

static void print_long(const struct petrel_target *t, const struct view *v, int64_t now)
{
	printf("%s (job %s on %s, %s)\n", t->name, t->job, t->server->name, t->path);
	if (v->cur.number)
		print_version("current", &v->cur.version, v->cur.number, v->cur.deployed_at, now);
	else
		printf("  current: nothing deployed\n");
	print_untrusted(v->untrusted[CUR]);
	if (v->prev.number)
		print_version("previous", &v->prev.version, v->prev.number, v->prev.deployed_at,
			      now);
	print_untrusted(v->untrusted[PREV]);
	if (v->staged) {
		print_version("newest verified, not deployed", &v->newest, 0, 0, now);
		print_untrusted(v->untrusted[STAGED]);
		print_staged_fate(t, v);
	} else if (!v->cur.number) {
		printf("  newest verified: nothing fetched yet\n");
	}
	if (v->refused)
		print_refused(v, now);
	print_check(v, now);
	print_channel(t, v, now);
	print_policy(t, v, now);
	if (v->interrupted)
		printf("  interrupted: %s %s was cut short (phase %s); the next writing command "
		       "(e.g. petrel fsck) rolls it back\n", strcmp(v->intent.op, "upgrade") ? "a" :
		       "an", v->intent.op, v->intent.phase);
}

/* One line, as apt list --upgradable: name, what runs, and what is to be said. */
static void print_short(const struct petrel_target *t, const struct view *v)
{
	char h[13], nh[13], line[160] = "";
	size_t n = 0;

	if (v->cur.number) {
		petrel_short_hash(v->cur.version.build.sha256, h);
		n += (size_t)snprintf(line, sizeof(line), "gen %lld %.8s %s",
				      (long long)v->cur.number, v->cur.version.build.uuid, h);
	} else {
		n += (size_t)snprintf(line, sizeof(line), "nothing deployed");
	}
	if (v->staged && n < sizeof(line)) {
		petrel_short_hash(v->newest.build.sha256, nh);
		n += (size_t)snprintf(line + n, sizeof(line) - n, " [%s: %.8s %s]",
				      v->rejected ? "rejected" : "staged", v->newest.build.uuid, nh);
	} else if (v->facts.update_available == 1 && n < sizeof(line)) {
		n += (size_t)snprintf(line + n, sizeof(line) - n, " [update available]");
	}
	if (v->refused && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " [refused: %.8s]",
				      v->refusal.uuid);
	if (v->pinned && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " [pinned]");
	if ((v->untrusted[CUR][0] || v->untrusted[PREV][0] || v->untrusted[STAGED][0]) &&
	    n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " [untrusted:%s%s%s]",
				      v->untrusted[CUR][0] ? " current" : "",
				      v->untrusted[PREV][0] ? " previous" : "",
				      v->untrusted[STAGED][0] ? " staged" : "");
	if (v->deployed_blocked && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " [blocked]");
	if (v->interrupted && n < sizeof(line))
		snprintf(line + n, sizeof(line) - n, " [interrupted]");
	printf("%-20s %s\n", t->name, line);
}

static int one(struct petrel_cli *cli, struct petrel_engine *e, const struct petrel_target *t,
	       json_t *o, int *status, struct petrel_err *err)
{
	struct view *v = calloc(1, sizeof(*v));	/* a few versions: keep them off the stack */
	int64_t now = (int64_t)time(NULL);
	int r;

	(void)status;
	if (!v)
		return petrel_fail(err, -ENOMEM, "out of memory");
	daemon_probe(e->cfg);
	if ((r = gather(&e->store, t, v, err)) == 0 && (r = recheck(e, t, v, err)) == 0) {
		gather_channel(e, t, v);
		fill_json(o, t, v);
		if (!cli->json && cli->short_form)
			print_short(t, v);
		else if (!cli->json)
			print_long(t, v, now);
	}
	petrel_follow_release(&v->follow);
	free(v);
	return r;
}

int petrel_cmd_status(struct petrel_cli *cli)
{
	return petrel_each_target_read(cli, one);
}
