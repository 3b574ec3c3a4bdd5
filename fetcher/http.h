/* HTTP GET over libcurl with the limits every request to a build server needs. */
#ifndef PETREL_HTTP_H
#define PETREL_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/build.h"
#include "common/error.h"

#define PETREL_REDIRECTS_MAX 5
#define PETREL_HEADER_MAX (64 * 1024)	/* all header bytes of one response */
#define PETREL_OTHER_BODY_MAX (64 * 1024)	/* body of a redirect or error answer */

/* Transfer limits; petrel_http_limits_default() fills the defaults. */
struct petrel_http_limits {
	long connect_timeout;	/* seconds, default 15 */
	long low_speed_limit;	/* bytes/s, default 1000 (slow-retrieval attack) ... */
	long low_speed_time;	/* ... sustained for this many seconds, default 30 */
	long max_time;		/* whole-transfer cap in seconds, 0 = none (default) */
	long min_rate;		/* bytes/s, default 64 KiB/s: a request's deadline is its
				 * size bound / min_rate + connect_timeout + low_speed_time,
				 * so a drip just above low_speed_limit cannot hold on */
};
void petrel_http_limits_default(struct petrel_http_limits *l);

/* Called with each chunk of the body as it arrives; non-zero return aborts and is
 * returned from petrel_http_get. */
typedef int (*petrel_http_sink)(void *ctx, const void *p, size_t n);

struct petrel_http_resp;

struct petrel_http_req {
	const char *url;
	int accept_json;		/* send Accept: application/json */
	int follow;			/* follow up to PETREL_REDIRECTS_MAX redirects, http(s)
					 * only, never from https to http */
	uint64_t max_bytes;		/* body cap (endless-data attack) */
	int headers_only;		/* stop after a 200's headers: resp has status, ETag,
					 * Content-Length and url, no body byte is read */
	int check_size;			/* a 200's Content-Length must equal expected_size; */
	uint64_t expected_size;		/* checked before the body is read */
	/* Resuming: asks for the bytes from range_from on (Range: bytes=K-) of an entity of
	 * range_total bytes. Only a 206 whose Content-Range says exactly that is a body
	 * (then judged as a 200 is: max_bytes, expected_size, on_headers, sink); a 200 (the
	 * range ignored) is refused with -PETREL_EMALFORMED before any body byte. 0: none. */
	uint64_t range_from;
	uint64_t range_total;
	/* Called once a 200's headers are in, before any body byte; non-zero aborts. */
	int (*on_headers)(void *ctx, const struct petrel_http_resp *resp,
			  struct petrel_err *err);
	void *headers_ctx;
	petrel_http_sink sink;		/* body consumer; NULL: collect into body */
	void *sink_ctx;
	struct petrel_buf *body;	/* borrowed; used when sink is NULL */
};

struct petrel_http_resp {
	long status;			/* of the last response */
	char location[PETREL_URL_MAX + 1];	/* raw Location of the last response, "" if none */
	char etag[128];			/* ETag with quotes and W/ removed, "" if none */
	int has_length;
	int bad_length;			/* a Content-Length that is no number (refused) */
	char bad_length_text[48];	/* what it said, printable */
	uint64_t content_length;
	char url[PETREL_URL_MAX + 1];	/* URL of the last request (after redirects) */
	uint64_t received;		/* body bytes of the last response */
	int64_t retry_at;		/* its Retry-After as a wall-clock time, 0: none */
	int accept_ranges;		/* it said Accept-Ranges: bytes */
	char content_range[96];		/* its Content-Range, "" if none */
};

struct petrel_http;

/* One handle per process; connections are reused across requests where the server keeps
 * them open (builder-web closes every one after a GET). Borrowed limits are copied. */
int petrel_http_new(struct petrel_http **out, const struct petrel_http_limits *l,
		    struct petrel_err *err);
void petrel_http_free(struct petrel_http *h);
/*
 * A second handle with h's limits, for another thread (one handle is never shared).
 * It neither feeds the watchdog (petrel_tick) nor draws a progress bar: the thread
 * that waits for it does.
 */
int petrel_http_clone(struct petrel_http **out, const struct petrel_http *h,
		      struct petrel_err *err);
/* A flag another thread sets to abandon h's transfer (borrowed; NULL for none): the
 * request then fails with -ECANCELED within about a second. */
void petrel_http_set_abort(struct petrel_http *h, const atomic_int *flag);
/* Names what the progress bar is for (a target), NULL for nothing. */
void petrel_http_set_label(struct petrel_http *h, const char *label);
/* Enables a progress bar on stderr for body downloads (when stderr is a terminal): the
 * label, percentage, size, rate and time left, using the size the request expects when
 * the server frames the body chunked; it ends with exactly one 100 % line. */
void petrel_http_set_progress(struct petrel_http *h, int on);

/*
 * Performs the GET. Returns 0 when a response arrived (any status: the caller judges
 * it), or: -PETREL_ENET (transport; message names URL and curl's reason),
 * -PETREL_ETOOBIG (body over max_bytes or headers over PETREL_HEADER_MAX),
 * -PETREL_ESIZE (Content-Length differs from expected_size),
 * -PETREL_ENET also when the whole request (all its redirects) outlasts its deadline:
 * (expected_size, else max_bytes) / min_rate + connect_timeout + low_speed_time,
 * -PETREL_EMALFORMED (bad redirect: loop, too many, missing Location, scheme; a 200
 * whose Content-Length is not a number; a resumed request answered with the whole
 * entity or another range than asked),
 * or the sink's error. Messages go through petrel_fail and name the URL.
 */
int petrel_http_get(struct petrel_http *h, const struct petrel_http_req *req,
		    struct petrel_http_resp *resp, struct petrel_err *err);

/* The latest time a Retry-After of an answer to h asked for (wall clock, s) since the
 * last call, 0 for none; clears it. A clone's answers are its own. */
int64_t petrel_http_take_retry_after(struct petrel_http *h);
/* The URL of the last request h tried ("" before any): whom a failure concerns. */
const char *petrel_http_last_url(const struct petrel_http *h);
/* Records url as the last tried, for a request another handle made on h's behalf (a
 * clone on another thread): a failure then concerns that URL's host. */
void petrel_http_note_url(struct petrel_http *h, const char *url);

/*
 * Who answers a URL, whatever its path: "scheme://host:port" lowercased with the
 * scheme's default port filled in, into out (size n). 0 or -PETREL_EMALFORMED.
 */
int petrel_url_origin(const char *url, char *out, size_t n);

/*
 * 1 when a and b reach the same server: the same scheme and port, and hosts with an
 * address in common once resolved (localhost, 127.1 and 127.0.0.1 are one server), or
 * the same name when either does not resolve. 0 otherwise.
 */
int petrel_url_same_server(const char *a, const char *b);

/* Resolves ref (absolute or relative) against base into out. 0 or -PETREL_EMALFORMED. */
int petrel_url_resolve(const char *base, const char *ref, char *out, size_t n);

#endif
