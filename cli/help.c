/* What the command tables become: the usage text, a command's help, the man page, completion. */
#include <errno.h>
#include <string.h>

#include "commands.h"

#define WIDTH 79	/* the last column a terminal line may use */
#define COL 23		/* where descriptions start in the usage */

static int done(FILE *f)
{
	return ferror(f) ? -EIO : 0;
}

/*
 * Prints the words of s, the cursor standing at column col, filling lines up to WIDTH;
 * the next lines start at column indent. Ends the line.
 */
static void wrap(FILE *f, const char *s, int col, int indent)
{
	int start = 1;	/* nothing on this line yet, beyond col */

	for (;;) {
		size_t n;

		s += strspn(s, " ");
		if (!*s)
			break;
		n = strcspn(s, " ");
		if (!start && col + 1 + (int)n > WIDTH) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
			start = 1;
		}
		if (!start)
			col += fputc(' ', f) != EOF;
		col += (int)fwrite(s, 1, n, f);
		s += n;
		start = 0;
	}
	fputc('\n', f);
}

/* "  left" then text wrapped from column at (on the next line when left is too long). */
static void entry(FILE *f, int indent, const char *left, int at, const char *text)
{
	int col = fprintf(f, "%*s%s", indent, "", left);

	if (col + 2 > at) {
		fputc('\n', f);
		col = 0;
	}
	fprintf(f, "%*s", at - col, "");
	wrap(f, text, at, at);
}

/* "--no-rehash, --quick", "--metrics FILE" */
static void long_form(const struct petrel_option *o, char *buf, size_t size)
{
	snprintf(buf, size, "--%s%s%s%s%s", o->name, o->alias ? ", --" : "",
		 o->alias ? o->alias : "", o->metavar ? " " : "", o->metavar ? o->metavar : "");
}

/* "-c, --config FILE", "    --json": as an option list shows it. */
static void option_left(const struct petrel_option *o, char *buf, size_t size)
{
	char l[96];

	long_form(o, l, sizeof(l));
	if (o->short_name)
		snprintf(buf, size, "-%c, %s", o->short_name, l);
	else
		snprintf(buf, size, "    %s", l);
}

static void option_list(FILE *f, const struct petrel_option *o)
{
	char left[128];

	for (; o->name; o++) {
		if (o->flags & PETREL_OPT_HIDDEN)
			continue;
		option_left(o, left, sizeof(left));
		entry(f, 2, left, COL, o->help);
	}
}

static const char *global_hint =
	"Global options (-c FILE, --json, -q, -v) may stand anywhere; see petrel help.";

int petrel_print_command_help(FILE *f, const struct petrel_command *c)
{
	char syn[PETREL_SYNOPSIS_MAX];

	petrel_synopsis(c, syn, sizeof(syn));
	fprintf(f, "usage: %s\n\n", syn);
	wrap(f, c->help, 0, 0);
	if (c->options[0].name && !(c->options[0].flags & PETREL_OPT_HIDDEN)) {
		fputs("\noptions:\n", f);
		option_list(f, c->options);
	}
	fputc('\n', f);
	wrap(f, global_hint, 0, 0);
	return done(f);
}

int petrel_print_short_usage(FILE *f)
{
	char syn[PETREL_SYNOPSIS_MAX];

	petrel_synopsis(NULL, syn, sizeof(syn));
	fprintf(f, "usage: %s\n\ncommands:", syn);
	for (const struct petrel_command *c = petrel_commands; c->name; c++)
		fprintf(f, " %s", c->name);
	fputs("\n\n'petrel help' tells everything, 'petrel help COMMAND' one command.\n", f);
	return done(f);
}

/* A command in the full usage: its synopsis, its paragraph, its options. */
static void usage_command(FILE *f, const struct petrel_command *c)
{
	char syn[PETREL_SYNOPSIS_MAX], left[96];

	petrel_synopsis(c, syn, sizeof(syn));
	entry(f, 2, syn + strlen("petrel "), COL, c->help);
	for (const struct petrel_option *o = c->options; o->name; o++) {
		if (o->flags & PETREL_OPT_HIDDEN)
			continue;
		long_form(o, left, sizeof(left));
		wrap(f, o->help, fprintf(f, "%*s%s: ", COL, "", left), COL + 2);
	}
}

