/* Builds and versions as JSON and short text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "output.h"

static json_t *time_or_null(int64_t t)
{
	char buf[32];

	if (t <= 0)
		return json_null();
	petrel_format_time(t, buf, sizeof(buf));
	return json_string(buf);
}

json_t *petrel_json_text(const char *text)
{
	char masked[4096], buf[2048];
	json_t *j;
	size_t i;

	if (strstr(text, "://")) {	/* a URL: credentials never leave the configuration */
		petrel_text_mask(text, masked, sizeof(masked));
		text = masked;
	}
	if ((j = json_string(text)))
		return j;
	for (i = 0; text[i] && i < sizeof(buf) - 1; i++)
		buf[i] = (unsigned char)text[i] < 0x80 ? text[i] : '?';
	buf[i] = '\0';
	return json_string(buf);
}

/* {"abi", "devices": ["net:NAME", ...]} of a Solo5 build record, or null. */
static json_t *solo5_json(const struct petrel_build *b)
{
	json_t *devs = json_array();

	if (!b->solo5_abi[0] && !b->solo5_devices[0]) {
		json_decref(devs);
		return json_null();
	}
	for (const char *p = b->solo5_devices; devs && *p; ) {
		size_t n = strcspn(p, " ");

		json_array_append_new(devs, json_stringn(p, n));
		p += n + (p[n] == ' ');
	}
	return json_pack("{s:s?, s:o}", "abi", b->solo5_abi[0] ? b->solo5_abi : NULL,
			 "devices", devs);
}

json_t *petrel_json_build(const struct petrel_build *b)
{
	char hex[65];

	petrel_hex(b->sha256, 32, hex);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "job", b->job, "uuid", b->uuid,
			 "platform", b->platform, "filename", b->filename, "sha256", hex,
			 "size", (json_int_t)b->size, "finish_time", time_or_null(b->finish_time),
			 "solo5", solo5_json(b));
}

static json_t *keys_array(const char *keyids)
{
	json_t *a = json_array();
	const char *p = keyids;

	while (a && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		json_array_append_new(a, json_stringn(p, n));
		p += n + (end ? 1 : 0);
	}
	return a;
}

json_t *petrel_json_trust(const struct petrel_version *v)
{
	return json_pack("{s:s, s:o, s:o, s:b}", "mode", v->trust, "keys", keys_array(v->keyids),
			 "rebuilders", keys_array(v->rebuilders), "weak", !strcmp(v->trust,
										  "server"));
}

void petrel_trust_text(const struct petrel_version *v, char *out, size_t n)
{
	if (!strcmp(v->trust, "server")) {
		snprintf(out, n, "server (WEAK: hash from the server only, no signature)");
		return;
	}
	snprintf(out, n, "%s%s%s%s%s", v->trust, v->keyids[0] ? ", signed by " : "", v->keyids,
		 v->rebuilders[0] ? ", rebuilt by " : "", v->rebuilders);
}

json_t *petrel_json_version(const struct petrel_version *v)
{
	return petrel_json_deployed(v, 0, 0);
}

json_t *petrel_json_deployed(const struct petrel_version *v, int64_t generation,
			     int64_t deployed_at)
{
	json_t *o = petrel_json_build(&v->build);
	json_t *trust = petrel_json_trust(v);

	if (!o || !trust) {
		json_decref(o);
		json_decref(trust);
		return NULL;
	}
	json_object_set_new(o, "generation", generation ? json_integer(generation) : json_null());
	json_object_set_new(o, "deployed_at", time_or_null(deployed_at));
	json_object_set_new(o, "verified_at", time_or_null(v->verified_at));
	json_object_set_new(o, "timestamp", time_or_null(v->timestamp));
	json_object_set_new(o, "trusted_comment", petrel_json_text(v->trusted_comment));
	json_object_set_new(o, "url", petrel_json_text(v->url));
	json_object_set_new(o, "trust", trust);
	return o;
}

json_t *petrel_json_generation(const struct petrel_generation *g)
{
	json_t *o = petrel_json_deployed(&g->version, g->number, g->deployed_at);

	if (!o)
		return NULL;
	json_object_set_new(o, "parent", g->parent ? json_integer(g->parent) : json_null());
	json_object_set_new(o, "state", json_string(g->state));
	json_object_set_new(o, "reason", petrel_json_text(g->reason));
	return o;
}

