/* builder-web client: the few routes petrel depends on, parsed strictly. */
#ifndef PETREL_BUILDERWEB_H
#define PETREL_BUILDERWEB_H

#include "common/build.h"
#include "http.h"
#include "common/error.h"

#define PETREL_JSON_MAX (8u * 1024 * 1024)	/* any JSON answer (a job lists every distinct binary) */
#define PETREL_SIG_FILE_MAX 4096		/* a .minisig file */

/*
 * Newest build of job (optionally on platform): GET /job/J/build/latest[?platform=P],
 * not following the 307; its Location must be /job/J/build/UUID[/] (relative, or
 * absolute on any host). Fills uuid. 0, -PETREL_EHTTP, -PETREL_EMALFORMED,
 * -PETREL_ENET, or for builder-web's one 404: -PETREL_ECONFIG naming an unknown job,
 * an unknown platform or a server URL that is no builder-web, -PETREL_ENOTFOUND for
 * a job without a build with a main binary.
 */
int petrel_bw_latest(struct petrel_http *h, const char *server, const char *job,
		     const char *platform, char uuid[PETREL_UUID_LEN + 1], struct petrel_err *err);

/*
 * Fills b->filename, b->sha256, b->size from GET /job/J[?platform=P] (JSON); b->job and
 * b->uuid must be set. builder-web lists one entry per distinct hash of J's builds (on
 * P), each naming the newest build anywhere (any job, any platform) holding those
 * bytes, so b->uuid is often absent: then the build's own main-binary answer
 * (petrel_bw_binary_head) gives its sha256, size and filename, and that sha256 must
 * be among the listed ones (-PETREL_EBINDING otherwise: bytes the job never built).
 * A missing field or a malformed value is -PETREL_EMALFORMED.
 */
int petrel_bw_job_binary(struct petrel_http *h, const char *server, const char *platform,
			 struct petrel_build *b, struct petrel_err *err);

/*
 * Fills b->platform, b->start_time, b->finish_time and, for a Solo5 binary, solo5_abi
 * and solo5_devices from GET /job/J/build/UUID (JSON). The answer's uuid must match
 * b's (its job does too, though builder-web only echoes the URL's); main_binary must
 * be true; finish_time must be RFC 3339. Otherwise -PETREL_EMALFORMED.
 */
int petrel_bw_build_record(struct petrel_http *h, const char *server, struct petrel_build *b,
			   struct petrel_err *err);

/* What a build's own main-binary answer says about its bytes. */
struct petrel_bw_binary {
	uint8_t sha256[32];	/* from the ETag */
	uint64_t size;		/* from Content-Length, when has_size */
	int has_size;
	char filename[PETREL_FILENAME_MAX + 1];	/* the last segment of .../f/PATH */
};

/*
 * GET /job/J/build/UUID/main-binary, following the 302, stopped after the artifact's
 * headers (builder-web answers HEAD with 404): the ETag must be the Base64 of a
 * sha256. 0, -PETREL_ENOTFOUND (404: no such build, or no main binary),
 * -PETREL_EHTTP, -PETREL_EMALFORMED (no usable ETag), -PETREL_ENET.
 */
int petrel_bw_binary_head(struct petrel_http *h, const char *server, const char *job,
			  const char *uuid, struct petrel_bw_binary *out, struct petrel_err *err);

/* URL of the build's main-binary redirect and of the file it redirects to. */
int petrel_bw_binary_url(const char *server, const struct petrel_build *b, char *out, size_t n);
int petrel_bw_file_url(const char *server, const struct petrel_build *b, char *out, size_t n);

/* What a download got, known also when it broke off part way. */
struct petrel_bw_got {
	uint64_t from;		/* the byte it started at (set by the caller for a resume) */
	char url[PETREL_URL_MAX + 1];	/* the last URL asked, after redirects */
	int accept_ranges;	/* that answer said Accept-Ranges: bytes */
};

