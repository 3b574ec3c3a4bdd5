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
		    const char *platform, struct petrel_err *err)
{
	int r;

	if (platform && *platform)
		r = petrel_snprintf(out, n, "%s%s?platform=%s", server, path, platform);
	else
		r = petrel_snprintf(out, n, "%s%s", server, path);
	return r < 0 ? petrel_fail(err, r, "URL too long for server %s", server) : 0;
}

/* Turns a non-200 answer into an error naming the URL and status. */
static int status_error(const struct petrel_http_resp *rs, struct petrel_err *err)
{
	char mask[PETREL_URL_MAX + 1];

	petrel_mask_url(rs->url, mask, sizeof(mask));
	if (rs->status == 404)
		return petrel_fail(err, -PETREL_ENOTFOUND, "%s: 404 Not Found", mask);
	return petrel_fail(err, -PETREL_EHTTP, "%s: HTTP status %ld", mask, rs->status);
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
			      char job[PETREL_NAME_MAX + 1], char uuid[PETREL_UUID_LEN + 1], struct petrel_err *err)
{
	struct petrel_http_req rq = { .url = url, .max_bytes = PETREL_JSON_MAX };
	struct petrel_http_resp rs;
	struct petrel_buf body;
	char mask[PETREL_URL_MAX + 1];
	int r;

	petrel_buf_init(&body, PETREL_JSON_MAX);
	rq.body = &body;
	r = petrel_http_get(h, &rq, &rs, err);
	petrel_buf_release(&body);
	if (r < 0)
		return r;
	if (rs.status < 300 || rs.status >= 400)
		return status_error(&rs, err);
	petrel_mask_url(url, mask, sizeof(mask));
	if (!rs.location[0])
		return petrel_fail(err, -PETREL_EMALFORMED, "%s: redirect %ld without Location",
				   mask,
				   rs.status);
	if (petrel_bw_parse_build_path(rs.location, want_job, job, uuid) < 0)
		return petrel_fail(err, -PETREL_EMALFORMED, "%s: unexpected Location '%.200s'",
				   mask,
				   rs.location);
	return 0;
}

static int get_json(struct petrel_http *h, const char *url, struct petrel_buf *body,
		    struct petrel_err *err);

/* GET url as JSON into *root (NULL when the 200 answer is no JSON): 0 or a code. */
static int get_json_root(struct petrel_http *h, const char *url, json_t **root,
			 struct petrel_err *err)
{
	struct petrel_buf body;
	int r;

	*root = NULL;
	petrel_buf_init(&body, PETREL_JSON_MAX);
	if ((r = get_json(h, url, &body, err)) == 0)
		*root = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
	petrel_buf_release(&body);
	return r;
}

/* How many builds the /job/J listing at url names: >= 0, or a negative code. */
static int listing_count(struct petrel_http *h, const char *url)
{
	json_t *root, *builds;
	int r;

	if ((r = get_json_root(h, url, &root, NULL)) < 0)
		return r;
	builds = json_object_get(root, "builds");
	r = json_is_array(builds) ? (int)json_array_size(builds) : -PETREL_EMALFORMED;
	json_decref(root);
	return r;
}

/* 1 when server/ answers 200 with a JSON object, as builder-web's front page does. */
static int looks_like_builder_web(struct petrel_http *h, const char *server)
{
	char url[PETREL_URL_MAX + 1];
	json_t *root = NULL;
	int yes;

	yes = petrel_snprintf(url, sizeof(url), "%s/", server) == 0 &&
	      get_json_root(h, url, &root, NULL) == 0 && json_is_object(root);
	json_decref(root);
	return yes;
}

/*
 * builder-web answers /build/latest with one 404 for an unknown job, an unknown
 * platform, a job without a successful build and a URL that is no builder-web at all.
 * Two more requests (only on this path) tell them apart; the first three are the
 * configuration's fault (-PETREL_ECONFIG), the third is the server's state.
 * err holds the 404's message, which the answer replaces.
 */
