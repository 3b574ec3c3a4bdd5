/* The fetch transaction: resolve, gather signatures, stream and hash, verify, store. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fanout.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/util.h"
#include "engine.h"
#include "fetcher/builderweb.h"
#include "outcome.h"
#include "rebuild.h"
#include "sigs.h"
#include "solo5.h"
#include "verify/digest.h"

int petrel_engine_open_with(struct petrel_engine *e, const struct petrel_config *cfg,
			    struct petrel_http *http)
{
	int r, borrowed = http != NULL;

	memset(e, 0, sizeof(*e));
	e->cfg = cfg;
	if ((r = petrel_store_open_locked(&e->store, cfg->state_dir, cfg->lock_timeout)) < 0)
		return r;
	/* Holding the lock, whatever is in tmp/ was left by a run that died. */
	if ((r = petrel_store_clean_tmp(&e->store)) < 0 ||
	    (r = petrel_recover(e)) < 0 ||
	    (!http && (r = petrel_http_new(&http, &cfg->limits)) < 0)) {
		petrel_store_close(&e->store);
		return r;
	}
	e->borrowed_http = borrowed;
	e->http = http;
	if (!e->borrowed_http)
		petrel_http_set_progress(e->http, petrel_log_level >= PETREL_LOG_INFO);
	return 0;
}

int petrel_engine_open(struct petrel_engine *e, const struct petrel_config *cfg)
{
	return petrel_engine_open_with(e, cfg, NULL);
}

void petrel_engine_close(struct petrel_engine *e)
{
	if (!e->borrowed_http)
		petrel_http_free(e->http);
	e->http = NULL;
	petrel_store_close(&e->store);
}

int petrel_resolve(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
		   struct petrel_build *out)
{
	const char *srv = t->server->url;
	int r;

	memset(out, 0, sizeof(*out));
	petrel_strlcpy(out->job, t->job, sizeof(out->job));
	if (uuid) {
		if (!petrel_uuid_valid(uuid))
			return petrel_fail(-PETREL_EUSAGE, "'%s' is not a build uuid", uuid);
		/* builder-web's uuids are lowercase; an operator may paste either case */
		for (size_t i = 0; uuid[i]; i++)
			out->uuid[i] = (char)tolower((unsigned char)uuid[i]);
	} else if ((r = petrel_bw_latest(e->http, srv, t->job, t->platform, out->uuid)) < 0) {
		return r;
	}
	if ((r = petrel_bw_job_binary(e->http, srv, t->platform, out)) < 0)
		return r;
	if (out->size > (uint64_t)e->cfg->max_artifact_size)	/* before a byte is stored */
		return petrel_fail(-PETREL_ETOOBIG, "%s/job/%s: build %s announces %llu bytes, more "
				   "than max_artifact_size (%ld)", srv, t->job, out->uuid,
				   (unsigned long long)out->size, e->cfg->max_artifact_size);
	if ((r = petrel_bw_build_record(e->http, srv, out)) < 0)
		return r;
	if (t->platform[0] && strcmp(t->platform, out->platform))
		return petrel_fail(-PETREL_EMALFORMED, "%s/job/%s/build/%s: platform '%s', asked for '%s'",
				   srv, t->job, out->uuid, out->platform, t->platform);
	return petrel_solo5_abi_check(t, out);
}

/*
 * A build offered as newest must not be older than the newest ever verified. by_finish
 * compares its finish time with the newest verified finish time (what can be judged
 * before verification); otherwise ts (signed timestamp, else finish time) is compared
 * with the newest verified one.
 */
static int rollback_check(struct petrel_engine *e, const struct petrel_target *t,
			  const struct petrel_build *b, int64_t ts, int by_finish)
{
	char when[32], mark[32];
	int64_t hw = 0;
	int r;

	r = by_finish ? petrel_store_high_water_finish(&e->store, t->name, &hw) :
			petrel_store_high_water(&e->store, t->name, &hw);
	if (r < 0)
		return r;
	if (ts >= hw)
		return 0;
	petrel_format_time(ts, when, sizeof(when));
	petrel_format_time(hw, mark, sizeof(mark));
	return petrel_fail(-PETREL_EROLLBACK, "server offers build %s from %s as newest, but a build "
			   "from %s was already verified (rollback refused)", b->uuid, when, mark);
}

/* What is deployed (the current generation's version), and whether remote differs. */
static int deployed_version(struct petrel_engine *e, const struct petrel_target *t,
			    struct petrel_check *out)
{
	struct petrel_generation g;
	int r;

