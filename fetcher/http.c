/* HTTP GET over libcurl: limits, manual redirects, header checks before the body. */
#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cancel.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "http.h"

struct petrel_http {
	CURL *curl;
	struct petrel_http_limits limits;
	int progress;
	int worker;		/* a clone on another thread: no tick, no bar */
	const atomic_int *abort;	/* set by another thread to abandon the transfer */
	char label[40];		/* what the bar is for (a target's name), "" for none */
	char last_url[PETREL_URL_MAX + 1];	/* of the last request tried */
	int64_t retry_at;	/* the latest Retry-After since petrel_http_take_retry_after */
};

/* The whole request's time limit (petrel_http_get), over all its redirects. */
struct deadline {
	long long start_ms, end_ms;
	long long limit_s;	/* end - start, for messages */
	uint64_t bound;		/* the size it was derived from */
};

/* curl's receive buffer for a sink's body: its maximum (CURL_MAX_READ_SIZE, 512 KiB
 * since 7.53), so that each receive and each write callback moves as much as it can. */
#define PETREL_HTTP_BODY_BUFFER (512L * 1024)

/* State of one request/response exchange, shared by the curl callbacks. */
struct exchange {
	const struct petrel_http_req *req;
	struct petrel_http_resp *resp;
	size_t header_bytes;
	int code;		/* first error a callback hit; aborts the transfer */
	struct petrel_err *err;	/* where its message goes */
	int stopped;		/* headers_only: aborted on purpose after the headers */
	int bar;		/* draw a progress bar (0 again once it reached 100 %) */
	long long started_ms;	/* when the body began, for the rate */
	const char *label;
	time_t ticked;		/* last petrel_tick() */
	const struct petrel_http *h;
	const struct deadline *dl;
	char mask[PETREL_URL_MAX + 1];
	char why[CURL_ERROR_SIZE];	/* curl's own words for a failure */
};


void petrel_http_limits_default(struct petrel_http_limits *l)
{
	l->connect_timeout = 15;
	l->low_speed_limit = 1000;
	l->low_speed_time = 30;
	l->max_time = 0;
	l->min_rate = 64 * 1024;
}

int petrel_http_new(struct petrel_http **out, const struct petrel_http_limits *l,
		    struct petrel_err *err)
{
	static int global_done;
	struct petrel_http *h;

	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return petrel_fail(err, -PETREL_ENET, "libcurl initialisation failed");
		global_done = 1;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		return -ENOMEM;
	}
	h->limits = *l;
	*out = h;
	return 0;
}

int petrel_http_clone(struct petrel_http **out, const struct petrel_http *h,
		      struct petrel_err *err)
{
	int r = petrel_http_new(out, &h->limits, err);

	if (r == 0)
		(*out)->worker = 1;
	return r;
}

void petrel_http_set_abort(struct petrel_http *h, const atomic_int *flag)
{
	h->abort = flag;
}

void petrel_http_free(struct petrel_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

void petrel_http_set_label(struct petrel_http *h, const char *label)
{
	snprintf(h->label, sizeof(h->label), "%s", label ? label : "");
}

void petrel_http_set_progress(struct petrel_http *h, int on)
{
	h->progress = on && isatty(STDERR_FILENO);
}

/* Copies a header value (after "Name:") trimmed of white space into out. */
static void header_value(const char *p, size_t n, char *out, size_t cap)
{
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n >= cap)
		n = cap - 1;	/* callers check sizes where it matters */
	memcpy(out, p, n);
	out[n] = '\0';
}

/* Removes a W/ prefix and surrounding quotes from an ETag in place. */
static void etag_normalise(char *e)
{
	size_t len;

	if (!strncmp(e, "W/", 2))
		memmove(e, e + 2, strlen(e + 2) + 1);
	len = strlen(e);
	if (len >= 2 && e[0] == '"' && e[len - 1] == '"') {
		memmove(e, e + 1, len - 2);
		e[len - 2] = '\0';
	}
}

static int header_matches(const char *line, size_t n, const char *name, const char **val)
{
	size_t len = strlen(name);

	if (n <= len || strncasecmp(line, name, len) || line[len] != ':')
		return 0;
	*val = line + len + 1;
	return 1;
}

/* The status whose body is the one asked for: 200, or 206 for a resumed request. */
static int is_body(const struct exchange *x)
{
	return x->resp->status == (x->req->range_from ? 206 : 200);
}

