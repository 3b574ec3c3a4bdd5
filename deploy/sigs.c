/* Signature evidence for one build: fetched before the bytes, verified after. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "common/cancel.h"
#include "common/util.h"
#include "fetcher/builderweb.h"
#include "sigs.h"

_Static_assert(PETREL_MINISIGN_FILE_MAX <= PETREL_STORED_SIG_MAX,
	       "every signature that parses can be stored");

void petrel_sigset_init(struct petrel_sigset *s, const struct petrel_target *t)
{
	memset(s, 0, sizeof(*s));
	s->t = t;
}

void petrel_sigset_release(struct petrel_sigset *s)
{
	s->ncands = 0;
}

/* Appends the value of one {placeholder} to out. */
static int placeholder(const char *name, size_t len, const char *server,
		       const struct petrel_build *b, struct petrel_buf *out)
{
	char hex[65], url[PETREL_URL_MAX + 1];
	int r;

	if (len == 3 && !strncmp(name, "job", 3))
		return petrel_buf_append(out, b->job, strlen(b->job));
	if (len == 4 && !strncmp(name, "uuid", 4))
		return petrel_buf_append(out, b->uuid, strlen(b->uuid));
	if (len == 8 && !strncmp(name, "filename", 8))
		return petrel_buf_append(out, b->filename, strlen(b->filename));
	if (len == 6 && !strncmp(name, "sha256", 6)) {
		petrel_hex(b->sha256, 32, hex);
		return petrel_buf_append(out, hex, 64);
	}
	if (len == 3 && !strncmp(name, "url", 3)) {
		if ((r = petrel_bw_file_url(server, b, url, sizeof(url))) < 0)
			return r;
		return petrel_buf_append(out, url, strlen(url));
	}
	return -EINVAL;
}

int petrel_sigurl_expand(const char *tmpl, const char *server, const struct petrel_build *b,
			 char *out, size_t n, struct petrel_err *err)
{
	struct petrel_buf buf;
	const char *p = tmpl;
	int r = 0;

	petrel_buf_init(&buf, n - 1);
	while (*p && r == 0) {
		const char *close = *p == '{' ? strchr(p, '}') : NULL;

		if (close) {
			r = placeholder(p + 1, (size_t)(close - p - 1), server, b, &buf);
			p = close + 1;
		} else {
			r = petrel_buf_append(&buf, p++, 1);
		}
	}
	if (r == 0)
		r = petrel_strcpy_whole(out, buf.data ? buf.data : "", n);
	petrel_buf_release(&buf);
	if (r < 0)
		return petrel_fail(err, -PETREL_ECONFIG,
				   "signature URL template '%s' does not expand", tmpl);
	return 0;
}

/* Keeps the first refusal one signature met (in one), with its message. */
static void remember(struct petrel_sigset *s, const struct petrel_err *one, int code)
{
	if (!s->first.code)
		petrel_err_forward(&s->first, one, code);
}

static const struct petrel_pubkey *find_key(const struct petrel_sigset *s, const uint8_t id[8])
{
	size_t i;

	for (i = 0; i < s->t->nkeys; i++)
		if (!memcmp(s->t->pubkeys[i].keyid, id, 8))
			return &s->t->pubkeys[i];
	return NULL;
}

/* Parses one fetched signature into c if it may count (c->key set), else says why. */
static int consider(const struct petrel_sigset *s, struct petrel_sigcand *c,
		    const struct petrel_buf *body, const char *url, const struct petrel_build *b,
		    struct petrel_err *err)
{
	char id[17];
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = petrel_sig_parse(body->data ? body->data : "", body->len, &c->sig, err)) < 0) {
		petrel_err_prefix(err, "%s: ", url);
		return r;
	}
	c->key = find_key(s, c->sig.keyid);
	if (!c->key) {
		petrel_keyid_str(c->sig.keyid, id);
		return petrel_fail(err, -PETREL_ESIG_UNTRUSTED, "%s: signed by unknown key %s", url,
				   id);
	}
	if ((r = petrel_tcomment_parse(c->sig.trusted, &c->tc, err)) < 0 ||
	    (r = petrel_tcomment_bind(&c->tc, b, s->t->bind, err)) < 0) {
		petrel_err_prefix(err, "%s: ", url);
		c->key = NULL;
		return r;
	}
	if (c->sig.alg[1] == 'd' && !s->t->legacy_signatures) {
		c->key = NULL;
		return petrel_fail(err, -PETREL_ESIG_INVALID,
				   "%s: legacy signature (Ed) refused; "
				   "set legacy_signatures = yes to accept", url);
	}
	petrel_strcpy_whole(c->url, url, sizeof(c->url));
	if (body->len < sizeof(c->text)) {	/* parsed: no NUL, within the file limit */
		memcpy(c->text, body->data, body->len);
		c->text[body->len] = '\0';
		c->len = body->len;
	}
	return 0;
}