	if ((r = petrel_store_current(&e->store, t->name, &g, NULL)) < 0)
		return r;
	out->have_deployed = g.number != 0;
	if (g.number) {
		out->deployed = g.version;
		out->deployed_generation = g.number;
		out->deployed_at = g.deployed_at;
	}
	out->update = !g.number || memcmp(g.version.build.sha256, out->remote.sha256, 32) != 0;
	if (!out->update)
		return 0;
	/* a build that failed here is not offered again (the daemon skips it too) */
	r = petrel_store_rejected(&e->store, t->name, out->remote.sha256, out->rejected_reason,
				  &out->rejected_at);
	if (r == -PETREL_ENOTFOUND) {
		petrel_error_clear();
		return 0;
	}
	out->rejected = r == 0;
	out->update = !out->rejected;
	return r;
}

static int check_target(struct petrel_engine *e, const struct petrel_target *t,
			struct petrel_check *out)
{
	struct petrel_version v;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = petrel_resolve(e, t, NULL, &out->remote)) < 0)
		return r;
	r = petrel_store_find_version(&e->store, t->name, out->remote.sha256, &v);
	if (r < 0 && r != -PETREL_ENOTFOUND)
		return r;
	out->in_store = r == 0;
	petrel_error_clear();
	r = out->in_store ? rollback_check(e, t, &out->remote, v.timestamp, 0) :
			    rollback_check(e, t, &out->remote, out->remote.finish_time, 1);
	if (r < 0)
		return r;
	out->newest = out->in_store ? v.timestamp : out->remote.finish_time;
	out->frozen = petrel_policy_frozen(t->max_age, out->newest, (int64_t)time(NULL), &out->age);
	return deployed_version(e, t, out);
}

int petrel_check_target(struct petrel_engine *e, const struct petrel_target *t,
			struct petrel_check *out)
{
	int r = check_target(e, t, out);

	/* frozen answers are a refusal for the journal and monitoring (no success), but
	 * not an error here: the caller decides (check exits 3, the daemon warns) */
	if (r == 0 && out->frozen) {
		petrel_engine_note(e, t, "check", petrel_check_frozen(t, out, 0), -1);
		petrel_error_clear();
		return 0;
	}
	return petrel_engine_note(e, t, "check", r, r == 0 ? out->update : -1);
}

int petrel_check_frozen(const struct petrel_target *t, const struct petrel_check *c,
			int with_age)
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
	return petrel_fail(-PETREL_EPOLICY, "%s/job/%s: newest build %s is from %s%s, more than "
			   "max_age %s (is the server or a mirror stuck on old answers?)",
			   shown, t->job, c->remote.uuid, when, age, limit);
}

/* The download in progress: where bytes go and what hashes them. Two consumers run
 * on their own threads (common/fanout.h): the store's (SHA-256 + write to tmp/) and
 * the signatures' (BLAKE2b-512 + legacy Ed25519 state), when there are signatures. */
struct download {
	int fd;
	char tmppath[PATH_MAX];
	struct petrel_digest *sha;
	struct petrel_digest *b2;	/* NULL when no prehashed signature needs it */
	struct petrel_sigset *sigs;
	const struct petrel_evidence *rebuilt;	/* the rebuilders' answers */
	struct petrel_fanout *fo;
};

static int consume_store(void *ctx, const void *p, size_t n)
{
	struct download *d = ctx;
	int r;

	if ((r = petrel_digest_update(d->sha, p, n)) < 0)
		return r;
	if (d->fd >= 0 && (r = petrel_write_all(d->fd, p, n)) < 0)
		return petrel_fail(r, "writing %s: %s", d->tmppath, strerror(-r));
	return 0;
}

static int consume_sigs(void *ctx, const void *p, size_t n)
{
	struct download *d = ctx;
	int r;

	if (d->b2 && (r = petrel_digest_update(d->b2, p, n)) < 0)
		return r;
	return petrel_sigset_update(d->sigs, p, n);
}

static int sink(void *ctx, const void *p, size_t n)
{
	struct download *d = ctx;

	if (d->fo)
		return petrel_fanout_write(d->fo, p, n);
	return consume_store(d, p, n) ?: consume_sigs(d, p, n);
}