/* "bytes K-L/T" into its three numbers; -1 for anything else. */
static int parse_content_range(const char *v, uint64_t *from, uint64_t *last, uint64_t *total)
{
	char text[96], *dash, *slash;

	if (strncasecmp(v, "bytes ", 6) || petrel_strcpy_whole(text, v + 6, sizeof(text)) < 0 ||
	    !(dash = strchr(text, '-')) || !(slash = strchr(dash + 1, '/')))
		return -1;
	*dash = *slash = '\0';
	return petrel_parse_u64(text, from) < 0 || petrel_parse_u64(dash + 1, last) < 0 ||
	       petrel_parse_u64(slash + 1, total) < 0 ? -1 : 0;
}

/* A resumed request's answer must be exactly the rest asked for: "bytes K-(T-1)/T". */
static int range_done(struct exchange *x)
{
	const struct petrel_http_req *rq = x->req;
	struct petrel_http_resp *rs = x->resp;
	uint64_t from, last, total;

	if (rs->status == 200)
		return petrel_fail(x->err, -PETREL_EMALFORMED,
				   "%s: asked to resume at byte %llu, the server sent the whole "
				   "file again (HTTP 200)", x->mask,
				   (unsigned long long)rq->range_from);
	if (rs->status != 206)
		return 0;
	if (parse_content_range(rs->content_range, &from, &last, &total) < 0 ||
	    from != rq->range_from || total != rq->range_total || last + 1 != total)
		return petrel_fail(x->err, -PETREL_EMALFORMED,
				   "%s: asked for bytes %llu-%llu/%llu, the server sent "
				   "Content-Range '%.60s'", x->mask,
				   (unsigned long long)rq->range_from,
				   (unsigned long long)rq->range_total - 1,
				   (unsigned long long)rq->range_total, rs->content_range);
	return 0;
}

/* At the end of a final response's headers: refuse a wrong Content-Length early. */
static int headers_done(struct exchange *x)
{
	const struct petrel_http_req *rq = x->req;
	struct petrel_http_resp *rs = x->resp;
	int r;

	if (rq->range_from && (r = range_done(x)) < 0)
		return r;
	if (!is_body(x))
		return 0;
	if (rs->bad_length)
		return petrel_fail(x->err, -PETREL_EMALFORMED,
				   "%s: Content-Length '%s' is not a number: the length "
				   "cannot be checked", x->mask, rs->bad_length_text);
	if (rq->on_headers && (r = rq->on_headers(rq->headers_ctx, rs, x->err)))
		return r;
	if (rq->check_size && rs->has_length && rs->content_length != rq->expected_size)
		return petrel_fail(x->err, -PETREL_ESIZE,
				   "%s: Content-Length %llu differs from expected size %llu",
				   x->mask, (unsigned long long)rs->content_length,
				   (unsigned long long)rq->expected_size);
	return 0;
}

/* "HTTP/1.1 307 Temporary Redirect": a new response starts (also after 1xx). */
static void status_line(struct exchange *x, const char *line)
{
	struct petrel_http_resp *rs = x->resp;
	const char *sp = strchr(line, ' ');

	rs->status = sp ? strtol(sp + 1, NULL, 10) : 0;
	rs->location[0] = rs->etag[0] = '\0';
	rs->has_length = rs->bad_length = 0;
	rs->retry_at = 0;
	rs->accept_ranges = 0;
	rs->content_range[0] = '\0';
}

/* Shows at most the first 40 bytes of a server's string, control bytes as '?'. */
static void printable(const char *in, char *out, size_t cap)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < cap && i < 40; i++)
		out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
}

/* A Content-Length is a number or an error (never a length check skipped); a second
 * one must agree with the first. */
static void length_header(struct petrel_http_resp *rs, const char *v, size_t n)
{
	char num[64];
	uint64_t len;

	header_value(v, n, num, sizeof(num));
	if (strlen(num) >= sizeof(num) - 1 || petrel_parse_u64(num, &len) < 0 ||
	    (rs->has_length && len != rs->content_length)) {
		rs->bad_length = 1;
		printable(num, rs->bad_length_text, sizeof(rs->bad_length_text));
		return;
	}
	rs->has_length = 1;
	rs->content_length = len;
}