int petrel_sigset_add_text(struct petrel_sigset *s, const struct petrel_build *b,
			   const char *origin, const char *text, size_t n,
			   struct petrel_err *err)
{
	struct petrel_buf body = { .data = (char *)text, .len = n };
	struct petrel_err why = PETREL_ERR_INIT;
	int r;

	if (s->ncands >= PETREL_SIGURLS_MAX)
		r = petrel_fail(&why, -PETREL_ETOOBIG, "%s: more than %d signatures", origin,
				PETREL_SIGURLS_MAX);
	else if (n > PETREL_MINISIGN_FILE_MAX)
		r = petrel_fail(&why, -PETREL_ESIG_FORMAT, "%s: signature exceeds %d bytes",
				origin, PETREL_MINISIGN_FILE_MAX);
	else if ((r = consider(s, &s->cands[s->ncands], &body, origin, b, &why)) == 0)
		s->ncands++;
	if (r < 0) {
		remember(s, &why, r);
		return petrel_err_forward(err, &why, r);
	}
	return 0;
}

size_t petrel_sigset_accepted(const struct petrel_sigset *s, struct petrel_stored_sig *out,
			      size_t max)
{
	struct petrel_evidence seen;
	size_t n = 0;

	memset(&seen, 0, sizeof(seen));
	for (size_t i = 0; i < s->ncands && n < max; i++) {
		const struct petrel_sigcand *c = &s->cands[i];
		size_t before = seen.nkeys;

		if (!c->verified || !c->len ||
		    petrel_evidence_add_key(&seen, c->key->keyid, NULL) < 0 || seen.nkeys == before)
			continue;	/* not accepted, or its key is kept already */
		petrel_keyid_str(c->key->keyid, out[n].keyid);
		out[n].text = c->text;
		out[n].len = c->len;
		n++;
	}
	return n;
}

/* Distinct key ids among candidates. */
static size_t distinct_keys(const struct petrel_sigset *s)
{
	struct petrel_evidence ev;
	size_t i;

	memset(&ev, 0, sizeof(ev));
	for (i = 0; i < s->ncands; i++)
		petrel_evidence_add_key(&ev, s->cands[i].key->keyid, NULL);
	return ev.nkeys;
}

static void append(char *dst, size_t cap, const char *text);

/* Every failed URL and why, "; "-separated, into list (PETREL_ERR_MSG_MAX bytes). */
static const char *failures(const struct petrel_sigset *s, char *list)
{
	list[0] = '\0';
	for (size_t i = 0; i < s->nfailed; i++) {
		if (i)
			append(list, PETREL_ERR_MSG_MAX, "; ");
		append(list, PETREL_ERR_MSG_MAX, s->failed[i]);
	}
	return list;
}

/* The refusal when too few signatures can count: the most specific reason wins, and
 * every signature URL that failed is named after it. */
static int shortfall(struct petrel_sigset *s, size_t have, struct petrel_err *err)
{
	struct petrel_err why = PETREL_ERR_INIT;
	char list[PETREL_ERR_MSG_MAX];
	int code;

	if (s->first.code)
		code = petrel_err_forward(&why, &s->first, s->first.code);
	else if (have == 0 && s->nmissing > 1)
		code = petrel_fail(&why, -PETREL_ESIG_MISSING,
				   "no signature found: %s answered 404, and "
				   "%zu more signature URL%s", s->first_missing, s->nmissing - 1,
				   s->nmissing == 2 ? "" : "s");
	else if (have == 0 && s->nmissing == 1)
		code = petrel_fail(&why, -PETREL_ESIG_MISSING,
				   "no signature found: %s answered 404", s->first_missing);
	else if (have == 0)
		code = petrel_fail(&why, -PETREL_ESIG_MISSING, "no signature found");
	else
		code = petrel_fail(&why, -PETREL_ETHRESHOLD, "%zu of %u required signatures",
				   have, s->t->threshold);
	if (!s->nfailed)
		return petrel_err_forward(err, &why, code);
	return petrel_fail(err, code, "%s; failed: %s", why.msg, failures(s, list));
}

