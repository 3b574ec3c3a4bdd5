/* Small helpers every layer needs: bounded string copy, hex, base64, number parsing. */
#ifndef PETREL_UTIL_H
#define PETREL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define PETREL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Copies src whole into dst (size n), NUL-terminated, or not at all: unlike BSD
 * strlcpy it never truncates. 0, or -PETREL_ETOOBIG with dst "" (n > 0). */
int petrel_strcpy_whole(char *dst, const char *src, size_t n);
/* snprintf that fails with -PETREL_ETOOBIG on truncation. */
int petrel_snprintf(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3,
										     4)));

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void petrel_hex(const uint8_t *in, size_t n, char *out);
/* Exactly 2n hex digits (either case) into n bytes; 0 or -EINVAL. */
int petrel_unhex(const char *hex, size_t hexlen, uint8_t *out, size_t n);

/* Strict standard Base64 (with padding, no whitespace, canonical trailing bits).
 * Decodes into out (capacity cap); *outlen gets the decoded size. 0 or -EINVAL
 * (malformed) or -PETREL_ETOOBIG (does not fit). */
int petrel_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen);
/* Standard Base64 with padding into out (4*ceil(n/3)+1 bytes). */
void petrel_b64_encode(const uint8_t *in, size_t n, char *out);

/* Decimal unsigned integer, whole string, no sign, no overflow: 0 or -EINVAL/-ERANGE. */
int petrel_parse_u64(const char *s, uint64_t *out);
/* RFC 3339 timestamp ("2026-05-12T03:04:10-00:00", "...Z", fractional seconds
 * allowed) into seconds since the epoch, UTC. 0 or -EINVAL. */
int petrel_parse_rfc3339(const char *s, int64_t *out);
/* UTC time as "YYYY-MM-DDTHH:MM:SSZ" into out (>= 21 bytes). */
void petrel_format_time(int64_t t, char *out, size_t n);

/*
 * Text from outside (a server's answer, an error message quoting one) made safe for a
 * place that is not JSON: petrel_text_safe copies in into out (size n, always
 * NUL-terminated, cut before a piece that does not fit) with credentials in any URL
 * masked (user:password@ as ***@, the value of a query parameter named like a secret
 * -- token, key, sig, pass, auth, ... -- as ***) and every control character (C0, DEL,
 * C1) and every byte of invalid UTF-8 escaped: \n, \t, \r, else \xNN. A terminal
 * then never sees an escape sequence a server sent, and a line stays one line.
 * petrel_text_mask only masks (for JSON, whose encoder escapes).
 * petrel_text_is_safe: 1 when text_safe would copy s unchanged (no control bytes, valid
 * UTF-8, no URL).
 */
void petrel_text_safe(const char *in, char *out, size_t n);
void petrel_text_mask(const char *in, char *out, size_t n);
int petrel_text_is_safe(const char *s);

#endif