static int explain_no_latest(struct petrel_http *h, const char *server, const char *job,
			     const char *platform, struct petrel_err *err)
{
	char url[PETREL_URL_MAX + 1], shown[PETREL_URL_MAX + 1], msg[PETREL_URL_MAX + 64];
	int n;

	petrel_strcpy_whole(msg, petrel_err_msg(err, -PETREL_ENOTFOUND), sizeof(msg));
	petrel_err_reset(err);
	petrel_mask_url(server, shown, sizeof(shown));
	if (petrel_snprintf(url, sizeof(url), "%s/job/%s", server, job) < 0)
		return petrel_fail(err, -PETREL_ENOTFOUND, "%s", msg);
	n = listing_count(h, url);
	if (n == -PETREL_ENOTFOUND) {
		if (looks_like_builder_web(h, server))
			return petrel_fail(err, -PETREL_ECONFIG,
					   "%s has no job '%s' (check the target's "
					   "job)", shown, job);
		return petrel_fail(err, -PETREL_ECONFIG,
				   "%s does not answer as a builder-web server "
				   "(%s/job/%s and %s/ are not found; check the server's url)",
				   shown, shown, job, shown);
	}
	if (n == 0)
		return petrel_fail(err, -PETREL_ENOTFOUND,
				   "%s/job/%s has no build with a main binary "
				   "yet", shown, job);
	if (n > 0 && platform && *platform)
		return petrel_fail(err, -PETREL_ECONFIG, "%s/job/%s has no build on platform '%s' "
				   "(check the target's platform)", shown, job, platform);
	return petrel_fail(err, -PETREL_ENOTFOUND, "%s", msg);
}

int petrel_bw_latest(struct petrel_http *h, const char *server, const char *job,
		     const char *platform, char uuid[PETREL_UUID_LEN + 1], struct petrel_err *err)
{
	char url[PETREL_URL_MAX + 1], path[PETREL_NAME_MAX + 32], got[PETREL_NAME_MAX + 1];
	int r;

	if ((r = petrel_snprintf(path, sizeof(path), "/job/%s/build/latest", job)) < 0 ||
	    (r = make_url(url, sizeof(url), server, path, platform, err)) < 0)
		return r;
	r = get_build_redirect(h, url, job, got, uuid, err);
	return r == -PETREL_ENOTFOUND ? explain_no_latest(h, server, job, platform, err) : r;
}

int petrel_bw_hash_lookup(struct petrel_http *h, const char *server, const uint8_t sha256[32],
			  char job[PETREL_NAME_MAX + 1], char uuid[PETREL_UUID_LEN + 1], struct petrel_err *err)
{
	char url[PETREL_URL_MAX + 1], hex[65];
	int r;

	petrel_hex(sha256, 32, hex);
	if ((r = petrel_snprintf(url, sizeof(url), "%s/hash?sha256=%s", server, hex)) < 0) {
		petrel_mask_url(server, url, sizeof(url));
		return petrel_fail(err, r, "URL too long for server %s", url);
	}
	return get_build_redirect(h, url, NULL, job, uuid, err);
}

/* GET rq (its body into rq->body): 0 for a 200 answer, else the status as an error. */
static int get_body(struct petrel_http *h, const struct petrel_http_req *rq,
		    struct petrel_err *err)
{
	struct petrel_http_resp rs;
	int r;

	if ((r = petrel_http_get(h, rq, &rs, err)) < 0)
		return r;
	return rs.status == 200 ? 0 : status_error(&rs, err);
}

/* GET url with Accept: application/json; body gets the 200 answer. */
static int get_json(struct petrel_http *h, const char *url, struct petrel_buf *body,
		    struct petrel_err *err)
{
	struct petrel_http_req rq = { .url = url, .accept_json = 1, .max_bytes = PETREL_JSON_MAX,
				      .body = body };

	return get_body(h, &rq, err);
}

