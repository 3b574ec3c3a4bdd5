/* petrel error codes: 0 is success, negative is failure (-errno or -PETREL_E*). */
#ifndef PETREL_ERROR_H
#define PETREL_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Our own codes live above the errno range so that one negative int can carry either.
 * Functions return 0 or -code. One table in error.c says what each code means: its
 * text (petrel_strerror), its class (petrel_err_is) and its exit status (petrel_err_exit).
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
	PETREL_EBUNDLE,		/* a bundle is malformed or hostile (petrel import) */
	PETREL_ELAST
};

/* Exit statuses: an interface (DESIGN.md). */
enum {
	PETREL_EXIT_OK = 0,
	PETREL_EXIT_FAIL = 1,
	PETREL_EXIT_USAGE = 2,		/* usage or configuration */
	PETREL_EXIT_REFUSED = 3,	/* verification or policy refused a build */
	PETREL_EXIT_SERVER = 4,		/* the server or the network */
	PETREL_EXIT_REVERTED = 5,	/* a deploy failed and was put back */
	PETREL_EXIT_AUDIT = 6,		/* fsck or audit found a mismatch */
	PETREL_EXIT_UPDATE = 100,	/* check: an update is available */
};

/* Classes of codes, for decisions made on a failure (petrel_err_is). */
#define PETREL_ERR_REFUSAL	1u	/* verification, rollback or policy refused the build:
					 * journaled as "refused", exit 3 */
#define PETREL_ERR_CONDEMNS	2u	/* the build's own bytes failed verification: the
					 * daemon rejects it for the target */
#define PETREL_ERR_TRANSIENT	4u	/* the server or the network failed: a later try may
					 * work; the daemon backs off that server */

/* Text for a 0/-errno/-PETREL_E* code; never NULL. */
const char *petrel_strerror(int err);
/* 1 when code (0, -errno or -PETREL_E*) is in any of the classes flags. */
int petrel_err_is(int code, unsigned flags);
/* The exit status for a command that ended with code (PETREL_EXIT_OK for 0). */
int petrel_err_exit(int code);

/*
 * An error travels with the call. A function that can fail with a message takes
 * `struct petrel_err *err` as its last parameter and fails with
 *	return petrel_fail(err, -PETREL_EHASH, "sha256 mismatch for %s", url);
 * The innermost layer knows the details (URL, status, expected hash), so the first
 * message recorded in an err is kept; a caller adds context in front of it with
 * petrel_err_prefix(). A caller that goes on after a failure (a fallback, a warning,
 * the next target) gives that call an err of its own (PETREL_ERR_INIT) and reads its
 * message from there: one err never carries a message into a later, unrelated failure,
 * and no message is kept anywhere else. err may be NULL: the message is not wanted.
 */
#define PETREL_ERR_MSG_MAX 1024
struct petrel_err {
	int code;			/* the first code recorded, 0 when none */
	char msg[PETREL_ERR_MSG_MAX];	/* "" when none */
};
#define PETREL_ERR_INIT { 0, "" }

/* Records code and the message (unless err already holds one) and returns code. */
int petrel_fail(struct petrel_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int petrel_vfail(struct petrel_err *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* Puts "PREFIX" in front of err's message; nothing when it holds none. */
void petrel_err_prefix(struct petrel_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* err's message, else the text of code (petrel_strerror); never NULL. */
const char *petrel_err_msg(const struct petrel_err *err, int code);
/* Passes on a failure recorded in from (a caller's own err for a call it may recover
 * from) to err, as petrel_fail would record it; returns code. */
int petrel_err_forward(struct petrel_err *err, const struct petrel_err *from, int code);
/* Empties err, for a caller that reuses one across independent calls. */
void petrel_err_reset(struct petrel_err *err);

/* The worse of two exit statuses: usage > failure > audit > reverted > refused > server
 * > update available > ok (a command over every target exits with its worst). */
int petrel_exit_worst(int a, int b);

#endif
