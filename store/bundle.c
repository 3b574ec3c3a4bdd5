/* Bundles through libarchive: the reader that trusts no entry, and the writer. */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "common/util.h"

#define CHUNK 65536

void petrel_bundle_init(struct petrel_bundle *b)
{
	memset(b, 0, sizeof(*b));
}

void petrel_bundle_release(struct petrel_bundle *b)
{
	for (size_t i = 0; b->versions && i < b->nversions; i++)
		for (size_t k = 0; k < b->versions[i].nsigs; k++)
			free(b->versions[i].sigs[k].text);
	free(b->versions);
	petrel_bundle_init(b);
}

/* ------------------------------------------------------------------ the reader */

struct reader {
	struct archive *a;
	const char *name;		/* the bundle, for messages */
	const struct petrel_bundle_sink *sink;
	struct petrel_bundle *b;
	size_t nentries;
	char *seen[PETREL_BUNDLE_ENTRIES_MAX];	/* names so far, owned */
	char entry[4 * PETREL_BUNDLE_PATH_MAX + 1];	/* the current one, escaped */
};

/* Every refusal: "BUNDLE: ENTRY: why". */
static int __attribute__((format(printf, 3, 4)))
refuse(struct reader *rd, struct petrel_err *err, const char *fmt, ...)
{
	char why[PETREL_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return petrel_fail(err, -PETREL_EBUNDLE, "%s: %s: %s", rd->name, rd->entry, why);
}

/* Unpacked bytes so far against the named limits: total, and the ratio to the packed
 * bytes read (a decompression bomb). */
static int check_bomb(struct reader *rd, struct petrel_err *err)
{
	int64_t out = archive_filter_bytes(rd->a, 0), in = archive_filter_bytes(rd->a, -1);

	if (out > PETREL_BUNDLE_TOTAL_MAX)
		return refuse(rd, err, "more than %" PRId64 " bytes unpacked "
			      "(PETREL_BUNDLE_TOTAL_MAX)", PETREL_BUNDLE_TOTAL_MAX);
	if (out >= PETREL_BUNDLE_RATIO_FLOOR && in > 0 && out / in > PETREL_BUNDLE_RATIO_MAX)
		return refuse(rd, err, "decompression bomb: %" PRId64 " bytes unpacked from %"
			      PRId64 ", more than %d to 1 (PETREL_BUNDLE_RATIO_MAX)", out, in,
			      PETREL_BUNDLE_RATIO_MAX);
	return 0;
}

/* Reads the entry's data, at most limit bytes, handing each piece to fn. */
typedef int (*piece_fn)(struct reader *rd, void *ctx, const void *p, size_t n,
			struct petrel_err *err);
static int read_data(struct reader *rd, uint64_t limit, piece_fn fn, void *ctx,
		     struct petrel_err *err)
{
	static char buf[CHUNK];	/* one reader at a time; not reentrant */
	uint64_t got = 0;
	la_ssize_t k;
	int r;

	while ((k = archive_read_data(rd->a, buf, sizeof(buf))) > 0) {
		got += (uint64_t)k;
		if (got > limit)
			return refuse(rd, err, "more than the %" PRIu64 " bytes it announced",
				      limit);
		if ((r = check_bomb(rd, err)) < 0 || (r = fn(rd, ctx, buf, (size_t)k, err)) < 0)
			return r;
	}
	if (k < 0)
		return refuse(rd, err, "truncated or unreadable: %s",
			      archive_error_string(rd->a) ?: "read error");
	if (got != limit)
		return refuse(rd, err, "%" PRIu64 " bytes, %" PRIu64 " announced", got, limit);
	return 0;
}

struct text {
	char *p;
	size_t n;
};

static int to_text(struct reader *rd, void *ctx, const void *p, size_t n,
		   struct petrel_err *err)
{
	struct text *t = ctx;

	(void)rd, (void)err;
	memcpy(t->p + t->n, p, n);	/* read_data never passes the size allocated */
	t->n += n;
	return 0;
}

/* The entry's whole data (declared size, at most max) as a NUL-terminated string. */
static int read_text(struct reader *rd, int64_t size, size_t max, struct text *out,
		     struct petrel_err *err)
{
	int r;

	if (size > (int64_t)max)
		return refuse(rd, err, "%" PRId64 " bytes, more than %zu", size, max);
	if (!(out->p = malloc((size_t)size + 1)))
		return petrel_fail(err, -ENOMEM, "%s: out of memory", rd->name);
	out->n = 0;
	if ((r = read_data(rd, (uint64_t)size, to_text, out, err)) < 0) {
		free(out->p);
		out->p = NULL;
		return r;
	}
	out->p[out->n] = '\0';
	if (strlen(out->p) != out->n) {
		free(out->p);
		out->p = NULL;
		return refuse(rd, err, "a NUL byte in a text entry");
	}
	return 0;
}

/* ---- JSON fields */

static int json_str(struct reader *rd, json_t *o, const char *key, int need, char *dst,
		    size_t n, struct petrel_err *err)
{
	json_t *v = json_object_get(o, key);

	dst[0] = '\0';
	if (!v && !need)
		return 0;
	if (!json_is_string(v))
		return refuse(rd, err, "\"%s\" missing or not a string", key);
	if (petrel_strcpy_whole(dst, json_string_value(v), n) < 0 ||
	    strlen(dst) != json_string_length(v))
		return refuse(rd, err, "\"%s\" longer than %zu bytes", key, n - 1);
	if (!petrel_text_is_safe(dst))
		return refuse(rd, err, "\"%s\" holds control characters", key);
	return 0;
}

static int json_int(struct reader *rd, json_t *o, const char *key, int need, int64_t *dst,
		    struct petrel_err *err)
{
	json_t *v = json_object_get(o, key);

	*dst = 0;
	if (!v && !need)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return refuse(rd, err, "\"%s\" missing or not a non-negative integer", key);
	*dst = json_integer_value(v);
	return 0;
}

/* A JSON entry's text as an object (duplicate keys refused). */
static int json_parse(struct reader *rd, const struct text *t, json_t **out,
		      struct petrel_err *err)
{
	json_error_t je;

	*out = json_loadb(t->p, t->n, JSON_REJECT_DUPLICATES, &je);
	if (!*out)
		return refuse(rd, err, "malformed JSON: %s (line %d)", je.text, je.line);
	if (!json_is_object(*out)) {
		json_decref(*out);
		return refuse(rd, err, "not a JSON object");
	}
	return 0;
}

/* job, uuid, sha256 and size of one version (manifest or meta.json) into b. */
static int build_ids(struct reader *rd, json_t *o, struct petrel_build *b, struct petrel_err *err)
{
	char hex[65];
	int64_t size;
	int r;

	if ((r = json_str(rd, o, "job", 1, b->job, sizeof(b->job), err)) < 0 ||
	    (r = json_str(rd, o, "uuid", 1, b->uuid, sizeof(b->uuid), err)) < 0 ||
	    (r = json_str(rd, o, "sha256", 1, hex, sizeof(hex), err)) < 0 ||
	    (r = json_int(rd, o, "size", 1, &size, err)) < 0)
		return r;
	if (!petrel_name_valid(b->job, PETREL_NAME_MAX))
		return refuse(rd, err, "job '%s' is not a job name", b->job);
	if (!petrel_uuid_valid(b->uuid))
		return refuse(rd, err, "'%s' is not a build uuid", b->uuid);
	for (char *c = b->uuid; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (strlen(hex) != 64 || petrel_unhex(hex, 64, b->sha256, 32) < 0)
		return refuse(rd, err, "sha256 '%s' is not 64 hex digits", hex);
	b->size = (uint64_t)size;
	if (rd->sink->max_blob && b->size > rd->sink->max_blob)
		return refuse(rd, err, "build %s announces %" PRIu64 " bytes, more than "
			      "max_artifact_size (%" PRIu64 ")", b->uuid, b->size,
			      rd->sink->max_blob);
	return 0;
}

static int manifest_versions(struct reader *rd, json_t *list, uint64_t *total,
			     struct petrel_err *err)
{
	size_t n = json_array_size(list);
	int r;

	if (!json_is_array(list) || n == 0)
		return refuse(rd, err, "\"versions\" missing, empty or not a list");
	if (n > PETREL_BUNDLE_VERSIONS_MAX)
		return refuse(rd, err, "%zu versions, more than %d (PETREL_BUNDLE_VERSIONS_MAX)",
			      n, PETREL_BUNDLE_VERSIONS_MAX);
	if (!(rd->b->versions = calloc(n, sizeof(*rd->b->versions))))
		return petrel_fail(err, -ENOMEM, "%s: out of memory", rd->name);
	*total = 0;
	for (size_t i = 0; i < n; i++) {
		struct petrel_build *b = &rd->b->versions[i].build;
		json_t *o = json_array_get(list, i);

		if (!json_is_object(o))
			return refuse(rd, err, "versions[%zu] is not an object", i);
		if ((r = build_ids(rd, o, b, err)) < 0)
			return r;
		rd->b->nversions = i + 1;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(rd->b->versions[k].build.uuid, b->uuid))
				return refuse(rd, err, "build %s listed twice", b->uuid);
		*total += b->size;
	}
	return 0;
}

static int manifest(struct reader *rd, int64_t size, struct petrel_err *err)
{
	struct text t;
	json_t *j = NULL;
	char format[32];
	int64_t version;
	uint64_t total = 0;
	int r;

	if ((r = read_text(rd, size, PETREL_BUNDLE_JSON_MAX, &t, err)) < 0)
		return r;
	if ((r = json_parse(rd, &t, &j, err)) < 0 ||
	    (r = json_str(rd, j, "format", 1, format, sizeof(format), err)) < 0 ||
	    (r = json_int(rd, j, "version", 1, &version, err)) < 0)
		goto out;
	if (strcmp(format, "petrel-bundle")) {
		r = refuse(rd, err, "format '%s', not petrel-bundle", format);
		goto out;
	}
	if (version != PETREL_BUNDLE_VERSION) {
		r = refuse(rd, err, "format version %" PRId64 "; this petrel reads %d", version,
			   PETREL_BUNDLE_VERSION);
		goto out;
	}
	if ((r = json_int(rd, j, "created", 0, &rd->b->created, err)) < 0 ||
	    (r = manifest_versions(rd, json_object_get(j, "versions"), &total, err)) < 0)
		goto out;
	if (rd->sink->manifest)
		r = rd->sink->manifest(rd->sink->ctx, rd->b, total, err);
out:
	json_decref(j);
	free(t.p);
	return r;
}

/* meta.json's trust object: the exporter's evidence, kept for showing. */
static int meta_trust(struct reader *rd, json_t *o, struct petrel_bundle_version *v,
		      struct petrel_err *err)
{
	int r;

	if (!o)
		return 0;
	if (!json_is_object(o))
		return refuse(rd, err, "\"trust\" is not an object");
	if ((r = json_str(rd, o, "mode", 0, v->trust, sizeof(v->trust), err)) < 0 ||
	    (r = json_str(rd, o, "keys", 0, v->keyids, sizeof(v->keyids), err)) < 0 ||
	    (r = json_str(rd, o, "rebuilders", 0, v->rebuilders, sizeof(v->rebuilders), err)) < 0)
		return r;
	return json_int(rd, o, "timestamp", 0, &v->timestamp, err);
}

/* meta.json's fields against the manifest's line for the same uuid. */
static int meta_fields(struct reader *rd, json_t *j, struct petrel_bundle_version *v,
		       struct petrel_err *err)
{
	struct petrel_build m, *b = &v->build;
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = build_ids(rd, j, &m, err)) < 0)
		return r;
	if (strcmp(m.uuid, b->uuid) || strcmp(m.job, b->job) || m.size != b->size ||
	    memcmp(m.sha256, b->sha256, 32))
		return refuse(rd, err, "job, uuid, sha256 or size differ from petrel-bundle.json");
	if ((r = json_str(rd, j, "platform", 0, b->platform, sizeof(b->platform), err)) < 0 ||
	    (r = json_str(rd, j, "filename", 1, b->filename, sizeof(b->filename), err)) < 0 ||
	    (r = json_int(rd, j, "start_time", 0, &b->start_time, err)) < 0 ||
	    (r = json_int(rd, j, "finish_time", 0, &b->finish_time, err)) < 0 ||
	    (r = json_str(rd, j, "solo5_abi", 0, b->solo5_abi, sizeof(b->solo5_abi), err)) < 0 ||
	    (r = json_str(rd, j, "solo5_devices", 0, b->solo5_devices,
			  sizeof(b->solo5_devices), err)) < 0)
		return r;
	if (!petrel_name_valid(b->filename, PETREL_FILENAME_MAX))
		return refuse(rd, err, "filename '%s' is not a file name", b->filename);
	if (b->platform[0] && !petrel_name_valid(b->platform, PETREL_NAME_MAX))
		return refuse(rd, err, "platform '%s' is not a platform name", b->platform);
	return meta_trust(rd, json_object_get(j, "trust"), v, err);
}

