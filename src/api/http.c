#include "api/http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

static enum http_parse bad(int *status, const char **reason, int st, const char *why)
{
	*status = st;
	*reason = why;
	return HTTP_BAD;
}

/* Finds "\r\n\r\n" (or a bare "\n\n") ending the header block within len bytes. */
static size_t header_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] == '\n' && buf[i + 1] == '\n')
			return i + 2;
		if (i + 3 < len && buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' &&
		    buf[i + 3] == '\n')
			return i + 4;
	}
	return 0;
}

static bool is_token_char(char c)
{
	return c && (isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c));
}

enum http_parse http_parse_request(const char *buf, size_t len, struct http_request *req,
				   size_t *consumed, int *status, const char **reason)
{
	size_t end = header_end(buf, len < HTTP_MAX_HEADER ? len : HTTP_MAX_HEADER);
	const char *p = buf, *line_end, *stop;
	bool have_length = false, http10 = false, conn_close = false, conn_keep = false;
	unsigned long long clen = 0;

	memset(req, 0, sizeof(*req));
	if (!end) {
		if (len >= HTTP_MAX_HEADER)
			return bad(status, reason, 431, "request headers are larger than 8 KiB");
		/* A request line alone longer than the limit is caught above; be strict early
		 * on garbage: the first byte must start a method. */
		if (len && !is_token_char(buf[0]))
			return bad(status, reason, 400, "malformed request line");
		return HTTP_INCOMPLETE;
	}
	stop = buf + end;

	/* Request line: METHOD SP PATH SP HTTP/1.x */
	line_end = memchr(p, '\n', (size_t)(stop - p));
	{
		const char *sp1 = memchr(p, ' ', (size_t)(line_end - p));
		const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
		const char *ver;
		size_t mlen, plen, vlen;

		if (!sp1 || !sp2)
			return bad(status, reason, 400, "malformed request line");
		mlen = (size_t)(sp1 - p);
		plen = (size_t)(sp2 - sp1 - 1);
		ver = sp2 + 1;
		vlen = (size_t)(line_end - ver);
		if (vlen && ver[vlen - 1] == '\r')
			vlen--;
		if (mlen == 0)
			return bad(status, reason, 400, "malformed request line");
		if (mlen >= sizeof(req->method))
			return bad(status, reason, 501, "unsupported method");
		for (size_t i = 0; i < mlen; i++)
			if (!isupper((unsigned char)p[i]))
				return bad(status, reason, 400, "malformed method");
		if (plen == 0 || sp1[1] != '/')
			return bad(status, reason, 400, "the path must start with /");
		if (plen >= sizeof(req->path))
			return bad(status, reason, 414, "path too long");
		for (size_t i = 0; i < plen; i++)
			if ((unsigned char)sp1[1 + i] <= ' ' || (unsigned char)sp1[1 + i] >= 0x7f)
				return bad(status, reason, 400, "invalid character in path");
		if (vlen == 8 && memcmp(ver, "HTTP/1.1", 8) == 0)
			http10 = false;
		else if (vlen == 8 && memcmp(ver, "HTTP/1.0", 8) == 0)
			http10 = true;
		else
			return bad(status, reason, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
		memcpy(req->method, p, mlen);
		memcpy(req->path, sp1 + 1, plen);
	}
	p = line_end + 1;

	/* Headers. Only Content-Length, Transfer-Encoding and Connection matter. */
	while (p < stop) {
		const char *colon, *v, *ve;
		size_t nlen;

		line_end = memchr(p, '\n', (size_t)(stop - p));
		if (!line_end)
			break;
		if (line_end == p || (line_end == p + 1 && *p == '\r'))
			break;  /* the blank line */
		colon = memchr(p, ':', (size_t)(line_end - p));
		if (!colon || colon == p)
			return bad(status, reason, 400, "malformed header line");
		nlen = (size_t)(colon - p);
		for (size_t i = 0; i < nlen; i++)
			if (!is_token_char(p[i]))
				return bad(status, reason, 400, "malformed header name");
		v = colon + 1;
		ve = line_end;
		if (ve > v && ve[-1] == '\r')
			ve--;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (nlen == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
			char num[24];
			char *e;
			size_t vl = (size_t)(ve - v);

			if (vl == 0 || vl >= sizeof(num))
				return bad(status, reason, 400, "invalid Content-Length");
			memcpy(num, v, vl);
			num[vl] = '\0';
			for (size_t i = 0; i < vl; i++)
				if (!isdigit((unsigned char)num[i]))
					return bad(status, reason, 400, "invalid Content-Length");
			unsigned long long n = strtoull(num, &e, 10);
			if (have_length && n != clen)
				return bad(status, reason, 400, "conflicting Content-Length headers");
			clen = n;
			have_length = true;
		} else if (nlen == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
			return bad(status, reason, 501, "Transfer-Encoding is not supported; send "
				   "Content-Length");
		} else if (nlen == 10 && strncasecmp(p, "Connection", 10) == 0) {
			size_t vl = (size_t)(ve - v);

			if (vl == 5 && strncasecmp(v, "close", 5) == 0)
				conn_close = true;
			else if (vl == 10 && strncasecmp(v, "keep-alive", 10) == 0)
				conn_keep = true;
		}
		p = line_end + 1;
	}
	if (!have_length && (!strcmp(req->method, "PUT") || !strcmp(req->method, "PATCH") ||
			     !strcmp(req->method, "POST")))
		return bad(status, reason, 411, "a request with a body needs Content-Length");
	if (clen > HTTP_MAX_BODY)
		return bad(status, reason, 413, "request body larger than 64 KiB");
	if (len - end < clen)
		return HTTP_INCOMPLETE;
	req->body = clen ? buf + end : NULL;
	req->body_len = (size_t)clen;
	req->keep_alive = http10 ? conn_keep : !conn_close;
	*consumed = end + (size_t)clen;
	return HTTP_COMPLETE;
}

size_t http_format_response(char *out, size_t cap, int status, const char *content_type,
			    const char *body, size_t body_len, bool keep_alive)
{
	char head[256];
	int n;

	/* Format the head apart: snprintf needs room for a NUL the response does not. */
	if (body) {
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d %s\r\nServer: Firecracker API\r\nConnection: %s\r\n"
			     "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
			     status, http_status_text(status), keep_alive ? "keep-alive" : "close",
			     content_type ? content_type : "application/json", body_len);
	} else {
		n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nServer: Firecracker API\r\nConnection: %s\r\n%s\r\n",
			     status, http_status_text(status), keep_alive ? "keep-alive" : "close",
			     status == 204 ? "" : "Content-Length: 0\r\n");
	}
	if (n < 0 || (size_t)n >= sizeof(head) || (size_t)n > cap || body_len > cap - (size_t)n)
		return 0;
	memcpy(out, head, (size_t)n);
	if (body)
		memcpy(out + n, body, body_len);
	return (size_t)n + (body ? body_len : 0);
}
