/* MMDS's own tiny network stack, on Ethernet frames, between the guest's virtio-net
 * interface and mmds_http: ARP for the MMDS IPv4 address, and TCP on port 80 of it. The
 * guest reaches MMDS at that address (169.254.169.254 unless configured) through the
 * MAC address MMDS_MAC; the host's network (the tap) never sees those frames.
 *
 * Frames from the guest go to mmds_stack_rx_from_guest(); frames for the guest come out
 * of mmds_stack_tx_to_guest(). Both run on the device's worker thread: the stack itself
 * is not locked (the store it reads is).
 *
 * TCP, just enough for HTTP clients on a lossless link: SYN/SYN-ACK with the MSS option
 * (no window scaling, SACK or timestamps, so the guest uses none), in-order data only
 * (a segment ahead of the expected sequence number is dropped and answered with an ACK),
 * cumulative ACKs, FIN both ways, RST for other ports and unknown connections. There is
 * no retransmission timer: MMDS resends from the first unacknowledged byte when the guest
 * repeats an ACK (MMDS_DUPACKS times). Data segments are made on demand when the device
 * has a receive buffer for them, within the guest's advertised window.
 *
 * Checksums: everything MMDS sends carries correct IPv4 and TCP checksums (the virtio
 * header it goes with is zeroed: no offload). On input, the IPv4 header checksum is
 * verified (Linux always fills it in); the TCP checksum is not, because a guest that
 * negotiated VIRTIO_NET_F_CSUM leaves only the pseudo-header sum there
 * (VIRTIO_NET_HDR_F_NEEDS_CSUM) and the frame comes from guest memory, not a wire: a
 * checksum protects nothing here. Nothing depends on it for safety: every length and
 * offset is checked against the frame.
 *
 * Bounds: MMDS_MAX_CONNS connections (a new one takes the slot of one idle for
 * MMDS_IDLE_MS, else it is refused with a RST), each with a request buffer of
 * MMDS_HTTP_MAX_REQUEST bytes and one response at a time (at most the store's size plus
 * headers); MMDS_CTRL_QUEUE queued control frames (ARP replies, RSTs; more are dropped).
 * IP options are accepted; IP fragments are dropped, and so is anything malformed. */
#ifndef EMBER_MMDS_MMDS_STACK_H
#define EMBER_MMDS_MMDS_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmds/mmds_store.h"

#define MMDS_MAX_CONNS 30
#define MMDS_IDLE_MS 60000u
#define MMDS_MSS 1460
#define MMDS_CTRL_QUEUE 64
#define MMDS_DUPACKS 2
#define MMDS_FRAME_MAX 1514       /* largest frame MMDS sends (Ethernet header included) */
#define MMDS_FRAME_MIN 64         /* a buffer smaller than this takes no MMDS frame */
#define MMDS_MATCH_PEEK 42        /* bytes mmds_stack_match() needs to decide (ARP) */

extern const uint8_t MMDS_MAC[6];   /* 06:01:23:45:67:01, locally administered */

struct mmds_stack;

struct mmds_stack_stats {
	uint64_t rx_frames;         /* consumed by MMDS */
	uint64_t rx_dropped;        /* consumed but malformed, fragmented, unsupported */
	uint64_t tx_frames;
	uint64_t ctrl_dropped;      /* control frames lost to a full queue */
	uint64_t conns_opened, conns_refused, conns_reclaimed;
};

/* A stack serving store (not owned; it must outlive the stack). NULL on ENOMEM. */
struct mmds_stack *mmds_stack_new(struct mmds_store *store);
void mmds_stack_free(struct mmds_stack *st);

/* Is this frame (or its first len >= MMDS_MATCH_PEEK bytes) for MMDS: an ARP packet about
 * the MMDS address, or IPv4 to it? Reads only the headers: cheap enough for every frame
 * the guest sends. */
bool mmds_stack_match(struct mmds_stack *st, const uint8_t *frame, size_t len);

/* A frame the guest sent (Ethernet header first, no virtio header). Returns 1 if it was
 * for MMDS (then it is consumed, valid or not, and must not reach the tap), 0 if not. */
int mmds_stack_rx_from_guest(struct mmds_stack *st, const uint8_t *frame, size_t len);

/* The next frame for the guest, written to buf (at most cap bytes); its length, or 0 if
 * there is nothing to send (or cap < MMDS_FRAME_MIN). */
size_t mmds_stack_tx_to_guest(struct mmds_stack *st, uint8_t *buf, size_t cap);
/* Would mmds_stack_tx_to_guest() return a frame now? */
bool mmds_stack_has_output(struct mmds_stack *st);

void mmds_stack_get_stats(const struct mmds_stack *st, struct mmds_stack_stats *out);
/* Open connections (for tests and stats). */
unsigned int mmds_stack_conns(const struct mmds_stack *st);

#endif
