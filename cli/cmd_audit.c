/* petrel audit: what is deployed, does it match the store, and do the servers know it? */
#include <stdio.h>

#include "cli.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "deploy/audit.h"
#include "deploy/metrics.h"
#include "output.h"

/* [{"name","url","known","job","uuid"[,"error"]}]: what each server said, for --json. */
static json_t *servers_json(const struct petrel_audit *a)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < a->nservers; i++) {
		const struct petrel_audit_server *s = &a->servers[i];
		json_t *o = json_pack("{s:s, s:s, s:b, s:o, s:o}", "name", s->server->name,
				      "url", s->url, "known", s->known,
				      "job", s->known ? json_string(s->job) : json_null(),
				      "uuid", s->known ? json_string(s->uuid) : json_null());

		if (o && s->error[0])
			json_object_set_new(o, "error", petrel_json_text(s->error));
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *target_json(const struct petrel_audit *a)
{
	char hex[65];
	json_t *f = json_array();

	for (size_t i = 0; i < a->n; i++)
		json_array_append_new(f, petrel_json_text(a->findings[i]));
	petrel_hex(a->cur.version.build.sha256, 32, hex);
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o}", "name", a->t->name,
			 "sha256", a->cur.number ? json_string(hex) : json_null(),
			 "generation", a->cur.number ? json_integer(a->cur.number) : json_null(),
			 "job", a->cur.number ? json_string(a->cur.version.build.job) : json_null(),
			 "uuid", a->cur.number ? json_string(a->cur.version.build.uuid) : json_null(),
			 "trust", a->cur.number ? petrel_json_trust(&a->cur.version) : json_null(),
			 "ok", a->n == 0, "findings", f, "servers", servers_json(a));
}

static void print_servers(const struct petrel_audit *a)
{
	for (size_t i = 0; i < a->nservers; i++) {
		const struct petrel_audit_server *s = &a->servers[i];
		json_t *why;

		if (s->known)
			printf("  server %s: built as %s %s\n", s->server->name, s->job, s->uuid);
		else if (!s->error[0])
			printf("  server %s: does not know this hash\n", s->server->name);
		else if ((why = petrel_json_text(s->error))) {	/* as --json shows it */
			char safe[4 * sizeof(s->error)];

			petrel_text_safe(json_string_value(why), safe, sizeof(safe));
			printf("  server %s: error: %s\n", s->server->name, safe);
			json_decref(why);
		}
	}
}

static void print_text(const struct petrel_audit *a)
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

static json_t *report_json(const struct petrel_audit_report *rep, json_t *targets)
{
	const struct petrel_journal_check *j = &rep->journal;

	return json_pack("{s:b, s:{s:b, s:I, s:o, s:s}, s:o}", "ok",
			 rep->nfindings == 0 && !j->first_broken, "journal", "ok", !j->first_broken,
			 "rows", (json_int_t)j->rows, "first_broken",
			 j->first_broken ? json_integer(j->first_broken) : json_null(), "why", j->why,
			 "targets", targets);
}

/* Findings and a broken chain on stderr, then the audit as text or JSON. 0 or -EIO. */
static int report(const struct petrel_cli *cli, const struct petrel_audit_report *rep)
{
	json_t *arr = json_array();

	if (rep->journal.first_broken)
		fprintf(stderr, "%spetrel: journal: chain broken at row %lld: %s\n",
			petrel_log_priority(PETREL_LOG_ERROR),
			(long long)rep->journal.first_broken, rep->journal.why);
	for (size_t i = 0; i < rep->n; i++) {
		const struct petrel_audit *a = &rep->targets[i];

		for (size_t k = 0; k < a->n; k++)
			fprintf(stderr, "%spetrel: %s: %s\n", petrel_log_priority(PETREL_LOG_ERROR),
				a->t->name, a->findings[k]);
		if (cli->json)
			json_array_append_new(arr, target_json(a));
		else
			print_text(a);
	}
	if (cli->json)
		return petrel_json_print(report_json(rep, arr));
	json_decref(arr);
	return 0;
}

/* The exit status of an audit reported: 6 with findings or a broken chain, else 0. */
static int audit_status(struct petrel_cli *cli, struct petrel_session *run,
			const struct petrel_audit_report *rep)
{
	struct petrel_err metrics = PETREL_ERR_INIT;	/* reported here, then done with */
	int clean = !rep->nfindings && !rep->journal.first_broken;
	int r;

	/* the findings are out already; a metrics file that cannot be written does not
	 * hide them: exit 6 all the same, 1 when there was nothing else to say */
	if (cli->metrics && (r = petrel_metrics_write(cli->metrics, &run->e.store, &cli->cfg,
						      &metrics)) < 0) {
		petrel_cli_error(NULL, r, &metrics);
		if (clean)
			return PETREL_EXIT_FAIL;
	}
	return clean ? PETREL_EXIT_OK : PETREL_EXIT_AUDIT;
}

/*
 * Takes the store's lock like every command: the findings are journaled (a write),
 * and a re-hash racing an upgrade would report the file half-way through its switch.
 */
int petrel_cmd_audit(struct petrel_cli *cli)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct petrel_audit_opts o = { .online = cli->online, .rehash = !cli->no_rehash };
	struct petrel_audit_report rep;
	struct petrel_session run;
	int r;

	if (cli->metrics && (r = petrel_metrics_usable(cli->metrics, &err)) < 0) {
		petrel_cli_error(NULL, r, &err);
		return petrel_err_exit(r);
	}
	/* a quick audit for monitoring reads a snapshot and journals nothing, unless its
	 * figures are to reach --metrics */
	if ((r = cli->no_rehash && !cli->metrics ? petrel_session_open_read(cli, &run) :
						   petrel_session_open(cli, &run)) != 0)
		return r;
	if ((r = petrel_audit_all(&run.e, run.ts, run.n, &o, &rep, &err)) == 0 &&
	    (r = report(cli, &rep)) == 0)
		r = audit_status(cli, &run, &rep);
	petrel_audit_report_release(&rep);
	petrel_session_close(&run);
	if (r < 0) {
		petrel_cli_error(NULL, r, &err);
		return petrel_err_exit(r);
	}
	return r;
}
