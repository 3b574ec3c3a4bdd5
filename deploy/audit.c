/* The audit: each target's deployed file, blobs and PATH.petrel-prev against the store. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "audit.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "fetcher/builderweb.h"
#include "switch.h"
#include "verify/digest.h"

static void __attribute__((format(printf, 2, 3))) finding(struct petrel_audit *a, const char *fmt, ...)
{
	va_list ap;

	if (a->n == PETREL_AUDIT_FINDINGS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(a->findings[a->n++], PETREL_AUDIT_FINDING_LEN, fmt, ap);
	va_end(ap);
}

/* file's size (and, with rehash, sha256) against v's, what naming the record. */
static void check_content(struct petrel_audit *a, const char *file, const struct stat *st,
			  const char *what, const struct petrel_version *v, int rehash)
{
	char want[65], got[65];
	uint8_t sum[32];
	int r;

	petrel_hex(v->build.sha256, 32, want);
	if ((uint64_t)st->st_size != v->build.size) {
		finding(a, "%s: %lld bytes, %s records %llu (sha256 %s)", file, (long long)st->st_size,
			what, (unsigned long long)v->build.size, want);
		return;
	}
	if (!rehash)
		return;
	if ((r = petrel_sha256_file(file, sum, NULL)) < 0) {
		finding(a, "%s: cannot read: %s", file, petrel_strerror(r));
		return;
	}
	petrel_hex(sum, 32, got);
	if (strcmp(got, want))
		finding(a, "%s: sha256 %s, %s records %s", file, got, what, want);
}

/*
 * file should hold sha256 (size bytes) as v records it for what, with permissions mode
 * (0: any); a finding otherwise. Without rehash only its presence, mode and size are
 * compared.
 */
static void check_file(struct petrel_audit *a, const char *file, const char *what,
		       const struct petrel_version *v, mode_t mode, int rehash)
{
	char want[65];
	struct stat st;

	petrel_hex(v->build.sha256, 32, want);
	if (lstat(file, &st) < 0) {
		finding(a, "%s: %s (%s records sha256 %s)", file,
			errno == ENOENT ? "missing" : strerror(errno), what, want);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		finding(a, "%s: not a regular file (%s records sha256 %s)", file, what, want);
		return;
	}
	if (mode && (st.st_mode & 07777) != mode)
		finding(a, "%s: mode %04o, petrel deploys it as %04o", file,
			(unsigned)(st.st_mode & 07777), (unsigned)mode);
	check_content(a, file, &st, what, v, rehash);
}

/* "LABEL generation N (UUID)": how findings name g. */
static void generation_name(const struct petrel_generation *g, const char *label,
			    char *out, size_t n)
{
	snprintf(out, n, "%s generation %lld (%s)", label, (long long)g->number,
		 g->version.build.uuid);
}

/* The store's blob of g should hold what g records. */
static void check_blob(struct petrel_audit *a, struct petrel_store *s,
		       const struct petrel_generation *g, const char *label, int rehash)
{
	char blob[PATH_MAX], what[128];

	generation_name(g, label, what, sizeof(what));
	if (petrel_store_blob_path(s, g->version.build.sha256, blob, sizeof(blob)) < 0) {
		finding(a, "blob of %s: path too long", what);
		return;
	}
	check_file(a, blob, what, &g->version, 0, rehash);
}

/* A generation that failed or was interrupted: a switch put back from it, so its bytes
 * may be what PATH.petrel-prev holds. found is set when one has size (and sha256). */
struct leftover {
	const uint8_t *sha256;	/* NULL: compare sizes only */
	uint64_t size;
	int found;
};

static int find_leftover(void *ctx, const struct petrel_generation *g)
{
	struct leftover *l = ctx;

	if (strcmp(g->state, "deployed") && g->version.build.size == l->size &&
	    (!l->sha256 || !memcmp(g->version.build.sha256, l->sha256, 32)))
		l->found = 1;
	return 0;
}

/*
 * 1 when file (a regular file of st's size) holds the previous generation's bytes or
 * those of a leftover in a's history, 0 when not (or it cannot be read: check_file
 * says why), or a store error.
 */
static int prev_expected(struct petrel_store *s, const struct petrel_audit *a, const char *file,
			 const struct stat *st, int rehash, struct petrel_err *err)
{
	const struct petrel_version *v = &a->prev.version;
	struct leftover l = { NULL, (uint64_t)st->st_size, 0 };
	uint8_t sum[32];
	int r;

	if (rehash) {
		if (petrel_sha256_file(file, sum, NULL) < 0)
			return 0;
		if (!memcmp(sum, v->build.sha256, 32))
			return 1;
		l.sha256 = sum;
	} else if (l.size == v->build.size) {
		return 1;
	}
	if ((r = petrel_store_history(s, a->t->name, find_leftover, &l, err)) < 0)
		return r;
	return l.found;
}

/*
 * PATH.petrel-prev, when it exists and a previous generation does, should hold that
 * generation (a revert renames it into place after hashing it again), or the build a
 * failed or interrupted switch left there; a finding otherwise. 0 or a store error.
 */
static int check_prev(struct petrel_store *s, struct petrel_audit *a, int rehash,
		      struct petrel_err *err)
{
	char file[PATH_MAX], what[128];
	struct stat st;
	int r = 0;

	if (!a->prev.number ||
	    petrel_snprintf(file, sizeof(file), "%s" PETREL_PREV_SUFFIX, a->t->path) < 0)
		return 0;
	if (lstat(file, &st) < 0) {
		if (errno == ENOENT)
			return 0;
	} else if (S_ISREG(st.st_mode) && (r = prev_expected(s, a, file, &st, rehash, err)) != 0) {
		return r < 0 ? r : 0;
	}
	/* check_file words it as it does for the deployed file */
	generation_name(&a->prev, "previous", what, sizeof(what));
	check_file(a, file, what, &a->prev.version, 0, rehash);
	return 0;
}