/*
 * Why in parallel: one signature host that answers 500 or not at all must not block
 * a build that the other hosts' signatures already carry. Each URL is fetched on its
 * own thread with its own handle and its own deadline (http.c: connect_timeout +
 * low_speed_time + 4 KiB at min_rate). Once the fetched signatures that may count
 * reach the threshold, the URLs still out get PETREL_SIG_GRACE_MS more and are then
 * abandoned; the results are taken in the order of the templates, as before.
 */
#define PETREL_SIG_GRACE_MS 1000

/* One signature URL's fetch; the thread writes r, err and body, then sets done. */
struct sigjob {
	struct gather *g;
	struct petrel_http *h;		/* owned, a clone of the caller's */
	char url[PETREL_URL_MAX + 1];
	char shown[PETREL_URL_MAX + 1];	/* credentials masked */
	struct petrel_buf body;
	struct petrel_err err;
	int r, done, judged, started;
	pthread_t thread;
	/* what the answer is worth, decided on the caller's thread (judge) */
	struct petrel_sigcand cand;	/* counts when cand.key is set */
	struct petrel_err refusal;	/* why it cannot count */
};

struct gather {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* a job is done */
	atomic_int abort;		/* abandon what is still out */
	size_t n, ndone;
	struct sigjob jobs[PETREL_SIGURLS_MAX];
};

static void *sigjob_run(void *arg)
{
	struct sigjob *j = arg;
	int r = petrel_fetch_small(j->h, j->url, &j->body, &j->err);

	pthread_mutex_lock(&j->g->lock);
	j->r = r;
	j->done = 1;
	j->g->ndone++;
	pthread_cond_broadcast(&j->g->cond);
	pthread_mutex_unlock(&j->g->lock);
	return NULL;
}

/* What one answer is worth: a candidate, a missing signature, a refusal or a failed URL
 * (j->r stays < 0 for the last). -ENOMEM only. */
static int judge(const struct petrel_sigset *s, struct sigjob *j, const struct petrel_build *b)
{
	int r;

	j->judged = 1;
	if (j->r == -PETREL_ETOOBIG) {	/* one bad signature, not a failed fetch */
		petrel_fail(&j->refusal, -PETREL_ESIG_FORMAT, "%s: signature exceeds %d bytes",
			    j->shown, PETREL_SIG_FILE_MAX);
		j->r = 0;
		return 0;
	}
	if (j->r < 0)
		return j->r == -ENOMEM ? -ENOMEM : 0;
	r = consider(s, &j->cand, &j->body, j->shown, b, &j->refusal);
	if (r < 0 && !j->refusal.code)
		petrel_fail(&j->refusal, r, "%s: %s", j->shown, petrel_strerror(r));
	return r == -ENOMEM ? r : 0;
}

/* Distinct keys among the answers judged so far. */
static size_t keys_so_far(const struct gather *g)
{
	struct petrel_evidence ev;

	memset(&ev, 0, sizeof(ev));
	for (size_t i = 0; i < g->n; i++)
		if (g->jobs[i].judged && g->jobs[i].cand.key)
			petrel_evidence_add_key(&ev, g->jobs[i].cand.key->keyid, NULL);
	return ev.nkeys;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to about 200 ms for another answer (g->lock held). */
static void wait_some(struct gather *g)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 200 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&g->cond, &g->lock, &ts);
}

/* Waits for the next answers (unless all are in) and judges every new one; *all says
 * whether every URL has answered. -ENOMEM only. */
static int judge_new(struct petrel_sigset *s, struct gather *g, const struct petrel_build *b,
		     int *all)
{
	int done[PETREL_SIGURLS_MAX], r = 0;

	pthread_mutex_lock(&g->lock);
	if (g->ndone < g->n)
		wait_some(g);
	for (size_t i = 0; i < g->n; i++)
		done[i] = g->jobs[i].done;	/* once set, the job's fields are final */
	*all = g->ndone == g->n;
	pthread_mutex_unlock(&g->lock);
	for (size_t i = 0; i < g->n && r == 0; i++)
		if (done[i] && !g->jobs[i].judged)
			r = judge(s, &g->jobs[i], b);
	return r;
}