static int meta(struct reader *rd, struct petrel_bundle_version *v, int64_t size,
		struct petrel_err *err)
{
	struct text t;
	json_t *j = NULL;
	int r;

	if ((r = read_text(rd, size, PETREL_BUNDLE_JSON_MAX, &t, err)) < 0)
		return r;
	if ((r = json_parse(rd, &t, &j, err)) == 0 && (r = meta_fields(rd, j, v, err)) == 0)
		v->have_meta = 1;
	json_decref(j);
	free(t.p);
	return r;
}

static int sig(struct reader *rd, struct petrel_bundle_version *v, const char *name,
	       int64_t size, struct petrel_err *err)
{
	struct petrel_bundle_sig *s;
	struct text t;
	int r;

	if (v->nsigs == PETREL_BUNDLE_SIGS_MAX)
		return refuse(rd, err, "more than %d signatures for build %s "
			      "(PETREL_BUNDLE_SIGS_MAX)", PETREL_BUNDLE_SIGS_MAX, v->build.uuid);
	if ((r = read_text(rd, size, PETREL_BUNDLE_SIG_MAX, &t, err)) < 0)
		return r;
	s = &v->sigs[v->nsigs++];
	petrel_strcpy_whole(s->name, name, sizeof(s->name));
	s->text = t.p;
	s->len = t.n;
	return 0;
}