/* Parses a JSON object answer; where names it in messages. */
static int parse_object(const char *text, size_t len, const char *where, json_t **out,
			struct petrel_err *err)
{
	json_error_t jerr;

	*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*out && json_is_object(*out))
		return 0;
	json_decref(*out);
	*out = NULL;
	return petrel_fail(err, -PETREL_EMALFORMED, "%s: malformed JSON: %s", where,
			   *jerr.text ? jerr.text : "not an object");
}

/* A required string member of obj into out; errors name the URL and the field. */
static int json_str(json_t *obj, const char *key, char *out, size_t n, const char *mask,
		    struct petrel_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		return petrel_fail(err, -PETREL_EMALFORMED,
				   "%s: field '%s' missing or not a string", mask, key);
	if (petrel_strcpy_whole(out, json_string_value(v), n) < 0)
		return petrel_fail(err, -PETREL_EMALFORMED, "%s: field '%s' too long", mask, key);
	return 0;
}

/* Reads the main_binary object {filename, sha256, size} of one listing entry. */
static int parse_main_binary(json_t *mb, struct petrel_build *b, const char *mask,
			     struct petrel_err *err)
{
	char hex[80];
	json_t *size = json_object_get(mb, "size");
	int r;

	if (!json_is_object(mb))
		return petrel_fail(err, -PETREL_EMALFORMED, "%s: build %s has no main_binary", mask,
				   b->uuid);
	if ((r = json_str(mb, "filename", b->filename, sizeof(b->filename), mask, err)) < 0 ||
	    (r = json_str(mb, "sha256", hex, sizeof(hex), mask, err)) < 0)
		return r;
	if (!petrel_name_valid(b->filename, PETREL_FILENAME_MAX))
		return petrel_fail(err, -PETREL_EMALFORMED, "%s: unsafe filename '%.100s'", mask,
				   b->filename);
	if (petrel_unhex(hex, strlen(hex), b->sha256, 32) < 0)
		return petrel_fail(err, -PETREL_EMALFORMED,
				   "%s: sha256 '%.80s' is not 64 hex digits", mask, hex);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return petrel_fail(err, -PETREL_EMALFORMED,
				   "%s: field 'size' missing or not a size", mask);
	b->size = (uint64_t)json_integer_value(size);
	return 0;
}

/* The listing's "builds" array (borrowed from *root, which the caller frees). */
static int listing_builds(const char *text, size_t len, const char *where, json_t **root,
			  json_t **builds, struct petrel_err *err)
{
	int r;

	if ((r = parse_object(text, len, where, root, err)) < 0)
		return r;
	*builds = json_object_get(*root, "builds");
	if (json_is_array(*builds))
		return 0;
	json_decref(*root);
	*root = NULL;
	return petrel_fail(err, -PETREL_EMALFORMED, "%s: field 'builds' missing or not a list",
			   where);
}

int petrel_bw_parse_listing(const char *text, size_t len, const char *where,
			    struct petrel_build *b, struct petrel_err *err)
{
	json_t *root, *builds, *e, *entry = NULL;
	size_t i;
	int r;

	if ((r = listing_builds(text, len, where, &root, &builds, err)) < 0)
		return r;
	json_array_foreach(builds, i, e) {
		json_t *u = json_object_get(e, "uuid");

		if (json_is_string(u) && !strcasecmp(json_string_value(u), b->uuid)) {
			entry = e;
			break;
		}
	}
	if (!entry)
		r = petrel_fail(err, -PETREL_ENOTFOUND, "%s: build %s not in the job's listing",
				where,
				b->uuid);
	else
		r = parse_main_binary(json_object_get(entry, "main_binary"), b, where, err);
	json_decref(root);
	return r;
}

