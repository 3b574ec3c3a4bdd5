/* builder-web client: latest redirect, job listing, build record, download, /hash. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "builderweb.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"

/* server + path + optional ?platform=P into out. */
static int make_url(char *out, size_t n, const char *server, const char *path,
		    const char *platform)
{
	int r;

	if (platform && *platform)
		r = petrel_snprintf(out, n, "%s%s?platform=%s", server, path, platform);
	else
		r = petrel_snprintf(out, n, "%s%s", server, path);
	return r < 0 ? petrel_fail(r, "URL too long for server %s", server) : 0;
}

/* Turns a non-200 answer into an error naming the URL and status. */
static int status_error(const struct petrel_http_resp *rs)
{
	char mask[PETREL_URL_MAX + 1];

	petrel_mask_url(rs->url, mask, sizeof(mask));
	if (rs->status == 404)
		return petrel_fail(-PETREL_ENOTFOUND, "%s: 404 Not Found", mask);
	return petrel_fail(-PETREL_EHTTP, "%s: HTTP status %ld", mask, rs->status);
}

int petrel_bw_parse_build_path(const char *loc, const char *want_job, char job[PETREL_NAME_MAX + 1],
			    char uuid[PETREL_UUID_LEN + 1])
{
	const char *p = loc, *slash;
	size_t len;

	if (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0) {
		const char *host = strstr(p, "://") + 3;

		p = host + strcspn(host, "/?#");
		if (*p != '/')	/* a path hidden in a query or fragment is no path */
			return -PETREL_EMALFORMED;
	}
	if (strncmp(p, "/job/", 5))
		return -PETREL_EMALFORMED;
	p += 5;
	slash = strchr(p, '/');
	if (!slash || (size_t)(slash - p) > PETREL_NAME_MAX || strncmp(slash, "/build/", 7))
		return -PETREL_EMALFORMED;
	memcpy(job, p, (size_t)(slash - p));
	job[slash - p] = '\0';
	if (!petrel_name_valid(job, PETREL_NAME_MAX) || (want_job && strcmp(job, want_job)))
		return -PETREL_EMALFORMED;
	p = slash + 7;
	len = strlen(p);
	if (len == PETREL_UUID_LEN + 1 && p[PETREL_UUID_LEN] == '/')
		len--;
	if (len != PETREL_UUID_LEN)
		return -PETREL_EMALFORMED;
	for (size_t i = 0; i < PETREL_UUID_LEN; i++)	/* stored lowercase, as builder-web's */
		uuid[i] = (char)tolower((unsigned char)p[i]);
	uuid[PETREL_UUID_LEN] = '\0';
	return petrel_uuid_valid(uuid) ? 0 : -PETREL_EMALFORMED;
}

/* GET url (no redirects), returning the build a 3xx Location names. */
static int get_build_redirect(struct petrel_http *h, const char *url, const char *want_job,
			      char job[PETREL_NAME_MAX + 1], char uuid[PETREL_UUID_LEN + 1])
{
	struct petrel_http_req rq = { .url = url, .max_bytes = PETREL_JSON_MAX };
	struct petrel_http_resp rs;
	struct petrel_buf body;
	char mask[PETREL_URL_MAX + 1];
	int r;

	petrel_buf_init(&body, PETREL_JSON_MAX);
	rq.body = &body;
	r = petrel_http_get(h, &rq, &rs);
	petrel_buf_release(&body);
	if (r < 0)
		return r;
	if (rs.status < 300 || rs.status >= 400)
		return status_error(&rs);
	petrel_mask_url(url, mask, sizeof(mask));
	if (!rs.location[0])
		return petrel_fail(-PETREL_EMALFORMED, "%s: redirect %ld without Location", mask,
				   rs.status);
	if (petrel_bw_parse_build_path(rs.location, want_job, job, uuid) < 0)
		return petrel_fail(-PETREL_EMALFORMED, "%s: unexpected Location '%.200s'", mask,
				   rs.location);
	return 0;
}