struct blob_ctx {
	size_t i;
};

static int to_sink(struct reader *rd, void *ctx, const void *p, size_t n,
		   struct petrel_err *err)
{
	const struct blob_ctx *bc = ctx;

	return rd->sink->write ? rd->sink->write(rd->sink->ctx, bc->i, p, n, err) : 0;
}

static int blob(struct reader *rd, size_t i, int64_t size, struct petrel_err *err)
{
	struct petrel_bundle_version *v = &rd->b->versions[i];
	struct blob_ctx bc = { i };
	int r;

	if ((uint64_t)size != v->build.size)
		return refuse(rd, err, "%" PRId64 " bytes, but meta.json says %" PRIu64, size,
			      v->build.size);
	if (rd->sink->begin && (r = rd->sink->begin(rd->sink->ctx, i, v, err)) < 0)
		return r;
	if ((r = read_data(rd, v->build.size, to_sink, &bc, err)) < 0)
		return r;
	v->have_blob = 1;
	return 0;
}

/* ---- names */

/* A name the format can hold: relative, no empty, "." or ".." component. */
static int name_check(struct reader *rd, const char *path, struct petrel_err *err)
{
	const char *p = path;

	if (strlen(path) > PETREL_BUNDLE_PATH_MAX)
		return refuse(rd, err, "name longer than %d bytes (PETREL_BUNDLE_PATH_MAX)",
			      PETREL_BUNDLE_PATH_MAX);
	if (path[0] == '/')
		return refuse(rd, err, "absolute path");
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && !strncmp(p, "..", 2))
			return refuse(rd, err, "'..' in the path");
		if (n == 0 || (n == 1 && p[0] == '.'))
			return refuse(rd, err, "not a plain name (empty or '.' component)");
		p += n + (p[n] == '/');
	}
	return 0;
}

