/* Logging to stderr, one line per message, prefixed with the program name. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "util.h"

int petrel_log_level = PETREL_LOG_INFO;

/* 1 when stderr is the journal: $JOURNAL_STREAM is "DEVICE:INODE" of stderr. */
static int stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	char *end;
	uintmax_t dev, ino;
	struct stat st;

	if (!v || !*v || fstat(2, &st) < 0)
		return 0;
	dev = strtoumax(v, &end, 10);
	if (end == v || *end != ':')
		return 0;
	v = end + 1;
	ino = strtoumax(v, &end, 10);
	return end != v && *end == '\0' && (uintmax_t)st.st_dev == dev &&
	       (uintmax_t)st.st_ino == ino;
}

const char *petrel_log_priority(int level)
{
	static const char *const prio[] = { "<3>", "<4>", "<6>", "<7>" };
	static int journal = -1;

	if (journal < 0)
		journal = stderr_is_journal();
	if (!journal || level < PETREL_LOG_ERROR || level > PETREL_LOG_DEBUG)
		return "";
	return prio[level];
}

/* Messages quote server answers: the line is made safe (common/util.h) as a whole. */
void petrel_log_write(int level, const char *fmt, ...)
{
	static const char *const pre[] = { "error: ", "warning: ", "", "debug: " };
	char msg[2048], safe[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	petrel_text_safe(msg, safe, sizeof(safe));
	fprintf(stderr, "%spetrel: %s%s\n", petrel_log_priority(level), pre[level], safe);
}

void petrel_mask_url(const char *url, char *out, unsigned long n)
{
	petrel_text_mask(url, out, n);
}