int petrel_bw_parse_listing_each(const char *text, size_t len, const char *where, const char *job,
				 petrel_bw_entry_fn fn, void *ctx, struct petrel_err *err)
{
	struct petrel_build b;
	json_t *root, *builds, *e;
	size_t i;
	int r;

	if ((r = listing_builds(text, len, where, &root, &builds, err)) < 0)
		return r;
	json_array_foreach(builds, i, e) {
		json_t *u = json_object_get(e, "uuid");

		memset(&b, 0, sizeof(b));
		petrel_strcpy_whole(b.job, job ? job : "", sizeof(b.job));
		if (!json_is_string(u) || petrel_strcpy_whole(b.uuid, json_string_value(u),
							   sizeof(b.uuid)) < 0 ||
		    !petrel_uuid_valid(b.uuid)) {	/* it goes into URLs and onto terminals */
			r = petrel_fail(err, -PETREL_EMALFORMED,
					"%s: an entry without a valid uuid", where);
			break;
		}
		if ((r = parse_main_binary(json_object_get(e, "main_binary"), &b, where, err)) < 0 ||
		    (r = fn(ctx, &b)) != 0)
			break;
	}
	json_decref(root);
	return r;
}

struct find_hash {
	const uint8_t *sha256;
	struct petrel_build *out;
};

static int is_hash(void *ctx, const struct petrel_build *b)
{
	struct find_hash *f = ctx;

	if (memcmp(b->sha256, f->sha256, 32))
		return 0;
	*f->out = *b;
	return 1;
}

int petrel_bw_listing_find_hash(const char *text, size_t len, const char *where,
				const uint8_t sha256[32], struct petrel_build *out, struct petrel_err *err)
{
	struct find_hash f = { sha256, out };
	int r = petrel_bw_parse_listing_each(text, len, where, out->job, is_hash, &f, err);

	return r == 1 ? 0 : r < 0 ? r : -PETREL_ENOTFOUND;
}

/* GETs path (with ?platform) from server as JSON into body; mask gets the URL as
 * messages show it. */
static int fetch_json(struct petrel_http *h, const char *server, const char *path,
		      const char *platform, struct petrel_buf *body, char mask[PETREL_URL_MAX + 1], struct petrel_err *err)
{
	char url[PETREL_URL_MAX + 1];
	int r;

	if ((r = make_url(url, sizeof(url), server, path, platform, err)) < 0)
		return r;
	petrel_mask_url(url, mask, PETREL_URL_MAX + 1);
	return get_json(h, url, body, err);
}

/*
 * builder-web lists, per distinct hash of the job's builds, the newest build anywhere
 * holding those bytes: b->uuid is absent whenever a later build (of any job, on any
 * platform) reproduced it. Its own main-binary answer names its hash and size, which
 * the job must list.
 */
static int match_by_hash(struct petrel_http *h, const char *server, const char *platform,
			 const struct petrel_buf *listing, const char *where,
			 struct petrel_build *b, struct petrel_err *err)
{
	struct petrel_bw_binary bin;
	struct petrel_build e;
	struct petrel_err miss = PETREL_ERR_INIT;
	char hex[65];
	int r;

	if ((r = petrel_bw_binary_head(h, server, b->job, b->uuid, &bin, err)) < 0)
		return r;
	memset(&e, 0, sizeof(e));
	r = petrel_bw_listing_find_hash(listing->data ? listing->data : "", listing->len, where,
					bin.sha256, &e, &miss);
	petrel_hex(bin.sha256, 32, hex);
	if (r == -PETREL_ENOTFOUND)
		return petrel_fail(err, -PETREL_EBINDING,
				   "%s: build %s holds sha256 %s, which job %s "
				   "never built%s%s (refused)", where, b->uuid, hex, b->job,
				   platform && *platform ? " on platform " : "",
				   platform && *platform ? platform : "");
	if (r < 0)
		return petrel_err_forward(err, &miss, r);
	if (bin.has_size && bin.size != e.size)
		return petrel_fail(err, -PETREL_EMALFORMED,
				   "%s: build %s's main binary has %llu bytes, "
				   "the listing says %llu for sha256 %s", where, b->uuid,
				   (unsigned long long)bin.size, (unsigned long long)e.size, hex);
	memcpy(b->sha256, bin.sha256, 32);
	b->size = e.size;
	petrel_strcpy_whole(b->filename, bin.filename, sizeof(b->filename));
	petrel_log_debug("%s: build %s is listed as %s (the same bytes)", where, b->uuid, e.uuid);
	return 0;
}

