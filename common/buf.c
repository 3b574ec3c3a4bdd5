/* Bounded growable byte buffer. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"

void petrel_buf_init(struct petrel_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void petrel_buf_release(struct petrel_buf *b)
{
	free(b->data);
	petrel_buf_init(b, b->max);
}

void petrel_buf_reset(struct petrel_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Grows to hold need bytes and a NUL; need <= max is checked by the caller. */
static int grow(struct petrel_buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	while (cap < need + 1 && cap <= SIZE_MAX / 2)
		cap *= 2;
	if (cap < need + 1)
		cap = need + 1;
	if (cap - 1 > b->max)	/* never past the ceiling (max + 1 >= need + 1) */
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int petrel_buf_append(struct petrel_buf *b, const void *p, size_t n)
{
	int r;

	if (n > b->max - b->len || b->len + n == SIZE_MAX)
		return -PETREL_ETOOBIG;
	if (b->len + n + 1 > b->cap && (r = grow(b, b->len + n)) < 0)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int petrel_buf_printf(struct petrel_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t n;
	int len, r;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -EINVAL;
	n = (size_t)len;
	if (n > b->max - b->len || b->len + n == SIZE_MAX)
		return -PETREL_ETOOBIG;
	if (b->len + n + 1 > b->cap && (r = grow(b, b->len + n)) < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
	return 0;
}
