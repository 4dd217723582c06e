#include "mmds/mmds_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct mmds_token {
	char tok[MMDS_TOKEN_LEN + 1];
	uint64_t expiry_ms;
	bool used;
};

struct mmds_store {
	pthread_mutex_t lock;
	json_t *data;                   /* NULL until the first put (or patch) */
	size_t limit;
	enum mmds_version version;
	uint32_t ipv4;
	uint64_t (*now_ms)(void *ctx);
	void *clock_ctx;
	struct mmds_token tokens[MMDS_MAX_TOKENS];
};

static uint64_t mono_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

struct mmds_store *mmds_store_new(void)
{
	struct mmds_store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return NULL;
	}
	s->limit = MMDS_DEFAULT_LIMIT;
	s->version = MMDS_V1;
	s->ipv4 = MMDS_DEFAULT_IPV4;
	s->now_ms = mono_ms;
	return s;
}

void mmds_store_free(struct mmds_store *s)
{
	if (!s)
		return;
	json_decref(s->data);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void mmds_store_set_clock(struct mmds_store *s, uint64_t (*now_ms)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&s->lock);
	s->now_ms = now_ms ? now_ms : mono_ms;
	s->clock_ctx = ctx;
	pthread_mutex_unlock(&s->lock);
}

uint64_t mmds_store_now_ms(struct mmds_store *s)
{
	uint64_t t;

	pthread_mutex_lock(&s->lock);
	t = s->now_ms(s->clock_ctx);
	pthread_mutex_unlock(&s->lock);
	return t;
}

int mmds_store_set_limit(struct mmds_store *s, size_t limit)
{
	if (limit < 2)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->limit = limit;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Size of v as compact JSON (what the limit counts), or SIZE_MAX when it cannot be
 * encoded. */
static size_t json_size(const json_t *v)
{
	size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);

	return n ? n : SIZE_MAX;
}