/* Starts the consumer threads: the signature side only when it has work. */
static int download_start(struct download *d)
{
	petrel_consume_fn fns[2] = { consume_store, consume_sigs };
	void *ctxs[2] = { d, d };
	int r;

	r = petrel_fanout_new(&d->fo, d->sigs->ncands ? 2 : 1, fns, ctxs);
	return r < 0 ? petrel_fail(r, "starting hash threads: %s", strerror(-r)) : 0;
}

/* Streams the local blob through the digests (the store had the bytes already). */
static int hash_blob(struct petrel_engine *e, const uint8_t sha256[32], struct download *d)
{
	char path[PATH_MAX];
	int fd, r;

	if ((r = petrel_store_blob_path(&e->store, sha256, path, sizeof(path))) < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return petrel_fail(-errno, "%s: %s", path, strerror(errno));
	r = petrel_digest_fd(NULL, fd, path, PETREL_DIGEST_UNBOUNDED, sink, d, NULL);
	close(fd);
	return r;
}

static int check_hash(const struct petrel_build *b, const uint8_t got[32], const char *url)
{
	char want[65], have[65];

	if (!memcmp(b->sha256, got, 32))
		return 0;
	petrel_hex(b->sha256, 32, want);
	petrel_hex(got, 32, have);
	return petrel_fail(-PETREL_EHASH, "sha256 mismatch for %s: expected %s, got %s", url, want, have);
}

/* Gets the bytes (from the store or the server) through the digests into d. */
static int obtain(struct petrel_engine *e, const struct petrel_target *t,
		  const struct petrel_build *b, struct download *d, int have_blob,
		  char *url, size_t n)
{
	int r;

	if (have_blob) {
		petrel_store_blob_path(&e->store, b->sha256, url, n);
		return hash_blob(e, b->sha256, d);
	}
	if ((r = petrel_store_tmpfile(&e->store, &d->fd, d->tmppath, sizeof(d->tmppath))) < 0)
		return petrel_fail(r, "creating a file in %s/tmp: %s", e->store.dir, strerror(-r));
	petrel_log_debug("downloading %s %s (%llu bytes)", b->job, b->uuid,
			 (unsigned long long)b->size);
	if ((r = download_start(d)) < 0)
		return r;
	r = petrel_bw_download(e->http, t->server->url, b, sink, d, url, n);
	return r ?: petrel_fanout_finish(d->fo);
}

static void fill_version(struct petrel_version *v, const struct petrel_target *t,
			 const struct petrel_build *b, const struct petrel_evidence *ev,
			 const char *url)
{
	size_t i;

	memset(v, 0, sizeof(*v));
	petrel_strlcpy(v->target, t->name, sizeof(v->target));
	v->build = *b;
	petrel_strlcpy(v->trust, petrel_trust_name(t->trust), sizeof(v->trust));
	petrel_evidence_agreed(ev, v->rebuilders, sizeof(v->rebuilders));
	for (i = 0; i < ev->nkeys; i++) {
		char id[17];

		petrel_keyid_str(ev->keyids[i], id);
		if (i)
			strncat(v->keyids, ",", sizeof(v->keyids) - strlen(v->keyids) - 1);
		strncat(v->keyids, id, sizeof(v->keyids) - strlen(v->keyids) - 1);
	}
	petrel_strlcpy(v->trusted_comment, ev->trusted, sizeof(v->trusted_comment));
	v->timestamp = ev->has_timestamp ? ev->timestamp : b->finish_time;
	v->verified_at = (int64_t)time(NULL);
	petrel_strlcpy(v->url, url, sizeof(v->url));
}

/* Everything after the bytes arrived: hash, signatures, policy, rollback, commit. */
static int accept_build(struct petrel_engine *e, const struct petrel_target *t,
			const struct petrel_build *b, struct download *d, const char *url,
			int newest, struct petrel_version *out)
{
	struct petrel_policy policy = { t->trust, t->threshold, t->agree };
	struct petrel_evidence ev;
	uint8_t sha[32], b2[64];
	int r;

	if ((r = petrel_digest_final(d->sha, sha, NULL)) < 0 ||
	    (d->b2 && (r = petrel_digest_final(d->b2, NULL, b2)) < 0) ||
	    (r = check_hash(b, sha, url)) < 0 ||
	    (r = petrel_sigset_verify(d->sigs, b2, &ev)) < 0)
		return r;
	/* the rebuilders vouched for b->sha256, which the bytes were just checked against */
	ev.nrebuilders = d->rebuilt->nrebuilders;
	memcpy(ev.rebuilders, d->rebuilt->rebuilders, sizeof(ev.rebuilders));
	if ((r = petrel_policy_evaluate(&policy, &ev)) < 0)
		return r;
	fill_version(out, t, b, &ev, url);
	if (newest && (r = rollback_check(e, t, b, out->timestamp, 0)) < 0)
		return r;
	if (d->fd >= 0) {
		r = petrel_store_commit_blob(&e->store, d->fd, d->tmppath, b->sha256);
		d->fd = -1;
		if (r < 0)
			return petrel_fail(r, "storing %s: %s", url, petrel_strerror(r));
	}
	return petrel_store_add_version(&e->store, out);
}

/* Asks the rebuilders before the download, so that too little agreement costs no
 * bytes; the answers are decided again with the whole evidence after it. */
static int gather_rebuilders(struct petrel_engine *e, const struct petrel_target *t,
			     const struct petrel_build *b, struct petrel_evidence *rebuilt)
{
	char shown[PETREL_URL_MAX + 1];
	int r;

	memset(rebuilt, 0, sizeof(*rebuilt));
	if ((r = petrel_rebuilders_ask(e->http, t, b, rebuilt)) < 0)
		return r;
	if ((r = petrel_policy_rebuilt(t->trust, t->agree, rebuilt)) < 0) {
		petrel_mask_url(t->server->url, shown, sizeof(shown));
		petrel_error_prefix("%s/job/%s/build/%s: ", shown, b->job, b->uuid);
	}
	return r;
}

static int fetch_build(struct petrel_engine *e, const struct petrel_target *t,
		       const struct petrel_build *b, int newest, struct petrel_version *out)
{
	struct petrel_sigset sigs;
	struct petrel_evidence rebuilt;
	struct download d = { .fd = -1, .rebuilt = &rebuilt };
	char url[PETREL_URL_MAX + 1];
	int r, have_blob;

	petrel_sigset_init(&sigs, t);
	d.sigs = &sigs;
	if ((r = petrel_sigset_gather(&sigs, e->http, t->server->url, b)) < 0 ||
	    (r = gather_rebuilders(e, t, b, &rebuilt)) < 0)
		goto out;
	if ((r = petrel_digest_new(&d.sha, PETREL_DIGEST_SHA256)) < 0 ||
	    (petrel_sigset_needs_blake2b(&sigs) &&
	     (r = petrel_digest_new(&d.b2, PETREL_DIGEST_BLAKE2B)) < 0))
		goto out;
	if ((have_blob = petrel_store_has_blob(&e->store, b->sha256)) < 0) {
		r = have_blob;
		goto out;
	}
	if ((r = obtain(e, t, b, &d, have_blob, url, sizeof(url))) < 0)
		goto out;
	r = accept_build(e, t, b, &d, url, newest, out);
out:
	if (d.fd >= 0) {
		close(d.fd);
		unlink(d.tmppath);
	}
	petrel_fanout_free(d.fo);
	petrel_digest_free(d.sha);
	petrel_digest_free(d.b2);
	petrel_sigset_release(&sigs);
	return r;
}

int petrel_fetch_target(struct petrel_engine *e, const struct petrel_target *t, const char *uuid,
			struct petrel_version *out, int *already)
{
	return petrel_engine_note(e, t, "fetch",
				  petrel_fetch_target_unnoted(e, t, uuid, out, already), -1);
}

int petrel_fetch_target_unnoted(struct petrel_engine *e, const struct petrel_target *t,
				const char *uuid, struct petrel_version *out, int *already)
{
	struct petrel_build b;
	int r;

	*already = 0;
	if ((r = petrel_resolve(e, t, uuid, &b)) < 0 ||
	    (r = petrel_solo5_devices_check(t, &b)) < 0)
		return r;
	r = petrel_store_find_version(&e->store, t->name, b.sha256, out);
	if (r == 0) {
		*already = 1;
		/* a replay of a build we have is still a replay */
		return uuid ? 0 : rollback_check(e, t, &b, out->timestamp, 0);
	}
	if (r != -PETREL_ENOTFOUND)
		return r;
	petrel_error_clear();
	/* refuse a replay before downloading by finish time; the signed timestamp is
	 * compared again once verified */
	if (!uuid && (r = rollback_check(e, t, &b, b.finish_time, 1)) < 0)
		return r;
	return fetch_build(e, t, &b, !uuid, out);
}
