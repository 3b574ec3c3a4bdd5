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

/*
 * Verifies sig with pk:
 *  - keyid must equal pk's (else -PETREL_ESIG_UNTRUSTED);
 *  - "ED": Ed25519 over blake2b512 (64 bytes, the file's BLAKE2b-512);
 *  - "Ed": refused with -PETREL_ESIG_INVALID unless allow_legacy; then checked
 *    against legacy_sha512 (see petrel_legacy_*) — the file streamed once;
 *  - global signature: Ed25519 over sig(64) || trusted comment text.
 * 0 or -PETREL_ESIG_INVALID / -PETREL_ESIG_UNTRUSTED.
 */
struct petrel_legacy;
int petrel_sig_verify(const struct petrel_sig *sig, const struct petrel_pubkey *pk,
		      const uint8_t blake2b512[64], struct petrel_legacy *legacy, int allow_legacy, struct petrel_err *err);

/*
 * Legacy ("Ed") signatures are Ed25519 over the raw file. To avoid reading the file
 * twice, the verifier hashes R || A || M while the file streams: create one
 * petrel_legacy per (signature, key) pair before the download, feed it every chunk,
 * then pass it to petrel_sig_verify. 0 or -ENOMEM.
 */
int petrel_legacy_new(struct petrel_legacy **out, const struct petrel_sig *sig,
		      const struct petrel_pubkey *pk, struct petrel_err *err);
int petrel_legacy_update(struct petrel_legacy *l, const void *p, size_t n);
void petrel_legacy_free(struct petrel_legacy *l);

#endif
