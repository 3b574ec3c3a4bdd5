/* Logging to stderr, one line per message, prefixed with the program name. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

int petrel_log_level = PETREL_LOG_INFO;

void petrel_log_write(int level, const char *fmt, ...)
{
	static const char *const pre[] = { "error: ", "warning: ", "", "debug: " };
	va_list ap;

	fprintf(stderr, "petrel: %s", pre[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void petrel_mask_url(const char *url, char *out, unsigned long n)
{
	const char *scheme = strstr(url, "://");
	const char *at, *slash;

	if (n == 0)
		return;
	snprintf(out, n, "%s", url);
	if (!scheme)
		return;
	scheme += 3;
	slash = strchr(scheme, '/');
	at = strchr(scheme, '@');
	if (!at || (slash && at > slash))
		return;
	snprintf(out, n, "%.*s***%s", (int)(scheme - url), url, at);
}
