/* Shared pieces of command output: builds and versions as text and JSON. */
#ifndef PETREL_OUTPUT_H
#define PETREL_OUTPUT_H

#include <jansson.h>

#include "common/build.h"
#include "deploy/engine.h"
#include "store/store.h"

/* {"job","uuid","platform","filename","sha256","size","finish_time"} */
json_t *petrel_json_build(const struct petrel_build *b);
/* VERSION of DESIGN.md: generation (null here), sha256, job, uuid, size, deployed_at,
 * trust {mode, keys, rebuilders}, plus filename, platform, verified_at, url. */
json_t *petrel_json_version(const struct petrel_version *v);
/* VERSION with its generation number and deployed time (0: null), as deployed. */
json_t *petrel_json_deployed(const struct petrel_version *v, int64_t generation,
			     int64_t deployed_at);
/* VERSION's "trust": {"mode", "keys": [key ids], "rebuilders": [server names], "weak"}. */
json_t *petrel_json_trust(const struct petrel_version *v);
/* Room for petrel_trust_text: mode, key ids and rebuilders with their words. */
#define PETREL_TRUST_TEXT_MAX 1408
/* The same evidence as one line of text: "signed, signed by ID, rebuilt by NAME", or
 * "server (WEAK: ...)" when only the server vouches for the hash. */
void petrel_trust_text(const struct petrel_version *v, char *out, size_t n);
/* VERSION with generation, deployed_at, parent, state and reason of g. */
json_t *petrel_json_generation(const struct petrel_generation *g);
/* A JSON string of text that may hold bytes from outside (a server, a trusted comment,
 * an error message): invalid UTF-8 becomes '?' rather than a silently missing key, and
 * credentials in a URL are masked (petrel_text_mask); the encoder escapes the rest. */
json_t *petrel_json_text(const char *text);
/* Prints root to stdout, one line, and frees it. 0 or -EIO. */
int petrel_json_print(json_t *root);
/* "ab12cd34ef56" — the first 12 hex digits, for one-line text output. */
void petrel_short_hash(const uint8_t sha256[32], char out[13]);

/* "1.2 MiB", "300 KiB", "512 B": for people; JSON says the exact bytes. */
void petrel_human_size(uint64_t bytes, char *out, size_t n);
/* "3 min ago", "in 2 h", "5 days ago": t against now. */
void petrel_human_age(int64_t t, int64_t now, char *out, size_t n);
/* RFC 3339 UTC text of t, or null when t <= 0. */
json_t *petrel_json_time(int64_t t);

/* One name for one thing, whichever command prints it:
 * "refused": {"uuid","sha256","reason","first_at","last_at","count","retry_at"},
 * "rejected": {"uuid","sha256","reason","at"}, "pinned": {"uuid","sha256","since"}. */
json_t *petrel_json_refusal(const struct petrel_refusal *f);
json_t *petrel_json_rejection(const char *uuid, const uint8_t sha256[32], const char *reason,
			      int64_t at);
json_t *petrel_json_pin(const struct petrel_pin *pin);
/* "channel": {"version","release":{"uuid","sha256"}|null,"bucket","ramp","takes",
 * "blocked_deployed","why"}: what a target's channel said at its last poll. */
json_t *petrel_json_channel(const struct petrel_channel_says *says, int blocked_deployed);
/* Text rows of log and history fit in this many columns (-v shows them whole). */
#define PETREL_TEXT_COLUMNS 100
/* Columns s takes on a terminal: its characters (UTF-8), one column each. */
size_t petrel_text_columns(const char *s);
/* s made safe for a terminal (petrel_text_safe: credentials masked, control characters
 * escaped) into out (size n), cut to cols columns when longer: cols - 1 whole characters
 * and an ellipsis ("..." as one character, U+2026) in the last column. */
void petrel_fit(const char *s, size_t cols, char *out, size_t n);

#endif