static void usage_section(FILE *f, const struct petrel_help_section *s)
{
	int at = 0;

	fprintf(f, "\n%s:\n", s->title);
	if (s->text) {
		fputs("  ", f);
		wrap(f, s->text, 2, 2);
	}
	for (const struct petrel_help_item *i = s->items; i && i->term; i++)
		if ((int)strlen(i->term) + 4 > at)
			at = (int)strlen(i->term) + 4;
	if (at > COL)
		at = COL;
	for (const struct petrel_help_item *i = s->items; i && i->term; i++)
		entry(f, 2, i->term, at, i->text);
}

int petrel_print_usage(FILE *f)
{
	char syn[PETREL_SYNOPSIS_MAX];

	petrel_synopsis(NULL, syn, sizeof(syn));
	fprintf(f, "usage: %s\n", syn);
	for (const char *const *p = petrel_description; *p; p++) {
		fputc('\n', f);
		wrap(f, *p, 0, 0);
	}
	fputs("\ncommands:\n", f);
	for (const struct petrel_command *c = petrel_commands; c->name; c++)
		usage_command(f, c);
	fputs("\noptions:\n", f);
	option_list(f, petrel_global_options);
	for (const struct petrel_help_section *s = petrel_help_sections; s->title; s++)
		usage_section(f, s);
	return done(f);
}

/* ------------------------------------------------------------------ the man page */

/* s in roff: minus signs and backslashes escaped. */
static void roff_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '-' || *s == '\\')
			fputc('\\', f);
		fputc(*s == '\\' ? 'e' : *s, f);
	}
}

/* s as one line of text, never taken for a request. */
static void roff_line(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	roff_text(f, s);
	fputc('\n', f);
}

/* A synopsis in roff: metavariables (upper case) in italics, the other words in bold. */
static void roff_synopsis(FILE *f, const char *s)
{
	char word[64];

	while (*s) {
		size_t n = strcspn(s, " [].");

		if (!n) {
			fputc(*s++, f);
			continue;
		}
		snprintf(word, sizeof(word), "%.*s", (int)n, s);
		fputs(*s >= 'A' && *s <= 'Z' ? "\\fI" : "\\fB", f);
		roff_text(f, word);
		fputs("\\fR", f);
		s += n;
	}
	fputc('\n', f);
}

/* ".TP", then "\fB\-c\fR, \fB\-\-config\fR \fIFILE\fR" and the help. */
static void man_option(FILE *f, const struct petrel_option *o)
{
	fputs(".TP\n", f);
	if (o->short_name)
		fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
	fputs("\\fB\\-\\-", f);
	roff_text(f, o->name);
	if (o->alias) {
		fputs("\\fR, \\fB\\-\\-", f);
		roff_text(f, o->alias);
	}
	fputs("\\fR", f);
	if (o->metavar) {
		fputs(" \\fI", f);
		roff_text(f, o->metavar);
		fputs("\\fR", f);
	}
	fputc('\n', f);
	roff_line(f, o->help);
}

static void man_command(FILE *f, const struct petrel_command *c)
{
	char syn[PETREL_SYNOPSIS_MAX];
	int any = 0;

	petrel_synopsis(c, syn, sizeof(syn));
	fputs(".TP\n", f);
	roff_synopsis(f, syn);
	roff_line(f, c->help);
	for (const struct petrel_option *o = c->options; o->name; o++) {
		if (o->flags & PETREL_OPT_HIDDEN)
			continue;
		if (!any++)
			fputs(".RS\n", f);
		man_option(f, o);
	}
	if (any)
		fputs(".RE\n", f);
}

/* The pages the man page points to, whatever else the "see also" section says. */
static const char man_see_also[] = ".BR petrel.conf (5),\n.BR systemd.service (5)\n";

static void man_section(FILE *f, const struct petrel_help_section *s)
{
	int see_also = !strcmp(s->title, "see also");

	fputs(".SH ", f);
	for (const char *p = s->title; *p; p++)
		fputc(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p, f);
	fputc('\n', f);
	if (see_also)
		fputs(man_see_also, f);
	if (s->text) {
		if (see_also)
			fputs(".PP\n", f);
		roff_line(f, s->text);
	}
	for (const struct petrel_help_item *i = s->items; i && i->term; i++) {
		fputs(".TP\n\\fB", f);
		roff_text(f, i->term);
		fputs("\\fR\n", f);
		roff_line(f, i->text);
	}
}

