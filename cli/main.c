/* petrel: main, global options, command dispatch, exit statuses. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "fetcher/http.h"
#include "output.h"

#define PETREL_VERSION "0.1.0"

static const char usage[] =
"usage: petrel [-c FILE] [--json] [-q] [-v] COMMAND [ARGS]\n"
"\n"
"petrel keeps deployed binaries in step with a builder-web build server and never\n"
"accepts a byte it has not verified: every build is hashed while it downloads,\n"
"checked against the server's sha256 and the publisher's minisign signatures, and\n"
"kept in a content-addressed store.\n"
"\n"
"commands:\n"
"  check [TARGET...]    ask the server for the newest build of each target; prints\n"
"                       'up to date' or the deployed and the new build.\n"
"                       exit 0: all up to date, 100: an update is available\n"
"  fetch [TARGET...]    download and verify the newest build into the store;\n"
"                       deploys nothing. A build already in the store is not\n"
"                       downloaded again\n"
"  status [TARGET...]   what is deployed and the newest verified build in the store,\n"
"                       with its sha256, size and trust evidence (key ids,\n"
"                       rebuilders that agreed)\n"
"  upgrade TARGET [--to UUID] [--allow-downgrade]\n"
"                       fetch and verify the newest build (or UUID) if the store\n"
"                       lacks it, replace the target's path atomically, run the\n"
"                       orchestrator adapter and the health check; if either fails,\n"
"                       put the previous generation back, reject the build, exit 5.\n"
"                       Refuses (exit 3) a build older than the current one without\n"
"                       --allow-downgrade, a build rejected before unless named with\n"
"                       --to, a Solo5 build for another abi or needing a device\n"
"                       the adapter says the unikernel lacks (before downloading),\n"
"                       and a build the preflight command refuses\n"
"  revert TARGET        one step back to the previous generation, from the store, no\n"
"                       network; a second revert goes forward again. Going back\n"
"                       rejects the build left, so the daemon does not redeploy it\n"
"  history TARGET       every generation: when, which build, how it ended\n"
"  log [TARGET]         the event journal (fetch, refused, upgrade, revert,\n"
"                       upgrade-failed, recover, audit, ...), oldest first; each\n"
"                       row carries the SHA-256 of the one before, and a broken\n"
"                       chain (or a missing last row) is marked '!' and reported\n"
"  audit [TARGET...] [--online] [--no-rehash] [--metrics FILE]\n"
"                       re-hash each deployed file (mode 0755 too), PATH.petrel-prev\n"
"                       and the current and previous blobs against the store's\n"
"                       record, verify the journal's chain and head; shows the trust\n"
"                       evidence (key ids, rebuilders; trust = server as weak);\n"
"                       --online asks every configured server's /hash which build\n"
"                       holds the deployed sha256 (unknown or down is reported, not\n"
"                       a finding); --no-rehash (--quick) compares sizes only, for\n"
"                       monitoring; --metrics FILE writes Prometheus text for\n"
"                       node_exporter's textfile collector (a write failure is\n"
"                       reported after the findings). Findings go to stderr (one\n"
"                       line each, naming the target) and the journal; exit 6 when\n"
"                       there is any\n"
"  fsck                 re-hash every blob in the store, check the database, the\n"
"                       journal chain and tmp/; exit 6 when anything is wrong\n"
"  gc [TARGET...] [--dry-run]\n"
"                       retention: per target, remove the versions beyond the 'keep'\n"
"                       newest (with the generations that deployed them; the journal\n"
"                       keeps every deploy), never the current, previous or newest\n"
"                       generation's build nor the newest verified one; then every\n"
"                       blob no version of any target references. One 'gc' journal\n"
"                       row per target. --dry-run prints what would go, changes nothing\n"
"  daemon [--once] [--metrics FILE]\n"
"                       unattended updates, in the foreground, one log line per\n"
"                       event on stderr. Polls each target every 'interval' s (+-10%\n"
"                       jitter); auto = upgrade deploys a new build (as upgrade does),\n"
"                       fetch only stages it, off skips the target; outside 'window'\n"
"                       upgrade only stages. A build that failed verification or its\n"
"                       health check is never fetched or deployed again, a newer one\n"
"                       is; never downgrades. Failures back off (interval doubling,\n"
"                       up to backoff_max), per server for connection and HTTP errors.\n"
"                       SIGTERM/SIGINT: stop at the next safe point (a download is\n"
"                       dropped, a health check stopped and the switch rolled back, a\n"
"                       running adapter waited for and one health check decides),\n"
"                       exit 0; SIGHUP: re-read the configuration. One daemon per\n"
"                       state directory (STATE/daemon.lock). With NOTIFY_SOCKET:\n"
"                       sd_notify READY/RELOADING/STOPPING/WATCHDOG. --once: one cycle\n"
"                       over every target, exit with its worst status. --metrics:\n"
"                       Prometheus text written atomically after every cycle\n"
"  help                 this text\n"
"\n"
"Every command takes the state directory's lock first and rolls back a switch that\n"
"a crash interrupted (the file at path and the database then agree again).\n"
"\n"
"options:\n"
"  -c, --config FILE    configuration (default $PETREL_CONFIG, else /etc/petrel/petrel.conf)\n"
"      --json           print data as JSON on stdout (every command but help)\n"
"  -q, --quiet          only errors\n"
"  -v, --verbose        debug messages\n"
"      --version        print the version\n"
"\n"
"exit status:\n"
"  0 ok; 1 failure; 2 usage or configuration error (also an unknown job or\n"
"  platform, or a server url that is no builder-web); 3 verification refused (hash,\n"
"  signature, binding, rollback, rebuilders, max_age); 4 server or network error;\n"
"  5 deploy failed and was reverted; 6 fsck/audit found a mismatch; 100 update\n"
"  available (check)\n"
"\n"
"configuration (INI; sections in any order):\n"
"  [petrel]        state_dir (/var/lib/petrel), interval (3600 s: daemon polls),\n"
"                  backoff_max (21600 s), lock_timeout (30 s), connect_timeout\n"
"                  (15 s), low_speed_limit (1000 B/s) and low_speed_time (30 s): abort a\n"
"                  transfer that stays slower, max_time (0: none), max_artifact_size\n"
"                  (4 GiB: a build announcing more is refused before any download)\n"
"  [server \"N\"]    url: a builder-web, http:// or https://\n"
"  [target \"N\"]    server, job, path (required); platform; abi (hvt, spt, ...: a\n"
"                  Solo5 build for another target is refused before downloading);\n"
"                  trust = signed (default: threshold distinct key ids of 'keys' must\n"
"                  sign), rebuilt (agree of 'rebuilders' must lead from /hash to a\n"
"                  build whose main binary has the hash, any job name),\n"
"                  signed+rebuilt (both) or server (hash from the server only, shown\n"
"                  as weak); keys (minisign .pub files); threshold (1); signatures (URL\n"
"                  templates, one per signer: {job} {uuid} {filename} {sha256} {url});\n"
"                  rebuilders (names of other [server] sections); agree (1); max_age\n"
"                  (e.g. 30d; s m h d or seconds): check exits 3 when the newest build\n"
"                  is older; lists are comma-separated and may go on over indented lines;\n"
"                  bind = strict (trusted comment must name job and sha256) or loose;\n"
"                  legacy_signatures = no|yes (minisign's non-prehashed 'Ed');\n"
"                  orchestrator = none | an adapter run as 'ADAPTER upgrade|revert' with\n"
"                  PETREL_TARGET PETREL_PATH PETREL_NEW_SHA256 PETREL_OLD_SHA256 PETREL_JOB\n"
"                  PETREL_UUID, exit 0 = the orchestrator started it (timeout:\n"
"                  orchestrator_timeout, 120 s); 'ADAPTER devices' lists the Solo5\n"
"                  devices the target has ('net NAME', 'block NAME'): a build whose\n"
"                  manifest needs another is refused before downloading;\n"
"                  health (command, exit 0 = healthy; health_retries 8, health_timeout\n"
"                  5 s, attempts spaced 1,1,1,2,3,3,4,5 s); preflight (command run with\n"
"                  the new file's path before the switch, non-zero refuses);\n"
"                  auto = upgrade (default) | fetch | off: the daemon's policy;\n"
"                  interval (s, overrides [petrel]'s); window = HH:MM-HH:MM (local\n"
"                  time, may span midnight): outside it auto = upgrade only stages\n"
"\n"
"files:\n"
"  STATE/petrel.db, STATE/objects/sha256/XX/REST (verified blobs, read-only),\n"
"  STATE/tmp/ (downloads in progress), STATE/lock, STATE/daemon.lock; beside each\n"
"  target's path:\n"
"  PATH.petrel-prev (the previous generation, for a revert by rename) and, during a\n"
"  switch, PATH.petrel-new\n"
"\n"
"environment:\n"
"  PETREL_CONFIG        configuration file when -c is not given\n"
"  PETREL_FAULT         test hook: 'write:N,fsync:N,rename:N,unlink:N' fails the\n"
"                       N-th call of that kind with EIO\n"
"\n"
"See README.md for the configuration keys.\n";

void petrel_cli_error(const char *target, int r, const struct petrel_err *err)
{
	const char *msg = petrel_err_msg(err, r);

	if (target)
		fprintf(stderr, "petrel: %s: %s\n", target, msg);
	else
		fprintf(stderr, "petrel: %s\n", msg);
}

int petrel_cli_targets(const struct petrel_cli *cli, const struct petrel_target **out, size_t *n,
		       struct petrel_err *err)
{
	const struct petrel_config *c = &cli->cfg;

	*n = 0;
	if (cli->argc == 0) {
		for (size_t i = 0; i < c->ntargets; i++)
			out[(*n)++] = &c->targets[i];
		return 0;
	}
	for (int i = 0; i < cli->argc; i++) {
		if (cli->argv[i][0] == '-')
			return petrel_fail(err, -PETREL_EUSAGE, "unknown option '%s'", cli->argv[i]);
		if (!(out[*n] = petrel_config_target(c, cli->argv[i])))
			return petrel_fail(err, -PETREL_EUSAGE, "no target '%s' in %s", cli->argv[i], c->path);
		for (size_t j = 0; j < *n; j++)
			if (out[j] == out[*n])
				goto dup;
		(*n)++;
dup:		;
	}
	return 0;
}

int petrel_cli_one_target(struct petrel_cli *cli, const char *synopsis, struct petrel_err *err)
{
	int n = 0;

	for (int i = 0; i < cli->argc; i++) {
		const char *a = cli->argv[i];

		if (!strcmp(a, "--to") && i + 1 < cli->argc)
			cli->to_uuid = cli->argv[++i];
		else if (!strncmp(a, "--to=", 5))
			cli->to_uuid = a + 5;
		else if (!strcmp(a, "--allow-downgrade"))
			cli->allow_downgrade = 1;
		else if (a[0] == '-')
			return petrel_fail(err, -PETREL_EUSAGE, "unknown option '%s' (usage: %s)", a, synopsis);
		else
			cli->argv[n++] = cli->argv[i];
	}
	cli->argc = n;
	if (n != 1)
		return petrel_fail(err, -PETREL_EUSAGE, "usage: %s", synopsis);
	return 0;
}

int petrel_run_begin(struct petrel_cli *cli, struct petrel_run *run)
{
	struct petrel_err err = PETREL_ERR_INIT;
	int r = -ENOMEM;

	run->n = 0;
	run->ts = calloc(cli->cfg.ntargets + 1, sizeof(*run->ts));
	if (run->ts && (r = petrel_cli_targets(cli, run->ts, &run->n, &err)) == 0 &&
	    (r = petrel_engine_open(&run->e, &cli->cfg, &err)) == 0)
		return 0;
	petrel_cli_error(NULL, r, &err);
	free(run->ts);
	run->ts = NULL;
	return petrel_err_exit(r);
}

void petrel_run_end(struct petrel_run *run)
{
	petrel_engine_close(&run->e);
	free(run->ts);
	run->ts = NULL;
}

int petrel_run_each(struct petrel_cli *cli, petrel_each_fn fn)
{
	json_t *arr = json_array();
	struct petrel_run run;
	int r, status = PETREL_EXIT_OK;

	if ((r = petrel_run_begin(cli, &run)) != 0) {
		json_decref(arr);
		return r;
	}
	if (cli->json)
		petrel_http_set_progress(run.e.http, 0);
	for (size_t i = 0; i < run.n; i++) {
		json_t *o = json_pack("{s:s}", "name", run.ts[i]->name);
		struct petrel_err err = PETREL_ERR_INIT;	/* this target's */

		if ((r = fn(cli, &run.e, run.ts[i], o, &status, &err)) < 0) {
			json_object_set_new(o, "error", petrel_json_text(petrel_err_msg(&err, r)));
			json_object_set_new(o, "exit", json_integer(petrel_err_exit(r)));
			petrel_cli_error(run.ts[i]->name, r, &err);
			if (status == PETREL_EXIT_OK || status == PETREL_EXIT_UPDATE)
				status = petrel_err_exit(r);
		}
		json_array_append_new(arr, o);
	}
	if (cli->json)
		petrel_json_print(json_pack("{s:o}", "targets", arr));
	else
		json_decref(arr);
	petrel_run_end(&run);
	return status;
}

