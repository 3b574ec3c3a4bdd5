/* minisign public keys and signatures (libsodium Ed25519): parse and verify. */
#ifndef PETREL_MINISIGN_H
#define PETREL_MINISIGN_H

#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

/* Named limits on every field of untrusted input. */
#define PETREL_MINISIGN_LINE_MAX 1024		/* any one line of a key or signature file */
#define PETREL_MINISIGN_FILE_MAX 4096		/* a whole .minisig or .pub file */
#define PETREL_TRUSTED_COMMENT_MAX 1024		/* bytes after "trusted comment: " */

struct petrel_pubkey {
	uint8_t keyid[8];	/* as in the file: little-endian id minisign prints in hex, reversed */
	uint8_t pk[32];
};

struct petrel_sig {
	char alg[2];		/* "ED" prehashed (BLAKE2b-512 of the file), "Ed" legacy (raw file) */
	uint8_t keyid[8];
	uint8_t sig[64];
	char trusted[PETREL_TRUSTED_COMMENT_MAX + 1];	/* NUL-terminated */
	size_t trusted_len;
	uint8_t global_sig[64];
};

/*
 * Parses a public key: either a whole .pub file (an "untrusted comment:" line, then
 * the base64 line, optional final newline) or a bare base64 line.
 * Base64 must decode to exactly "Ed" || keyid(8) || pk(32).
 * 0 or -PETREL_ESIG_FORMAT (with a petrel_fail message naming the problem).
 */
int petrel_pubkey_parse(const char *text, size_t len, struct petrel_pubkey *out,
			struct petrel_err *err);
/* Reads and parses a key file (at most PETREL_MINISIGN_FILE_MAX bytes). 0, -errno, or as above. */
int petrel_pubkey_load(const char *path, struct petrel_pubkey *out, struct petrel_err *err);

/*
 * Parses a .minisig file: exactly 4 lines (the last newline optional):
 *   "untrusted comment: ..." / base64(alg(2) || keyid(8) || sig(64)) /
 *   "trusted comment: TEXT" / base64(global_sig(64)).
 * Strict base64, no '\r', no NUL, lines within PETREL_MINISIGN_LINE_MAX,
 * alg "ED" or "Ed" (anything else refused). 0 or -PETREL_ESIG_FORMAT.
 */
int petrel_sig_parse(const char *text, size_t len, struct petrel_sig *out, struct petrel_err *err);

/* The whole file a legacy signature covers: bytes the caller holds (a read-only
 * mapping of the downloaded file), borrowed for the call. p may be NULL when n is 0. */
struct petrel_msg {
	const void *p;
	size_t n;
};

/*
 * Verifies sig with pk:
 *  - keyid must equal pk's (else -PETREL_ESIG_UNTRUSTED);
 *  - "ED": Ed25519 over blake2b512 (64 bytes, the file's BLAKE2b-512);
 *  - "Ed": refused with -PETREL_ESIG_INVALID unless allow_legacy; then libsodium's
 *    crypto_sign_verify_detached over the whole file (file; NULL is -EINVAL), as
 *    minisign itself verifies legacy signatures;
 *  - global signature: Ed25519 over sig(64) || trusted comment text.
 * 0 or -PETREL_ESIG_INVALID / -PETREL_ESIG_UNTRUSTED.
 */
int petrel_sig_verify(const struct petrel_sig *sig, const struct petrel_pubkey *pk,
		      const uint8_t blake2b512[64], const struct petrel_msg *file,
		      int allow_legacy, struct petrel_err *err);

#endif