int petrel_bw_job_binary(struct petrel_http *h, const char *server, const char *platform,
			 struct petrel_build *b, struct petrel_err *err)
{
	char path[PETREL_NAME_MAX + 8], mask[PETREL_URL_MAX + 1];
	struct petrel_buf body;
	struct petrel_err unlisted = PETREL_ERR_INIT;
	int r;

	if ((r = petrel_snprintf(path, sizeof(path), "/job/%s", b->job)) < 0)
		return petrel_fail(err, r, "job name too long");
	petrel_buf_init(&body, PETREL_JSON_MAX);
	if ((r = fetch_json(h, server, path, platform, &body, mask, err)) == 0) {
		r = petrel_bw_parse_listing(body.data ? body.data : "", body.len, mask, b,
					    &unlisted);
		if (r == -PETREL_ENOTFOUND)
			r = match_by_hash(h, server, platform, &body, mask, b, err);
		else if (r < 0)
			petrel_err_forward(err, &unlisted, r);
	}
	petrel_buf_release(&body);
	return r;
}

/* builder-web's ETag is the standard Base64 of the raw sha256: 0, or -1 when it is not. */
static int etag_sha256(const char *etag, uint8_t out[32])
{
	uint8_t raw[48];
	size_t len;

	if (petrel_b64_decode(etag, strlen(etag), raw, sizeof(raw), &len) < 0 || len != 32)
		return -1;
	memcpy(out, raw, 32);
	return 0;
}

/* The file name a main-binary redirect ended at: the last segment of .../f/PATH. */
static int filename_of(const char *url, char *out, size_t n)
{
	const char *path = strstr(url, "://"), *f, *end;

	path = path ? path + 3 + strcspn(path + 3, "/") : url;
	end = path + strcspn(path, "?#");
	if (!(f = strstr(path, "/f/")) || f >= end)
		return -PETREL_EMALFORMED;
	for (const char *q = f += 3; q < end; q++)
		if (*q == '/')
			f = q + 1;
	if ((size_t)(end - f) >= n)
		return -PETREL_EMALFORMED;
	memcpy(out, f, (size_t)(end - f));
	out[end - f] = '\0';
	return petrel_name_valid(out, PETREL_FILENAME_MAX) ? 0 : -PETREL_EMALFORMED;
}

int petrel_bw_binary_head(struct petrel_http *h, const char *server, const char *job,
			  const char *uuid, struct petrel_bw_binary *out, struct petrel_err *err)
{
	struct petrel_http_req rq = { .follow = 1, .headers_only = 1 };
	struct petrel_http_resp rs;
	char url[PETREL_URL_MAX + 1], mask[PETREL_URL_MAX + 1];
	int r;

	memset(out, 0, sizeof(*out));
	if (petrel_snprintf(url, sizeof(url), "%s/job/%s/build/%s/main-binary", server, job,
			    uuid) < 0)
		return petrel_fail(err, -PETREL_ETOOBIG, "URL too long for server %s", server);
	rq.url = url;
	if ((r = petrel_http_get(h, &rq, &rs, err)) < 0)
		return r;
	petrel_mask_url(rs.url, mask, sizeof(mask));
	if (rs.status == 404)
		return petrel_fail(err, -PETREL_ENOTFOUND,
				   "%s: 404 Not Found (no build %s with a main "
				   "binary)", mask, uuid);
	if (rs.status != 200)
		return status_error(&rs, err);
	if (etag_sha256(rs.etag, out->sha256) < 0)
		return petrel_fail(err, -PETREL_EMALFORMED,
				   "%s: no ETag holding a sha256 ('%.60s'): the "
				   "build's hash cannot be learned", mask, rs.etag);
	out->has_size = rs.has_length;
	out->size = rs.content_length;
	if (filename_of(rs.url, out->filename, sizeof(out->filename)) < 0)
		return petrel_fail(err, -PETREL_EMALFORMED,
				   "%s: not a build's file URL (.../f/NAME)", mask);
	return 0;
}

