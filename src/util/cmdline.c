#include "util/cmdline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t cmdline_kernel_part(const char *cmdline)
{
	const char *p = cmdline;

	while (*p) {
		const char *w;

		while (*p == ' ')
			p++;
		w = p;
		while (*p && *p != ' ')
			p++;
		if (p - w == 2 && w[0] == '-' && w[1] == '-') {
			while (w > cmdline && w[-1] == ' ')
				w--;  /* the spaces before "--" belong to the init part */
			return (size_t)(w - cmdline);
		}
	}
	return strlen(cmdline);
}

bool cmdline_has_param(const char *cmdline, const char *prefix)
{
	size_t end = cmdline_kernel_part(cmdline), n = strlen(prefix);
	const char *p = cmdline, *stop = cmdline + end;

	while (p < stop) {
		while (p < stop && *p == ' ')
			p++;
		if ((size_t)(stop - p) >= n && strncmp(p, prefix, n) == 0)
			return true;
		while (p < stop && *p != ' ')
			p++;
	}
	return false;
}

char *cmdline_add(const char *cmdline, const char *params)
{
	size_t head = cmdline_kernel_part(cmdline);
	size_t len = strlen(cmdline) + strlen(params) + 2;
	char *s;

	if (!*params)
		return strdup(cmdline);
	s = malloc(len);
	if (!s)
		return NULL;
	snprintf(s, len, "%.*s%s%s%s", (int)head, cmdline, head ? " " : "", params,
		 cmdline + head);
	return s;
}