/* Only regular files: links, devices, FIFOs, directories, sparse files are refused. */
static int type_check(struct reader *rd, struct archive_entry *ae, struct petrel_err *err)
{
	char to[4 * PETREL_BUNDLE_PATH_MAX + 1];

	if (archive_entry_hardlink(ae)) {
		petrel_text_safe(archive_entry_hardlink(ae), to, sizeof(to));
		return refuse(rd, err, "a hard link (to %s)", to);
	}
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG:
		break;
	case AE_IFLNK:
		petrel_text_safe(archive_entry_symlink(ae) ?: "", to, sizeof(to));
		return refuse(rd, err, "a symbolic link (to %s)", to);
	case AE_IFCHR:
	case AE_IFBLK:
		return refuse(rd, err, "a device");
	case AE_IFIFO:
		return refuse(rd, err, "a FIFO");
	case AE_IFDIR:
		return refuse(rd, err, "a directory");
	default:
		return refuse(rd, err, "not a regular file");
	}
	if (archive_entry_sparse_count(ae) > 0)
		return refuse(rd, err, "a sparse file");
	if (!archive_entry_size_is_set(ae) || archive_entry_size(ae) < 0)
		return refuse(rd, err, "no size");
	return 0;
}

static int duplicate_check(struct reader *rd, const char *path, struct petrel_err *err)
{
	for (size_t i = 0; i + 1 < rd->nentries; i++)
		if (!strcmp(rd->seen[i], path))
			return refuse(rd, err, "appears twice");
	if (!(rd->seen[rd->nentries - 1] = strdup(path)))
		return petrel_fail(err, -ENOMEM, "%s: out of memory", rd->name);
	return 0;
}