/* Reads an RFC 3339 member into *t; required says whether absence is an error. */
static int json_time(json_t *obj, const char *key, int64_t *t, int required, const char *mask,
		     struct petrel_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v && !required)
		return 0;
	if (!json_is_string(v) || petrel_parse_rfc3339(json_string_value(v), t) < 0)
		return petrel_fail(err, -PETREL_EMALFORMED,
				   "%s: field '%s' missing or not an RFC 3339 time",
				   mask, key);
	return 0;
}

/* One manifest device {"name","type"} appended to b->solo5_devices as TYPE:NAME. */
static int add_device(json_t *dev, struct petrel_build *b, const char *mask, struct petrel_err *err)
{
	const char *name = json_string_value(json_object_get(dev, "name"));
	const char *type = json_string_value(json_object_get(dev, "type"));
	char kind[32];
	size_t used = strlen(b->solo5_devices);
	int n;

	if (!name || !type || !petrel_name_valid(name, PETREL_DEVICE_NAME_MAX) ||
	    !petrel_name_valid(type, sizeof(kind) - 1))
		return petrel_fail(err, -PETREL_EMALFORMED, "%s: a solo5_manifest device without a "
				   "valid name and type", mask);
	if (!strcmp(type, "NET_BASIC"))
		petrel_strcpy_whole(kind, "net", sizeof(kind));
	else if (!strcmp(type, "BLOCK_BASIC"))
		petrel_strcpy_whole(kind, "block", sizeof(kind));
	else
		for (n = 0; (kind[n] = (char)tolower((unsigned char)type[n])); n++)
			;
	n = snprintf(b->solo5_devices + used, sizeof(b->solo5_devices) - used, "%s%s:%s",
		     used ? " " : "", kind, name);
	if (n < 0 || (size_t)n >= sizeof(b->solo5_devices) - used)
		return petrel_fail(err, -PETREL_EMALFORMED,
				   "%s: solo5_manifest lists too many devices",
				   mask);
	return 0;
}

/* solo5_abi.target and solo5_manifest.devices, present for Solo5 main binaries. */
static int parse_solo5(json_t *root, struct petrel_build *b, const char *mask,
		       struct petrel_err *err)
{
	json_t *abi = json_object_get(root, "solo5_abi");
	json_t *mft = json_object_get(root, "solo5_manifest"), *devs, *d;
	const char *target;
	size_t i;
	int r;

	b->solo5_abi[0] = b->solo5_devices[0] = '\0';
	if (abi && !json_is_null(abi)) {
		target = json_string_value(json_object_get(abi, "target"));
		if (!target || petrel_strcpy_whole(b->solo5_abi, target, sizeof(b->solo5_abi)) < 0 ||
		    !petrel_name_valid(b->solo5_abi, PETREL_ABI_MAX))
			return petrel_fail(err, -PETREL_EMALFORMED,
					   "%s: field 'solo5_abi' has no valid "
					   "'target'", mask);
	}
	if (!mft || json_is_null(mft))
		return 0;
	devs = json_object_get(mft, "devices");
	if (!json_is_array(devs))
		return petrel_fail(err, -PETREL_EMALFORMED, "%s: field 'solo5_manifest' has no "
				   "'devices' list", mask);
	json_array_foreach(devs, i, d)
		if ((r = add_device(d, b, mask, err)) < 0)
			return r;
	return 0;
}