/* Asks srv which build holds sha256, into out; every failure is an answer. */
static void ask_server(struct petrel_engine *e, const struct petrel_server *srv,
		       const uint8_t sha256[32], struct petrel_audit_server *out)
{
	struct petrel_err e1 = PETREL_ERR_INIT;	/* the answer's text at most */
	int r;

	out->server = srv;
	petrel_mask_url(srv->url, out->url, sizeof(out->url));
	r = petrel_bw_hash_lookup(e->http, srv->url, sha256, out->job, out->uuid, &e1);
	out->known = r == 0;
	if (r < 0) {
		out->job[0] = out->uuid[0] = '\0';
		if (r != -PETREL_ENOTFOUND)
			snprintf(out->error, sizeof(out->error), "%s", petrel_err_msg(&e1, r));
	}
}

/* Asks every configured server which build holds the deployed hash. 0 or -ENOMEM. */
static int ask_servers(struct petrel_engine *e, struct petrel_audit *a)
{
	const struct petrel_config *cfg = e->cfg;

	if (!cfg->nservers)
		return 0;
	if (!(a->servers = calloc(cfg->nservers, sizeof(*a->servers))))
		return -ENOMEM;
	for (a->nservers = 0; a->nservers < cfg->nservers; a->nservers++)
		ask_server(e, &cfg->servers[a->nservers], a->cur.version.build.sha256,
			   &a->servers[a->nservers]);
	return 0;
}

int petrel_audit_target(struct petrel_engine *e, const struct petrel_target *t,
			const struct petrel_audit_opts *o, struct petrel_audit *out,
			struct petrel_err *err)
{
	int r;

	memset(out, 0, sizeof(*out));
	out->t = t;
	if ((r = petrel_store_current(&e->store, t->name, &out->cur, &out->prev, err)) < 0)
		return r;
	if (!out->cur.number)
		return 0;
	check_file(out, t->path, "current generation", &out->cur.version, 0755, o->rehash);
	check_blob(out, &e->store, &out->cur, "current", o->rehash);
	if (out->prev.number)
		check_blob(out, &e->store, &out->prev, "previous", o->rehash);
	if ((r = check_prev(&e->store, out, o->rehash, err)) < 0)
		return r;
	return o->online ? ask_servers(e, out) : 0;
}

void petrel_audit_release(struct petrel_audit *a)
{
	free(a->servers);
	a->servers = NULL;
	a->nservers = 0;
}

/* The summary row: what was audited, how, and what came of it. */
static void summarize(const struct petrel_audit_report *rep, const struct petrel_audit_opts *o,
		      char *out, size_t n)
{
	char journal[64] = "ok";

	if (rep->journal.first_broken)
		snprintf(journal, sizeof(journal), "broken at row %lld",
			 (long long)rep->journal.first_broken);
	snprintf(out, n, "targets=%zu findings=%zu journal=%s %s%s", rep->n, rep->nfindings,
		 journal, o->rehash ? "rehashed" : "quick", o->online ? " online" : "");
}

/* rep's findings as the store takes them: lines has room for PETREL_AUDIT_FINDINGS_MAX
 * a target, notes for rep->n; both borrow rep's texts. */
static void notes_of(const struct petrel_audit_report *rep, struct petrel_audit_note *notes,
		     const char **lines)
{
	for (size_t i = 0; i < rep->n; i++) {
		const struct petrel_audit *a = &rep->targets[i];
		const char **l = lines + i * PETREL_AUDIT_FINDINGS_MAX;

		for (size_t k = 0; k < a->n; k++)
			l[k] = a->findings[k];
		notes[i] = (struct petrel_audit_note){ a->t->name, l, a->n };
	}
}

/* Journals rep: a row per finding, each target's count, the summary. 0 or negative. */
static int record(struct petrel_engine *e, const struct petrel_audit_report *rep,
		  const struct petrel_audit_opts *o, struct petrel_err *err)
{
	struct petrel_audit_note *notes = calloc(rep->n + 1, sizeof(*notes));
	const char **lines = calloc(rep->n * PETREL_AUDIT_FINDINGS_MAX + 1, sizeof(*lines));
	char summary[256];
	int r = -ENOMEM;

	if (notes && lines) {
		notes_of(rep, notes, lines);
		summarize(rep, o, summary, sizeof(summary));
		r = petrel_store_record_audit(&e->store, notes, rep->n, (int64_t)time(NULL),
					      summary, err);
	}
	free(lines);
	free(notes);
	return r;
}

int petrel_audit_all(struct petrel_engine *e, const struct petrel_target *const *ts, size_t n,
		     const struct petrel_audit_opts *o, struct petrel_audit_report *out,
		     struct petrel_err *err)
{
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = petrel_store_journal_verify(&e->store, &out->journal, err)) < 0)
		return r;
	if (!(out->targets = calloc(n + 1, sizeof(*out->targets))))
		return -ENOMEM;
	for (; out->n < n; out->n++) {
		r = petrel_audit_target(e, ts[out->n], o, &out->targets[out->n], err);
		if (r < 0) {
			petrel_err_prefix(err, "%s: ", ts[out->n]->name);
			out->n++;	/* released with the others */
			return r;
		}
		out->nfindings += out->targets[out->n].n;
	}
	return e->readonly ? 0 : record(e, out, o, err);
}

void petrel_audit_report_release(struct petrel_audit_report *rep)
{
	for (size_t i = 0; i < rep->n; i++)
		petrel_audit_release(&rep->targets[i]);
	free(rep->targets);
	memset(rep, 0, sizeof(*rep));
}
