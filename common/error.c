/* Error codes to text and the pending one-line error message. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

/* One message per process; fan-out consumer threads may set it, hence the lock. */
static char errmsg[1024];
static pthread_mutex_t errlock = PTHREAD_MUTEX_INITIALIZER;

static const char *const texts[] = {
	[PETREL_EHASH - PETREL_EBASE] = "hash mismatch",
	[PETREL_ESIZE - PETREL_EBASE] = "size mismatch",
	[PETREL_ESIG_INVALID - PETREL_EBASE] = "invalid signature",
	[PETREL_ESIG_UNTRUSTED - PETREL_EBASE] = "signature by an untrusted key",
	[PETREL_ESIG_MISSING - PETREL_EBASE] = "signature missing",
	[PETREL_ESIG_FORMAT - PETREL_EBASE] = "malformed signature or key",
	[PETREL_ETHRESHOLD - PETREL_EBASE] = "too few trusted signatures",
	[PETREL_EBINDING - PETREL_EBASE] = "signature is for another build",
	[PETREL_EROLLBACK - PETREL_EBASE] = "older than a build already verified",
	[PETREL_EPOLICY - PETREL_EBASE] = "refused by policy",
	[PETREL_EHTTP - PETREL_EBASE] = "server answered with an error",
	[PETREL_ENET - PETREL_EBASE] = "network error",
	[PETREL_EMALFORMED - PETREL_EBASE] = "malformed server answer",
	[PETREL_ETOOBIG - PETREL_EBASE] = "input exceeds its size limit",
	[PETREL_ENOTFOUND - PETREL_EBASE] = "not found",
	[PETREL_ECONFIG - PETREL_EBASE] = "configuration error",
	[PETREL_EUSAGE - PETREL_EBASE] = "usage error",
	[PETREL_EDB - PETREL_EBASE] = "database error",
	[PETREL_ECORRUPT - PETREL_EBASE] = "store does not match its records",
	[PETREL_ELOCKED - PETREL_EBASE] = "state directory is locked",
	[PETREL_EDEPLOY - PETREL_EBASE] = "deploy failed",
};

const char *petrel_strerror(int err)
{
	int e = err < 0 ? -err : err;

	if (e == 0)
		return "success";
	if (e > PETREL_EBASE && e < PETREL_ELAST && texts[e - PETREL_EBASE])
		return texts[e - PETREL_EBASE];
	if (e < PETREL_EBASE)
		return strerror(e);
	return "unknown error";
}

int petrel_vfail(int err, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&errlock);
	if (errmsg[0] == '\0')
		vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	pthread_mutex_unlock(&errlock);
	return err;
}

int petrel_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	petrel_vfail(err, fmt, ap);
	va_end(ap);
	return err;
}

void petrel_error_prefix(const char *fmt, ...)
{
	char pre[512], old[sizeof(errmsg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	size_t plen = strlen(pre), olen;

	pthread_mutex_lock(&errlock);
	if (errmsg[0] == '\0') {	/* nothing to give context to */
		pthread_mutex_unlock(&errlock);
		return;
	}
	memcpy(old, errmsg, sizeof(old));
	olen = strnlen(old, sizeof(old) - 1);
	if (plen > sizeof(errmsg) - 1)
		plen = sizeof(errmsg) - 1;
	if (olen > sizeof(errmsg) - 1 - plen)
		olen = sizeof(errmsg) - 1 - plen;
	memcpy(errmsg, pre, plen);
	memcpy(errmsg + plen, old, olen);
	errmsg[plen + olen] = '\0';
	pthread_mutex_unlock(&errlock);
}

const char *petrel_error_message(void)
{
	return errmsg;
}

void petrel_error_clear(void)
{
	pthread_mutex_lock(&errlock);
	errmsg[0] = '\0';
	pthread_mutex_unlock(&errlock);
}
