/* Following a channel file: fetch, verify, remember, decide (DESIGN.md "Fleet"). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "fetcher/http.h"
#include "follow.h"
#include "host.h"
#include "verify/minisign.h"
#include "verify/rollout.h"

/* The last segment of url's path: what a channel signature's file: must name. */
static void url_file(const char *url, char *out, size_t n)
{
	const char *end = url + strcspn(url, "?#"), *p = end;

	while (p > url && p[-1] != '/')
		p--;
	snprintf(out, n, "%.*s", (int)(end - p), p);
}

/* GET url into body (at most max bytes); any status but 200 is a failure naming it. */
static int get(struct petrel_engine *e, const char *url, size_t max, struct petrel_buf *body,
	       struct petrel_err *err)
{
	struct petrel_http_req rq = { .url = url, .follow = 1, .max_bytes = max, .body = body };
	struct petrel_http_resp rs;
	char shown[PETREL_URL_MAX + 1];
	int r;

	if ((r = petrel_http_get(e->http, &rq, &rs, err)) < 0)
		return r;
	if (rs.status == 200)
		return 0;
	petrel_mask_url(url, shown, sizeof(shown));
	return petrel_fail(err, -PETREL_EHTTP, "%s: HTTP %ld", shown, rs.status);
}

/* This host's place in f's release: bucket, u, the ramp now, whether it takes it. */
static int decide(const struct petrel_config *cfg, const struct petrel_target *t,
		  struct petrel_follow *f, struct petrel_err *err)
{
	uint8_t key[PETREL_HOST_KEY_LEN];
	int64_t now = (int64_t)time(NULL);
	int r;

	f->takes = 0;
	if (!f->ch.has_release)
		return 0;
	if ((r = petrel_host_key_of(cfg, PETREL_MACHINE_ID, key, err)) < 0 ||
	    (r = petrel_rollout_bucket(key, t->job, f->ch.sha256, &f->bucket)) < 0)
		return r;
	f->u = petrel_bucket_fraction(f->bucket);
	f->fraction = petrel_ramp_fraction(now, f->ch.start, f->ch.duration);
	f->takes = petrel_rollout_takes(f->bucket, now, f->ch.start, f->ch.duration);
	return 0;
}

/* Verifies and parses a channel file for t; where names it in messages. */
static int understand(const struct petrel_target *t, const char *body, size_t n,
		      const char *sig, size_t sn, struct petrel_follow *f,
		      struct petrel_err *err)
{
	char file[PETREL_URL_MAX + 1];
	int r;

	url_file(t->channel, file, sizeof(file));
	if (memchr(body, '\0', n))
		return petrel_fail(err, -PETREL_EMALFORMED, "channel file holds a NUL byte");
	if ((r = petrel_channel_verify(body, n, sig, sn, t->channel_pubkeys, t->nchannel_keys,
				       file, err)) < 0)
		return r;
	return petrel_channel_parse(body, n, t->job, &f->ch, err);
}

int petrel_follow_poll(struct petrel_engine *e, const struct petrel_target *t,
		       struct petrel_follow *out, struct petrel_err *err)
{
	struct petrel_buf body, sig;
	struct petrel_stored_channel prev;
	char sigurl[PETREL_URL_MAX + 16];
	int64_t seen = 0;
	int r, have;

