/* The MMDS data store (microVM metadata service, Firecracker-compatible): one JSON
 * object tree the host sets through the API (PUT replaces it, PATCH merges an RFC 7396
 * JSON merge patch into it) and the guest reads over HTTP at the MMDS address (see
 * mmds_http.h, mmds_stack.h), plus the service's configuration (version V1 or V2, the
 * IPv4 address) and, for V2, the table of session tokens.
 *
 * Thread safety: every function takes the store's lock; the API thread writes while the
 * network device's worker thread reads. Bounded: the serialized tree is at most
 * limit bytes (default 51200, Firecracker's default data store limit) and the token
 * table has MMDS_MAX_TOKENS entries (the one expiring first is evicted when full). */
#ifndef EMBER_MMDS_MMDS_STORE_H
#define EMBER_MMDS_MMDS_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MMDS_DEFAULT_LIMIT 51200         /* bytes of compact JSON */
#define MMDS_DEFAULT_IPV4 0xa9fea9feu    /* 169.254.169.254, host order */
#define MMDS_MAX_TOKENS 128
#define MMDS_TOKEN_LEN 44                /* base64 of 32 random bytes */
#define MMDS_TOKEN_TTL_MIN 1
#define MMDS_TOKEN_TTL_MAX 21600         /* seconds (6 hours) */

enum mmds_version { MMDS_V1 = 1, MMDS_V2 = 2 };

struct mmds_store;

/* A new empty store: V1, 169.254.169.254, default limit. NULL when out of memory. */
struct mmds_store *mmds_store_new(void);
void mmds_store_free(struct mmds_store *s);

/* Replaces the whole tree with the JSON object in json[0..len). 0, -EINVAL (not JSON,
 * not an object) or -EFBIG (over the limit); on error the store is unchanged and err
 * (errlen bytes, may be NULL) holds one line saying why. */
int mmds_store_put_json(struct mmds_store *s, const char *json, size_t len, char *err,
			size_t errlen);
/* Applies a JSON merge patch (RFC 7396; it must be an object). Same returns. Patching a
 * store nothing was ever put into patches the empty object. */
int mmds_store_patch_json(struct mmds_store *s, const char *json, size_t len, char *err,
			  size_t errlen);
/* The whole tree as compact JSON, malloc'd ("{}" when empty); NULL when out of memory. */
char *mmds_store_get_json(struct mmds_store *s);
/* A deep copy of the value at path ("/a/b/0": object keys and array indices; empty
 * segments are ignored, so "/", "" and "/a/" work; "~1" is '/' and "~0" is '~' as in
 * JSON pointers). 0 with *out set (json_decref it), -ENOENT (no such value or nothing
 * was ever put), -ENOMEM. */
int mmds_store_get(struct mmds_store *s, const char *path, json_t **out);
/* Sets the size limit in bytes (>= 2); existing data is kept even if now larger. */
int mmds_store_set_limit(struct mmds_store *s, size_t limit);

/* PUT /mmds/config: version "V1" or "V2" (NULL: V1, Firecracker's default) and
 * ipv4_address (NULL: 169.254.169.254). The address must be link-local and usable:
 * 169.254.1.0 to 169.254.254.255 (RFC 3927). 0 or -EINVAL with err set; nothing
 * changes on error. */
int mmds_config_set(struct mmds_store *s, const char *version, const char *ipv4, char *err,
		    size_t errlen);
enum mmds_version mmds_store_version(struct mmds_store *s);
uint32_t mmds_store_ipv4(struct mmds_store *s);   /* host byte order */
/* Parses dotted-quad "a.b.c.d" strictly (no leading zeros beyond "0", no spaces) into
 * host order; 0 or -EINVAL. */
int mmds_parse_ipv4(const char *s, uint32_t *out);

/* V2 session tokens. mmds_token_new writes a NUL-terminated token of MMDS_TOKEN_LEN
 * characters valid for ttl seconds (MMDS_TOKEN_TTL_MIN..MAX); 0, -EINVAL (ttl), -EIO
 * (no randomness). mmds_token_valid: is tok[0..len) a known, unexpired token? */
int mmds_token_new(struct mmds_store *s, unsigned int ttl, char out[MMDS_TOKEN_LEN + 1]);
bool mmds_token_valid(struct mmds_store *s, const char *tok, size_t len);

/* The store's clock in milliseconds (CLOCK_MONOTONIC unless a test replaced it). */
uint64_t mmds_store_now_ms(struct mmds_store *s);
void mmds_store_set_clock(struct mmds_store *s, uint64_t (*now_ms)(void *ctx), void *ctx);

#endif