static int parse_object(const char *json, size_t len, const char *what, json_t **out,
			char *err, size_t errlen)
{
	json_error_t je;
	json_t *v;

	if (!json) {
		set_err(err, errlen, "%s: no body", what);
		return -EINVAL;
	}
	v = json_loadb(json, len, 0, &je);
	if (!v) {
		set_err(err, errlen, "%s: invalid JSON: %s (line %d, column %d)", what, je.text,
			je.line, je.column);
		return -EINVAL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		set_err(err, errlen, "%s: the metadata must be a JSON object", what);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int mmds_store_put_json(struct mmds_store *s, const char *json, size_t len, char *err,
			size_t errlen)
{
	json_t *v = NULL;
	size_t n;
	int r = parse_object(json, len, "PUT /mmds", &v, err, errlen);

	if (r < 0)
		return r;
	n = json_size(v);
	pthread_mutex_lock(&s->lock);
	if (n > s->limit) {
		set_err(err, errlen, "PUT /mmds: the metadata (%zu bytes) exceeds the data store "
			"limit of %zu bytes", n, s->limit);
		r = -EFBIG;
		goto out;
	}
	json_decref(s->data);
	s->data = v;
	v = NULL;
out:
	pthread_mutex_unlock(&s->lock);
	json_decref(v);
	return r;
}

/* RFC 7396 section 2, on target (which this function owns and may replace). Returns the
 * result (owned), or NULL when out of memory. */
static json_t *merge_patch(json_t *target, const json_t *patch)
{
	const char *key;
	json_t *pv;

	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
		if (!target)
			return NULL;
	}
	json_object_foreach((json_t *)patch, key, pv) {
		if (json_is_null(pv)) {
			json_object_del(target, key);
		} else {
			json_t *cur = json_object_get(target, key);
			json_t *nv;

			json_incref(cur);
			nv = merge_patch(cur, pv);
			if (!nv || json_object_set_new(target, key, nv) < 0) {
				json_decref(target);
				return NULL;
			}
		}
	}
	return target;
}

int mmds_store_patch_json(struct mmds_store *s, const char *json, size_t len, char *err,
			  size_t errlen)
{
	json_t *patch = NULL, *next = NULL;
	size_t n;
	int r = parse_object(json, len, "PATCH /mmds", &patch, err, errlen);

	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	next = s->data ? json_deep_copy(s->data) : json_object();
	if (next)
		next = merge_patch(next, patch);
	if (!next) {
		set_err(err, errlen, "PATCH /mmds: out of memory");
		r = -ENOMEM;
		goto out;
	}
	n = json_size(next);
	if (n > s->limit) {
		set_err(err, errlen, "PATCH /mmds: the patched metadata (%zu bytes) exceeds the "
			"data store limit of %zu bytes", n, s->limit);
		r = -EFBIG;
		goto out;
	}
	json_decref(s->data);
	s->data = next;
	next = NULL;
out:
	pthread_mutex_unlock(&s->lock);
	json_decref(next);
	json_decref(patch);
	return r;
}

char *mmds_store_get_json(struct mmds_store *s)
{
	char *out;

	pthread_mutex_lock(&s->lock);
	out = s->data ? json_dumps(s->data, JSON_COMPACT) : strdup("{}");
	pthread_mutex_unlock(&s->lock);
	return out;
}

/* Parses a decimal array index: digits only, no leading zero (JSON pointer rules). */
static bool parse_index(const char *seg, size_t len, size_t *idx)
{
	size_t v = 0;

	if (len == 0 || len > 9 || (len > 1 && seg[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (seg[i] < '0' || seg[i] > '9')
			return false;
		v = v * 10 + (size_t)(seg[i] - '0');
	}
	*idx = v;
	return true;
}

/* Walks path from root; NULL when absent. Segment buffers are bounded by the path. */
static json_t *lookup(json_t *root, const char *path)
{
	json_t *cur = root;
	size_t plen = strlen(path);
	char *key = malloc(plen + 1);
	const char *p = path, *end = path + plen;

	if (!key)
		return NULL;
	while (cur && p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *seg_end = slash ? slash : end;
		size_t klen = 0;

		if (seg_end == p) {
			p = seg_end + 1;
			continue;  /* empty segment: "//" or a leading/trailing slash */
		}
		for (const char *q = p; q < seg_end; q++) {
			if (*q == '~' && q + 1 < seg_end && (q[1] == '0' || q[1] == '1')) {
				key[klen++] = q[1] == '0' ? '~' : '/';
				q++;
			} else {
				key[klen++] = *q;
			}
		}
		key[klen] = '\0';
		if (json_is_object(cur)) {
			cur = json_object_getn(cur, key, klen);
		} else if (json_is_array(cur)) {
			size_t idx;

			cur = parse_index(key, klen, &idx) ? json_array_get(cur, idx) : NULL;
		} else {
			cur = NULL;
		}
		p = seg_end + 1;
	}
	free(key);
	return cur;
}

int mmds_store_get(struct mmds_store *s, const char *path, json_t **out)
{
	json_t *v;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	v = s->data ? lookup(s->data, path) : NULL;
	if (!v) {
		r = -ENOENT;
		goto out;
	}
	*out = json_deep_copy(v);
	if (!*out)
		r = -ENOMEM;
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int mmds_parse_ipv4(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	const char *p = s;

	for (int i = 0; i < 4; i++) {
		unsigned int oct = 0, digits = 0;

		while (*p >= '0' && *p <= '9') {
			if (digits == 1 && oct == 0)
				return -EINVAL;  /* leading zero */
			oct = oct * 10 + (unsigned int)(*p - '0');
			if (++digits > 3 || oct > 255)
				return -EINVAL;
			p++;
		}
		if (!digits)
			return -EINVAL;
		v = v << 8 | oct;
		if (i < 3 && *p++ != '.')
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*out = v;
	return 0;
}

int mmds_config_set(struct mmds_store *s, const char *version, const char *ipv4, char *err,
		    size_t errlen)
{
	enum mmds_version ver = MMDS_V1;
	uint32_t ip = MMDS_DEFAULT_IPV4;

	if (version) {
		if (!strcmp(version, "V1")) {
			ver = MMDS_V1;
		} else if (!strcmp(version, "V2")) {
			ver = MMDS_V2;
		} else {
			set_err(err, errlen, "mmds config: version must be \"V1\" or \"V2\", not "
				"\"%.32s\"", version);
			return -EINVAL;
		}
	}
	if (ipv4) {
		if (mmds_parse_ipv4(ipv4, &ip) < 0) {
			set_err(err, errlen, "mmds config: invalid ipv4_address \"%.32s\"", ipv4);
			return -EINVAL;
		}
		/* 169.254.0.0/16 without its first and last /24 (RFC 3927 reserves them). */
		if ((ip >> 16) != 0xa9fe || ((ip >> 8) & 0xff) == 0 || ((ip >> 8) & 0xff) == 255) {
			set_err(err, errlen, "mmds config: ipv4_address %s is not a usable "
				"link-local address (169.254.1.0 to 169.254.254.255)", ipv4);
			return -EINVAL;
		}
	}
	pthread_mutex_lock(&s->lock);
	s->version = ver;
	__atomic_store_n(&s->ipv4, ip, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

enum mmds_version mmds_store_version(struct mmds_store *s)
{
	enum mmds_version v;

	pthread_mutex_lock(&s->lock);
	v = s->version;
	pthread_mutex_unlock(&s->lock);
	return v;
}

uint32_t mmds_store_ipv4(struct mmds_store *s)
{
	/* Read for every frame the guest sends: no lock. */
	return __atomic_load_n(&s->ipv4, __ATOMIC_RELAXED);
}

static void base64(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

int mmds_token_new(struct mmds_store *s, unsigned int ttl, char out[MMDS_TOKEN_LEN + 1])
{
	uint8_t raw[32];
	size_t got = 0;
	struct mmds_token *slot = NULL;
	uint64_t now;

	if (ttl < MMDS_TOKEN_TTL_MIN || ttl > MMDS_TOKEN_TTL_MAX)
		return -EINVAL;
	while (got < sizeof(raw)) {
		ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -EIO;
		}
		got += (size_t)r;
	}
	base64(raw, sizeof(raw), out);
	pthread_mutex_lock(&s->lock);
	now = s->now_ms(s->clock_ctx);
	/* A free or expired slot, else evict the token that expires first. */
	for (unsigned int i = 0; i < MMDS_MAX_TOKENS; i++) {
		struct mmds_token *t = &s->tokens[i];

		if (!t->used || t->expiry_ms <= now) {
			slot = t;
			break;
		}
		if (!slot || t->expiry_ms < slot->expiry_ms)
			slot = t;
	}
	memcpy(slot->tok, out, MMDS_TOKEN_LEN + 1);
	slot->expiry_ms = now + (uint64_t)ttl * 1000u;
	slot->used = true;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

bool mmds_token_valid(struct mmds_store *s, const char *tok, size_t len)
{
	bool ok = false;
	uint64_t now;

	if (len != MMDS_TOKEN_LEN)
		return false;
	pthread_mutex_lock(&s->lock);
	now = s->now_ms(s->clock_ctx);
	for (unsigned int i = 0; i < MMDS_MAX_TOKENS; i++) {
		struct mmds_token *t = &s->tokens[i];
		unsigned char diff = 0;

		if (!t->used)
			continue;
		if (t->expiry_ms <= now) {
			t->used = false;
			continue;
		}
		/* Constant time over the token's bytes. */
		for (size_t k = 0; k < MMDS_TOKEN_LEN; k++)
			diff |= (unsigned char)(t->tok[k] ^ tok[k]);
		ok |= diff == 0;
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}
