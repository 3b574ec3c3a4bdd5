/* petrel audit: what is deployed, does it match the store, and do the servers know it? */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "deploy/metrics.h"
#include "fetcher/builderweb.h"
#include "output.h"
#include "verify/digest.h"

#define AUDIT_FINDINGS_MAX 8	/* per target: file, mode, two blobs, prev, with room to spare */
#define AUDIT_FINDING_LEN 768
/* Beside the deployed file: the previous generation, kept for a revert by rename
 * (deploy/switch.c). */
#define PREV_SUFFIX ".petrel-prev"

struct audit_opts {
	int online, rehash;
	const char *metrics;
};

/* One target's audit. */
struct audit {
	const struct petrel_target *t;
	struct petrel_generation cur, prev;	/* number 0 when none */
	char findings[AUDIT_FINDINGS_MAX][AUDIT_FINDING_LEN];
	const char *lines[AUDIT_FINDINGS_MAX];
	size_t n;
	json_t *servers;
};

static void __attribute__((format(printf, 2, 3))) finding(struct audit *a, const char *fmt, ...)
{
	va_list ap;

	if (a->n == AUDIT_FINDINGS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(a->findings[a->n], AUDIT_FINDING_LEN, fmt, ap);
	va_end(ap);
	a->lines[a->n] = a->findings[a->n];
	a->n++;
}

/*
 * file should hold sha256 (size bytes) as recorded for what, with permissions mode
 * (0: any); a finding otherwise. Without rehash only its presence, mode and size are
 * compared.
 */
static void check_file(struct audit *a, const char *file, const char *what,
		       const struct petrel_version *v, mode_t mode, int rehash)
{
	char want[65], got[65];
	uint8_t sum[32];
	struct stat st;
	int r;

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
	if ((uint64_t)st.st_size != v->build.size) {
		finding(a, "%s: %lld bytes, %s records %llu (sha256 %s)", file, (long long)st.st_size,
			what, (unsigned long long)v->build.size, want);
	} else if (rehash) {
		if ((r = petrel_sha256_file(file, sum, NULL)) < 0) {
			finding(a, "%s: cannot read: %s", file, petrel_strerror(r));
			return;
		}
		petrel_hex(sum, 32, got);
		if (strcmp(got, want))
			finding(a, "%s: sha256 %s, %s records %s", file, got, what, want);
	}
}

static void check_generation(struct audit *a, struct petrel_store *s,
			     const struct petrel_generation *g, const char *label, int rehash)
{
	char blob[PATH_MAX], what[128];

	snprintf(what, sizeof(what), "%s generation %lld (%s)", label, (long long)g->number,
		 g->version.build.uuid);
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
 * PATH.petrel-prev, when it exists and a previous generation does, should hold that
 * generation (a revert renames it into place after hashing it again), or the build a
 * failed or interrupted switch left there; a finding otherwise. 0 or a store error.
 */
static int check_prev(struct petrel_store *s, struct audit *a, int rehash, struct petrel_err *err)
{
	const struct petrel_version *v = &a->prev.version;
	struct leftover l = { NULL, 0, 0 };
	char file[PATH_MAX], what[128];
	uint8_t sum[32];
	struct stat st;
	int r;

	if (!a->prev.number ||
	    petrel_snprintf(file, sizeof(file), "%s" PREV_SUFFIX, a->t->path) < 0)
		return 0;
	if (lstat(file, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		goto report;
	}
	if (!S_ISREG(st.st_mode))
		goto report;
	l.size = (uint64_t)st.st_size;
	if (rehash) {
		if (petrel_sha256_file(file, sum, NULL) < 0)
			goto report;
		if (!memcmp(sum, v->build.sha256, 32))
			return 0;
		l.sha256 = sum;
	} else if (l.size == v->build.size) {
		return 0;
	}
	if ((r = petrel_store_history(s, a->t->name, find_leftover, &l, err)) < 0)
		return r;
	if (l.found)
		return 0;
report:	/* check_file words it as it does for the deployed file */
	snprintf(what, sizeof(what), "previous generation %lld (%s)", (long long)a->prev.number,
		 v->build.uuid);
	check_file(a, file, what, v, 0, rehash);
	return 0;
}

/* Asks every configured server which build holds the deployed hash. */
static void ask_servers(struct petrel_engine *e, struct audit *a)
{
	char job[PETREL_NAME_MAX + 1], uuid[PETREL_UUID_LEN + 1], shown[PETREL_URL_MAX + 1];
	const struct petrel_config *cfg = e->cfg;
	json_t *o;
	int r;

	for (size_t i = 0; i < cfg->nservers; i++) {
		struct petrel_err e1 = PETREL_ERR_INIT;	/* a finding at most, never an error */

		r = petrel_bw_hash_lookup(e->http, cfg->servers[i].url, a->cur.version.build.sha256,
					  job, uuid, &e1);
		petrel_mask_url(cfg->servers[i].url, shown, sizeof(shown));
		o = json_pack("{s:s, s:s, s:b}", "name", cfg->servers[i].name, "url", shown,
			      "known", r == 0);
		if (r == 0) {
			json_object_set_new(o, "job", json_string(job));
			json_object_set_new(o, "uuid", json_string(uuid));
		} else {
			json_object_set_new(o, "job", json_null());
			json_object_set_new(o, "uuid", json_null());
			if (r != -PETREL_ENOTFOUND)
				json_object_set_new(o, "error", petrel_json_text(petrel_err_msg(&e1, r)));
		}
		json_array_append_new(a->servers, o);
	}
}

static int audit_target(struct petrel_engine *e, struct audit *a, const struct audit_opts *o, struct petrel_err *err)
{
	int r;

	a->servers = json_array();
	if ((r = petrel_store_current(&e->store, a->t->name, &a->cur, &a->prev, err)) < 0)
		return r;
	if (!a->cur.number)
		return 0;
	check_file(a, a->t->path, "current generation", &a->cur.version, 0755, o->rehash);
	check_generation(a, &e->store, &a->cur, "current", o->rehash);
	if (a->prev.number)
		check_generation(a, &e->store, &a->prev, "previous", o->rehash);
	if ((r = check_prev(&e->store, a, o->rehash, err)) < 0)
		return r;
	if (o->online)
		ask_servers(e, a);
	return 0;
}

static json_t *target_json(const struct audit *a)
{
	char hex[65];
	json_t *f = json_array();

	for (size_t i = 0; i < a->n; i++)
		json_array_append_new(f, petrel_json_text(a->findings[i]));
	petrel_hex(a->cur.version.build.sha256, 32, hex);
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:O}", "name", a->t->name,
			 "sha256", a->cur.number ? json_string(hex) : json_null(),
			 "generation", a->cur.number ? json_integer(a->cur.number) : json_null(),
			 "job", a->cur.number ? json_string(a->cur.version.build.job) : json_null(),
			 "uuid", a->cur.number ? json_string(a->cur.version.build.uuid) : json_null(),
			 "trust", a->cur.number ? petrel_json_trust(&a->cur.version) : json_null(),
			 "ok", a->n == 0, "findings", f, "servers", a->servers);
}

static void print_servers(const struct audit *a)
{
	size_t i;
	json_t *s;

	json_array_foreach(a->servers, i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));
		json_t *err = json_object_get(s, "error");

		if (json_is_true(json_object_get(s, "known")))
			printf("  server %s: built as %s %s\n", name,
			       json_string_value(json_object_get(s, "job")),
			       json_string_value(json_object_get(s, "uuid")));
		else if (err)
			printf("  server %s: error: %s\n", name, json_string_value(err));
		else
			printf("  server %s: does not know this hash\n", name);
	}
}

