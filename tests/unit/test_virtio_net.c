/* virtio-net's MAC address parser (--net tap=NAME,mac=MAC): six colon-separated hex
 * octets, unicast only (the I/G bit, bit 0 of the first octet, clear). The rest of
 * virtio-net needs a tap device and is exercised in tier 2. */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "devices/virtio/virtio_net.h"

TEST(valid_macs)
{
	static const struct { const char *s; uint8_t mac[6]; } ok[] = {
		{ "02:00:00:00:00:01", { 0x02, 0, 0, 0, 0, 0x01 } },
		{ "06:00:ac:10:2a:ff", { 0x06, 0x00, 0xac, 0x10, 0x2a, 0xff } },
		{ "52:54:00:12:34:56", { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } },
		{ "AA:BB:CC:DD:EE:FF", { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff } },  /* 0xaa: unicast */
		{ "fe:dc:Ba:98:76:54", { 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54 } },
		{ "00:00:00:00:00:00", { 0, 0, 0, 0, 0, 0 } },
	};

	for (unsigned int k = 0; k < ARRAY_LEN(ok); k++) {
		uint8_t mac[6] = { 0 };

		if (!CHECK_EQ_INT(virtio_net_parse_mac(ok[k].s, mac), 0))
			FAIL("'%s' refused", ok[k].s);
		CHECK_MEM_EQ(mac, ok[k].mac, 6);
	}
}

TEST(invalid_macs)
{
	static const char *const bad[] = {
		"01:00:5e:00:00:01",          /* multicast */
		"ff:ff:ff:ff:ff:ff",          /* broadcast */
		"03:00:00:00:00:00",
		"02:00:00:00:00",             /* short */
		"02:00:00:00:00:",
		"02",
		"",
		"garbage",
		"zz:00:00:00:00:01",
		"02:00:00:00:00:01:02",       /* trailing octet */
		"02:00:00:00:00:01 ",         /* trailing space */
		"02:00:00:00:00:01\n",
		"02:00:00:00:00:1g",
		"02:00:00:00:00:012",         /* three digits */
		"002:00:00:00:00:01",
		"02-00-00-00-00-01",          /* wrong separator */
		"02:00:00:00:00::01",
		"0200.0000.0001",
	};

	for (unsigned int k = 0; k < ARRAY_LEN(bad); k++) {
		uint8_t mac[6];

		if (!CHECK_EQ_INT(virtio_net_parse_mac(bad[k], mac), -EINVAL))
			FAIL("'%s' accepted", bad[k]);
	}
}

/* Regression (found by this test, fixed in 9d699dd): virtio_net_parse_mac used sscanf
 * "%2x", which accepts leading white space, a sign and a "0x" prefix, so
 * "-2:00:00:00:00:01" parsed as fe:00:00:00:00:01 (the sign wrapped the value and the
 * (uint8_t) cast kept the low byte), "02:00:00:00:00:-1" as 02:...:ff, "+2:..." and
 * " 2:..." as 02:..., "0x:00:00:00:00:01" as 00:...:01. Only two hex digits per octet. */
TEST(regression_parse_mac_accepts_signs_spaces_and_0x)
{
	static const char *const bad[] = {
		"-2:00:00:00:00:01",
		"02:00:00:00:00:-1",
		"+2:00:00:00:00:01",
		" 2:00:00:00:00:01",
		"02: 0:00:00:00:01",
		"0x:00:00:00:00:01",
	};

	for (unsigned int k = 0; k < ARRAY_LEN(bad); k++) {
		uint8_t mac[6] = { 0 };

		if (!CHECK_EQ_INT(virtio_net_parse_mac(bad[k], mac), -EINVAL))
			FAIL("'%s' accepted as %02x:%02x:%02x:%02x:%02x:%02x", bad[k], mac[0], mac[1],
			     mac[2], mac[3], mac[4], mac[5]);
	}
}

TEST(ops)
{
	CHECK_EQ_U64(virtio_net_ops.device_id, VIRTIO_ID_NET);
	CHECK_EQ_U64(virtio_net_ops.num_queues, 2);
	CHECK_EQ_U64(virtio_net_ops.config_size, 6);   /* the MAC */
	CHECK(virtio_net_ops.features & (1ULL << 5));  /* VIRTIO_NET_F_MAC */
	CHECK_EQ_U64(virtio_net_ops.queue_max & (virtio_net_ops.queue_max - 1), 0);
}

TEST(open_refuses_a_missing_tap_and_a_long_name)
{
	struct virtio_net n;

	CHECK_EQ_INT(virtio_net_open(&n, "embernotap0", NULL, 0), -ENODEV);
	CHECK_EQ_INT(n.tap_fd, -1);
	CHECK_EQ_INT(virtio_net_open(&n, "a-name-longer-than-15", NULL, 0), -EINVAL);
	CHECK_EQ_INT(n.tap_fd, -1);
}