static int check_record(json_t *root, struct petrel_build *b, const char *mask,
			struct petrel_err *err)
{
	char job[PETREL_NAME_MAX + 1], uuid[PETREL_UUID_LEN + 1];
	json_t *plat = json_object_get(root, "platform");
	int r;

	if ((r = json_str(root, "job", job, sizeof(job), mask, err)) < 0 ||
	    (r = json_str(root, "uuid", uuid, sizeof(uuid), mask, err)) < 0)
		return r;
	if (strcmp(job, b->job) || strcasecmp(uuid, b->uuid))
		return petrel_fail(err, -PETREL_EMALFORMED,
				   "%s: answer describes %s/%s, asked for %s/%s",
				   mask, job, uuid, b->job, b->uuid);
	if (!json_is_true(json_object_get(root, "main_binary")))
		return petrel_fail(err, -PETREL_EMALFORMED, "%s: build has no main binary", mask);
	b->platform[0] = '\0';
	b->start_time = 0;
	if (json_is_string(plat) &&
	    (petrel_strcpy_whole(b->platform, json_string_value(plat), sizeof(b->platform)) < 0 ||
	     !petrel_name_valid(b->platform, PETREL_NAME_MAX)))
		return petrel_fail(err, -PETREL_EMALFORMED,
				   "%s: field 'platform' is not a valid name", mask);
	if ((r = json_time(root, "finish_time", &b->finish_time, 1, mask, err)) < 0 ||
	    (r = json_time(root, "start_time", &b->start_time, 0, mask, err)) < 0)
		return r;
	return parse_solo5(root, b, mask, err);
}

int petrel_bw_parse_record(const char *text, size_t len, const char *where,
			   struct petrel_build *b, struct petrel_err *err)
{
	json_t *root;
	int r;

	if ((r = parse_object(text, len, where, &root, err)) < 0)
		return r;
	r = check_record(root, b, where, err);
	json_decref(root);
	return r;
}

int petrel_bw_build_record(struct petrel_http *h, const char *server, struct petrel_build *b,
			   struct petrel_err *err)
{
	char path[PETREL_NAME_MAX + 64], mask[PETREL_URL_MAX + 1];
	struct petrel_buf body;
	int r;

	if ((r = petrel_snprintf(path, sizeof(path), "/job/%s/build/%s", b->job, b->uuid)) < 0)
		return petrel_fail(err, r, "job name too long");
	petrel_buf_init(&body, PETREL_JSON_MAX);
	if ((r = fetch_json(h, server, path, NULL, &body, mask, err)) == 0)
		r = petrel_bw_parse_record(body.data ? body.data : "", body.len, mask, b, err);
	petrel_buf_release(&body);
	return r;
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

/* Which ETags bind the bytes: builder-web's (the origin) must be the Base64 of the raw
 * SHA-256; a mirror's may be its own kind (nginx's "mtime-size"), and binds only when
 * it has that form. Checked before the body is read. */
struct etag_rule {
	const struct petrel_build *b;
	int strict;
};

static int check_etag(void *ctx, const struct petrel_http_resp *rs, struct petrel_err *err)
{
	const struct etag_rule *rule = ctx;
	char want[45], mask[PETREL_URL_MAX + 1];
	uint8_t got[32];
	int is_sha;

	if (!rs->etag[0])
		return 0;
	is_sha = etag_sha256(rs->etag, got) == 0;
	if ((is_sha && !memcmp(got, rule->b->sha256, 32)) || (!is_sha && !rule->strict))
		return 0;
	petrel_b64_encode(rule->b->sha256, 32, want);
	petrel_mask_url(rs->url, mask, sizeof(mask));
	return petrel_fail(err, -PETREL_EHASH,
			   "%s: ETag '%.60s' does not match the expected sha256 (%s)",
			   mask, rs->etag, want);
}

/* One GET of b's bytes (all, or from got->from on) into sink; got says what came. */
static int download(struct petrel_http *h, const char *url, const struct petrel_build *b,
		    int strict, petrel_http_sink sink, void *ctx, struct petrel_bw_got *got,
		    struct petrel_err *err)
{
	struct etag_rule rule = { b, strict };
	uint64_t rest = b->size - got->from;
	struct petrel_http_req rq = { .url = url, .follow = 1, .max_bytes = rest,
				      .check_size = 1, .expected_size = rest,
				      .on_headers = check_etag, .headers_ctx = &rule,
				      .sink = sink, .sink_ctx = ctx };
	struct petrel_http_resp rs = { 0 };	/* read below also when no answer came */
	char mask[PETREL_URL_MAX + 1];
	int r;