	memset(out, 0, sizeof(*out));
	petrel_mask_url(t->channel, out->url, sizeof(out->url));
	snprintf(sigurl, sizeof(sigurl), "%s.minisig", t->channel);
	petrel_buf_init(&body, PETREL_CHANNEL_MAX);
	petrel_buf_init(&sig, PETREL_MINISIGN_FILE_MAX);
	have = petrel_store_channel(&e->store, t->name, &prev, err);
	if (have < 0 && have != -PETREL_ENOTFOUND) {
		r = have;
		goto out;
	}
	if (have == 0 && !strcmp(prev.url, out->url))
		seen = prev.version;
	if ((r = get(e, t->channel, PETREL_CHANNEL_MAX, &body, err)) < 0)
		goto out;
	/* the file accepted last, unchanged: its kept signature is verified again (today's
	 * keys) instead of asked for, so that an up-to-date poll is one request */
	if (seen && prev.body_len == body.len && !memcmp(prev.body, body.data ? body.data : "",
							 body.len))
		r = petrel_buf_append(&sig, prev.sig, prev.sig_len);
	else
		r = get(e, sigurl, PETREL_MINISIGN_FILE_MAX, &sig, err);
	if (r < 0) {
		if (!err->code)
			petrel_fail(err, r, "%s: %s", out->url, petrel_strerror(r));
		goto out;
	}
	r = understand(t, body.data ? body.data : "", body.len, sig.data ? sig.data : "",
		       sig.len, out, err);
	if (r == 0)
		r = petrel_channel_current(&out->ch, seen, (int64_t)time(NULL), err);
	if (r < 0) {
		petrel_err_prefix(err, "%s: ", out->url);
		goto out;
	}
	/* the same version must be the same file: a publisher changes both or neither */
	if (have == 0 && seen == out->ch.version &&
	    (prev.body_len != body.len || memcmp(prev.body, body.data, body.len))) {
		r = petrel_fail(err, -PETREL_EROLLBACK, "%s: channel file changed without a new "
				"version (%lld); refused", out->url, (long long)seen);
		goto out;
	}
	if (!e->readonly && (have != 0 || seen != out->ch.version)) {
		r = petrel_store_accept_channel(&e->store, t->name, out->url, out->ch.version,
						body.data ? body.data : "", sig.data ? sig.data : "",
						err);
		if (r < 0)
			goto out;
		petrel_log_info("%s: channel %s version %lld accepted", t->name, out->url,
				(long long)out->ch.version);
	}
	out->accepted_at = (int64_t)time(NULL);
	r = decide(e->cfg, t, out, err);
out:
	if (have == 0)
		petrel_stored_channel_release(&prev);
	petrel_buf_release(&body);
	petrel_buf_release(&sig);
	if (r < 0)
		petrel_follow_release(out);
	return r;
}

int petrel_follow_stored(struct petrel_engine *e, const struct petrel_target *t,
			 struct petrel_follow *out, struct petrel_err *err)
{
	return petrel_follow_stored_in(&e->store, e->cfg, t, out, err);
}

int petrel_follow_stored_in(struct petrel_store *s, const struct petrel_config *cfg,
			    const struct petrel_target *t, struct petrel_follow *out,
			    struct petrel_err *err)
{
	struct petrel_stored_channel c;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = petrel_store_channel(s, t->name, &c, err)) < 0)
		return r;
	snprintf(out->url, sizeof(out->url), "%s", c.url);
	out->accepted_at = c.accepted_at;
	r = understand(t, c.body, c.body_len, c.sig, c.sig_len, out, err);
	if (r < 0)
		petrel_err_prefix(err, "the channel file accepted from %s: ", c.url);
	else
		r = decide(cfg, t, out, err);
	petrel_stored_channel_release(&c);
	if (r < 0)
		petrel_follow_release(out);
	return r;
}

void petrel_follow_release(struct petrel_follow *f)
{
	petrel_channel_release(&f->ch);
}

int petrel_follow_blocks(struct petrel_engine *e, const struct petrel_target *t,
			 const char *uuid, const uint8_t sha256[32], struct petrel_err *err)
{
	struct petrel_follow f;
	char hex[65];
	int r, blocked;

	if (!t->channel[0])
		return 0;
	r = petrel_follow_stored(e, t, &f, err);
	if (r == -PETREL_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	blocked = petrel_channel_blocks(&f.ch, sha256);
	petrel_hex(sha256, 32, hex);
	r = !blocked ? 0 :
	    petrel_fail(err, -PETREL_EPOLICY, "build %s (sha256 %s) is blocked by the channel "
			"%s (version %lld); not deploying it", uuid, hex, f.url,
			(long long)f.ch.version);
	petrel_follow_release(&f);
	return r;
}

void petrel_follow_why(const struct petrel_follow *f, char *out, size_t n)
{
	if (!f->ch.has_job || !f->ch.has_release)
		snprintf(out, n, "the channel (version %lld) names no release for this job",
			 (long long)f->ch.version);
	else
		snprintf(out, n, "the channel's release %s is not for this host yet (its bucket "
			 "%.3f, the ramp at %.1f %%)", f->ch.uuid, f->u, 100 * f->fraction);
}