/* Judges answers as they come until every URL answered, or the threshold has been
 * met for PETREL_SIG_GRACE_MS; then abandons the rest. -ENOMEM or -ECANCELED. */
static int collect(struct petrel_sigset *s, struct gather *g, const struct petrel_build *b)
{
	long long met_at = 0;
	time_t ticked = 0;
	int all = 0, r = 0;

	while (r == 0 && !all) {
		r = judge_new(s, g, b, &all);
		if (!met_at && keys_so_far(g) >= s->t->threshold)
			met_at = now_ms();
		if (time(NULL) != ticked) {
			ticked = time(NULL);
			petrel_tick();	/* the workers do not feed the watchdog */
		}
		if (r == 0 && petrel_cancelled())
			r = -ECANCELED;
		if (met_at && now_ms() - met_at >= PETREL_SIG_GRACE_MS)
			break;
	}
	atomic_store(&g->abort, 1);
	return r;
}

/* Expands every template and starts one thread per URL. */
static int start(struct gather *g, const struct petrel_sigset *s, struct petrel_http *h,
		 const char *server, const struct petrel_build *b, struct petrel_err *err)
{
	int r;

	for (size_t i = 0; i < s->t->nsigurls; i++) {
		struct sigjob *j = &g->jobs[i];

		if ((r = petrel_sigurl_expand(s->t->sigurls[i], server, b, j->url, sizeof(j->url),
					      err)) < 0)
			return r;
		petrel_mask_url(j->url, j->shown, sizeof(j->shown));
	}
	for (size_t i = 0; i < s->t->nsigurls; i++) {
		struct sigjob *j = &g->jobs[i];

		j->g = g;
		petrel_buf_init(&j->body, PETREL_SIG_FILE_MAX);
		g->n = i + 1;
		if ((r = petrel_http_clone(&j->h, h, err)) < 0)
			return r;
		petrel_http_set_abort(j->h, &g->abort);
		if ((r = pthread_create(&j->thread, NULL, sigjob_run, j)) != 0)
			return petrel_fail(err, -r, "starting a thread for %s failed", j->shown);
		j->started = 1;
	}
	return 0;
}

