/* Small helpers: bounded copies, hex, strict Base64, numbers and RFC 3339 times. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "build.h"
#include "error.h"
#include "util.h"

int petrel_strcpy_whole(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	if (n == 0)
		return -PETREL_ETOOBIG;
	if (len >= n) {
		dst[0] = '\0';
		return -PETREL_ETOOBIG;
	}
	memcpy(dst, src, len + 1);
	return 0;
}

int petrel_snprintf(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(dst, n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= n)
		return -PETREL_ETOOBIG;
	return 0;
}

void petrel_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int petrel_unhex(const char *hex, size_t hexlen, uint8_t *out, size_t n)
{
	size_t i;

	if (hexlen != 2 * n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

/* Decodes one group of 4 characters (with pad count pads) into 3 - pads bytes. */
static int b64_group(const char *in, int pads, uint8_t out[3])
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		int d = i < 4 - pads ? b64val(in[i]) : 0;

		if (d < 0)
			return -EINVAL;
		v = v << 6 | (uint32_t)d;
	}
	/* canonical: bits that padding discards must be zero */
	if ((pads == 1 && (v & 0xff)) || (pads == 2 && (v & 0xffff)))
		return -EINVAL;
	out[0] = (uint8_t)(v >> 16);
	out[1] = (uint8_t)(v >> 8);
	out[2] = (uint8_t)v;
	return 0;
}

int petrel_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t i, o = 0;

	if (inlen % 4)
		return -EINVAL;
	for (i = 0; i < inlen; i += 4) {
		int pads = 0;
		uint8_t g[3];

		if (in[i + 3] == '=')
			pads = in[i + 2] == '=' ? 2 : 1;
		if (pads && i + 4 != inlen)
			return -EINVAL;
		if (b64_group(in + i, pads, g) < 0)
			return -EINVAL;
		if (o + 3 - (size_t)pads > cap)
			return -PETREL_ETOOBIG;
		memcpy(out + o, g, 3 - (size_t)pads);
		o += 3 - (size_t)pads;
	}
	*outlen = o;
	return 0;
}

void petrel_b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = left > 1 ? b64chars[v >> 6 & 63] : '=';
		out[o++] = left > 2 ? b64chars[v & 63] : '=';
	}
	out[o] = '\0';
}

int petrel_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* Reads exactly n digits at *p into *out and advances. */
static int digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -EINVAL;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect(const char **p, const char *set)
{
	if (!**p || !strchr(set, **p))
		return -EINVAL;
	(*p)++;
	return 0;
}

static int parse_offset(const char *p, int *off)
{
	int sign, hh, mm;

	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		*off = 0;
		return 0;
	}
	if (*p != '+' && *p != '-')
		return -EINVAL;
	sign = *p++ == '-' ? -1 : 1;
	if (digits(&p, 2, &hh) || expect(&p, ":") || digits(&p, 2, &mm) || *p)
		return -EINVAL;
	if (hh > 23 || mm > 59)
		return -EINVAL;
	*off = sign * (hh * 3600 + mm * 60);
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

int petrel_parse_rfc3339(const char *s, int64_t *out)
{
	struct tm tm;
	const char *p = s;
	int Y, M, D, h, m, sec, off;

	memset(&tm, 0, sizeof(tm));
	if (digits(&p, 4, &Y) || expect(&p, "-") || digits(&p, 2, &M) || expect(&p, "-") ||
	    digits(&p, 2, &D) || expect(&p, "Tt ") || digits(&p, 2, &h) || expect(&p, ":") ||
	    digits(&p, 2, &m) || expect(&p, ":") || digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (parse_offset(p, &off))
		return -EINVAL;
	if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || m > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	*out = (int64_t)timegm(&tm) - off;
	return 0;
}

void petrel_format_time(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, n, "%lld", (long long)t);
}

int petrel_uuid_valid(const char *s)
{
	size_t i;

	if (strlen(s) != PETREL_UUID_LEN)
		return 0;
	for (i = 0; i < PETREL_UUID_LEN; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : hexval(s[i]) < 0)
			return 0;
	}
	return 1;
}

int petrel_name_valid(const char *s, unsigned long max)
{
	size_t len = strlen(s), i;

	if (len == 0 || len > max || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '+' || c == '-'))
			return 0;
	}
	return 1;
}

/* ---- text from outside: credentials masked, control characters escaped ---- */

/* A bounded output: pieces go in whole or not at all, out stays NUL-terminated. */
struct text_out {
	char *p;
	size_t n, len;
	int full;
};

static void put(struct text_out *o, const char *s, size_t k)
{
	if (o->full || o->len + k >= o->n) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->len, s, k);
	o->len += k;
	o->p[o->len] = '\0';
}