/* VERSIONS/UUID/REST: the version (index) UUID names, and REST. */
static int version_of(struct reader *rd, const char *path, size_t *i, const char **rest,
		      struct petrel_err *err)
{
	const char *u = path + strlen("VERSIONS/");
	char uuid[PETREL_UUID_LEN + 1];

	if (strlen(u) <= PETREL_UUID_LEN || u[PETREL_UUID_LEN] != '/')
		return refuse(rd, err, "not an entry of a petrel bundle");
	memcpy(uuid, u, PETREL_UUID_LEN);
	uuid[PETREL_UUID_LEN] = '\0';
	*rest = u + PETREL_UUID_LEN + 1;
	for (*i = 0; *i < rd->b->nversions; ++*i)
		if (!strcmp(rd->b->versions[*i].build.uuid, uuid))
			return 0;
	return refuse(rd, err, "build not listed in petrel-bundle.json");
}

/* What one entry of a version is: meta.json first, then signatures and the blob. */
static int version_entry(struct reader *rd, const char *path, int64_t size,
			 struct petrel_err *err)
{
	struct petrel_bundle_version *v;
	const char *rest = "";
	char name[PETREL_BUNDLE_SIGNAME_MAX + 1];
	size_t i = 0, n;
	int r;

	if ((r = version_of(rd, path, &i, &rest, err)) < 0)
		return r;
	v = &rd->b->versions[i];
	if (!strcmp(rest, "meta.json"))
		return meta(rd, v, size, err);
	if (!v->have_meta)
		return refuse(rd, err, "comes before VERSIONS/%s/meta.json", v->build.uuid);
	if (!strcmp(rest, "blob"))
		return blob(rd, i, size, err);
	n = strlen(rest);
	if (strncmp(rest, "sig/", 4) || n < 4 + 8 || strcmp(rest + n - 8, ".minisig") ||
	    n - 12 > PETREL_BUNDLE_SIGNAME_MAX)
		return refuse(rd, err, "not an entry of a petrel bundle");
	memcpy(name, rest + 4, n - 12);
	name[n - 12] = '\0';
	if (!petrel_name_valid(name, PETREL_BUNDLE_SIGNAME_MAX))
		return refuse(rd, err, "not an entry of a petrel bundle");
	return sig(rd, v, name, size, err);
}

static int entry(struct reader *rd, struct archive_entry *ae, struct petrel_err *err)
{
	const char *path = archive_entry_pathname(ae);
	int64_t size = archive_entry_size(ae);
	int r;

	if (++rd->nentries > PETREL_BUNDLE_ENTRIES_MAX) {
		snprintf(rd->entry, sizeof(rd->entry), "entry %zu", rd->nentries);
		return refuse(rd, err, "more than %d entries (PETREL_BUNDLE_ENTRIES_MAX)",
			      PETREL_BUNDLE_ENTRIES_MAX);
	}
	if (!path || !*path) {
		snprintf(rd->entry, sizeof(rd->entry), "entry %zu", rd->nentries);
		return refuse(rd, err, "no name");
	}
	petrel_text_safe(path, rd->entry, sizeof(rd->entry));
	if ((r = name_check(rd, path, err)) < 0 || (r = type_check(rd, ae, err)) < 0 ||
	    (r = duplicate_check(rd, path, err)) < 0 || (r = check_bomb(rd, err)) < 0)
		return r;
	if (rd->nentries == 1)
		return strcmp(path, PETREL_BUNDLE_MANIFEST) ?
			refuse(rd, err, "the first entry must be %s (not a petrel bundle?)",
			       PETREL_BUNDLE_MANIFEST) : manifest(rd, size, err);
	if (!strncmp(path, "VERSIONS/", 9))
		return version_entry(rd, path, size, err);
	return refuse(rd, err, "not an entry of a petrel bundle");
}

