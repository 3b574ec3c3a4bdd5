/* Gathering signature evidence for one build: fetch, parse, bind, then verify. */
#ifndef PETREL_SIGS_H
#define PETREL_SIGS_H

#include "common/build.h"
#include "target.h"
#include "verify/minisign.h"
#include "verify/policy.h"
#include "common/error.h"
#include "store/store.h"

struct petrel_http;
struct petrel_digest;

/* One signature (fetched, stored or from a bundle) that parsed, names a configured key
 * and binds to the build. */
struct petrel_sigcand {
	struct petrel_sig sig;
	const struct petrel_pubkey *key;	/* borrowed from the target */
	struct petrel_tcomment tc;
	char url[PETREL_URL_MAX + 1];		/* where it came from, for messages */
	char text[PETREL_MINISIGN_FILE_MAX + 1];	/* the .minisig as it came, NUL-ended */
	size_t len;
	int verified;				/* petrel_sigset_verify accepted it */
};

struct petrel_sigset {
	const struct petrel_target *t;	/* borrowed, with its loaded keys */
	struct petrel_sigcand cands[PETREL_SIGURLS_MAX];
	size_t ncands;
	size_t nmissing;	/* URLs that answered 404 */
	char first_missing[PETREL_URL_MAX + 1];	/* the first of them, masked */
	struct petrel_err first;	/* the first refusal among the signatures */
	size_t nfailed;		/* URLs that failed (not 404) or were abandoned, */
	int first_failure;	/* the first one's code, */
	char failed[PETREL_SIGURLS_MAX][PETREL_ERR_MSG_MAX];	/* "URL: why", in order */
};

/* Starts an empty set for t (whose keys the configuration loaded). */
void petrel_sigset_init(struct petrel_sigset *s, const struct petrel_target *t);
void petrel_sigset_release(struct petrel_sigset *s);

/* Expands a signature URL template for build b fetched from server. */
int petrel_sigurl_expand(const char *tmpl, const char *server, const struct petrel_build *b,
			 char *out, size_t n, struct petrel_err *err);

/*
 * Fetches every signature URL of t for b, in parallel, and keeps the candidates that
 * parse, are by a configured key and whose trusted comment binds to b, in the order of
 * the templates. A 404 is a missing signature. Once the candidates reach the threshold,
 * URLs still out get a second more and are then abandoned. Fails before any download
 * when fewer than threshold distinct keys remain (-PETREL_ESIG_*, -PETREL_EBINDING or
 * -PETREL_ETHRESHOLD with the most specific message, then every failed URL and why).
 * When every URL failed (not 404), the first one's code (-PETREL_ENET, -PETREL_EHTTP,
 * ...) with all of them named. A URL that failed while the threshold was met without
 * it is one warning line on the log once petrel_sigset_verify accepted the build.
 */
int petrel_sigset_gather(struct petrel_sigset *s, struct petrel_http *h, const char *server,
			 const struct petrel_build *b, struct petrel_err *err);

/*
 * Adds one signature given as text -- a .minisig kept in the store, a bundle's entry --
 * for build b, judged as a fetched one is: it parses, names one of the target's keys,
 * its trusted comment binds to b, a legacy one only with legacy_signatures. origin
 * names it in messages ("stored signature by key X", "bundle.tar: sigs/1.minisig").
 * 0 when it counts (a candidate: petrel_sigset_verify checks it against the bytes),
 * else why not, which is also kept as the set's first refusal, as a fetched one's is:
 * -PETREL_ESIG_FORMAT, -PETREL_ESIG_UNTRUSTED (a key not configured), -PETREL_EBINDING,
 * -PETREL_ESIG_INVALID (legacy refused); -PETREL_ETOOBIG past PETREL_SIGURLS_MAX
 * candidates or past PETREL_MINISIGN_FILE_MAX bytes. text is copied.
 */
int petrel_sigset_add_text(struct petrel_sigset *s, const struct petrel_build *b,
			   const char *origin, const char *text, size_t n,
			   struct petrel_err *err);

/*
 * The signatures petrel_sigset_verify accepted, one per key id (the first), as the store
 * keeps them: into out (at most max), texts borrowed from s. Their number.
 */
size_t petrel_sigset_accepted(const struct petrel_sigset *s, struct petrel_stored_sig *out,
			      size_t max);

/* 1 if any candidate is a prehashed "ED" signature (needs BLAKE2b of the file). */
int petrel_sigset_needs_blake2b(const struct petrel_sigset *s);
/* 1 if any candidate is a legacy "Ed" signature (needs the whole file, mapped). */
int petrel_sigset_needs_file(const struct petrel_sigset *s);

/*
 * Verifies the candidates against the file's BLAKE2b-512 (prehashed) or the whole
 * file (legacy; NULL when none needs it) and decides with the policy. ev receives the
 * evidence, its timestamp chosen by petrel_evidence_decide_time. 0 or the refusal
 * with its message.
 */
int petrel_sigset_verify(struct petrel_sigset *s, const uint8_t blake2b[64],
			 const struct petrel_msg *file, struct petrel_evidence *ev,
			 struct petrel_err *err);

#endif