int petrel_print_man(FILE *f)
{
	char syn[PETREL_SYNOPSIS_MAX];

	fputs(".\\\" petrel(8), made by 'petrel --man' from cli/commands.c: edit that, not this.\n",
	      f);
	fprintf(f, ".TH PETREL 8 \"\" \"petrel %s\" \"System Administration\"\n.SH NAME\n"
		"petrel \\- ", PETREL_VERSION);
	roff_line(f, petrel_summary);
	petrel_synopsis(NULL, syn, sizeof(syn));
	fputs(".SH SYNOPSIS\n", f);
	roff_synopsis(f, syn);
	for (const struct petrel_command *c = petrel_commands; c->name; c++) {
		petrel_synopsis(c, syn, sizeof(syn));
		fputs(".br\n", f);
		roff_synopsis(f, syn);
	}
	fputs(".SH DESCRIPTION\n", f);
	for (const char *const *p = petrel_description; *p; p++) {
		if (p != petrel_description)
			fputs(".PP\n", f);
		roff_line(f, *p);
	}
	fputs(".SH COMMANDS\n", f);
	for (const struct petrel_command *c = petrel_commands; c->name; c++)
		man_command(f, c);
	fputs(".SH OPTIONS\n", f);
	for (const struct petrel_option *o = petrel_global_options; o->name; o++)
		if (!(o->flags & PETREL_OPT_HIDDEN))
			man_option(f, o);
	for (const struct petrel_help_section *s = petrel_help_sections; s->title; s++)
		man_section(f, s);
	return done(f);
}

/* ------------------------------------------------------------------ bash completion */

#define VALUE_OPTIONS_MAX 64

/* "-c|--config", the names of o as a case pattern. */
static void bash_pattern(FILE *f, const struct petrel_option *o)
{
	if (o->short_name)
		fprintf(f, "-%c|", o->short_name);
	fprintf(f, "--%s", o->name);
	if (o->alias)
		fprintf(f, "|--%s", o->alias);
}

/* The words that complete options of o: "--json", "-c --config". */
static void bash_words(FILE *f, const struct petrel_option *o)
{
	const char *sep = "";

	for (; o->name; o++) {
		if (o->flags & PETREL_OPT_HIDDEN)
			continue;
		if (o->short_name) {
			fprintf(f, "%s-%c", sep, o->short_name);
			sep = " ";
		}
		fprintf(f, "%s--%s", sep, o->name);
		sep = " ";
		if (o->alias)
			fprintf(f, " --%s", o->alias);
	}
}

/* Adds the options of o that take a value to out[0..n), unless one of that name is there. */
static size_t add_value_options(const struct petrel_option *o, const struct petrel_option **out,
				size_t n)
{
	for (; o->name; o++) {
		size_t i = 0;

		if (!o->metavar || (o->flags & PETREL_OPT_HIDDEN))
			continue;
		while (i < n && strcmp(out[i]->name, o->name))
			i++;
		if (i == n && n < VALUE_OPTIONS_MAX)
			out[n++] = o;
	}
	return n;
}

/* Every option that takes a value, once per name: global ones, then each command's. */
static size_t value_options(const struct petrel_option **out)
{
	size_t n = add_value_options(petrel_global_options, out, 0);

	for (const struct petrel_command *c = petrel_commands; c->name; c++)
		n = add_value_options(c->options, out, n);
	return n;
}

static void bash_commands(FILE *f)
{
	for (const struct petrel_command *c = petrel_commands; c->name; c++)
		fprintf(f, "%s%s", c == petrel_commands ? "" : " ", c->name);
}

static const char bash_head[] =
"# bash completion for petrel, made by 'petrel --completion bash' from cli/commands.c.\n"
"# Target names come from the [target \"NAME\"] lines of the configuration: the one of\n"
"# -c FILE, else $PETREL_CONFIG, else /etc/petrel/petrel.conf.\n"
"\n"
"_petrel_targets()\n"
"{\n"
"\tlocal conf=${PETREL_CONFIG:-/etc/petrel/petrel.conf} i\n"
"\n"
"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
"\t\tcase ${COMP_WORDS[i]} in\n"
"\t\t-c|--config)\n"
"\t\t\tconf=${COMP_WORDS[i + 1]}\n"
"\t\t\t[[ $conf == = ]] && conf=${COMP_WORDS[i + 2]}\n"
"\t\t\t;;\n"
"\t\tesac\n"
"\tdone\n"
"\tconf=${conf/#\\~/$HOME}\n"
"\t[[ -r $conf ]] || return 0\n"
"\tsed -n 's/^[[:space:]]*\\[[[:space:]]*target[[:space:]]*\"\\([^\"]*\\)\"[[:space:]]*\\].*/\\1/p' \\\n"
"\t\t\"$conf\"\n"
"}\n"
"\n"
"_petrel()\n"
"{\n"
"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
"\tlocal i cmd= opts= args= files=\n"
"\n"
"\t# bash splits --metrics=FILE into \"--metrics\" \"=\" \"FILE\"\n"
"\tif [[ $cur == = ]]; then\n"
"\t\tcur=\n"
"\telif [[ $prev == = ]] && ((COMP_CWORD > 1)); then\n"
"\t\tprev=${COMP_WORDS[COMP_CWORD - 2]}\n"
"\tfi\n"
"\n";