/* After the last entry: every listed version came whole. */
static int complete(struct reader *rd, struct petrel_err *err)
{
	if (!rd->nentries) {
		snprintf(rd->entry, sizeof(rd->entry), "%s", PETREL_BUNDLE_MANIFEST);
		return refuse(rd, err, "missing: an empty archive");
	}
	for (size_t i = 0; i < rd->b->nversions; i++) {
		const struct petrel_bundle_version *v = &rd->b->versions[i];

		snprintf(rd->entry, sizeof(rd->entry), "VERSIONS/%s/%s", v->build.uuid,
			 v->have_meta ? "blob" : "meta.json");
		if (!v->have_meta || !v->have_blob)
			return refuse(rd, err, "missing (truncated bundle?)");
	}
	return 0;
}

static int read_entries(struct reader *rd, struct petrel_err *err)
{
	struct archive_entry *ae;
	int r;

	for (;;) {
		r = archive_read_next_header(rd->a, &ae);
		if (r == ARCHIVE_EOF)
			return complete(rd, err);
		if (r != ARCHIVE_OK) {
			snprintf(rd->entry, sizeof(rd->entry), "entry %zu", rd->nentries + 1);
			return refuse(rd, err, "truncated or unreadable archive: %s",
				      archive_error_string(rd->a) ?: "read error");
		}
		if ((r = entry(rd, ae, err)) < 0)
			return r;
	}
}

/* tar only, and only the decompressors built into libarchive: never an external
 * program (lrzip, lzop, ...) that support_filter_all would run. */
static struct archive *reader_new(void)
{
	struct archive *a = archive_read_new();

	if (!a)
		return NULL;
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static int read_bundle(struct reader *rd, int opened, struct petrel_err *err)
{
	int r;

	if (opened != ARCHIVE_OK) {
		snprintf(rd->entry, sizeof(rd->entry), "entry 1");
		r = refuse(rd, err, "not a readable tar: %s",
			   archive_error_string(rd->a) ?: "open failed");
	} else {
		r = read_entries(rd, err);
	}
	for (size_t i = 0; i < rd->nentries && i < PETREL_BUNDLE_ENTRIES_MAX; i++)
		free(rd->seen[i]);
	archive_read_free(rd->a);
	return r;
}

static int reader_start(struct reader *rd, const char *name,
			const struct petrel_bundle_sink *sink, struct petrel_bundle *out,
			struct petrel_err *err)
{
	memset(rd, 0, sizeof(*rd));
	petrel_bundle_init(out);
	rd->name = name;
	rd->sink = sink;
	rd->b = out;
	if (!(rd->a = reader_new()))
		return petrel_fail(err, -ENOMEM, "%s: libarchive: out of memory", name);
	return 0;
}

int petrel_bundle_read_fd(int fd, const char *name, const struct petrel_bundle_sink *sink,
			  struct petrel_bundle *out, struct petrel_err *err)
{
	struct reader *rd = calloc(1, sizeof(*rd));
	int r;

	if (!rd)
		return -ENOMEM;
	if ((r = reader_start(rd, name, sink, out, err)) == 0)
		r = read_bundle(rd, archive_read_open_fd(rd->a, fd, CHUNK), err);
	free(rd);
	return r;
}

int petrel_bundle_read_mem(const void *p, size_t n, const char *name,
			   const struct petrel_bundle_sink *sink, struct petrel_bundle *out,
			   struct petrel_err *err)
{
	struct reader *rd = calloc(1, sizeof(*rd));
	int r;