int petrel_bw_latest(struct petrel_http *h, const char *server, const char *job,
		     const char *platform, char uuid[PETREL_UUID_LEN + 1])
{
	char url[PETREL_URL_MAX + 1], path[PETREL_NAME_MAX + 32], got[PETREL_NAME_MAX + 1];
	int r;

	if ((r = petrel_snprintf(path, sizeof(path), "/job/%s/build/latest", job)) < 0 ||
	    (r = make_url(url, sizeof(url), server, path, platform)) < 0)
		return r;
	return get_build_redirect(h, url, job, got, uuid);
}

int petrel_bw_hash_lookup(struct petrel_http *h, const char *server, const uint8_t sha256[32],
			  char job[PETREL_NAME_MAX + 1], char uuid[PETREL_UUID_LEN + 1])
{
	char url[PETREL_URL_MAX + 1], hex[65];
	int r;

	petrel_hex(sha256, 32, hex);
	if ((r = petrel_snprintf(url, sizeof(url), "%s/hash?sha256=%s", server, hex)) < 0) {
		petrel_mask_url(server, url, sizeof(url));
		return petrel_fail(r, "URL too long for server %s", url);
	}
	return get_build_redirect(h, url, NULL, job, uuid);
}

/* GET url with Accept: application/json; body gets the 200 answer. */
static int get_json(struct petrel_http *h, const char *url, struct petrel_buf *body)
{
	struct petrel_http_req rq = { .url = url, .accept_json = 1, .max_bytes = PETREL_JSON_MAX,
				      .body = body };
	struct petrel_http_resp rs;
	int r;

	if ((r = petrel_http_get(h, &rq, &rs)) < 0)
		return r;
	return rs.status == 200 ? 0 : status_error(&rs);
}

/* Parses a JSON object answer; where names it in messages. */
static int parse_object(const char *text, size_t len, const char *where, json_t **out)
{
	json_error_t jerr;

	*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*out && json_is_object(*out))
		return 0;
	json_decref(*out);
	*out = NULL;
	return petrel_fail(-PETREL_EMALFORMED, "%s: malformed JSON: %s", where,
			   *jerr.text ? jerr.text : "not an object");
}

/* A required string member of obj into out; errors name the URL and the field. */
static int json_str(json_t *obj, const char *key, char *out, size_t n, const char *mask)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		return petrel_fail(-PETREL_EMALFORMED, "%s: field '%s' missing or not a string", mask, key);
	if (petrel_strlcpy(out, json_string_value(v), n) < 0)
		return petrel_fail(-PETREL_EMALFORMED, "%s: field '%s' too long", mask, key);
	return 0;
}

/* Reads the main_binary object {filename, sha256, size} of one listing entry. */
static int parse_main_binary(json_t *mb, struct petrel_build *b, const char *mask)
{
	char hex[80];
	json_t *size = json_object_get(mb, "size");
	int r;

	if (!json_is_object(mb))
		return petrel_fail(-PETREL_EMALFORMED, "%s: build %s has no main_binary", mask, b->uuid);
	if ((r = json_str(mb, "filename", b->filename, sizeof(b->filename), mask)) < 0 ||
	    (r = json_str(mb, "sha256", hex, sizeof(hex), mask)) < 0)
		return r;
	if (!petrel_name_valid(b->filename, PETREL_FILENAME_MAX))
		return petrel_fail(-PETREL_EMALFORMED, "%s: unsafe filename '%.100s'", mask, b->filename);
	if (petrel_unhex(hex, strlen(hex), b->sha256, 32) < 0)
		return petrel_fail(-PETREL_EMALFORMED, "%s: sha256 '%.80s' is not 64 hex digits", mask, hex);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return petrel_fail(-PETREL_EMALFORMED, "%s: field 'size' missing or not a size", mask);
	b->size = (uint64_t)json_integer_value(size);
	return 0;
}

int petrel_bw_parse_listing(const char *text, size_t len, const char *where,
			    struct petrel_build *b)
{
	json_t *root, *builds, *e, *entry = NULL;
	size_t i;
	int r;

