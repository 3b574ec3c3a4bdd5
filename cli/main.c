/* petrel: main, command dispatch (the command line is cli/commands.c), exit statuses. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "common/cancel.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/util.h"
#include "output.h"

/* The one-line error: the message quotes what servers said, so it is made safe first
 * (credentials masked, control characters escaped: common/util.h). */
void petrel_cli_error(const char *target, int r, const struct petrel_err *err)
{
	char msg[4 * PETREL_ERR_MSG_MAX];

	petrel_text_safe(petrel_err_msg(err, r), msg, sizeof(msg));
	if (target)
		fprintf(stderr, "%spetrel: %s: %s\n", petrel_log_priority(PETREL_LOG_ERROR), target,
			msg);
	else
		fprintf(stderr, "%spetrel: %s\n", petrel_log_priority(PETREL_LOG_ERROR), msg);
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
		if (!(out[*n] = petrel_config_target(c, cli->argv[i])))
			return petrel_fail(err, -PETREL_EUSAGE, "no target '%s' in %s",
					   cli->argv[i], c->path);
		for (size_t j = 0; j < *n; j++)
			if (out[j] == out[*n])
				goto dup;
		(*n)++;
dup:		;
	}
	return 0;
}

static int session_open(struct petrel_cli *cli, struct petrel_session *run, int readonly)
{
	struct petrel_err err = PETREL_ERR_INIT;
	int r = -ENOMEM;

	run->n = 0;
	run->ts = calloc(cli->cfg.ntargets + 1, sizeof(*run->ts));
	if (run->ts && (r = petrel_cli_targets(cli, run->ts, &run->n, &err)) == 0 &&
	    (r = readonly ? petrel_engine_open_read(&run->e, &cli->cfg, &err) :
			    petrel_engine_open(&run->e, &cli->cfg, &err)) == 0)
		return 0;
	petrel_cli_error(NULL, r, &err);
	free(run->ts);
	run->ts = NULL;
	return petrel_err_exit(r);
}

int petrel_session_open(struct petrel_cli *cli, struct petrel_session *run)
{
	return session_open(cli, run, 0);
}

int petrel_session_open_read(struct petrel_cli *cli, struct petrel_session *run)
{
	return session_open(cli, run, 1);
}

void petrel_session_close(struct petrel_session *run)
{
	petrel_engine_close(&run->e);
	free(run->ts);
	run->ts = NULL;
}

static int each_target(struct petrel_cli *cli, petrel_each_fn fn, int readonly)
{
	json_t *arr = json_array();
	struct petrel_session run;
	int r, status = PETREL_EXIT_OK;

	if ((r = session_open(cli, &run, readonly)) != 0) {
		json_decref(arr);
		return r;
	}
	if (cli->json)
		petrel_engine_set_progress(&run.e, 0);
	for (size_t i = 0; i < run.n; i++) {
		json_t *o = json_pack("{s:s}", "name", run.ts[i]->name);
		struct petrel_err err = PETREL_ERR_INIT;	/* this target's */

		if ((r = fn(cli, &run.e, run.ts[i], o, &status, &err)) < 0) {
			json_object_set_new(o, "error", petrel_json_text(petrel_err_msg(&err, r)));
			json_object_set_new(o, "exit", json_integer(petrel_err_exit(r)));
			petrel_cli_error(run.ts[i]->name, r, &err);
			if (cli->all)
				status = petrel_exit_worst(status, petrel_err_exit(r));
			else if (status == PETREL_EXIT_OK || status == PETREL_EXIT_UPDATE)
				status = petrel_err_exit(r);
		}
		json_array_append_new(arr, o);
	}
	if (cli->json)
		petrel_json_print(json_pack("{s:o}", "targets", arr));
	else
		json_decref(arr);
	petrel_session_close(&run);
	return status;
}

int petrel_each_target(struct petrel_cli *cli, petrel_each_fn fn)
{
	return each_target(cli, fn, 0);
}

int petrel_each_target_read(struct petrel_cli *cli, petrel_each_fn fn)
{
	return each_target(cli, fn, 1);
}

/* SIGINT or SIGTERM in a foreground command: the operation stops at its next safe point
 * (a download is dropped and its temporary file removed, a health check cut short and
 * the switch rolled back, a running adapter waited for), then petrel exits 128 + sig. */
static volatile sig_atomic_t stopped_by;

static void on_stop(int sig)
{
	stopped_by = sig;
	petrel_cancel();
}

static void stop_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);	/* no SA_RESTART: waits return early */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int dispatch(struct petrel_cli *cli)
{
	struct petrel_err err = PETREL_ERR_INIT;
	int r;

	if ((r = petrel_config_load(&cli->cfg, cli->config_path, &err)) < 0) {
		petrel_cli_error(NULL, r, &err);
		return PETREL_EXIT_USAGE;
	}
	stop_on_signals();	/* the daemon installs its own */
	r = cli->cmd->run(cli);
	petrel_config_release(&cli->cfg);
	if (stopped_by && strcmp(cli->cmd->name, "daemon")) {
		fprintf(stderr, "%spetrel: %s: stopped by %s; nothing is left half done\n",
			petrel_log_priority(PETREL_LOG_ERROR), cli->cmd->name,
			stopped_by == SIGINT ? "SIGINT" : "SIGTERM");
		return 128 + stopped_by;
	}
	return r;
}

/* What asks for text instead of a command: --version, --man, --completion, help, none. */
static int print_help(const struct petrel_cli *cli)
{
	const struct petrel_command *c = cli->cmd;
	int r;

	if (cli->version)
		r = printf("petrel %s\n", PETREL_VERSION) < 0 ? -EIO : 0;
	else if (cli->man)
		r = petrel_print_man(stdout);
	else if (cli->completion)
		r = petrel_print_completion(stdout, cli->completion);
	else if (!c && !cli->help)
		return petrel_print_short_usage(stderr) < 0 ? PETREL_EXIT_FAIL : PETREL_EXIT_USAGE;
	else if (c && (cli->help || cli->argc))	/* CMD --help, help CMD */
		r = petrel_print_command_help(stdout, cli->help ? c :
					      petrel_command_find(cli->argv[0]));
	else
		r = petrel_print_usage(stdout);
	if (r == 0 && fflush(stdout) != 0)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "%spetrel: standard output: %s\n",
			petrel_log_priority(PETREL_LOG_ERROR), petrel_strerror(r));
		return PETREL_EXIT_FAIL;
	}
	return PETREL_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct petrel_cli cli = { .log_level = petrel_log_level };
	struct petrel_err err = PETREL_ERR_INIT;
	int r;

	if ((r = petrel_cli_parse(&cli, argc, argv, &err)) < 0) {
		petrel_cli_error(NULL, r, &err);
		return PETREL_EXIT_USAGE;
	}
	petrel_log_level = cli.log_level;
	if (cli.version || cli.man || cli.completion || cli.help || !cli.cmd || !cli.cmd->run)
		return print_help(&cli);
	if (petrel_fault_init() < 0) {
		fprintf(stderr,
			"petrel: PETREL_FAULT: expected 'write:N,fsync:N,rename:N,unlink:N'\n");
		return PETREL_EXIT_USAGE;
	}
	if (!cli.config_path)
		cli.config_path = getenv("PETREL_CONFIG");
	if (!cli.config_path || !*cli.config_path)
		cli.config_path = "/etc/petrel/petrel.conf";
	return dispatch(&cli);
}