	if (!rd)
		return -ENOMEM;
	if ((r = reader_start(rd, name, sink, out, err)) == 0)
		r = read_bundle(rd, archive_read_open_memory(rd->a, p, n), err);
	free(rd);
	return r;
}

/* ------------------------------------------------------------------ the writer */

struct petrel_bundle_writer {
	struct archive *a;
	int64_t mtime;
};

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && !strcmp(s + n - k, suffix);
}

int petrel_bundle_filter_for(const char *filename, enum petrel_bundle_filter *out,
			     struct petrel_err *err)
{
	static const struct { const char *suffix; enum petrel_bundle_filter f; } names[] = {
		{ ".tar", PETREL_BUNDLE_NONE }, { ".tar.gz", PETREL_BUNDLE_GZIP },
		{ ".tgz", PETREL_BUNDLE_GZIP }, { ".tar.xz", PETREL_BUNDLE_XZ },
		{ ".tar.zst", PETREL_BUNDLE_ZSTD },
	};

	for (size_t i = 0; i < PETREL_ARRAY_SIZE(names); i++)
		if (has_suffix(filename, names[i].suffix)) {
			*out = names[i].f;
			return 0;
		}
	return petrel_fail(err, -PETREL_EUSAGE, "%s: a bundle's name ends in .tar, .tar.gz, "
			   ".tgz, .tar.xz or .tar.zst (its compression)", filename);
}

static int archive_failed(struct archive *a, const char *what, struct petrel_err *err)
{
	int e = archive_errno(a);

	return petrel_fail(err, e > 0 ? -e : -EIO, "%s: %s", what,
			   archive_error_string(a) ?: "libarchive failed");
}

static int add_filter(struct archive *a, enum petrel_bundle_filter f)
{
	switch (f) {
	case PETREL_BUNDLE_GZIP:
		return archive_write_add_filter_gzip(a);
	case PETREL_BUNDLE_XZ:
		return archive_write_add_filter_xz(a);
	case PETREL_BUNDLE_ZSTD:
		return archive_write_add_filter_zstd(a);
	default:
		return archive_write_add_filter_none(a);
	}
}

int petrel_bundle_writer_open(struct petrel_bundle_writer **w, int fd,
			      enum petrel_bundle_filter filter, int64_t mtime,
			      struct petrel_err *err)
{
	struct petrel_bundle_writer *n = calloc(1, sizeof(*n));

	*w = NULL;
	if (!n || !(n->a = archive_write_new())) {
		free(n);
		return petrel_fail(err, -ENOMEM, "libarchive: out of memory");
	}
	n->mtime = mtime;
	if (archive_write_set_format_pax_restricted(n->a) != ARCHIVE_OK ||
	    add_filter(n->a, filter) != ARCHIVE_OK ||
	    archive_write_open_fd(n->a, fd) != ARCHIVE_OK) {
		int r = archive_failed(n->a, "starting the bundle", err);

		petrel_bundle_writer_free(n);
		return r;
	}
	*w = n;
	return 0;
}

static int add_header(struct petrel_bundle_writer *w, const char *path, uint64_t size,
		      struct petrel_err *err)
{
	struct archive_entry *ae = archive_entry_new();
	int r = 0;

	if (!ae)
		return petrel_fail(err, -ENOMEM, "libarchive: out of memory");
	archive_entry_set_pathname(ae, path);
	archive_entry_set_size(ae, (la_int64_t)size);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_mtime(ae, (time_t)w->mtime, 0);
	if (archive_write_header(w->a, ae) != ARCHIVE_OK)
		r = archive_failed(w->a, path, err);
	archive_entry_free(ae);
	return r;
}

static int add_data(struct petrel_bundle_writer *w, const char *path, const void *p, size_t n,
		    struct petrel_err *err)
{
	la_ssize_t k = n ? archive_write_data(w->a, p, n) : 0;

	return k == (la_ssize_t)n ? 0 : archive_failed(w->a, path, err);
}

static int add_file(struct petrel_bundle_writer *w, const char *path, const void *p, size_t n,
		    struct petrel_err *err)
{
	return add_header(w, path, n, err) ?: add_data(w, path, p, n, err);
}

static int add_json(struct petrel_bundle_writer *w, const char *path, json_t *j,
		    struct petrel_err *err)
{
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
	int r;

