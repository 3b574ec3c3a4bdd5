/* What the command tables become: the usage text, a command's help. */
#include <errno.h>
#include <string.h>

#include "commands.h"

#define WIDTH 79	/* the last column a terminal line may use */
#define COL 23		/* where descriptions start in the usage */
#define SYNOPSIS_MAX 256

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
	char syn[SYNOPSIS_MAX];

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
	char syn[SYNOPSIS_MAX];

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
	char syn[SYNOPSIS_MAX], left[96];

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
	char syn[SYNOPSIS_MAX];

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

