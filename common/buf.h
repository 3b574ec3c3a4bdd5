/* Bounded growable byte buffer: every buffer that grows has a ceiling. */
#ifndef PETREL_BUF_H
#define PETREL_BUF_H

#include <stddef.h>

struct petrel_buf {
	char *data;	/* owned; always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max;	/* append beyond max fails with -PETREL_ETOOBIG */
};

void petrel_buf_init(struct petrel_buf *b, size_t max);
void petrel_buf_release(struct petrel_buf *b);
void petrel_buf_reset(struct petrel_buf *b);	/* len = 0, keeps memory */
/* 0, -ENOMEM, or -PETREL_ETOOBIG (nothing appended) */
int petrel_buf_append(struct petrel_buf *b, const void *p, size_t n);
int petrel_buf_printf(struct petrel_buf *b, const char *fmt, ...) __attribute__((format(printf, 2,
											3)));

#endif
