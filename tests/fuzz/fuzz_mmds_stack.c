/* libFuzzer target: MMDS's network stack (src/mmds/mmds_stack.c) on arbitrary frame
 * sequences, as a hostile guest would send them.
 *
 * Input: one flags byte (bit 0: MMDS V2; bit 1: MMDS at 169.254.170.2), then operations:
 *   0 LL LL <LL bytes>   a raw frame (length little endian, at most 2000)
 *   1 P SS AA F WW N <N bytes>
 *                        a well-formed TCP segment to MMDS port 80 (or 81 when P & 0x80)
 *                        from guest port 40000 + P % 8, with correct checksums: its
 *                        sequence number is what MMDS last acknowledged on that port
 *                        plus the signed byte SS... (SS, AA: int16 offsets), its ack what
 *                        MMDS last sent plus AA, flags F, window WW, N payload bytes
 *   2 K C                pull up to K % 32 frames with buffers of 64 + C * 8 bytes
 *   3 T                  advance the clock by T seconds
 * Every frame MMDS sends is checked: within the buffer and MMDS_FRAME_MAX, from MMDS's
 * MAC, and for IPv4 a 20-byte header with a valid checksum, the right total length and a
 * valid TCP checksum. The connection count never exceeds MMDS_MAX_CONNS. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/mmds_stack.h"
#include "mmds/mmds_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                                      \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "fuzz_mmds_stack: %s:%d: assertion failed: %s\n", \
				__FILE__, __LINE__, #c);                               \
			abort();                                                       \
		}                                                                      \
	} while (0)

#define GUEST_IP 0xac100002u
#define PORTS 8

static const uint8_t GUEST_MAC[6] = { 0x02, 0, 0, 0, 0, 0x42 };
static const char STORE[] = "{\"latest\":{\"meta-data\":{\"a\":\"b\",\"big\":\"%s\"}}}";
static uint64_t now_ms;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return now_ms;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s > 0xffff)
		s = (s >> 16) + (s & 0xffff);
	return (uint16_t)~s;
}

static void w16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void w32(uint8_t *p, uint32_t v)
{
	w16(p, v >> 16);
	w16(p + 2, v & 0xffff);
}

static uint32_t r32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Per guest port: MMDS's last sequence end and last acknowledgment seen. */
static uint32_t mmds_next[PORTS], mmds_ack[PORTS];