static const char bash_tail[] =
"\tif [[ $cur == -* ]]; then\n"
"\t\tmapfile -t COMPREPLY < <(compgen -W \"$opts\" -- \"$cur\")\n"
"\telse\n"
"\t\tmapfile -t COMPREPLY < <(compgen -W \"$args\" -- \"$cur\")\n"
"\t\t[[ $files ]] && mapfile -t -O \"${#COMPREPLY[@]}\" COMPREPLY < <(compgen -f -- \"$cur\")\n"
"\tfi\n"
"}\n"
"\n"
"complete -F _petrel petrel\n";

/* case $prev: the value of an option (a file, one of its choices, or anything). */
static void bash_values(FILE *f, const struct petrel_option **vo, size_t n)
{
	fputs("\tcase $prev in\n", f);
	for (size_t i = 0; i < n; i++) {
		fputc('\t', f);
		bash_pattern(f, vo[i]);
		if (vo[i]->choices)
			fprintf(f, ")\n\t\tmapfile -t COMPREPLY < <(compgen -W '%s' -- \"$cur\")\n"
				"\t\treturn\n\t\t;;\n", vo[i]->choices);
		else if (!strcmp(vo[i]->metavar, "FILE"))
			fputs(")\n\t\tmapfile -t COMPREPLY < <(compgen -f -- \"$cur\")\n"
			      "\t\treturn\n\t\t;;\n", f);
		else
			fputs(")\n\t\treturn\n\t\t;;\n", f);
	}
	fputs("\tesac\n\n", f);
}

/* The command is the first word that is neither an option nor an option's value. */
static void bash_find_command(FILE *f, const struct petrel_option **vo, size_t n)
{
	fputs("\tfor ((i = 1; i < COMP_CWORD; i++)); do\n\t\tcase ${COMP_WORDS[i]} in\n\t\t", f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? "|" : "", f);
		bash_pattern(f, vo[i]);
	}
	fputs(")\n\t\t\t((i += 1))\n\t\t\t[[ ${COMP_WORDS[i]} == = ]] && ((i += 1))\n\t\t\t;;\n"
	      "\t\t-*|=) ;;\n\t\t*)\n\t\t\tcmd=${COMP_WORDS[i]}\n\t\t\tbreak\n\t\t\t;;\n"
	      "\t\tesac\n\tdone\n\n", f);
}

/* case $cmd: its options and what its arguments are. */
static void bash_per_command(FILE *f)
{
	fputs("\topts='", f);
	bash_words(f, petrel_global_options);
	fputs("'\n\tcase $cmd in\n\t'')\n\t\targs='", f);
	bash_commands(f);
	fputs("'\n\t\t;;\n", f);
	for (const struct petrel_command *c = petrel_commands; c->name; c++) {
		fprintf(f, "\t%s)\n", c->name);
		if (c->options[0].name && !(c->options[0].flags & PETREL_OPT_HIDDEN)) {
			fputs("\t\topts+=' ", f);
			bash_words(f, c->options);
			fputs("'\n", f);
		}
		if (c->arg == PETREL_ARG_TARGET)
			fputs("\t\targs=$(_petrel_targets)\n", f);
		if (c->arg == PETREL_ARG_FILE || !strcmp(c->name, "export"))
			fputs("\t\tfiles=1\n", f);
		if (c->arg == PETREL_ARG_COMMAND) {
			fputs("\t\targs='", f);
			bash_commands(f);
			fputs("'\n", f);
		}
		fputs("\t\t;;\n", f);
	}
	fputs("\tesac\n", f);
}

int petrel_print_completion(FILE *f, const char *shell)
{
	const struct petrel_option *vo[VALUE_OPTIONS_MAX];
	size_t n = value_options(vo);

	if (strcmp(shell, "bash"))	/* the parser allows only --completion's choices */
		return -EINVAL;
	fputs(bash_head, f);
	bash_values(f, vo, n);
	bash_find_command(f, vo, n);
	bash_per_command(f);
	fputs(bash_tail, f);
	return done(f);
}
