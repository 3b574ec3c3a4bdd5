/* petrel export TARGET... FILE, petrel import FILE: bundles for hosts without the network. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/fs.h"
#include "common/log.h"
#include "deploy/bundles.h"
#include "output.h"

static json_t *item_json(const struct petrel_bundle_item *it, int import)
{
	json_t *o = json_pack("{s:s, s:o, s:I}", "target", it->t->name, "version",
			      petrel_json_version(&it->v), "signatures", (json_int_t)it->nsigs);

	if (o && import)
		json_object_set_new(o, "imported", json_boolean(!it->already));
	return o;
}

static void print_json(const char *file, const struct petrel_bundle_report *rep, int import)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < rep->n; i++)
		json_array_append_new(arr, item_json(&rep->items[i], import));
	petrel_json_print(json_pack("{s:o, s:o}", "file", petrel_json_text(file), "versions",
				    arr));
}

static void print_export(FILE *f, const char *file, const struct petrel_bundle_report *rep)
{
	char h[13];

	for (size_t i = 0; i < rep->n; i++) {
		const struct petrel_version *v = &rep->items[i].v;

		petrel_short_hash(v->build.sha256, h);
		fprintf(f, "%s: exported %s %s (%s, %llu bytes, %zu signature%s) to %s\n",
			rep->items[i].t->name, v->build.uuid, h, v->build.filename,
			(unsigned long long)v->build.size, rep->items[i].nsigs,
			rep->items[i].nsigs == 1 ? "" : "s", strcmp(file, "-") ? file : "stdout");
	}
}

int petrel_cmd_export(struct petrel_cli *cli)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct petrel_bundle_report rep;
	struct petrel_session run;
	const char *file = cli->argv[cli->argc - 1];
	int r, to_stdout = !strcmp(file, "-");

	if (to_stdout && cli->json) {
		petrel_fail(&err, -PETREL_EUSAGE, "export: --json prints on stdout, where '-' "
			    "writes the bundle; name a file");
		petrel_cli_error(NULL, -PETREL_EUSAGE, &err);
		return PETREL_EXIT_USAGE;
	}
	if (to_stdout && isatty(STDOUT_FILENO)) {
		petrel_fail(&err, -PETREL_EUSAGE, "export: not writing a bundle to a terminal");
		petrel_cli_error(NULL, -PETREL_EUSAGE, &err);
		return PETREL_EXIT_USAGE;
	}
	cli->argc--;	/* the rest are targets */
	if ((r = petrel_session_open_read(cli, &run)) != 0)
		return r;
	r = petrel_export(&run.e, run.ts, run.n, cli->uuid, file, &rep, &err);
	if (r < 0)
		petrel_cli_error(NULL, r, &err);
	else if (cli->json)
		print_json(file, &rep, 0);
	else if (petrel_log_level >= PETREL_LOG_INFO)
		print_export(to_stdout ? stderr : stdout, file, &rep);
	petrel_bundle_report_release(&rep);
	petrel_session_close(&run);
	return petrel_err_exit(r);
}

static void print_import(const char *file, const struct petrel_bundle_report *rep)
{
	char h[13], trust[512];

	for (size_t i = 0; i < rep->n; i++) {
		const struct petrel_bundle_item *it = &rep->items[i];

		petrel_short_hash(it->v.build.sha256, h);
		if (it->already) {
			printf("%s: %s %s already in the store\n", it->t->name, it->v.build.uuid, h);
			continue;
		}
		petrel_trust_text(&it->v, trust, sizeof(trust));
		printf("%s: imported %s %s (%s, %llu bytes) from %s, trust %s%s; deploy it with "
		       "'petrel upgrade %s --to %s'\n", it->t->name, it->v.build.uuid, h,
		       it->v.build.filename, (unsigned long long)it->v.build.size, file, trust,
		       petrel_trust_needs_rebuilders(it->t->trust) ?
		       " (rebuilders not checked: offline)" : "", it->t->name, it->v.build.uuid);
	}
}

/* The bundle's bytes: FILE (a regular file, symlinks followed) or stdin. */
static int open_bundle(const char *file, struct petrel_err *err)
{
	int fd;

	if (!strcmp(file, "-"))
		return STDIN_FILENO;
	if ((fd = petrel_open_regular(file, 1, NULL)) < 0)
		return petrel_fail(err, fd == -EINVAL ? -PETREL_EUSAGE : fd, "%s: %s", file,
				   fd == -EINVAL ? "not a regular file (use - for stdin)" :
				   strerror(-fd));
	return fd;
}

int petrel_cmd_import(struct petrel_cli *cli)
{
	struct petrel_import_opts o = { cli->offline_ok, cli->allow_downgrade };
	struct petrel_err err = PETREL_ERR_INIT;
	struct petrel_bundle_report rep;
	struct petrel_session run;
	const char *file = cli->argv[0];
	const char *name = strcmp(file, "-") ? file : "stdin";
	int fd, r;

	if ((fd = open_bundle(file, &err)) < 0) {
		petrel_cli_error(NULL, fd, &err);
		return petrel_err_exit(fd);
	}
	cli->argc = 0;	/* every target may take a version */
	if ((r = petrel_session_open(cli, &run)) != 0) {
		if (fd != STDIN_FILENO)
			close(fd);
		return r;
	}
	r = petrel_import(&run.e, fd, name, &o, &rep, &err);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r < 0)
		petrel_cli_error(NULL, r, &err);
	else if (cli->json)
		print_json(name, &rep, 1);
	else if (petrel_log_level >= PETREL_LOG_INFO)
		print_import(name, &rep);
	petrel_bundle_report_release(&rep);
	petrel_session_close(&run);
	return petrel_err_exit(r);
}