	if (got->from) {
		rq.range_from = got->from;
		rq.range_total = b->size;
	}
	r = petrel_http_get(h, &rq, &rs, err);
	/* what the last answer was, also when it broke off part way */
	if (rs.url[0])
		petrel_strcpy_whole(got->url, rs.url, sizeof(got->url));
	got->accept_ranges = rs.accept_ranges;
	if (r < 0)
		return r;
	petrel_mask_url(rs.url, mask, sizeof(mask));
	if (rs.status != (got->from ? 206 : 200))
		return status_error(&rs, err);
	if (rs.received != rest)
		return petrel_fail(err, -PETREL_ESIZE, "%s: got %llu bytes, expected %llu", mask,
				   (unsigned long long)rs.received, (unsigned long long)rest);
	return 0;
}

int petrel_bw_download(struct petrel_http *h, const char *server, const struct petrel_build *b,
		       petrel_http_sink sink, void *ctx, struct petrel_bw_got *got,
		       struct petrel_err *err)
{
	char url[PETREL_URL_MAX + 1];
	int r;

	got->from = 0;
	if ((r = petrel_bw_binary_url(server, b, url, sizeof(url))) < 0)
		return petrel_fail(err, r, "URL too long for server %s", server);
	petrel_strcpy_whole(got->url, url, sizeof(got->url));
	return download(h, url, b, 1, sink, ctx, got, err);
}

int petrel_bw_download_copy(struct petrel_http *h, const char *url,
			    const struct petrel_build *b, int strict, petrel_http_sink sink,
			    void *ctx, struct petrel_bw_got *got, struct petrel_err *err)
{
	char mask[PETREL_URL_MAX + 1];

	if (got->from >= b->size) {
		petrel_mask_url(url, mask, sizeof(mask));
		return petrel_fail(err, -PETREL_ESIZE, "%s: nothing left to resume at byte %llu",
				   mask, (unsigned long long)got->from);
	}
	petrel_strcpy_whole(got->url, url, sizeof(got->url));	/* url is not got->url */
	return download(h, url, b, strict, sink, ctx, got, err);
}

int petrel_fetch_small(struct petrel_http *h, const char *url, struct petrel_buf *body,
		       struct petrel_err *err)
{
	struct petrel_http_req rq = { .url = url, .follow = 1, .max_bytes = PETREL_SIG_FILE_MAX,
				      .body = body };

	return get_body(h, &rq, err);
}

int petrel_bw_job_listing(struct petrel_http *h, const char *server, const char *job,
			  const char *platform, petrel_bw_entry_fn fn, void *ctx,
			  struct petrel_err *err)
{
	char path[PETREL_NAME_MAX + 8], mask[PETREL_URL_MAX + 1];
	struct petrel_buf body;
	int r;

	if ((r = petrel_snprintf(path, sizeof(path), "/job/%s", job)) < 0)
		return petrel_fail(err, r, "job name too long");
	petrel_buf_init(&body, PETREL_JSON_MAX);
	if ((r = fetch_json(h, server, path, platform, &body, mask, err)) == 0)
		r = petrel_bw_parse_listing_each(body.data ? body.data : "", body.len, mask, job,
						 fn, ctx, err);
	petrel_buf_release(&body);
	return r;
}
