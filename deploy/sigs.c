/* Signature evidence for one build: fetched before the bytes, verified after. */
#include <errno.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "fetcher/builderweb.h"
#include "sigs.h"

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

/* Parses one fetched signature and keeps it if it may count. */
static int consider(struct petrel_sigset *s, const struct petrel_buf *body, const char *url,
		    const struct petrel_build *b, struct petrel_err *err)
{
	struct petrel_sigcand *c = &s->cands[s->ncands];
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
		return r;
	}
	if (c->sig.alg[1] == 'd' && !s->t->legacy_signatures)
		return petrel_fail(err, -PETREL_ESIG_INVALID,
				   "%s: legacy signature (Ed) refused; "
				   "set legacy_signatures = yes to accept", url);
	petrel_strcpy_whole(c->url, url, sizeof(c->url));
	s->ncands++;
	return 0;
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

/* The refusal when too few signatures can count: the most specific reason wins. */
static int shortfall(struct petrel_sigset *s, size_t have, struct petrel_err *err)
{
	if (s->first.code)
		return petrel_err_forward(err, &s->first, s->first.code);
	if (have == 0 && s->nmissing > 1)
		return petrel_fail(err, -PETREL_ESIG_MISSING,
				   "no signature found: %s answered 404, and "
				   "%zu more signature URL%s", s->first_missing, s->nmissing - 1,
				   s->nmissing == 2 ? "" : "s");
	if (have == 0 && s->nmissing == 1)
		return petrel_fail(err, -PETREL_ESIG_MISSING, "no signature found: %s answered 404",
				   s->first_missing);
	if (have == 0)
		return petrel_fail(err, -PETREL_ESIG_MISSING, "no signature found");
	return petrel_fail(err, -PETREL_ETHRESHOLD, "%zu of %u required signatures", have,
			   s->t->threshold);
}

int petrel_sigset_gather(struct petrel_sigset *s, struct petrel_http *h, const char *server,
			 const struct petrel_build *b, struct petrel_err *err)
{
	struct petrel_buf body;
	char url[PETREL_URL_MAX + 1], shown[PETREL_URL_MAX + 1];	/* shown: credentials masked */
	size_t i;
	int r = 0;

	if (!petrel_trust_needs_signatures(s->t->trust))
		return 0;	/* trust = server or rebuilt: no signatures asked for */
	petrel_buf_init(&body, PETREL_SIG_FILE_MAX);
	for (i = 0; i < s->t->nsigurls && r == 0; i++) {
		struct petrel_err one = PETREL_ERR_INIT;	/* this signature's */

		if ((r = petrel_sigurl_expand(s->t->sigurls[i], server, b, url, sizeof(url),
					      err)) < 0)
			break;
		petrel_buf_reset(&body);
		petrel_mask_url(url, shown, sizeof(shown));
		r = petrel_fetch_small(h, url, &body, &one);
		if (r == -PETREL_ENOTFOUND) {
			if (!s->nmissing++)
				petrel_strcpy_whole(s->first_missing, shown, sizeof(s->first_missing));
			r = 0;
		} else if (r == -PETREL_ETOOBIG) {	/* one bad signature, not a failed fetch */
			petrel_err_reset(&one);
			remember(s, &one, petrel_fail(&one, -PETREL_ESIG_FORMAT, "%s: signature "
						      "exceeds %d bytes", shown, PETREL_SIG_FILE_MAX));
			r = 0;
		} else if (r < 0) {
			petrel_err_forward(err, &one, r);
		} else if ((r = consider(s, &body, shown, b, &one)) < 0 && r != -ENOMEM) {
			remember(s, &one, r);
			r = 0;
		} else if (r < 0) {
			petrel_err_forward(err, &one, r);
		}
	}
	petrel_buf_release(&body);
	if (r < 0)
		return r;
	i = distinct_keys(s);
	return i < s->t->threshold ? shortfall(s, i, err) : 0;
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

		r = petrel_sig_verify(&c->sig, c->key, blake2b, file, s->t->legacy_signatures,
				      &one);
		if (r < 0) {
			petrel_err_prefix(&one, "%s: ", c->url);
			remember(s, &one, r);
			continue;
		}
		if ((r = credit(ev, c, err)) < 0)
			return r;
	}
	petrel_evidence_decide_time(ev, s->t->threshold);
	if (!petrel_trust_needs_signatures(s->t->trust))
		return 0;
	if (ev->nkeys < s->t->threshold)
		return shortfall(s, ev->nkeys, err);
	return petrel_policy_signatures(s->t->trust, s->t->threshold, ev, err);
}