/*
 * Streams the main binary to sink: GET /job/J/build/UUID/main-binary, following at
 * most 5 redirects. Content-Length must equal b->size (checked before the body), the
 * body may not exceed it, an ETag must decode to b->sha256 (-PETREL_EHASH). got says
 * where it ended (its url after redirects), also on failure.
 */
int petrel_bw_download(struct petrel_http *h, const char *server, const struct petrel_build *b,
		       petrel_http_sink sink, void *ctx, struct petrel_bw_got *got,
		       struct petrel_err *err);

/*
 * The same from url itself (a mirror's copy of the file, or the URL an interrupted
 * download ended at), from byte got->from on (0: all; else a Range request that only
 * an exact 206 answers). With strict 0 an ETag that is not the Base64 of a sha256 (a
 * mirror's own kind) is ignored; one that is must match. The length is checked as
 * above (the rest: b->size - got->from). url must not be got->url (copy it first).
 */
int petrel_bw_download_copy(struct petrel_http *h, const char *url,
			    const struct petrel_build *b, int strict, petrel_http_sink sink,
			    void *ctx, struct petrel_bw_got *got, struct petrel_err *err);

/*
 * Fetches a small text (a signature file) of at most PETREL_SIG_FILE_MAX bytes into
 * body. 0 on 200, -PETREL_ENOTFOUND on 404 (a missing signature, not an error),
 * -PETREL_EHTTP on other statuses, -PETREL_ETOOBIG, -PETREL_ENET.
 */
int petrel_fetch_small(struct petrel_http *h, const char *url, struct petrel_buf *body,
		       struct petrel_err *err);

/*
 * Calls fn(ctx, b) for every entry of GET /job/J[?platform=P], in the server's order
 * (undefined): b has job, uuid, filename, sha256, size; the uuid is the newest build
 * anywhere holding those bytes. fn returns 0 to go on, anything else to stop (then
 * returned). 0, or an error as for petrel_bw_job_binary.
 */
typedef int (*petrel_bw_entry_fn)(void *ctx, const struct petrel_build *b);
int petrel_bw_job_listing(struct petrel_http *h, const char *server, const char *job,
			  const char *platform, petrel_bw_entry_fn fn, void *ctx,
			  struct petrel_err *err);

/* GET /hash?sha256=HEX: fills job and uuid of the build the server names; -PETREL_ENOTFOUND on 404. */
int petrel_bw_hash_lookup(struct petrel_http *h, const char *server, const uint8_t sha256[32],
			  char job[PETREL_NAME_MAX + 1], char uuid[PETREL_UUID_LEN + 1], struct petrel_err *err);

/*
 * The parsers behind the requests above, exposed for unit tests and fuzzing.
 * where names the answer in messages (its URL). Each is 0 or -PETREL_EMALFORMED.
 *  - listing: the /job/J JSON, matched by b->uuid; fills filename, sha256, size;
 *    -PETREL_ENOTFOUND when b->uuid is not listed;
 *  - listing by hash: the entry holding sha256, into out (uuid, filename, sha256,
 *    size); -PETREL_ENOTFOUND when no entry does;
 *  - record: the /job/J/build/UUID JSON; checks job, uuid, main_binary; fills
 *    platform and times;
 *  - build path: a Location "/job/J/build/UUID[/]" (or an absolute URL with that
 *    path); job must be a valid name and equal want_job unless want_job is NULL.
 */
int petrel_bw_parse_listing(const char *text, size_t len, const char *where,
			    struct petrel_build *b, struct petrel_err *err);
int petrel_bw_parse_listing_each(const char *text, size_t len, const char *where, const char *job,
				 petrel_bw_entry_fn fn, void *ctx, struct petrel_err *err);
int petrel_bw_listing_find_hash(const char *text, size_t len, const char *where,
				const uint8_t sha256[32], struct petrel_build *out, struct petrel_err *err);
int petrel_bw_parse_record(const char *text, size_t len, const char *where,
			   struct petrel_build *b, struct petrel_err *err);
int petrel_bw_parse_build_path(const char *loc, const char *want_job,
			       char job[PETREL_NAME_MAX + 1], char uuid[PETREL_UUID_LEN + 1]);

#endif