int petrel_run_one(struct petrel_cli *cli, const char *synopsis, int takes_options,
		   petrel_each_fn fn)
{
	struct petrel_err err = PETREL_ERR_INIT;
	int r = petrel_cli_one_target(cli, synopsis, &err);

	if (r == 0 && !takes_options && (cli->to_uuid || cli->allow_downgrade))
		r = petrel_fail(&err, -PETREL_EUSAGE, "this command takes no options (usage: %s)",
				synopsis);
	if (r < 0) {
		petrel_cli_error(NULL, r, &err);
		return petrel_err_exit(r);
	}
	return petrel_run_each(cli, fn);
}

static const struct {
	const char *name;
	int (*fn)(struct petrel_cli *);
} commands[] = {
	{ "check", petrel_cmd_check },
	{ "fetch", petrel_cmd_fetch },
	{ "status", petrel_cmd_status },
	{ "fsck", petrel_cmd_fsck },
	{ "upgrade", petrel_cmd_upgrade },
	{ "revert", petrel_cmd_revert },
	{ "history", petrel_cmd_history },
	{ "log", petrel_cmd_log },
	{ "daemon", petrel_cmd_daemon },
	{ "audit", petrel_cmd_audit },
	{ "gc", petrel_cmd_gc },
};

/* Takes the global options out of argv wherever they stand; the rest stays in order. */
static int global_options(struct petrel_cli *cli, int argc, char **argv, int *help, int *version,
			  struct petrel_err *err)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
			if (++i == argc)
				return petrel_fail(err, -PETREL_EUSAGE, "%s needs a file", a);
			cli->config_path = argv[i];
		} else if (!strncmp(a, "--config=", 9)) {
			cli->config_path = a + 9;
		} else if (!strcmp(a, "--json")) {
			cli->json = 1;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			petrel_log_level = PETREL_LOG_ERROR;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			petrel_log_level = PETREL_LOG_DEBUG;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			*help = 1;
		} else if (!strcmp(a, "--version")) {
			*version = 1;
		} else {
			argv[++n] = argv[i];
		}
	}
	cli->argc = n;
	cli->argv = argv + 1;
	return 0;
}