static void check_out(const uint8_t *f, size_t n, size_t cap)
{
	const uint8_t *ip = f + 14, *t;
	size_t tot, thl;
	unsigned int port;

	ASSERT(n <= cap && n <= MMDS_FRAME_MAX && n >= 14);
	ASSERT(memcmp(f + 6, MMDS_MAC, 6) == 0);
	if (f[12] == 0x08 && f[13] == 0x06) {
		ASSERT(n == 42);
		return;
	}
	ASSERT(f[12] == 0x08 && f[13] == 0x00);
	ASSERT(n >= 14 + 20 + 20);
	ASSERT(ip[0] == 0x45);
	tot = (size_t)ip[2] << 8 | ip[3];
	ASSERT(tot + 14 == n);
	ASSERT(fold(sum16(ip, 20, 0)) == 0);
	t = ip + 20;
	ASSERT(fold(sum16(t, tot - 20, sum16(ip + 12, 8, 6 + (uint32_t)(tot - 20)))) == 0);
	thl = (size_t)(t[12] >> 4) * 4;
	ASSERT(thl >= 20 && thl <= tot - 20);
	port = ((unsigned int)t[2] << 8 | t[3]) - 40000u;
	if (port < PORTS) {
		uint32_t seq = r32(t + 4);

		mmds_next[port] = seq + (uint32_t)(tot - 20 - thl) + ((t[13] & 3) ? 1u : 0u);
		mmds_ack[port] = r32(t + 8);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[2100], out[2100];
	struct mmds_store *s;
	struct mmds_stack *st;
	size_t i = 1;

	if (size < 1)
		return 0;
	now_ms = 1000000;
	memset(mmds_next, 0, sizeof(mmds_next));
	memset(mmds_ack, 0, sizeof(mmds_ack));
	s = mmds_store_new();
	ASSERT(s);
	mmds_store_set_clock(s, fake_clock, NULL);
	{
		/* A 5000-byte value: its response takes several segments. */
		static char json[5200], big[5001];

		if (!json[0]) {
			memset(big, 'x', sizeof(big) - 1);
			snprintf(json, sizeof(json), STORE, big);
		}
		ASSERT(mmds_store_put_json(s, json, strlen(json), NULL, 0) == 0);
	}
	ASSERT(mmds_config_set(s, (data[0] & 1) ? "V2" : "V1",
			       (data[0] & 2) ? "169.254.170.2" : NULL, NULL, 0) == 0);
	st = mmds_stack_new(s);
	ASSERT(st);

	while (i < size) {
		uint8_t op = data[i++] % 4;

		if (op == 0) {
			size_t n;

			if (i + 2 > size)
				break;
			n = ((size_t)data[i] | (size_t)data[i + 1] << 8) % 2001;
			i += 2;
			if (n > size - i)
				n = size - i;
			memcpy(frame, data + i, n);
			i += n;
			(void)mmds_stack_rx_from_guest(st, frame, n);
		} else if (op == 1) {
			uint8_t *ip = frame + 14, *t = ip + 20;
			unsigned int p;
			size_t n, tl;
			int16_t ds, da;

			if (i + 9 > size)
				break;
			p = data[i] % PORTS;
			ds = (int16_t)(data[i + 1] | data[i + 2] << 8);
			da = (int16_t)(data[i + 3] | data[i + 4] << 8);
			memset(frame, 0, 54);
			memcpy(frame, MMDS_MAC, 6);
			memcpy(frame + 6, GUEST_MAC, 6);
			w16(frame + 12, 0x0800);
			ip[0] = 0x45;
			ip[8] = 64;
			ip[9] = 6;
			w32(ip + 12, GUEST_IP);
			w32(ip + 16, mmds_store_ipv4(s));
			w16(t, 40000 + p);
			w16(t + 2, (data[i] & 0x80) ? 81 : 80);
			w32(t + 4, mmds_ack[p] + (uint32_t)(int32_t)ds);
			w32(t + 8, mmds_next[p] + (uint32_t)(int32_t)da);
			t[12] = 0x50;
			t[13] = data[i + 5];
			t[14] = data[i + 6];
			t[15] = data[i + 7];
			n = data[i + 8];
			i += 9;
			if (n > size - i)
				n = size - i;
			memcpy(t + 20, data + i, n);
			i += n;
			tl = 20 + n;
			w16(ip + 2, (uint32_t)(20 + tl));
			w16(ip + 10, fold(sum16(ip, 20, 0)));
			w16(t + 16, fold(sum16(t, tl, sum16(ip + 12, 8, 6 + (uint32_t)tl))));
			ASSERT(mmds_stack_rx_from_guest(st, frame, 34 + tl) == 1);
		} else if (op == 2) {
			unsigned int k;
			size_t cap;

			if (i + 2 > size)
				break;
			k = data[i] % 32;
			cap = 64 + (size_t)data[i + 1] * 8;
			i += 2;
			while (k--) {
				size_t n = mmds_stack_tx_to_guest(st, out, cap);

				if (!n)
					break;
				check_out(out, n, cap);
			}
		} else {
			if (i >= size)
				break;
			now_ms += (uint64_t)data[i++] * 1000;
		}
		ASSERT(mmds_stack_conns(st) <= MMDS_MAX_CONNS);
	}
	/* Whatever is left comes out well formed, and ends. */
	for (int k = 0; k < 100000; k++) {
		size_t n = mmds_stack_tx_to_guest(st, out, MMDS_FRAME_MAX);

		if (!n)
			break;
		check_out(out, n, MMDS_FRAME_MAX);
	}
	mmds_stack_free(st);
	mmds_store_free(s);
	return 0;
}