/*
 * Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date (curl_getdate reads
 * the three date formats), as a wall-clock time. A value that is neither is ignored:
 * it cannot make petrel poll sooner, and the answer is judged by its status.
 */
static void retry_after_header(struct petrel_http_resp *rs, const char *v, size_t n)
{
	char text[64];
	uint64_t secs;
	time_t now = time(NULL), at;

	header_value(v, n, text, sizeof(text));
	if (petrel_parse_u64(text, &secs) == 0)
		rs->retry_at = (int64_t)now + (int64_t)(secs < 10 * 365 * 86400ULL ? secs :
							 10 * 365 * 86400ULL);
	else if ((at = curl_getdate(text, NULL)) != -1)
		rs->retry_at = at > now ? (int64_t)at : (int64_t)now;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct exchange *x = ctx;
	struct petrel_http_resp *rs = x->resp;
	size_t n = size * nmemb;
	const char *v;

	x->header_bytes += n;
	if (x->header_bytes > PETREL_HEADER_MAX) {
		x->code = petrel_fail(x->err, -PETREL_ETOOBIG, "%s: headers exceed %d bytes",
				      x->mask,
				     PETREL_HEADER_MAX);
		return 0;
	}
	if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
		char line[64];	/* curl's header bytes are not NUL-terminated */

		header_value(p, n, line, sizeof(line));
		status_line(x, line);
	} else if (header_matches(p, n, "location", &v)) {
		header_value(v, n - (size_t)(v - p), rs->location, sizeof(rs->location));
	} else if (header_matches(p, n, "etag", &v)) {
		header_value(v, n - (size_t)(v - p), rs->etag, sizeof(rs->etag));
		etag_normalise(rs->etag);
	} else if (header_matches(p, n, "content-length", &v)) {
		length_header(rs, v, n - (size_t)(v - p));
	} else if (header_matches(p, n, "retry-after", &v)) {
		retry_after_header(rs, v, n - (size_t)(v - p));
	} else if (header_matches(p, n, "accept-ranges", &v)) {
		char unit[16];

		header_value(v, n - (size_t)(v - p), unit, sizeof(unit));
		rs->accept_ranges = !strcasecmp(unit, "bytes");
	} else if (header_matches(p, n, "content-range", &v)) {
		header_value(v, n - (size_t)(v - p), rs->content_range, sizeof(rs->content_range));
	} else if ((n == 2 && p[0] == '\r') || (n == 1 && p[0] == '\n')) {
		if (rs->status >= 200 && (x->code = headers_done(x)) < 0)
			return 0;
		if (is_body(x) && x->req->headers_only) {
			x->stopped = 1;
			return 0;	/* aborts the transfer before any body byte */
		}
	}
	return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct exchange *x = ctx;
	const struct petrel_http_req *rq = x->req;
	size_t n = size * nmemb;
	int r;

	/* redirect and error bodies are read (to keep the connection) but not kept, and
	 * have their own small cap: an endless 3xx must not hold us forever */
	uint64_t cap = is_body(x) ? rq->max_bytes : PETREL_OTHER_BODY_MAX;

	if (n > cap - x->resp->received) {
		if (is_body(x))
			x->code = petrel_fail(x->err, -PETREL_ETOOBIG,
					      "%s: answer exceeds %llu bytes", x->mask,
					     (unsigned long long)cap);
		else
			x->code = petrel_fail(x->err, -PETREL_ETOOBIG,
					      "%s: body of the HTTP %ld answer exceeds "
					     "%llu bytes", x->mask, x->resp->status,
					     (unsigned long long)cap);
		return 0;
	}
	x->resp->received += n;
	if (!is_body(x))
		return n;
	r = rq->sink ? rq->sink(rq->sink_ctx, p, n) : petrel_buf_append(rq->body, p, n);
	if (r) {
		x->code = r;
		return 0;
	}
	return n;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "hello [=====     ]  45% 12.3/27.0 MiB  5.2 MiB/s  0:03 left", redrawn in place. */