int petrel_json_print(json_t *root)
{
	int r = 0;

	if (!root || json_dumpf(root, stdout, JSON_COMPACT) < 0 || fputc('\n', stdout) == EOF)
		r = -EIO;
	json_decref(root);
	return r;
}

void petrel_short_hash(const uint8_t sha256[32], char out[13])
{
	char hex[65];

	petrel_hex(sha256, 32, hex);
	memcpy(out, hex, 12);
	out[12] = '\0';
}

void petrel_human_size(uint64_t bytes, char *out, size_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, n, "%llu B", (unsigned long long)bytes);
	else
		snprintf(out, n, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void petrel_human_age(int64_t t, int64_t now, char *out, size_t n)
{
	int64_t d = now - t, a = d < 0 ? -d : d;
	char span[32];

	if (a < 60)
		snprintf(span, sizeof(span), "%lld s", (long long)a);
	else if (a < 3600)
		snprintf(span, sizeof(span), "%lld min", (long long)(a / 60));
	else if (a < 86400 * 2)
		snprintf(span, sizeof(span), "%lld h", (long long)(a / 3600));
	else
		snprintf(span, sizeof(span), "%lld days", (long long)(a / 86400));
	snprintf(out, n, d < 0 ? "in %s" : "%s ago", span);
}

json_t *petrel_json_time(int64_t t)
{
	return time_or_null(t);
}

json_t *petrel_json_refusal(const struct petrel_refusal *f)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:o}", "uuid", f->uuid, "sha256",
			 f->sha256, "reason", petrel_json_text(f->reason), "first_at",
			 petrel_json_time(f->first_at), "last_at", petrel_json_time(f->last_at),
			 "count", (json_int_t)f->count, "retry_at", petrel_json_time(f->retry_at));
}

json_t *petrel_json_rejection(const char *uuid, const uint8_t sha256[32], const char *reason,
			      int64_t at)
{
	char hex[65];

	petrel_hex(sha256, 32, hex);
	return json_pack("{s:s, s:s, s:o, s:o}", "uuid", uuid, "sha256", hex, "reason",
			 petrel_json_text(reason), "at", petrel_json_time(at));
}

json_t *petrel_json_pin(const struct petrel_pin *pin)
{
	return json_pack("{s:s, s:s, s:o}", "uuid", pin->uuid, "sha256", pin->sha256, "since",
			 petrel_json_time(pin->at));
}

/* A character's start: any byte but a UTF-8 continuation byte. */
static int starts_char(unsigned char c)
{
	return (c & 0xc0) != 0x80;
}

size_t petrel_text_columns(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += starts_char((unsigned char)*s);
	return n;
}

void petrel_fit(const char *text, size_t cols, char *out, size_t n)
{
	static const char ellipsis[] = "\u2026";
	size_t i = 0, used = 0, room = 4 * strlen(text) + 8;
	char *s = malloc(room);

	if (!s) {
		snprintf(out, n, "%s", "?");
		return;
	}
	petrel_text_safe(text, s, room);	/* what servers said, escaped */
	if (n < sizeof(ellipsis) || petrel_text_columns(s) <= cols || !cols) {
		snprintf(out, n, "%s", cols ? s : "");
		free(s);
		return;
	}
	/* cols - 1 whole characters, then the ellipsis in the last column */
	for (; s[i] && i + sizeof(ellipsis) < n; i++)
		if (starts_char((unsigned char)s[i]) && used++ == cols - 1)
			break;
	while (i > 0 && !starts_char((unsigned char)s[i]))	/* out was the shorter */
		i--;
	memcpy(out, s, i);
	memcpy(out + i, ellipsis, sizeof(ellipsis));
	free(s);
}

json_t *petrel_json_channel(const struct petrel_channel_says *says, int blocked_deployed)
{
	char hex[65];
	json_t *rel = json_null();

	if (says->has_release) {
		petrel_hex(says->sha256, 32, hex);
		rel = json_pack("{s:s, s:s}", "uuid", says->uuid, "sha256", hex);
	}
	return json_pack("{s:I, s:o, s:f, s:f, s:b, s:b, s:s}", "version",
			 (json_int_t)says->version, "release", rel, "bucket", says->u,
			 "ramp", says->fraction, "takes", says->takes,
			 "blocked_deployed", blocked_deployed, "why", says->why);
}