	if ((r = parse_object(text, len, where, &root)) < 0)
		return r;
	builds = json_object_get(root, "builds");
	json_array_foreach(builds, i, e) {
		json_t *u = json_object_get(e, "uuid");

		if (json_is_string(u) && !strcasecmp(json_string_value(u), b->uuid)) {
			entry = e;
			break;
		}
	}
	if (!json_is_array(builds))
		r = petrel_fail(-PETREL_EMALFORMED, "%s: field 'builds' missing or not a list", where);
	else if (!entry)
		r = petrel_fail(-PETREL_EMALFORMED, "%s: build %s not in the job's listing", where,
				b->uuid);
	else
		r = parse_main_binary(json_object_get(entry, "main_binary"), b, where);
	json_decref(root);
	return r;
}

/* GETs path (with ?platform) from server as JSON and hands it to parse. */
static int fetch_and_parse(struct petrel_http *h, const char *server, const char *path,
			   const char *platform, struct petrel_build *b,
			   int (*parse)(const char *, size_t, const char *, struct petrel_build *))
{
	char url[PETREL_URL_MAX + 1], mask[PETREL_URL_MAX + 1];
	struct petrel_buf body;
	int r;

	if ((r = make_url(url, sizeof(url), server, path, platform)) < 0)
		return r;
	petrel_mask_url(url, mask, sizeof(mask));
	petrel_buf_init(&body, PETREL_JSON_MAX);
	if ((r = get_json(h, url, &body)) == 0)
		r = parse(body.data ? body.data : "", body.len, mask, b);
	petrel_buf_release(&body);
	return r;
}

int petrel_bw_job_binary(struct petrel_http *h, const char *server, const char *platform,
			 struct petrel_build *b)
{
	char path[PETREL_NAME_MAX + 8];
	int r;

	if ((r = petrel_snprintf(path, sizeof(path), "/job/%s", b->job)) < 0)
		return petrel_fail(r, "job name too long");
	return fetch_and_parse(h, server, path, platform, b, petrel_bw_parse_listing);
}

/* Reads an RFC 3339 member into *t; required says whether absence is an error. */
static int json_time(json_t *obj, const char *key, int64_t *t, int required, const char *mask)
{
	json_t *v = json_object_get(obj, key);

	if (!v && !required)
		return 0;
	if (!json_is_string(v) || petrel_parse_rfc3339(json_string_value(v), t) < 0)
		return petrel_fail(-PETREL_EMALFORMED, "%s: field '%s' missing or not an RFC 3339 time",
				   mask, key);
	return 0;
}

static int check_record(json_t *root, struct petrel_build *b, const char *mask)
{
	char job[PETREL_NAME_MAX + 1], uuid[PETREL_UUID_LEN + 1];
	json_t *plat = json_object_get(root, "platform");
	int r;

	if ((r = json_str(root, "job", job, sizeof(job), mask)) < 0 ||
	    (r = json_str(root, "uuid", uuid, sizeof(uuid), mask)) < 0)
		return r;
	if (strcmp(job, b->job) || strcasecmp(uuid, b->uuid))
		return petrel_fail(-PETREL_EMALFORMED, "%s: answer describes %s/%s, asked for %s/%s",
				   mask, job, uuid, b->job, b->uuid);
	if (!json_is_true(json_object_get(root, "main_binary")))
		return petrel_fail(-PETREL_EMALFORMED, "%s: build has no main binary", mask);
	b->platform[0] = '\0';
	b->start_time = 0;
	if (json_is_string(plat) &&
	    (petrel_strlcpy(b->platform, json_string_value(plat), sizeof(b->platform)) < 0 ||
	     !petrel_name_valid(b->platform, PETREL_NAME_MAX)))
		return petrel_fail(-PETREL_EMALFORMED, "%s: field 'platform' is not a valid name", mask);
	if ((r = json_time(root, "finish_time", &b->finish_time, 1, mask)) < 0 ||
	    (r = json_time(root, "start_time", &b->start_time, 0, mask)) < 0)
		return r;
	return 0;
}