static void draw_bar(struct exchange *x, curl_off_t now, curl_off_t total)
{
	const int width = 24;
	int fill = (int)(now * width / total);
	long long ms = mono_ms() - x->started_ms;
	double rate = ms > 0 ? (double)now * 1000.0 / (double)ms : 0;	/* bytes/s */
	long long left = rate > 0 ? (long long)((double)(total - now) / rate) : -1;
	char eta[48] = "";

	if (now >= total)
		snprintf(eta, sizeof(eta), "in %lld:%02lld", ms / 60000, ms / 1000 % 60);
	else if (left >= 0)
		snprintf(eta, sizeof(eta), "%lld:%02lld left", left / 60, left % 60);
	fprintf(stderr, "\r%s%s[%.*s%*s] %3d%% %.1f/%.1f MiB %6.1f MiB/s %-12s", x->label,
		x->label[0] ? " " : "", fill, "========================================",
		width - fill, "", (int)(now * 100 / total), (double)now / 1048576.0,
		(double)total / 1048576.0, rate / 1048576.0, eta);
}

/* The deadline passed: a server error (exit 4) saying how far it got. */
static int too_slow(const struct exchange *x, uint64_t got)
{
	const struct deadline *d = x->dl;

	return petrel_fail(x->err, -PETREL_ENET,
			   "%s: too slow: %llu bytes in %lld s, over the time limit of %lld s "
			   "(%llu bytes at min_rate %ld B/s, plus connect_timeout and "
			   "low_speed_time)", x->mask, (unsigned long long)got,
			   (mono_ms() - d->start_ms) / 1000, d->limit_s,
			   (unsigned long long)d->bound, x->h->limits.min_rate);
}

/* Every transfer passes here about once a second: cancellation, the tick, the bar. */
static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ut,
		       curl_off_t un)
{
	struct exchange *x = ctx;
	time_t now = time(NULL);

	(void)ut, (void)un;
	if (petrel_cancelled()) {
		x->code = petrel_fail(x->err, -ECANCELED, "%s: cancelled", x->mask);
		return 1;
	}
	if (x->h->abort && atomic_load(x->h->abort)) {
		x->code = petrel_fail(x->err, -ECANCELED, "%s: abandoned", x->mask);
		return 1;
	}
	if (x->dl->end_ms && mono_ms() >= x->dl->end_ms) {
		x->code = too_slow(x, (uint64_t)dlnow);
		return 1;
	}
	if (x->h->worker)
		return 0;
	if (now != x->ticked) {
		x->ticked = now;
		petrel_tick();
	}
	/* builder-web frames artifacts chunked (curl then knows no total): the size
	 * petrel expects is the total */
	if (dltotal <= 0 && x->req->check_size)
		dltotal = (curl_off_t)x->req->expected_size;
	if (!x->bar || dltotal <= 0 || !is_body(x))
		return 0;
	draw_bar(x, dlnow, dltotal);
	if (dlnow >= dltotal) {
		fputc('\n', stderr);
		x->bar = 0;	/* curl calls again after the end: one 100 % line */
	}
	return 0;
}

/* curl's own cap: max_time, and a second past the deadline in case the progress
 * callback, which enforces the deadline with its message, came too late. */
static long timeout_ms(const struct petrel_http *h, const struct deadline *d)
{
	long long ms = h->limits.max_time * 1000LL, left;

	if (d->end_ms) {
		left = d->end_ms - mono_ms() + 1000;
		if (left < 1)
			left = 1;
		if (!ms || left < ms)
			ms = left;
	}
	return (long)ms;
}

static void setup(struct petrel_http *h, struct exchange *x, const char *url,
		  struct curl_slist *headers)
{
	CURL *c = h->curl;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->limits.connect_timeout);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, h->limits.low_speed_limit);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->limits.low_speed_time);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms(h, x->dl));
	/* a body for a sink (an artifact) in as few receives as curl allows */
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, x->req->sink ? PETREL_HTTP_BODY_BUFFER : 256L * 1024);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "petrel/0.1");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->why);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	x->bar = h->progress && !h->worker && x->req->sink;
	x->label = h->label;
	x->started_ms = mono_ms();
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
}

/* One request without redirects. */
static int get_once(struct petrel_http *h, const struct petrel_http_req *req,
		    struct petrel_http_resp *resp, const char *url, const struct deadline *dl,
		    struct petrel_err *err)
{
	struct curl_slist *headers = NULL;
	struct exchange x = { .req = req, .resp = resp, .err = err, .h = h, .dl = dl };
	CURLcode cc;