/* Length of a well-formed UTF-8 sequence at s (at most max bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t max)
{
	size_t k = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	uint32_t c = s[0] & (0x3f >> (k - 1));

	if (s[0] < 0xc2 || s[0] > 0xf4 || k > max)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((k == 3 && c < 0x800) || (k == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return k;
}

/* k bytes of s with C0, DEL, C1 and invalid UTF-8 as \n, \t, \r or \xNN escapes. */
static void put_escaped(struct text_out *o, const char *s, size_t k, int escape)
{
	const unsigned char *u = (const unsigned char *)s;
	char esc[8];

	for (size_t i = 0; i < k && !o->full; ) {
		size_t m = u[i] >= 0x80 ? utf8_len(u + i, k - i) : 1;

		if (!escape || (m == 1 && u[i] >= 0x20 && u[i] != 0x7f) ||
		    (m > 1 && !(u[i] == 0xc2 && u[i + 1] < 0xa0))) {
			m = m ? m : 1;
			put(o, s + i, m);
			i += m;
			continue;
		}
		m = m ? m : 1;	/* a C1 control (2 bytes) or one invalid byte */
		for (size_t j = 0; j < m; j++, i++) {
			if (u[i] == '\n' || u[i] == '\t' || u[i] == '\r')
				snprintf(esc, sizeof(esc), "\\%c",
					 u[i] == '\n' ? 'n' : u[i] == '\t' ? 't' : 'r');
			else
				snprintf(esc, sizeof(esc), "\\x%02x", u[i]);
			put(o, esc, strlen(esc));
		}
	}
}

/* Where a URL in text ends: white space, a quote, a bracket, a control byte. */
static size_t url_extent(const char *s)
{
	size_t i = 0;

	while (s[i] && (unsigned char)s[i] > 0x20 && (unsigned char)s[i] != 0x7f &&
	       !strchr("\"'<>`", s[i]))
		i++;
	return i;
}

/* A query parameter whose value is a secret by its name (token=, api_key=, sig=...). */
static int secret_param(const char *name, size_t k)
{
	static const char *const words[] = { "token", "secret", "pass", "auth", "key", "sig",
					     "credential", "session", "cookie" };

	for (size_t w = 0; w < PETREL_ARRAY_SIZE(words); w++) {
		size_t wl = strlen(words[w]);

		for (size_t i = 0; i + wl <= k; i++)
			if (!strncasecmp(name + i, words[w], wl))
				return 1;
	}
	return 0;
}

/* The URL (len bytes) that starts just after "://": userinfo and secret values as ***. */
static void put_url_rest(struct text_out *o, const char *s, size_t len, int escape)
{
	size_t host = strcspn(s, "/?#@"), i;

	if (host < len && s[host] == '@') {
		put(o, "***@", 4);
		s += host + 1;
		len -= host + 1;
	}
	i = strcspn(s, "?#");
	if (i >= len || s[i] == '#') {
		put_escaped(o, s, len, escape);
		return;
	}
	put_escaped(o, s, ++i, escape);	/* up to and with '?' */
	while (i < len && s[i] != '#') {
		size_t end = i + strcspn(s + i, "&#"), eq = i + strcspn(s + i, "=&#");

		end = end < len ? end : len;
		eq = eq < end ? eq : end;
		if (eq < end && secret_param(s + i, eq - i)) {
			put_escaped(o, s + i, eq + 1 - i, escape);
			put(o, "***", 3);
		} else {
			put_escaped(o, s + i, end - i, escape);
		}
		i = end;
		if (i < len && s[i] == '&')
			put(o, s + i++, 1);
	}
	if (i < len)
		put_escaped(o, s + i, len - i, escape);
}

static void text_filter(const char *in, char *out, size_t n, int escape)
{
	struct text_out o = { out, n, 0, 0 };
	const char *p = in;

	if (n == 0)
		return;
	out[0] = '\0';
	for (const char *u; !o.full && (u = strstr(p, "://")); ) {
		size_t len;

		put_escaped(&o, p, (size_t)(u + 3 - p), escape);
		p = u + 3;
		len = url_extent(p);
		put_url_rest(&o, p, len, escape);
		p += len;
	}
	put_escaped(&o, p, strlen(p), escape);
}

void petrel_text_mask(const char *in, char *out, size_t n)
{
	text_filter(in, out, n, 0);
}

void petrel_text_safe(const char *in, char *out, size_t n)
{
	text_filter(in, out, n, 1);
}

int petrel_text_is_safe(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; u[i]; i++) {
		size_t m;

		if (u[i] < 0x20 || u[i] == 0x7f)
			return 0;
		if (u[i] < 0x80)
			continue;
		m = utf8_len(u + i, strlen(s + i));
		if (!m || (u[i] == 0xc2 && u[i + 1] < 0xa0))
			return 0;
		i += m - 1;
	}
	return strstr(s, "://") == NULL;
}