static int dispatch(struct petrel_cli *cli)
{
	const char *name = cli->argv[0];
	struct petrel_err err = PETREL_ERR_INIT;
	int r;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(name, commands[i].name))
			continue;
		if ((r = petrel_config_load(&cli->cfg, cli->config_path, &err)) < 0) {
			petrel_cli_error(NULL, r, &err);
			return PETREL_EXIT_USAGE;
		}
		cli->argc--;
		cli->argv++;
		r = commands[i].fn(cli);
		petrel_config_release(&cli->cfg);
		return r;
	}
	fprintf(stderr, "petrel: unknown command '%s' (see petrel --help)\n", name);
	return PETREL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct petrel_cli cli = { 0 };
	struct petrel_err err = PETREL_ERR_INIT;
	int help = 0, version = 0, r;

	if ((r = global_options(&cli, argc, argv, &help, &version, &err)) < 0) {
		petrel_cli_error(NULL, r, &err);
		return PETREL_EXIT_USAGE;
	}
	if (version) {
		printf("petrel %s\n", PETREL_VERSION);
		return 0;
	}
	if (help || cli.argc == 0 || !strcmp(cli.argv[0], "help")) {
		fputs(usage, help || cli.argc ? stdout : stderr);
		return help || cli.argc ? 0 : PETREL_EXIT_USAGE;
	}
	if (petrel_fault_init() < 0) {
		fprintf(stderr, "petrel: PETREL_FAULT: expected 'write:N,fsync:N,rename:N,unlink:N'\n");
		return PETREL_EXIT_USAGE;
	}
	if (!cli.config_path)
		cli.config_path = getenv("PETREL_CONFIG");
	if (!cli.config_path || !*cli.config_path)
		cli.config_path = "/etc/petrel/petrel.conf";
	return dispatch(&cli);
}
