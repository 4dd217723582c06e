#include "mmds/mmds_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What one request says, parsed. Header values point into the caller's buffer. */
struct req {
	char method[16];
	char path[MMDS_HTTP_MAX_REQUEST];   /* percent-decoded, query removed */
	bool http10, conn_close, conn_keep, json;
	const char *token;                  /* X-metadata-token */
	size_t token_len;
	const char *ttl;                    /* X-metadata-token-ttl-seconds */
	size_t ttl_len;
	bool forwarded;                     /* X-Forwarded-For present */
};

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* Builds the response. extra: more header lines ("Name: value\r\n"), may be "". */
static int respond(struct mmds_http_response *resp, int status, const char *ctype,
		   const char *body, size_t body_len, const char *extra, bool close)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nServer: Ember MMDS\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\n%s%s\r\n",
			 status, status_text(status), ctype, body_len, extra,
			 close ? "Connection: close\r\n" : "");

	if (n < 0 || (size_t)n >= sizeof(head))
		return -ENOMEM;
	resp->data = malloc((size_t)n + body_len + 1);
	if (!resp->data)
		return -ENOMEM;
	memcpy(resp->data, head, (size_t)n);
	if (body_len)
		memcpy(resp->data + n, body, body_len);
	resp->len = (size_t)n + body_len;
	resp->data[resp->len] = '\0';
	resp->status = status;
	resp->close = close;
	return 1;
}

static int respond_text(struct mmds_http_response *resp, int status, const char *msg,
			bool close)
{
	return respond(resp, status, "text/plain", msg, strlen(msg), "", close);
}

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
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

/* The request target into req->path: origin form ("/a/b") or absolute form
 * ("http://host/a/b"); the query is dropped, %XX decoded. false: malformed. */