	json_decref(j);
	if (!text)
		return petrel_fail(err, -ENOMEM, "%s: out of memory", path);
	r = add_file(w, path, text, strlen(text), err);
	free(text);
	return r;
}

static json_t *ids_json(const struct petrel_build *b)
{
	char hex[65];

	petrel_hex(b->sha256, 32, hex);
	return json_pack("{s:s, s:s, s:s, s:I}", "uuid", b->uuid, "job", b->job, "sha256", hex,
			 "size", (json_int_t)b->size);
}

int petrel_bundle_write_manifest(struct petrel_bundle_writer *w, const struct petrel_bundle *b,
				 struct petrel_err *err)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < b->nversions; i++)
		json_array_append_new(list, ids_json(&b->versions[i].build));
	return add_json(w, PETREL_BUNDLE_MANIFEST,
			json_pack("{s:s, s:i, s:I, s:o}", "format", "petrel-bundle", "version",
				  PETREL_BUNDLE_VERSION, "created", (json_int_t)w->mtime,
				  "versions", list), err);
}

static json_t *meta_json(const struct petrel_bundle_version *v)
{
	const struct petrel_build *b = &v->build;
	json_t *j = ids_json(b);

	if (!j || json_object_update_new(j, json_pack(
		"{s:s, s:s, s:I, s:I, s:s, s:s, s:{s:s, s:s, s:s, s:I}}", "platform",
		b->platform, "filename", b->filename, "start_time", (json_int_t)b->start_time,
		"finish_time", (json_int_t)b->finish_time, "solo5_abi", b->solo5_abi,
		"solo5_devices", b->solo5_devices, "trust", "mode", v->trust, "keys", v->keyids,
		"rebuilders", v->rebuilders, "timestamp", (json_int_t)v->timestamp)) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int petrel_bundle_write_meta(struct petrel_bundle_writer *w,
			     const struct petrel_bundle_version *v, struct petrel_err *err)
{
	char path[PETREL_BUNDLE_PATH_MAX + 1];
	int r;

	snprintf(path, sizeof(path), "VERSIONS/%s/meta.json", v->build.uuid);
	if ((r = add_json(w, path, meta_json(v), err)) < 0)
		return r;
	for (size_t i = 0; i < v->nsigs; i++) {
		snprintf(path, sizeof(path), "VERSIONS/%s/sig/%s.minisig", v->build.uuid,
			 v->sigs[i].name);
		if ((r = add_file(w, path, v->sigs[i].text, v->sigs[i].len, err)) < 0)
			return r;
	}
	return 0;
}

int petrel_bundle_write_blob(struct petrel_bundle_writer *w,
			     const struct petrel_bundle_version *v, int fd,
			     petrel_bundle_check_fn check, void *ctx, struct petrel_err *err)
{
	static char buf[CHUNK];
	char path[PETREL_BUNDLE_PATH_MAX + 1];
	uint64_t left = v->build.size;
	int r;

	snprintf(path, sizeof(path), "VERSIONS/%s/blob", v->build.uuid);
	if ((r = add_header(w, path, left, err)) < 0)
		return r;
	while (left) {
		ssize_t k = read(fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return petrel_fail(err, k < 0 ? -errno : -EIO, "reading the blob of %s: %s",
					   v->build.uuid, k < 0 ? strerror(errno) :
					   "shorter than its recorded size (run petrel fsck)");
		if (check && (r = check(ctx, buf, (size_t)k)) < 0)
			return petrel_fail(err, r, "reading the blob of %s: %s", v->build.uuid,
					   petrel_strerror(r));
		if ((r = add_data(w, path, buf, (size_t)k, err)) < 0)
			return r;
		left -= (uint64_t)k;
	}
	return 0;
}

int petrel_bundle_writer_close(struct petrel_bundle_writer *w, struct petrel_err *err)
{
	int r = 0;

	if (!w)
		return 0;
	if (archive_write_close(w->a) != ARCHIVE_OK)
		r = archive_failed(w->a, "finishing the bundle", err);
	petrel_bundle_writer_free(w);
	return r;
}

void petrel_bundle_writer_free(struct petrel_bundle_writer *w)
{
	if (!w)
		return;
	archive_write_free(w->a);
	free(w);
}