	petrel_mask_url(url, x.mask, sizeof(x.mask));
	petrel_strcpy_whole(h->last_url, url, sizeof(h->last_url));
	if (petrel_strcpy_whole(resp->url, url, sizeof(resp->url)) < 0)
		return petrel_fail(err, -PETREL_ETOOBIG, "URL too long: %s", x.mask);
	resp->status = 0;
	resp->received = 0;
	resp->location[0] = resp->etag[0] = '\0';
	resp->has_length = resp->bad_length = 0;
	resp->retry_at = 0;
	resp->accept_ranges = 0;
	resp->content_range[0] = '\0';
	if (req->accept_json)
		headers = curl_slist_append(NULL, "Accept: application/json");
	if (req->range_from) {
		char range[48];
		struct curl_slist *more;

		snprintf(range, sizeof(range), "Range: bytes=%llu-",
			 (unsigned long long)req->range_from);
		if (!(more = curl_slist_append(headers, range))) {
			curl_slist_free_all(headers);
			return petrel_fail(err, -ENOMEM, "out of memory");
		}
		headers = more;
	}
	setup(h, &x, url, headers);
	cc = curl_easy_perform(h->curl);
	curl_slist_free_all(headers);
	if (resp->retry_at > h->retry_at)
		h->retry_at = resp->retry_at;
	if (x.code)
		return x.code;
	if (x.stopped)
		return 0;	/* status 200, from the status line */
	if (cc == CURLE_OPERATION_TIMEDOUT && dl->end_ms && mono_ms() >= dl->end_ms)
		return too_slow(&x, resp->received);
	if (cc != CURLE_OK)
		return petrel_fail(err, -PETREL_ENET, "%s: %s", x.mask,
				   x.why[0] ? x.why : curl_easy_strerror(cc));
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	return 0;
}

int petrel_url_resolve(const char *base, const char *ref, char *out, size_t n)
{
	CURLU *u = curl_url();
	char *s = NULL;
	int r = -PETREL_EMALFORMED;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
		goto out;
	r = petrel_strcpy_whole(out, s, n) < 0 ? -PETREL_ETOOBIG : 0;
out:
	curl_free(s);
	curl_url_cleanup(u);
	return r;
}

/* Scheme, host and port of url (lowercased; the scheme's port by default). */
static int url_parts(const char *url, char *scheme, char *host, size_t hn, long *port)
{
	CURLU *u = curl_url();
	char *sc = NULL, *ho = NULL, *po = NULL;
	int r = -PETREL_EMALFORMED;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &sc, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &ho, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &po, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    strlen(sc) > 15 || petrel_strcpy_whole(host, ho, hn) < 0)
		goto out;
	for (size_t i = 0; (scheme[i] = (char)tolower((unsigned char)sc[i])); i++)
		;
	for (size_t i = 0; host[i]; i++)
		host[i] = (char)tolower((unsigned char)host[i]);
	*port = strtol(po, NULL, 10);
	r = 0;
out:
	curl_free(sc);
	curl_free(ho);
	curl_free(po);
	curl_url_cleanup(u);
	return r;
}

int petrel_url_origin(const char *url, char *out, size_t n)
{
	char scheme[16], host[PETREL_URL_MAX + 1];
	long port;
	int r;

	if ((r = url_parts(url, scheme, host, sizeof(host), &port)) < 0)
		return r;
	return petrel_snprintf(out, n, "%s://%s:%ld", scheme, host, port) < 0 ?
		-PETREL_EMALFORMED : 0;
}

/* The addresses of a URL's host ("[::1]" without its brackets). */
static int resolve(const char *host, struct addrinfo **res)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	char bare[PETREL_URL_MAX + 1];
	size_t len = strlen(host);

	if (len > 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof(bare)) {
		memcpy(bare, host + 1, len - 2);
		bare[len - 2] = '\0';
		host = bare;
	}
	return getaddrinfo(host, NULL, &hints, res);
}

/* 1 when the two host names resolve to a common address. */
static int hosts_meet(const char *a, const char *b)
{
	struct addrinfo *ra = NULL, *rb = NULL;
	int meet = 0;

	if (resolve(a, &ra) == 0 && resolve(b, &rb) == 0)
		for (struct addrinfo *x = ra; x && !meet; x = x->ai_next)
			for (struct addrinfo *y = rb; y && !meet; y = y->ai_next)
				meet = x->ai_family == y->ai_family && x->ai_addrlen == y->ai_addrlen &&
				       !memcmp(x->ai_addr, y->ai_addr, x->ai_addrlen);
	if (ra)
		freeaddrinfo(ra);
	if (rb)
		freeaddrinfo(rb);
	return meet;
}

