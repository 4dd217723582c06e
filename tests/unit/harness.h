/* Ember's unit test harness: no dependencies, one binary per test file.
 *
 *   TEST(name) { CHECK(x); CHECK_EQ_U64(a, b); ... }
 *
 * TEST registers the function (constructor-based); the harness's main() runs every test of
 * the binary in source order and prints "PASS name" or "FAIL name: file:line: detail", then
 * "<binary>: N passed, M failed". Exit status 1 if any test failed.
 *
 * CHECK_* record a failure and let the test go on; REQUIRE_* record it and return from
 * the test (use them when what follows would dereference something that failed). Every
 * macro evaluates each of its arguments exactly once. A test that ran no check at all
 * fails: a test that cannot fail proves nothing.
 *
 * A binary's arguments, if any, are substrings: only tests whose name contains one run. */
#ifndef EMBER_TESTS_UNIT_HARNESS_H
#define EMBER_TESTS_UNIT_HARNESS_H

#include <stddef.h>
#include <stdint.h>

typedef void (*harness_fn)(void);

struct harness_test {
	const char *name;
	harness_fn fn;
	const char *file;
	int line;
	struct harness_test *next;
};

void harness_register(struct harness_test *t);

/* Each returns 1 when the check held, 0 after recording a failure. */
int harness_check(int ok, const char *file, int line, const char *expr);
int harness_check_u64(const char *file, int line, const char *ea, const char *eb,
		      uint64_t a, uint64_t b, int want_equal);
int harness_check_i64(const char *file, int line, const char *ea, const char *eb,
		      long long a, long long b, int want_equal);
int harness_check_str_eq(const char *file, int line, const char *ea, const char *eb,
			 const char *a, const char *b);
int harness_check_str_contains(const char *file, int line, const char *ehay,
			       const char *hay, const char *needle);
int harness_check_mem_eq(const char *file, int line, const char *ea, const char *eb,
			 const void *a, const void *b, size_t n);
int harness_check_ptr(const char *file, int line, const char *expr, const void *p,
		      int want_null);
/* Records a failure with a printf-style message; returns 0. */
int harness_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define TEST(name)                                                                      \
	static void test_fn_##name(void);                                               \
	static struct harness_test test_reg_##name = {                                  \
		#name, test_fn_##name, __FILE__, __LINE__, NULL,                        \
	};                                                                              \
	__attribute__((constructor)) static void test_ctor_##name(void)                 \
	{                                                                               \
		harness_register(&test_reg_##name);                                     \
	}                                                                               \
	static void test_fn_##name(void)

#define CHECK(cond) harness_check(!!(cond), __FILE__, __LINE__, #cond)
#define CHECK_EQ_U64(a, b) \
	harness_check_u64(__FILE__, __LINE__, #a, #b, (uint64_t)(a), (uint64_t)(b), 1)
#define CHECK_NE_U64(a, b) \
	harness_check_u64(__FILE__, __LINE__, #a, #b, (uint64_t)(a), (uint64_t)(b), 0)
#define CHECK_EQ_INT(a, b) \
	harness_check_i64(__FILE__, __LINE__, #a, #b, (long long)(a), (long long)(b), 1)
#define CHECK_NE_INT(a, b) \
	harness_check_i64(__FILE__, __LINE__, #a, #b, (long long)(a), (long long)(b), 0)
#define CHECK_STR_EQ(a, b) harness_check_str_eq(__FILE__, __LINE__, #a, #b, (a), (b))
#define CHECK_STR_CONTAINS(hay, needle) \
	harness_check_str_contains(__FILE__, __LINE__, #hay, (hay), (needle))
#define CHECK_MEM_EQ(a, b, n) harness_check_mem_eq(__FILE__, __LINE__, #a, #b, (a), (b), (n))
#define CHECK_NULL(p) harness_check_ptr(__FILE__, __LINE__, #p, (p), 1)
#define CHECK_NOT_NULL(p) harness_check_ptr(__FILE__, __LINE__, #p, (p), 0)
#define FAIL(...) harness_fail(__FILE__, __LINE__, __VA_ARGS__)

/* The REQUIREs test the condition in plain sight, so the compiler knows what holds after
 * them (-Wnull-dereference). */
#define REQUIRE(cond)                                                                   \
	do {                                                                            \
		int require_ok_ = !!(cond);                                             \
		harness_check(require_ok_, __FILE__, __LINE__, #cond);                  \
		if (!require_ok_)                                                       \
			return;                                                         \
	} while (0)
#define REQUIRE_EQ_U64(a, b) do { if (!CHECK_EQ_U64(a, b)) return; } while (0)
#define REQUIRE_EQ_INT(a, b) do { if (!CHECK_EQ_INT(a, b)) return; } while (0)
#define REQUIRE_NOT_NULL(p)                                                             \
	do {                                                                            \
		int require_ok_ = (p) != NULL;                                          \
		harness_check(require_ok_, __FILE__, __LINE__, #p " != NULL");          \
		if (!require_ok_)                                                       \
			return;                                                         \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Runs fn(arg) in a child process with an alarm of `seconds`: for code that might block
 * forever (a test then fails instead of hanging). Returns fn's value (the child's exit
 * status, 0..255), 128 + the signal that ended the child (142: the alarm), or -errno. */
int harness_in_child(int (*fn)(void *arg), void *arg, unsigned int seconds);

/* Creates a FIFO at /tmp/ember-test-<tag>.<pid> (removed first if left over) and writes its
 * path into path. 0 or -errno. */
int harness_make_fifo(char *path, size_t size, const char *tag);

/* Little-endian fields of guest structures (boot params, MP and ACPI tables) at a byte
 * offset, without alignment assumptions. */
static inline uint16_t get16(const uint8_t *p, size_t off)
{
	return (uint16_t)(p[off] | p[off + 1] << 8);
}

static inline uint32_t get32(const uint8_t *p, size_t off)
{
	return (uint32_t)get16(p, off) | (uint32_t)get16(p, off + 2) << 16;
}

static inline uint64_t get64(const uint8_t *p, size_t off)
{
	return (uint64_t)get32(p, off) | (uint64_t)get32(p, off + 4) << 32;
}

/* Deterministic pseudo-random numbers for table-driven and randomized tests (xorshift64*;
 * the seed must be non-zero). */
static inline uint64_t test_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#endif