static void print_text(const struct audit *a)
{
	char h[13], trust[PETREL_TRUST_TEXT_MAX];

	if (!a->cur.number) {
		printf("%s: nothing deployed\n", a->t->name);
		return;
	}
	petrel_short_hash(a->cur.version.build.sha256, h);
	printf("%s: %s: generation %lld, %s %s %s\n", a->t->name,
	       a->n ? "MISMATCH" : "ok", (long long)a->cur.number, a->cur.version.build.job,
	       a->cur.version.build.uuid, h);
	petrel_trust_text(&a->cur.version, trust, sizeof(trust));
	printf("  trust: %s\n", trust);
	print_servers(a);
}

/* The audit is an action too: its findings and a summary go into the journal. */
static int record(struct petrel_engine *e, struct audit *as, size_t n,
		  const struct petrel_journal_check *j, size_t nfindings, const struct audit_opts *o, struct petrel_err *err)
{
	struct petrel_audit_note *notes = calloc(n + 1, sizeof(*notes));
	char summary[256], journal[64] = "ok";
	int r;

	if (!notes)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		notes[i] = (struct petrel_audit_note){ as[i].t->name, as[i].lines, as[i].n };
	if (j->first_broken)
		snprintf(journal, sizeof(journal), "broken at row %lld", (long long)j->first_broken);
	snprintf(summary, sizeof(summary), "targets=%zu findings=%zu journal=%s %s%s", n,
		 nfindings, journal, o->rehash ? "rehashed" : "quick", o->online ? " online" : "");
	r = petrel_store_record_audit(&e->store, notes, n, (int64_t)time(NULL), summary, err);
	free(notes);
	return r;
}

