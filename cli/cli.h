/* The command-line front end: options, configuration, one function per command. */
#ifndef PETREL_CLI_H
#define PETREL_CLI_H

#include <jansson.h>

#include "deploy/engine.h"
#include "deploy/target.h"
#include "common/error.h"

struct petrel_command;

/* What the command line said: filled by petrel_cli_parse as cli/commands.c's tables say. */
struct petrel_cli {
	const char *config_path;
	int json;
	struct petrel_config cfg;
	const struct petrel_command *cmd;	/* NULL: none was given */
	int argc;		/* the command's own arguments, after every option */
	char **argv;
	int log_level;		/* -q, -v: petrel_log_level once parsed */
	int help, version, man;
	const char *completion;	/* --completion SHELL */
	const char *to_uuid;	/* upgrade --to */
	int allow_downgrade;	/* upgrade --allow-downgrade */
	int online, no_rehash;	/* audit --online, --no-rehash (--quick) */
	const char *metrics;	/* audit, daemon --metrics FILE */
	int once;		/* daemon --once */
	int at_once;		/* daemon --now */
	int dry_run;		/* gc, upgrade --dry-run */
	int all;		/* upgrade --all */
	int short_form;		/* status --short */
	const char *lines;	/* log -n N (--lines) */
	const char *since;	/* log --since TIME */
	int follow;		/* log --follow */
	const char *uuid;	/* export --uuid */
	int offline_ok;		/* import --offline-ok */
};


/* Loads and validates the INI file; 0 or -PETREL_ECONFIG with "FILE:LINE: reason". */
int petrel_config_load(struct petrel_config *cfg, const char *path, struct petrel_err *err);
void petrel_config_release(struct petrel_config *cfg);
const struct petrel_target *petrel_config_target(const struct petrel_config *cfg, const char *name);

/*
 * The targets a command acts on: those named in argv, or all when none are named.
 * Fills out (cfg->ntargets entries at most); an unknown name is a usage error.
 */
int petrel_cli_targets(const struct petrel_cli *cli, const struct petrel_target **out, size_t *n,
		       struct petrel_err *err);

/* A command's session: the targets it acts on and an open engine (petrel_run() is
 * something else: it forks and executes an adapter). */
struct petrel_session {
	const struct petrel_target **ts;	/* owned array of borrowed targets */
	size_t n;
	struct petrel_engine e;
};
/* Selects targets and opens the engine. 0, or the exit status after reporting why. */
int petrel_session_open(struct petrel_cli *cli, struct petrel_session *run);
/* The same with a read-only engine (petrel_engine_open_read): no lock, no waiting. */
int petrel_session_open_read(struct petrel_cli *cli, struct petrel_session *run);
void petrel_session_close(struct petrel_session *run);

/*
 * The loop of commands that act on each target (check, fetch): fn does one target,
 * filling o (the target's JSON object, "name" already set) and printing text unless
 * --json; it may raise *status to PETREL_EXIT_UPDATE. A failure is reported as one
 * line, recorded in o as "error" and "exit", and the first one decides the exit
 * status; the other targets still run. Returns the exit status.
 */
typedef int (*petrel_each_fn)(struct petrel_cli *cli, struct petrel_engine *e,
			      const struct petrel_target *t, json_t *o, int *status,
			      struct petrel_err *err);
int petrel_each_target(struct petrel_cli *cli, petrel_each_fn fn);
/* The same over a read-only session: for the reads, which never wait for a writer. */
int petrel_each_target_read(struct petrel_cli *cli, petrel_each_fn fn);

/* Reports failure r, whose message err holds, for target (NULL for none):
 * "petrel: TARGET: message". */
void petrel_cli_error(const char *target, int r, const struct petrel_err *err);

int petrel_cmd_check(struct petrel_cli *cli);
int petrel_cmd_fetch(struct petrel_cli *cli);
int petrel_cmd_status(struct petrel_cli *cli);
int petrel_cmd_fsck(struct petrel_cli *cli);
int petrel_cmd_upgrade(struct petrel_cli *cli);
int petrel_cmd_revert(struct petrel_cli *cli);
int petrel_cmd_history(struct petrel_cli *cli);
int petrel_cmd_log(struct petrel_cli *cli);
int petrel_cmd_daemon(struct petrel_cli *cli);
int petrel_cmd_audit(struct petrel_cli *cli);
int petrel_cmd_gc(struct petrel_cli *cli);
int petrel_cmd_list(struct petrel_cli *cli);
int petrel_cmd_pin(struct petrel_cli *cli);
int petrel_cmd_unpin(struct petrel_cli *cli);
int petrel_cmd_export(struct petrel_cli *cli);
int petrel_cmd_import(struct petrel_cli *cli);

#endif
