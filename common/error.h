/* petrel error codes: 0 is success, negative is failure (-errno or -PETREL_E*). */
#ifndef PETREL_ERROR_H
#define PETREL_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Our own codes live above the errno range so that one negative int can carry either.
 * Functions return 0 or -code. petrel_strerror() maps both kinds to text; only cli/
 * maps codes to exit statuses (petrel_exit_status in cli/).
 */
enum petrel_errcode {
	PETREL_EBASE = 1024,
	PETREL_EHASH,		/* content hash differs from the expected one */
	PETREL_ESIZE,		/* size differs from the expected one */
	PETREL_ESIG_INVALID,	/* signature does not verify */
	PETREL_ESIG_UNTRUSTED,	/* signed by a key we do not trust */
	PETREL_ESIG_MISSING,	/* no signature where one is needed */
	PETREL_ESIG_FORMAT,	/* signature or key file malformed */
	PETREL_ETHRESHOLD,	/* too few distinct trusted signers */
	PETREL_EBINDING,	/* trusted comment names another build */
	PETREL_EROLLBACK,	/* older than what we already trust */
	PETREL_EPOLICY,		/* refused by policy for another reason */
	PETREL_EHTTP,		/* server answered with an error status */
	PETREL_ENET,		/* transport failure: connect, timeout, TLS, ... */
	PETREL_EMALFORMED,	/* server answer malformed or truncated */
	PETREL_ETOOBIG,		/* input exceeds its named limit */
	PETREL_ENOTFOUND,	/* asked-for object does not exist */
	PETREL_ECONFIG,		/* configuration error */
	PETREL_EUSAGE,		/* command-line usage error */
	PETREL_EDB,		/* sqlite failure */
	PETREL_ECORRUPT,	/* store does not match its records */
	PETREL_ELOCKED,		/* another petrel holds the lock */
	PETREL_EDEPLOY,		/* deploy failed (and was reverted) */
	PETREL_ELAST
};

/* Text for a 0/-errno/-PETREL_E* code; never NULL. */
const char *petrel_strerror(int err);

/*
 * The pending error message: one line saying what failed and why, set by the layer
 * that knows the details (URL, status, expected hash). The first message wins until
 * petrel_error_clear(); callers higher up can add context with petrel_error_prefix().
 * petrel_fail() records the message (if none is pending) and returns err, so a
 * failure reads: return petrel_fail(-PETREL_EHASH, "sha256 mismatch for %s", url);
 */
int petrel_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int petrel_vfail(int err, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void petrel_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *petrel_error_message(void);	/* "" when none pending */
void petrel_error_clear(void);

#endif