/* Joins the threads and frees what collect did not hand over. */
static void gather_release(struct gather *g)
{
	atomic_store(&g->abort, 1);
	for (size_t i = 0; i < g->n; i++) {
		struct sigjob *j = &g->jobs[i];

		if (j->started)
			pthread_join(j->thread, NULL);
		petrel_http_free(j->h);
		petrel_buf_release(&j->body);
	}
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

/* Appends text to the NUL-terminated dst of size cap, cut at the end if need be. */
static void append(char *dst, size_t cap, const char *text)
{
	size_t used = strlen(dst), n = strlen(text);

	if (n > cap - 1 - used)
		n = cap - 1 - used;
	memcpy(dst + used, text, n);
	dst[used + n] = '\0';
}

/* Keeps "URL: why" for a URL that failed or was abandoned. */
static void note_failure(struct petrel_sigset *s, const struct sigjob *j)
{
	char *one = s->failed[s->nfailed++];

	one[0] = '\0';
	if (j->judged) {
		append(one, PETREL_ERR_MSG_MAX, petrel_err_msg(&j->err, j->r));
	} else {
		append(one, PETREL_ERR_MSG_MAX, j->shown);
		append(one, PETREL_ERR_MSG_MAX, ": no answer when enough signatures had come, abandoned");
	}
	if (!s->first_failure)
		s->first_failure = j->judged ? j->r : -PETREL_ENET;
}

/* Takes the answers in the order of the templates, as a sequential fetch would. */
static void take(struct petrel_sigset *s, struct gather *g)
{
	for (size_t i = 0; i < g->n; i++) {
		struct sigjob *j = &g->jobs[i];

		if (j->judged && j->r == -PETREL_ENOTFOUND) {
			if (!s->nmissing++)
				petrel_strcpy_whole(s->first_missing, j->shown,
						    sizeof(s->first_missing));
		} else if (!j->judged || j->r < 0) {
			note_failure(s, j);
		} else if (j->cand.key) {
			s->cands[s->ncands++] = j->cand;
		} else {
			remember(s, &j->refusal, j->refusal.code);
		}
	}
}

/* Judges what every URL gave: enough keys (failed URLs are warned about once the
 * build is verified), a refusal, or the failure of every URL (a server error). */
static int decide(struct petrel_sigset *s, const struct gather *g, struct petrel_err *err)
{
	size_t have = distinct_keys(s);
	char list[PETREL_ERR_MSG_MAX];

	if (have >= s->t->threshold)
		return 0;
	if (g->n && s->nfailed == g->n)	/* nothing answered: the servers failed */
		return petrel_fail(err, s->first_failure, "%s", failures(s, list));
	return shortfall(s, have, err);
}

/* The caller asks its handle whom a failure concerns (a signature host, not the build
 * server): name the first URL that failed. */
static void blame(struct petrel_http *h, const struct gather *g)
{
	for (size_t i = 0; i < g->n; i++)
		if (!g->jobs[i].judged || (g->jobs[i].r < 0 && g->jobs[i].r != -PETREL_ENOTFOUND)) {
			petrel_http_note_url(h, g->jobs[i].url);
			return;
		}
}

int petrel_sigset_gather(struct petrel_sigset *s, struct petrel_http *h, const char *server,
			 const struct petrel_build *b, struct petrel_err *err)
{
	struct gather *g;
	int r;

	if (!petrel_trust_needs_signatures(s->t->trust))
		return 0;	/* trust = server or rebuilt: no signatures asked for */
	if (!(g = calloc(1, sizeof(*g))))
		return -ENOMEM;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	atomic_init(&g->abort, 0);
	if ((r = start(g, s, h, server, b, err)) == 0 && (r = collect(s, g, b)) == 0) {
		take(s, g);
		r = decide(s, g, err);
		blame(h, g);
	} else if (r == -ECANCELED) {
		petrel_fail(err, r, "cancelled while fetching signatures");
	} else if (r == -ENOMEM) {
		petrel_fail(err, r, "fetching signatures: %s", petrel_strerror(r));
	}
	gather_release(g);
	free(g);
	return r;
}

int petrel_sigset_needs_blake2b(const struct petrel_sigset *s)
{
	size_t i;

	for (i = 0; i < s->ncands; i++)
		if (s->cands[i].sig.alg[1] == 'D')
			return 1;
	return 0;
}

int petrel_sigset_needs_file(const struct petrel_sigset *s)
{
	size_t i;

	for (i = 0; i < s->ncands; i++)
		if (s->cands[i].sig.alg[1] == 'd')
			return 1;
	return 0;
}

/* Records what a verified candidate contributes to the evidence: its key, and the
 * timestamp it signed (petrel_evidence_decide_time chooses the build's from them). */
static int credit(struct petrel_evidence *ev, const struct petrel_sigcand *c,
		  struct petrel_err *err)
{
	if (ev->nkeys == 0)
		petrel_strcpy_whole(ev->trusted, c->sig.trusted, sizeof(ev->trusted));
	return petrel_evidence_add_signer(ev, c->key->keyid, c->tc.has_timestamp,
					  c->tc.timestamp, err);
}

int petrel_sigset_verify(struct petrel_sigset *s, const uint8_t blake2b[64],
			 const struct petrel_msg *file, struct petrel_evidence *ev,
			 struct petrel_err *err)
{
	size_t i;
	int r;

	memset(ev, 0, sizeof(*ev));
	for (i = 0; i < s->ncands; i++) {
		struct petrel_sigcand *c = &s->cands[i];

		struct petrel_err one = PETREL_ERR_INIT;	/* this signature's */

		c->verified = 0;

		r = petrel_sig_verify(&c->sig, c->key, blake2b, file, s->t->legacy_signatures,
				      &one);
		if (r < 0) {
			petrel_err_prefix(&one, "%s: ", c->url);
			remember(s, &one, r);
			continue;
		}
		if ((r = credit(ev, c, err)) < 0)
			return r;
		c->verified = 1;
	}
	petrel_evidence_decide_time(ev, s->t->threshold);
	if (!petrel_trust_needs_signatures(s->t->trust))
		return 0;
	if (ev->nkeys < s->t->threshold)
		return shortfall(s, ev->nkeys, err);
	if ((r = petrel_policy_signatures(s->t->trust, s->t->threshold, ev, err)) < 0)
		return r;
	for (i = 0; i < s->nfailed; i++)	/* one line a URL the build did without */
		petrel_log_warn("%s: signature URL failed, enough signatures without it: %s",
				s->t->name, s->failed[i]);
	return 0;
}
