/* Maintenance windows: "HH:MM-HH:MM" in local time, possibly across midnight. */
#include <stdio.h>
#include <string.h>

#include "target.h"

/* "HH:MM" with exactly two digits each; 24:00 only when allow24. Minutes or -1. */
static int hhmm(const char *s, int allow24)
{
	int h, m;

	if (strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '9' || s[1] < '0' ||
	    s[1] > '9' || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 24 || (h == 24 && (m || !allow24)))
		return -1;
	return h * 60 + m;
}

int petrel_window_parse(const char *v, int *start, int *end)
{
	char a[8], b[8];
	const char *dash = strchr(v, '-');
	int s, e;

	if (!dash || dash - v != 5 || strlen(dash + 1) != 5)
		return -1;
	memcpy(a, v, 5);
	a[5] = '\0';
	memcpy(b, dash + 1, 6);
	if ((s = hhmm(a, 0)) < 0 || (e = hhmm(b, 1)) < 0 || s == e || (s == 0 && e == 1440))
		return s == 0 && e == 1440 ? (*start = *end = -1, 0) : -1;
	*start = s;
	*end = e;
	return 0;
}

int petrel_window_open(int start, int end, int m)
{
	if (start < 0)
		return 1;
	if (start < end)
		return m >= start && m < end;
	return m >= start || m < end;	/* across midnight */
}