int petrel_url_same_server(const char *a, const char *b)
{
	char sa[16], sb[16], ha[PETREL_URL_MAX + 1], hb[PETREL_URL_MAX + 1];
	long pa, pb;

	if (url_parts(a, sa, ha, sizeof(ha), &pa) < 0 || url_parts(b, sb, hb, sizeof(hb), &pb) < 0)
		return !strcasecmp(a, b);
	if (strcmp(sa, sb) || pa != pb)
		return 0;
	return !strcmp(ha, hb) || hosts_meet(ha, hb);
}

static int is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Decides the next URL of a redirect chain, refusing what must not be followed. */
static int next_hop(const struct petrel_http_resp *resp, char *next, size_t n,
		    struct petrel_err *err)
{
	char mask[PETREL_URL_MAX + 1];

	petrel_mask_url(resp->url, mask, sizeof(mask));
	if (!resp->location[0])
		return petrel_fail(err, -PETREL_EMALFORMED, "%s: redirect %ld without Location",
				   mask,
				   resp->status);
	if (petrel_url_resolve(resp->url, resp->location, next, n) < 0)
		return petrel_fail(err, -PETREL_EMALFORMED, "%s: bad redirect Location '%s'", mask,
				   resp->location);
	if (strncmp(next, "http://", 7) && strncmp(next, "https://", 8))
		return petrel_fail(err, -PETREL_EMALFORMED,
				   "%s: redirect to a scheme other than http(s)", mask);
	if (!strncmp(resp->url, "https://", 8) && !strncmp(next, "http://", 7))
		return petrel_fail(err, -PETREL_EMALFORMED,
				   "%s: redirect from https to http refused", mask);
	return 0;
}

/*
 * Why: low_speed_limit alone lets a server that sends just above it hold a download
 * (and the state lock) for ever. The request may take as long as its size needs at
 * min_rate, plus the time a first byte may take (connect_timeout + low_speed_time).
 */
static void deadline_start(const struct petrel_http *h, const struct petrel_http_req *req,
			   struct deadline *d)
{
	const struct petrel_http_limits *l = &h->limits;

	memset(d, 0, sizeof(*d));
	if (l->min_rate <= 0)
		return;
	d->bound = req->headers_only ? 0 : req->check_size ? req->expected_size : req->max_bytes;
	d->limit_s = (long long)(d->bound / (uint64_t)l->min_rate) + l->connect_timeout +
		     l->low_speed_time;
	d->start_ms = mono_ms();
	d->end_ms = d->start_ms + d->limit_s * 1000;
}

int petrel_http_get(struct petrel_http *h, const struct petrel_http_req *req,
		    struct petrel_http_resp *resp, struct petrel_err *err)
{
	char url[PETREL_URL_MAX + 1], mask[PETREL_URL_MAX + 1];
	struct deadline dl;
	int hops, r;

	deadline_start(h, req, &dl);
	if ((r = petrel_strcpy_whole(url, req->url, sizeof(url))) < 0)
		return petrel_fail(err, r, "URL too long");
	if (petrel_cancelled()) {
		petrel_mask_url(req->url, mask, sizeof(mask));
		return petrel_fail(err, -ECANCELED, "%s: cancelled", mask);
	}
	for (hops = 0; ; hops++) {
		if ((r = get_once(h, req, resp, url, &dl, err)) < 0)
			return r;
		if (!req->follow || !is_redirect(resp->status))
			return 0;
		if (hops == PETREL_REDIRECTS_MAX) {
			petrel_mask_url(req->url, mask, sizeof(mask));
			return petrel_fail(err, -PETREL_EMALFORMED, "%s: more than %d redirects",
					   mask,
					   PETREL_REDIRECTS_MAX);
		}
		if ((r = next_hop(resp, url, sizeof(url), err)) < 0)
			return r;
	}
}

int64_t petrel_http_take_retry_after(struct petrel_http *h)
{
	int64_t at = h->retry_at;

	h->retry_at = 0;
	return at;
}

const char *petrel_http_last_url(const struct petrel_http *h)
{
	return h->last_url;
}

void petrel_http_note_url(struct petrel_http *h, const char *url)
{
	petrel_strcpy_whole(h->last_url, url, sizeof(h->last_url));
}