static bool parse_target(const char *t, size_t n, struct req *rq)
{
	size_t o = 0;

	if (n >= 7 && strncasecmp(t, "http://", 7) == 0) {
		const char *slash = memchr(t + 7, '/', n - 7);

		if (!slash) {
			rq->path[0] = '/';
			rq->path[1] = '\0';
			return true;
		}
		n -= (size_t)(slash - t);
		t = slash;
	}
	if (n == 0 || t[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c <= ' ' || c >= 0x7f)
			return false;
		if (c == '?' || c == '#')
			break;
		if (c == '%') {
			int hi = i + 2 < n ? hexval(t[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(t[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (o + 1 >= sizeof(rq->path))
			return false;
		rq->path[o++] = (char)c;
	}
	rq->path[o] = '\0';
	return true;
}

static bool name_is(const char *p, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* Accept: application/json as the first (or only) media range, parameters allowed. */
static bool wants_json(const char *v, size_t n)
{
	size_t k = 0;

	while (k < n && v[k] != ',' && v[k] != ';' && v[k] != ' ' && v[k] != '\t')
		k++;
	return k == 16 && strncasecmp(v, "application/json", 16) == 0;
}

/* Finds the blank line ending the header block; the offset after it, or 0. */
static size_t header_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int answer_get(struct mmds_store *s, const struct req *rq,
		      struct mmds_http_response *resp, bool close)
{
	json_t *v = NULL;
	char *body = NULL;
	int r;

	if (mmds_store_version(s) == MMDS_V2) {
		if (!rq->token)
			return respond_text(resp, 401, "No MMDS token provided. Use the "
					    "X-metadata-token header to specify the session "
					    "token.", close);
		if (!mmds_token_valid(s, rq->token, rq->token_len))
			return respond_text(resp, 401, "MMDS token not valid.", close);
	}
	r = mmds_store_get(s, rq->path, &v);
	if (r == -ENOENT) {
		char msg[96];

		snprintf(msg, sizeof(msg), "Resource not found: %.64s.", rq->path);
		return respond_text(resp, 404, msg, close);
	}
	if (r < 0)
		return r;
	if (rq->json) {
		body = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
		if (!body) {
			r = -ENOMEM;
			goto out;
		}
		r = respond(resp, 200, "application/json", body, strlen(body), "", close);
	} else if (json_is_string(v)) {
		r = respond(resp, 200, "text/plain", json_string_value(v), json_string_length(v),
			    "", close);
	} else if (json_is_object(v)) {
		/* IMDS: the keys one per line in sorted order (as Firecracker's), "key/" for
		 * an object. */
		size_t nkeys = json_object_size(v), total = 0, i = 0, o = 0;
		const char **keys = calloc(nkeys ? nkeys : 1, sizeof(*keys));
		const char *key;
		json_t *val;

		if (!keys) {
			r = -ENOMEM;
			goto out;
		}
		json_object_foreach(v, key, val) {
			keys[i++] = key;
			total += strlen(key) + 2;
		}
		qsort(keys, nkeys, sizeof(*keys), cmp_str);
		body = malloc(total + 1);
		if (!body) {
			free(keys);
			r = -ENOMEM;
			goto out;
		}
		for (i = 0; i < nkeys; i++) {
			size_t kl = strlen(keys[i]);

			if (i)
				body[o++] = '\n';
			memcpy(body + o, keys[i], kl);
			o += kl;
			if (json_is_object(json_object_get(v, keys[i])))
				body[o++] = '/';
		}
		body[o] = '\0';
		free(keys);
		r = respond(resp, 200, "text/plain", body, o, "", close);
	} else {
		r = respond_text(resp, 501, "Cannot retrieve value. The value has an unsupported "
				 "type for the IMDS format; use Accept: application/json.", close);
	}
out:
	free(body);
	json_decref(v);
	return r;
}

static int answer_put(struct mmds_store *s, const struct req *rq,
		      struct mmds_http_response *resp, bool close)
{
	char tok[MMDS_TOKEN_LEN + 1], extra[64];
	unsigned long ttl = 0;
	int r;

	if (strcmp(rq->path, "/latest/api/token") != 0) {
		char msg[96];

		snprintf(msg, sizeof(msg), "Resource not found: %.64s.", rq->path);
		return respond_text(resp, 404, msg, close);
	}
	if (rq->forwarded)
		return respond_text(resp, 400, "Invalid header. Reason: X-Forwarded-For is not "
				    "allowed in a token request.", close);
	if (!rq->ttl)
		return respond_text(resp, 400, "Token time to live value not found. Use the "
				    "X-metadata-token-ttl-seconds header to specify the token's "
				    "lifetime.", close);
	for (size_t i = 0; i < rq->ttl_len; i++) {
		if (rq->ttl[i] < '0' || rq->ttl[i] > '9' || i >= 6) {
			ttl = 0;
			break;
		}
		ttl = ttl * 10 + (unsigned long)(rq->ttl[i] - '0');
	}
	if (ttl < MMDS_TOKEN_TTL_MIN || ttl > MMDS_TOKEN_TTL_MAX)
		return respond_text(resp, 400, "Invalid time to live value provided for the "
				    "token: it must be between 1 and 21600 seconds.", close);
	r = mmds_token_new(s, (unsigned int)ttl, tok);
	if (r < 0)
		return respond_text(resp, 500, "Cannot generate a token.", close);
	snprintf(extra, sizeof(extra), "X-metadata-token-ttl-seconds: %lu\r\n", ttl);
	return respond(resp, 200, "text/plain", tok, MMDS_TOKEN_LEN, extra, close);
}

int mmds_http_handle(struct mmds_store *s, const char *buf, size_t len, size_t *consumed,
		     struct mmds_http_response *resp)
{
	size_t lim = len < MMDS_HTTP_MAX_REQUEST ? len : MMDS_HTTP_MAX_REQUEST;
	size_t end = header_end(buf, lim), clen = 0;
	const char *p = buf, *stop, *line_end, *sp1, *sp2, *ver;
	bool have_len = false, close;
	struct req *rq;
	int r;

	memset(resp, 0, sizeof(*resp));
	*consumed = len;   /* on errors that close the connection: everything */
	if (!end) {
		if (len >= MMDS_HTTP_MAX_REQUEST)
			return respond_text(resp, 413, "Request too large.", true);
		if (len && !is_tchar(buf[0]))
			return respond_text(resp, 400, "Malformed request line.", true);
		*consumed = 0;
		return 0;
	}
	rq = calloc(1, sizeof(*rq));
	if (!rq)
		return -ENOMEM;
	stop = buf + end;

	/* Request line: METHOD SP TARGET SP HTTP/1.x */
	line_end = memchr(p, '\n', (size_t)(stop - p));
	sp1 = memchr(p, ' ', (size_t)(line_end - p));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
	if (!sp1 || !sp2 || sp1 == p || (size_t)(sp1 - p) >= sizeof(rq->method)) {
		r = respond_text(resp, 400, "Malformed request line.", true);
		goto out;
	}
	for (const char *m = p; m < sp1; m++) {
		if (!is_tchar(*m)) {
			r = respond_text(resp, 400, "Malformed request line.", true);
			goto out;
		}
	}
	memcpy(rq->method, p, (size_t)(sp1 - p));
	ver = sp2 + 1;
	{
		size_t vlen = (size_t)(line_end - ver);

		if (vlen && ver[vlen - 1] == '\r')
			vlen--;
		if (vlen == 8 && memcmp(ver, "HTTP/1.1", 8) == 0) {
			rq->http10 = false;
		} else if (vlen == 8 && memcmp(ver, "HTTP/1.0", 8) == 0) {
			rq->http10 = true;
		} else {
			r = respond_text(resp, 505, "Only HTTP/1.0 and HTTP/1.1 are supported.", true);
			goto out;
		}
	}
	if (!parse_target(sp1 + 1, (size_t)(sp2 - sp1 - 1), rq)) {
		r = respond_text(resp, 400, "Malformed request target.", true);
		goto out;
	}
	p = line_end + 1;

	/* Header fields. */
	while (p < stop) {
		const char *colon, *v, *ve;
		size_t nlen;

		line_end = memchr(p, '\n', (size_t)(stop - p));
		if (!line_end || line_end == p || (line_end == p + 1 && *p == '\r'))
			break;  /* the blank line */
		colon = memchr(p, ':', (size_t)(line_end - p));
		if (!colon || colon == p) {
			r = respond_text(resp, 400, "Malformed header line.", true);
			goto out;
		}
		nlen = (size_t)(colon - p);
		for (size_t i = 0; i < nlen; i++) {
			if (!is_tchar(p[i])) {
				r = respond_text(resp, 400, "Malformed header name.", true);
				goto out;
			}
		}
		v = colon + 1;
		ve = line_end;
		if (ve > v && ve[-1] == '\r')
			ve--;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (name_is(p, nlen, "Content-Length")) {
			size_t n = 0;

			if (ve == v || ve - v > 9) {
				r = respond_text(resp, 400, "Invalid Content-Length.", true);
				goto out;
			}
			for (const char *d = v; d < ve; d++) {
				if (*d < '0' || *d > '9') {
					r = respond_text(resp, 400, "Invalid Content-Length.", true);
					goto out;
				}
				n = n * 10 + (size_t)(*d - '0');
			}
			if (have_len && n != clen) {
				r = respond_text(resp, 400, "Conflicting Content-Length.", true);
				goto out;
			}
			clen = n;
			have_len = true;
		} else if (name_is(p, nlen, "Transfer-Encoding")) {
			r = respond_text(resp, 501, "Transfer-Encoding is not supported.", true);
			goto out;
		} else if (name_is(p, nlen, "Connection")) {
			if (ve - v == 5 && strncasecmp(v, "close", 5) == 0)
				rq->conn_close = true;
			else if (ve - v == 10 && strncasecmp(v, "keep-alive", 10) == 0)
				rq->conn_keep = true;
		} else if (name_is(p, nlen, "Accept")) {
			rq->json = wants_json(v, (size_t)(ve - v));
		} else if (name_is(p, nlen, "X-metadata-token") ||
			   name_is(p, nlen, "X-aws-ec2-metadata-token")) {
			rq->token = v;
			rq->token_len = (size_t)(ve - v);
		} else if (name_is(p, nlen, "X-metadata-token-ttl-seconds") ||
			   name_is(p, nlen, "X-aws-ec2-metadata-token-ttl-seconds")) {
			rq->ttl = v;
			rq->ttl_len = (size_t)(ve - v);
		} else if (name_is(p, nlen, "X-Forwarded-For")) {
			rq->forwarded = true;
		}
		p = line_end + 1;
	}
	if (clen > MMDS_HTTP_MAX_REQUEST - end) {
		r = respond_text(resp, 413, "Request too large.", true);
		goto out;
	}
	if (len - end < clen) {
		r = 0;  /* the body is still coming */
		*consumed = 0;
		goto out;
	}
	*consumed = end + clen;   /* the body, if any, is ignored */
	close = rq->http10 ? !rq->conn_keep : rq->conn_close;
	if (!strcmp(rq->method, "GET"))
		r = answer_get(s, rq, resp, close);
	else if (!strcmp(rq->method, "PUT"))
		r = answer_put(s, rq, resp, close);
	else
		r = respond(resp, 405, "text/plain", "Method not allowed.", 19,
			    "Allow: GET, PUT\r\n", close);
out:
	free(rq);
	if (r <= 0) {
		free(resp->data);
		memset(resp, 0, sizeof(*resp));
		if (r == 0)
			*consumed = 0;
	}
	return r;
}
