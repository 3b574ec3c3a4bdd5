/* Error codes to text, and the error object that travels with a call. */
#include <stdio.h>
#include <string.h>

#include "error.h"

#define REFUSED (PETREL_ERR_REFUSAL)
#define CONDEMNED (PETREL_ERR_REFUSAL | PETREL_ERR_CONDEMNS)

/* The one classification of our codes: text, class, exit status. An errno code is
 * strerror's text, no class, exit 1. */
struct code_info {
	const char *text;
	unsigned flags;
	int exit;
};

static const struct code_info codes[] = {
	[PETREL_EHASH - PETREL_EBASE] = { "hash mismatch", CONDEMNED, PETREL_EXIT_REFUSED },
	[PETREL_ESIZE - PETREL_EBASE] = { "size mismatch", PETREL_ERR_CONDEMNS, PETREL_EXIT_SERVER },
	[PETREL_ESIG_INVALID - PETREL_EBASE] = { "invalid signature", CONDEMNED,
						 PETREL_EXIT_REFUSED },
	[PETREL_ESIG_UNTRUSTED - PETREL_EBASE] = { "signature by an untrusted key", REFUSED,
						   PETREL_EXIT_REFUSED },
	[PETREL_ESIG_MISSING - PETREL_EBASE] = { "signature missing", REFUSED,
						 PETREL_EXIT_REFUSED },
	[PETREL_ESIG_FORMAT - PETREL_EBASE] = { "malformed signature or key", REFUSED,
						PETREL_EXIT_REFUSED },
	[PETREL_ETHRESHOLD - PETREL_EBASE] = { "too few trusted signatures", REFUSED,
					       PETREL_EXIT_REFUSED },
	[PETREL_EBINDING - PETREL_EBASE] = { "signature is for another build", CONDEMNED,
					     PETREL_EXIT_REFUSED },
	[PETREL_EROLLBACK - PETREL_EBASE] = { "older than a build already verified", REFUSED,
					      PETREL_EXIT_REFUSED },
	[PETREL_EPOLICY - PETREL_EBASE] = { "refused by policy", REFUSED, PETREL_EXIT_REFUSED },
	[PETREL_EHTTP - PETREL_EBASE] = { "server answered with an error", PETREL_ERR_TRANSIENT,
					  PETREL_EXIT_SERVER },
	[PETREL_ENET - PETREL_EBASE] = { "network error", PETREL_ERR_TRANSIENT,
					 PETREL_EXIT_SERVER },
	[PETREL_EMALFORMED - PETREL_EBASE] = { "malformed server answer", 0, PETREL_EXIT_SERVER },
	[PETREL_ETOOBIG - PETREL_EBASE] = { "input exceeds its size limit", 0, PETREL_EXIT_SERVER },
	[PETREL_ENOTFOUND - PETREL_EBASE] = { "not found", 0, PETREL_EXIT_SERVER },
	[PETREL_ECONFIG - PETREL_EBASE] = { "configuration error", 0, PETREL_EXIT_USAGE },
	[PETREL_EUSAGE - PETREL_EBASE] = { "usage error", 0, PETREL_EXIT_USAGE },
	[PETREL_EDB - PETREL_EBASE] = { "database error", 0, PETREL_EXIT_FAIL },
	[PETREL_ECORRUPT - PETREL_EBASE] = { "store does not match its records", 0,
					     PETREL_EXIT_AUDIT },
	[PETREL_ELOCKED - PETREL_EBASE] = { "state directory is locked", 0, PETREL_EXIT_FAIL },
	[PETREL_EDEPLOY - PETREL_EBASE] = { "deploy failed", 0, PETREL_EXIT_REVERTED },
	[PETREL_EBUNDLE - PETREL_EBASE] = { "bundle refused", REFUSED, PETREL_EXIT_REFUSED },
};

/* Our code's row, or NULL for 0, an errno code or an unknown one. */
static const struct code_info *row(int code)
{
	int e = code < 0 ? -code : code;

	if (e > PETREL_EBASE && e < PETREL_ELAST && codes[e - PETREL_EBASE].text)
		return &codes[e - PETREL_EBASE];
	return NULL;
}

const char *petrel_strerror(int err)
{
	int e = err < 0 ? -err : err;

	if (e == 0)
		return "success";
	if (row(err))
		return row(err)->text;
	if (e < PETREL_EBASE)
		return strerror(e);
	return "unknown error";
}

int petrel_err_is(int code, unsigned flags)
{
	return row(code) && (row(code)->flags & flags) != 0;
}

int petrel_err_exit(int code)
{
	if (code == 0)
		return PETREL_EXIT_OK;
	return row(code) ? row(code)->exit : PETREL_EXIT_FAIL;
}

int petrel_vfail(struct petrel_err *err, int code, const char *fmt, va_list ap)
{
	if (!err)
		return code;
	if (!err->code)
		err->code = code;
	if (err->msg[0] == '\0')
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return code;
}

int petrel_fail(struct petrel_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	petrel_vfail(err, code, fmt, ap);
	va_end(ap);
	return code;
}

void petrel_err_prefix(struct petrel_err *err, const char *fmt, ...)
{
	char pre[512], old[sizeof(err->msg)];
	size_t plen, olen;
	va_list ap;

	if (!err || err->msg[0] == '\0')	/* nothing to give context to */
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	plen = strlen(pre);
	memcpy(old, err->msg, sizeof(old));
	olen = strnlen(old, sizeof(old) - 1);
	if (olen > sizeof(err->msg) - 1 - plen)
		olen = sizeof(err->msg) - 1 - plen;
	memcpy(err->msg, pre, plen);
	memcpy(err->msg + plen, old, olen);
	err->msg[plen + olen] = '\0';
}

const char *petrel_err_msg(const struct petrel_err *err, int code)
{
	if (err && err->msg[0])
		return err->msg;
	return petrel_strerror(code);
}

int petrel_err_forward(struct petrel_err *err, const struct petrel_err *from, int code)
{
	return petrel_fail(err, code, "%s", petrel_err_msg(from, code));
}

void petrel_err_reset(struct petrel_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

/* How bad an exit status is, for a command over many targets or a daemon cycle. */
static int severity(int status)
{
	static const int order[] = { PETREL_EXIT_OK, PETREL_EXIT_UPDATE, PETREL_EXIT_SERVER,
				      PETREL_EXIT_REFUSED, PETREL_EXIT_REVERTED, PETREL_EXIT_AUDIT,
				      PETREL_EXIT_FAIL, PETREL_EXIT_USAGE };

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (order[i] == status)
			return (int)i;
	return (int)(sizeof(order) / sizeof(order[0]));
}

int petrel_exit_worst(int a, int b)
{
	return severity(b) > severity(a) ? b : a;
}