static int report(struct petrel_cli *cli, struct audit *as, size_t n,
		  const struct petrel_journal_check *j, size_t nfindings)
{
	json_t *arr = json_array();

	if (j->first_broken)
		fprintf(stderr, "petrel: journal: chain broken at row %lld: %s\n",
			(long long)j->first_broken, j->why);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < as[i].n; k++)
			fprintf(stderr, "petrel: %s: %s\n", as[i].t->name, as[i].findings[k]);
		if (cli->json)
			json_array_append_new(arr, target_json(&as[i]));
		else
			print_text(&as[i]);
	}
	if (cli->json)
		return petrel_json_print(json_pack("{s:b, s:{s:b, s:I, s:o, s:s}, s:o}", "ok",
			nfindings == 0 && !j->first_broken, "journal", "ok", !j->first_broken,
			"rows", (json_int_t)j->rows, "first_broken",
			j->first_broken ? json_integer(j->first_broken) : json_null(), "why", j->why,
			"targets", arr));
	json_decref(arr);
	return 0;
}

static int audit_all(struct petrel_cli *cli, struct petrel_run *run, const struct audit_opts *o,
		     struct audit *as, struct petrel_err *err)
{
	struct petrel_journal_check j;
	struct petrel_err metrics = PETREL_ERR_INIT;	/* reported here, then done with */
	size_t nfindings = 0;
	int r;

	if ((r = petrel_store_journal_verify(&run->e.store, &j, err)) < 0)
		return r;
	for (size_t i = 0; i < run->n; i++) {
		as[i].t = run->ts[i];
		if ((r = audit_target(&run->e, &as[i], o, err)) < 0) {
			petrel_err_prefix(err, "%s: ", run->ts[i]->name);
			return r;
		}
		nfindings += as[i].n;
	}
	if ((r = record(&run->e, as, run->n, &j, nfindings, o, err)) < 0 ||
	    (r = report(cli, as, run->n, &j, nfindings)) < 0)
		return r;
	/* the findings are out already; a metrics file that cannot be written does not
	 * hide them: exit 6 all the same, 1 when there was nothing else to say */
	if (o->metrics && (r = petrel_metrics_write(o->metrics, &run->e.store, &cli->cfg,
						    &metrics)) < 0) {
		petrel_cli_error(NULL, r, &metrics);
		if (!nfindings && !j.first_broken)
			return PETREL_EXIT_FAIL;
	}
	return nfindings || j.first_broken ? PETREL_EXIT_AUDIT : PETREL_EXIT_OK;
}

/*
 * Takes the store's lock like every command: the findings are journaled (a write),
 * and a re-hash racing an upgrade would report the file half-way through its switch.
 */
int petrel_cmd_audit(struct petrel_cli *cli)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct audit_opts o = { .online = cli->online, .rehash = !cli->no_rehash,
				.metrics = cli->metrics };
	struct petrel_run run;
	struct audit *as = NULL;
	int r;

	if ((r = petrel_run_begin(cli, &run)) != 0)
		return r;
	if (!(as = calloc(run.n + 1, sizeof(*as))))
		r = -ENOMEM;
	else
		r = audit_all(cli, &run, &o, as, &err);
	for (size_t i = 0; as && i < run.n; i++)
		json_decref(as[i].servers);
	free(as);
	petrel_run_end(&run);
	if (r < 0) {
		petrel_cli_error(NULL, r, &err);
		return petrel_err_exit(r);
	}
	return r;
}
