/* The command line, described once: a table per command, and what is made from it. */
#ifndef PETREL_COMMANDS_H
#define PETREL_COMMANDS_H

#include <stddef.h>
#include <stdio.h>
#include "common/error.h"

#define PETREL_VERSION "0.1.0"

struct petrel_cli;

enum {
	PETREL_OPT_HIDDEN = 1,	/* accepted, but in no help, man page or completion */
	PETREL_OPT_ALONE = 2,	/* acts instead of a command (--version): not in the synopsis */
};

/*
 * One option. Where its value goes: field is the offset in struct petrel_cli of an int
 * that a flag sets to value, or, when the option takes a value (metavar set), of a
 * const char * that receives it (borrowed from argv). Given twice, the last one wins.
 */
struct petrel_option {
	const char *name;	/* long name, without "--" */
	const char *alias;	/* a second long name, or NULL */
	char short_name;	/* "-c"; 0 for none */
	const char *metavar;	/* NULL: a flag; else it takes a value, shown as this */
	const char *choices;	/* NULL, or the values allowed, separated by spaces */
	const char *help;	/* one line, wrapped when printed */
	size_t field;
	int value;		/* what a flag stores */
	unsigned flags;		/* PETREL_OPT_* */
};

/* What a command's positional arguments are, for checking and for completion. */
enum petrel_arg_kind { PETREL_ARG_NONE, PETREL_ARG_TARGET, PETREL_ARG_COMMAND, PETREL_ARG_FILE };

struct petrel_command {
	const char *name;
	enum petrel_arg_kind arg;
	int min_args, max_args;	/* min 0 or 1; max -1 for any number */
	const char *help;	/* one paragraph */
	const struct petrel_option *options;	/* ends with { NULL } */
	int (*run)(struct petrel_cli *cli);	/* NULL for help, which main answers */
};

/* Free text of the full usage and the man page: a title, a paragraph, a list. */
struct petrel_help_item {
	const char *term, *text;
};
struct petrel_help_section {
	const char *title;
	const char *text;			/* NULL: none */
	const struct petrel_help_item *items;	/* NULL, or ends with { NULL } */
};

extern const struct petrel_command petrel_commands[];		/* ends with { NULL } */
extern const struct petrel_option petrel_global_options[];	/* ends with { NULL } */
extern const char petrel_summary[];		/* one line: what petrel is */
extern const char *const petrel_description[];	/* paragraphs, ends with NULL */
extern const struct petrel_help_section petrel_help_sections[];	/* ends with { NULL } */

const struct petrel_command *petrel_command_find(const char *name);
const char *petrel_arg_name(enum petrel_arg_kind arg);	/* "TARGET"; NULL for none */

#define PETREL_SYNOPSIS_MAX 256	/* the longest synopsis, with room to spare */

/*
 * "petrel upgrade TARGET [--to UUID] [--allow-downgrade]" into buf (truncated to size);
 * c NULL: petrel's own synopsis. Upper-case words are metavariables.
 */
void petrel_synopsis(const struct petrel_command *c, char *buf, size_t size);

/*
 * Parses the whole command line into cli: the command (cli->cmd, NULL when none), its
 * positional arguments (cli->argc, cli->argv, rewritten in argv's own array) and every
 * option (global ones anywhere, the command's after its name; "--" ends the options).
 * Checks the number of arguments unless --help is given, and that help's argument is
 * a command. The only place that reports usage errors: 0, or -PETREL_EUSAGE with a
 * message naming the option, the argument or the command.
 */
int petrel_cli_parse(struct petrel_cli *cli, int argc, char **argv, struct petrel_err *err);

/* Made from the tables (cli/help.c). Each returns ferror(f) ? -EIO : 0. */
int petrel_print_usage(FILE *f);				/* petrel help */
int petrel_print_short_usage(FILE *f);				/* bare petrel */
int petrel_print_command_help(FILE *f, const struct petrel_command *c);
int petrel_print_man(FILE *f);					/* petrel --man */
int petrel_print_completion(FILE *f, const char *shell);	/* one of --completion's */

#endif