int petrel_bw_parse_record(const char *text, size_t len, const char *where,
			   struct petrel_build *b)
{
	json_t *root;
	int r;

	if ((r = parse_object(text, len, where, &root)) < 0)
		return r;
	r = check_record(root, b, where);
	json_decref(root);
	return r;
}

int petrel_bw_build_record(struct petrel_http *h, const char *server, struct petrel_build *b)
{
	char path[PETREL_NAME_MAX + 64];
	int r;

	if ((r = petrel_snprintf(path, sizeof(path), "/job/%s/build/%s", b->job, b->uuid)) < 0)
		return petrel_fail(r, "job name too long");
	return fetch_and_parse(h, server, path, NULL, b, petrel_bw_parse_record);
}

int petrel_bw_binary_url(const char *server, const struct petrel_build *b, char *out, size_t n)
{
	return petrel_snprintf(out, n, "%s/job/%s/build/%s/main-binary", server, b->job, b->uuid);
}

int petrel_bw_file_url(const char *server, const struct petrel_build *b, char *out, size_t n)
{
	return petrel_snprintf(out, n, "%s/job/%s/build/%s/f/bin/%s", server, b->job, b->uuid,
			       b->filename);
}

/* An ETag, when present, is the Base64 of the raw SHA-256 and must agree; checked
 * before the body is read. */
static int check_etag(void *ctx, const struct petrel_http_resp *rs)
{
	const struct petrel_build *b = ctx;
	char want[45], mask[PETREL_URL_MAX + 1];
	uint8_t raw[48];
	size_t len;

	if (!rs->etag[0])
		return 0;
	if (petrel_b64_decode(rs->etag, strlen(rs->etag), raw, sizeof(raw), &len) == 0 &&
	    len == 32 && !memcmp(raw, b->sha256, 32))
		return 0;
	petrel_b64_encode(b->sha256, 32, want);
	petrel_mask_url(rs->url, mask, sizeof(mask));
	return petrel_fail(-PETREL_EHASH, "%s: ETag '%.60s' does not match the expected sha256 (%s)",
			   mask, rs->etag, want);
}

int petrel_bw_download(struct petrel_http *h, const char *server, const struct petrel_build *b,
		       petrel_http_sink sink, void *ctx, char *final_url, size_t n)
{
	struct petrel_http_req rq = { .follow = 1, .max_bytes = b->size, .check_size = 1,
				      .expected_size = b->size, .on_headers = check_etag,
				      .headers_ctx = (void *)b, .sink = sink, .sink_ctx = ctx };
	struct petrel_http_resp rs;
	char url[PETREL_URL_MAX + 1], mask[PETREL_URL_MAX + 1];
	int r;

	if ((r = petrel_bw_binary_url(server, b, url, sizeof(url))) < 0)
		return petrel_fail(r, "URL too long for server %s", server);
	rq.url = url;
	if ((r = petrel_http_get(h, &rq, &rs)) < 0)
		return r;
	petrel_mask_url(rs.url, mask, sizeof(mask));
	if (rs.status != 200)
		return status_error(&rs);
	if (rs.received != b->size)
		return petrel_fail(-PETREL_ESIZE, "%s: got %llu bytes, expected %llu", mask,
				   (unsigned long long)rs.received, (unsigned long long)b->size);
	return petrel_strlcpy(final_url, rs.url, n);
}

int petrel_fetch_small(struct petrel_http *h, const char *url, struct petrel_buf *body)
{
	struct petrel_http_req rq = { .url = url, .follow = 1, .max_bytes = PETREL_SIG_FILE_MAX,
				      .body = body };
	struct petrel_http_resp rs;
	int r;

	if ((r = petrel_http_get(h, &rq, &rs)) < 0)
		return r;
	if (rs.status != 200)
		return status_error(&rs);
	return 0;
}
