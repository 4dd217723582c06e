/* Firecracker's JSON schema (src/config/fc_config*.c): every section's valid bodies and
 * every way to get one wrong, the --config-file document, the GET /vm/config shape and
 * the command line and vm_config a description turns into. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "config/fc_config.h"
#include "util/err.h"
#include "util/log.h"

/* A readable file for kernel_image_path / path_on_host. */
static const char *some_file(void)
{
	static char path[64];

	if (!path[0]) {
		FILE *f;

		snprintf(path, sizeof(path), "/tmp/ember-fc-unit-%d", (int)getpid());
		f = fopen(path, "w");
		if (f) {
			fputs("x", f);
			fclose(f);
		}
	}
	return path;
}

/* tmpl with every "%s" replaced by some_file() (the tables are templates, not formats). */
static void subst(char *out, size_t cap, const char *tmpl)
{
	size_t n = 0;

	for (const char *p = tmpl; *p && n + 1 < cap; p++) {
		if (p[0] == '%' && p[1] == 's') {
			n += (size_t)snprintf(out + n, cap - n, "%s", some_file());
			p++;
		} else {
			out[n++] = *p;
		}
	}
	out[n < cap ? n : cap - 1] = '\0';
}

typedef int (*put_fn)(struct fc_config *, json_t *);
typedef int (*id_put_fn)(struct fc_config *, const char *, json_t *);

static json_t *vjson(const char *fmt, va_list ap)
{
	char buf[4096];
	json_t *j;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	j = json_loads(buf, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (!j)
		FAIL("bad test JSON: %s", buf);
	return j;
}

/* Calls fn on the JSON that fmt makes; clears err_msg first. */
static int put(put_fn fn, struct fc_config *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int put(put_fn fn, struct fc_config *c, const char *fmt, ...)
{
	va_list ap;
	json_t *b;
	int r;

	va_start(ap, fmt);
	b = vjson(fmt, ap);
	va_end(ap);
	if (!b)
		return -999;
	err_clear();
	r = fn(c, b);
	json_decref(b);
	return r;
}

static int id_put(id_put_fn fn, struct fc_config *c, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int id_put(id_put_fn fn, struct fc_config *c, const char *id, const char *fmt, ...)
{
	va_list ap;
	json_t *b;
	int r;

	va_start(ap, fmt);
	b = vjson(fmt, ap);
	va_end(ap);
	if (!b)
		return -999;
	err_clear();
	r = fn(c, id, b);
	json_decref(b);
	return r;
}

static int mc_put(struct fc_config *c, json_t *b)
{
	return fc_put_machine_config(c, b, false);
}

static int mc_patch(struct fc_config *c, json_t *b)
{
	return fc_put_machine_config(c, b, true);
}

static json_t *J(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *J(const char *fmt, ...)
{
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	j = vjson(fmt, ap);
	va_end(ap);
	return j;
}

TEST(boot_source_valid_and_replaced)
{
	struct fc_config c;

	fc_config_init(&c);
	REQUIRE_EQ_INT(put(fc_put_boot_source, &c, "{\"kernel_image_path\":\"%s\","
			   "\"boot_args\":\"console=ttyS0\"}", some_file()), 0);
	CHECK_STR_EQ(c.kernel, some_file());
	CHECK_STR_EQ(c.boot_args, "console=ttyS0");
	CHECK_NULL(c.initrd);
	REQUIRE_EQ_INT(put(fc_put_boot_source, &c, "{\"kernel_image_path\":\"%s\","
			   "\"initrd_path\":\"%s\", \"boot_args\": null}", some_file(), some_file()), 0);
	CHECK_NULL(c.boot_args);
	CHECK_STR_EQ(c.initrd, some_file());
	fc_config_free(&c);
}

TEST(boot_source_errors_leave_it_unchanged)
{
	static const struct { const char *body, *needle; } cases[] = {
		{ "{}", "missing field `kernel_image_path`" },
		{ "{\"kernel_image_path\": 5}", "must be a string" },
		{ "{\"kernel_image_path\": \"\"}", "must not be empty" },
		{ "{\"kernel_image_path\": \"/nonexistent/vmlinux\"}", "/nonexistent/vmlinux" },
		{ "{\"kernel_image_path\": \"/tmp\"}", "is a directory" },
		{ "{\"kernel_image_path\": \"/tmp/x\", \"kernel\": 1}", "unknown field `kernel`" },
		{ "[1]", "expected a JSON object" },
		{ "{\"kernel_image_path\": \"a\\u0000b\"}", "NUL" },
	};
	struct fc_config c;

	fc_config_init(&c);
	REQUIRE_EQ_INT(put(fc_put_boot_source, &c, "{\"kernel_image_path\":\"%s\"}", some_file()), 0);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		err_clear();
		CHECK_EQ_INT(put(fc_put_boot_source, &c, "%s", cases[i].body), -EINVAL);
		CHECK_STR_CONTAINS(err_msg(), cases[i].needle);
		CHECK_STR_EQ(c.kernel, some_file());
	}
	fc_config_free(&c);
}

TEST(machine_config_put_patch_and_errors)
{
	static const struct { const char *body, *needle; } bad[] = {
		{ "{\"mem_size_mib\": 128}", "missing field `vcpu_count`" },
		{ "{\"vcpu_count\": 1}", "missing field `mem_size_mib`" },
		{ "{\"vcpu_count\": 0, \"mem_size_mib\": 128}", "vcpu_count" },
		{ "{\"vcpu_count\": 33, \"mem_size_mib\": 128}", "out of range" },
		{ "{\"vcpu_count\": -1, \"mem_size_mib\": 128}", "out of range" },
		{ "{\"vcpu_count\": 1.5, \"mem_size_mib\": 128}", "whole number" },
		{ "{\"vcpu_count\": 1, \"mem_size_mib\": 0}", "mem_size_mib" },
		{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": \"no\"}", "true or false" },
		{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"X9\"}", "X9" },
		{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": \"2M\"}", "huge_pages" },
		{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": \"1G\"}", "1G" },
		{ "{\"vcpu_count\": 3, \"mem_size_mib\": 128, \"smt\": true}", "even" },
		{ "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"balloon\": 1}", "unknown field" },
	};
	struct fc_config c;

	fc_config_init(&c);
	CHECK_EQ_U64(c.vcpus, 1);
	CHECK_EQ_U64(c.mem_mib, 128);
	REQUIRE_EQ_INT(put(mc_put, &c, "{\"vcpu_count\": 2, \"mem_size_mib\":"
			   " 256, \"smt\": false, \"track_dirty_pages\": true, \"cpu_template\":"
			   " \"t2\", \"huge_pages\": \"None\"}"), 0);
	CHECK_EQ_U64(c.vcpus, 2);
	CHECK_EQ_U64(c.mem_mib, 256);
	CHECK_STR_EQ(c.cpu_template, "T2");
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err_clear();
		CHECK_EQ_INT(put(mc_put, &c, "%s", bad[i].body), -EINVAL);
		CHECK_STR_CONTAINS(err_msg(), bad[i].needle);
	}
	CHECK_EQ_U64(c.vcpus, 2);
	/* PATCH: any subset, but not nothing. */
	REQUIRE_EQ_INT(put(mc_patch, &c, "{\"mem_size_mib\": 512}"), 0);
	CHECK_EQ_U64(c.vcpus, 2);
	CHECK_EQ_U64(c.mem_mib, 512);
	CHECK_EQ_INT(put(mc_patch, &c, "{}"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "no fields");
	fc_config_free(&c);
}

/* fc_put_* with the URL's id as the middle argument, adapted to put(). */
static int drive(struct fc_config *c, json_t *b)
{
	return fc_put_drive(c, NULL, b);
}

static int net(struct fc_config *c, json_t *b)
{
	return fc_put_net(c, NULL, b);
}

TEST(drives_in_order_replaced_in_place)
{
	struct fc_config c;
	char *cl;

	fc_config_init(&c);
	REQUIRE_EQ_INT(put(drive, &c, "{\"drive_id\":\"a\",\"path_on_host\":\"%s\","
			   "\"is_root_device\":false}", some_file()), 0);
	REQUIRE_EQ_INT(put(drive, &c, "{\"drive_id\":\"b\",\"path_on_host\":\"%s\","
			   "\"is_root_device\":true,\"is_read_only\":false,\"cache_type\":\"Writeback\","
			   "\"io_engine\":\"Async\",\"rate_limiter\":{}}", some_file()), 0);
	REQUIRE_EQ_INT(put(drive, &c, "{\"drive_id\":\"a\",\"path_on_host\":\"%s\","
			   "\"is_root_device\":false,\"is_read_only\":true,\"rate_limiter\":{\"bandwidth\":"
			   "{\"size\":1,\"refill_time\":100},\"ops\":null}}", some_file()), 0);
	REQUIRE_EQ_U64(c.ndrives, 2);
	CHECK_STR_EQ(c.drives[0].id, "a");
	CHECK(c.drives[0].read_only);
	CHECK_STR_EQ(c.drives[1].id, "b");
	CHECK_STR_EQ(c.drives[1].cache_type, "Writeback");
	REQUIRE_EQ_INT(put(fc_put_boot_source, &c, "{\"kernel_image_path\":\"%s\"}", some_file()), 0);
	cl = fc_config_cmdline(&c);
	CHECK_STR_EQ(cl, "console=ttyS0 reboot=k panic=1 root=/dev/vdb rw pci=off");
	free(cl);
	fc_config_free(&c);
}

TEST(drive_errors)
{
	static const struct { const char *body, *needle; } bad[] = {
		{ "{\"path_on_host\":\"%s\",\"is_root_device\":false}", "missing field `drive_id`" },
		{ "{\"drive_id\":\"x\",\"is_root_device\":false}", "missing field `path_on_host`" },
		{ "{\"drive_id\":\"x\",\"path_on_host\":\"%s\"}", "missing field `is_root_device`" },
		{ "{\"drive_id\":\"x y\",\"path_on_host\":\"%s\",\"is_root_device\":false}", "invalid drive_id" },
		{ "{\"drive_id\":\"x\",\"path_on_host\":\"/nonexistent\",\"is_root_device\":false}", "/nonexistent" },
		{ "{\"drive_id\":\"x\",\"path_on_host\":\"%s\",\"is_root_device\":1}", "true or false" },
		{ "{\"drive_id\":\"x\",\"path_on_host\":\"%s\",\"is_root_device\":false,\"cache_type\":\"Fast\"}", "Fast" },
		{ "{\"drive_id\":\"x\",\"path_on_host\":\"%s\",\"is_root_device\":false,\"io_engine\":\"Uring\"}", "Uring" },
		{ "{\"drive_id\":\"x\",\"path_on_host\":\"%s\",\"is_root_device\":true,\"partuuid\":\"zz\"}", "partuuid" },
		{ "{\"drive_id\":\"x\",\"path_on_host\":\"%s\",\"is_root_device\":false,\"rate_limiter\":5}", "JSON object" },
		{ "{\"drive_id\":\"x\",\"path_on_host\":\"%s\",\"is_root_device\":false,\"rate_limiter\":{\"bandwidth\":{\"size\":1}}}", "refill_time" },
		{ "{\"drive_id\":\"x\",\"path_on_host\":\"%s\",\"is_root_device\":false,\"rate_limiter\":{\"iops\":{}}}", "unknown field `iops`" },
		{ "{\"drive_id\":\"x\",\"path_on_host\":\"%s\",\"is_root_device\":false,\"rate_limiter\":{\"ops\":{\"size\":-1,\"refill_time\":1}}}", "out of range" },
		{ "{\"drive_id\":\"x\",\"path_on_host\":\"%s\",\"is_root_device\":true}", "root block device already exists" },
		{ "{\"drive_id\":\"x\",\"path_on_host\":\"%s\",\"is_root_device\":false,\"socket\":\"s\"}", "unknown field `socket`" },
	};
	struct fc_config c;

	fc_config_init(&c);
	REQUIRE_EQ_INT(put(drive, &c, "{\"drive_id\":\"root\",\"path_on_host\":\"%s\","
			   "\"is_root_device\":true}", some_file()), 0);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char b[1024];

		subst(b, sizeof(b), bad[i].body);
		err_clear();
		CHECK_EQ_INT(put(drive, &c, "%s", b), -EINVAL);
		CHECK_STR_CONTAINS(err_msg(), bad[i].needle);
	}
	CHECK_EQ_U64(c.ndrives, 1);
	/* The URL's id must be the body's. */
	CHECK_EQ_INT(id_put(fc_put_drive, &c, "other", "{\"drive_id\":\"root\",\"path_on_host\":"
			    "\"%s\",\"is_root_device\":true}", some_file()), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "does not match");
	/* At most VM_MAX_DISKS. */
	for (int i = 1; i < VM_MAX_DISKS; i++)
		CHECK_EQ_INT(put(drive, &c, "{\"drive_id\":\"d%d\",\"path_on_host\":\"%s\","
				 "\"is_root_device\":false}", i, some_file()), 0);
	CHECK_EQ_INT(put(drive, &c, "{\"drive_id\":\"d99\",\"path_on_host\":\"%s\","
			 "\"is_root_device\":false}", some_file()), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "at most");
	/* Replacing one of the eight still works. */
	CHECK_EQ_INT(put(drive, &c, "{\"drive_id\":\"d3\",\"path_on_host\":\"%s\","
			 "\"is_root_device\":false,\"is_read_only\":true}", some_file()), 0);
	CHECK(c.drives[3].read_only);
	fc_config_free(&c);
}

TEST(partuuid_root_and_given_root_kept)
{
	struct fc_config c;
	char *cl;

	fc_config_init(&c);
	REQUIRE_EQ_INT(put(fc_put_boot_source, &c, "{\"kernel_image_path\":\"%s\",\"boot_args\":"
			   "\"console=ttyS0 pci=off -- init-arg\"}", some_file()), 0);
	REQUIRE_EQ_INT(put(drive, &c, "{\"drive_id\":\"r\",\"path_on_host\":\"%s\",\"is_root_device\":"
			   "true,\"is_read_only\":true,\"partuuid\":\"0eaa91a0-01\"}", some_file()), 0);
	cl = fc_config_cmdline(&c);
	CHECK_STR_EQ(cl, "console=ttyS0 pci=off root=PARTUUID=0eaa91a0-01 ro -- init-arg");
	free(cl);
	REQUIRE_EQ_INT(put(fc_put_boot_source, &c, "{\"kernel_image_path\":\"%s\",\"boot_args\":"
			   "\"root=/dev/sda\"}", some_file()), 0);
	cl = fc_config_cmdline(&c);
	CHECK_STR_EQ(cl, "root=/dev/sda pci=off");
	free(cl);
	fc_config_free(&c);
}

TEST(network_interfaces)
{
	static const struct { const char *body, *needle; } bad[] = {
		{ "{\"host_dev_name\":\"tap9\"}", "missing field `iface_id`" },
		{ "{\"iface_id\":\"n9\"}", "missing field `host_dev_name`" },
		{ "{\"iface_id\":\"n9\",\"host_dev_name\":\"tap0\"}", "already used" },
		{ "{\"iface_id\":\"n9\",\"host_dev_name\":\"tap9\",\"guest_mac\":\"06:00:00:00:00:01\"}", "already used" },
		{ "{\"iface_id\":\"n9\",\"host_dev_name\":\"tap9\",\"guest_mac\":\"07:00:00:00:00:01\"}", "unicast" },
		{ "{\"iface_id\":\"n9\",\"host_dev_name\":\"tap9\",\"guest_mac\":\"06:00:00:00:00\"}", "unicast" },
		{ "{\"iface_id\":\"n9\",\"host_dev_name\":\"tap9\",\"guest_mac\":\"g6:00:00:00:00:01\"}", "unicast" },
		{ "{\"iface_id\":\"n9\",\"host_dev_name\":\"a-very-long-tap-name\"}", "longer than" },
		{ "{\"iface_id\":\"n9\",\"host_dev_name\":\"tap9\",\"rx_rate_limiter\":[]}", "JSON object" },
		{ "{\"iface_id\":\"n9\",\"host_dev_name\":\"tap9\",\"allow_mmds_requests\":true}", "unknown field" },
	};
	struct fc_config c;

	fc_config_init(&c);
	REQUIRE_EQ_INT(put(net, &c, "{\"iface_id\":\"n0\",\"host_dev_name\":\"tap0\",\"guest_mac\":"
			   "\"06:00:00:00:00:01\",\"rx_rate_limiter\":{},\"tx_rate_limiter\":null}"), 0);
	REQUIRE_EQ_INT(put(net, &c, "{\"iface_id\":\"n1\",\"host_dev_name\":\"tap1\",\"guest_mac\":null}"), 0);
	CHECK(c.nets[0].has_mac);
	CHECK_EQ_U64(c.nets[0].mac[5], 1);
	CHECK(!c.nets[1].has_mac);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err_clear();
		CHECK_EQ_INT(put(net, &c, "%s", bad[i].body), -EINVAL);
		CHECK_STR_CONTAINS(err_msg(), bad[i].needle);
	}
	/* Replace in place (same tap allowed for the same id). */
	REQUIRE_EQ_INT(put(net, &c, "{\"iface_id\":\"n0\",\"host_dev_name\":\"tap0\"}"), 0);
	REQUIRE_EQ_U64(c.nnets, 2);
	CHECK_STR_EQ(c.nets[0].id, "n0");
	CHECK(!c.nets[0].has_mac);
	CHECK_EQ_INT(id_put(fc_put_net, &c, "n7", "{\"iface_id\":\"n1\",\"host_dev_name\":\"tap1\"}"),
		     -EINVAL);
	fc_config_free(&c);
}

TEST(vsock_entropy_metrics_logger)
{
	struct fc_config c;
	struct fc_logger l;
	json_t *body;

	fc_config_init(&c);
	CHECK_EQ_INT(put(fc_put_vsock, &c, "{\"guest_cid\":0,\"uds_path\":\"/tmp/v\"}"), 0);
	CHECK_EQ_INT(put(fc_put_vsock, &c, "{\"guest_cid\":3,\"uds_path\":\"/tmp/w\",\"vsock_id\":\"v\"}"), 0);
	CHECK_EQ_U64(c.vsock_cid, 3);
	CHECK_STR_EQ(c.vsock_uds, "/tmp/w");
	CHECK_EQ_INT(put(fc_put_vsock, &c, "{\"guest_cid\":2,\"uds_path\":\"/tmp/v\"}"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "reserved");
	CHECK_EQ_INT(put(fc_put_vsock, &c, "{\"guest_cid\":-3,\"uds_path\":\"/tmp/v\"}"), -EINVAL);
	CHECK_EQ_INT(put(fc_put_vsock, &c, "{\"guest_cid\":4294967296,\"uds_path\":\"/tmp/v\"}"), -EINVAL);
	CHECK_EQ_INT(put(fc_put_vsock, &c, "{\"uds_path\":\"/tmp/v\"}"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "guest_cid");
	CHECK_EQ_INT(put(fc_put_vsock, &c, "{\"guest_cid\":5}"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "uds_path");
	CHECK_EQ_U64(c.vsock_cid, 3);

	CHECK_EQ_INT(put(fc_put_entropy, &c, "{\"rate_limiter\":{\"bandwidth\":7}}"), -EINVAL);
	CHECK(!c.entropy);
	CHECK_EQ_INT(put(fc_put_entropy, &c, "{}"), 0);
	CHECK(c.entropy);

	CHECK_EQ_INT(put(fc_put_metrics, &c, "{}"), -EINVAL);
	CHECK_EQ_INT(put(fc_put_metrics, &c, "{\"metrics_path\":\"/tmp/m\"}"), 0);
	CHECK_STR_EQ(c.metrics_path, "/tmp/m");

	body = J("{\"log_path\":\"/tmp/l\",\"level\":\"warning\",\"show_level\":true}");
	REQUIRE_EQ_INT(fc_parse_logger(body, &l), 0);
	json_decref(body);
	CHECK_EQ_INT(l.level, LOG_WARN);
	CHECK(l.show_level);
	CHECK(!l.show_origin);
	free(l.path);
	body = J("{\"level\":\"Loud\"}");
	CHECK_EQ_INT(fc_parse_logger(body, &l), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "Loud");
	json_decref(body);
	body = J("{\"show_log_origin\":\"yes\"}");
	CHECK_EQ_INT(fc_parse_logger(body, &l), -EINVAL);
	json_decref(body);
	CHECK_EQ_INT(fc_parse_level("Off"), -1);
	CHECK_EQ_INT(fc_parse_level("TRACE"), LOG_TRACE);
	CHECK_EQ_INT(fc_parse_level("Verbose"), -EINVAL);
	fc_config_free(&c);
}

TEST(mmds_config_and_store)
{
	struct fc_config c;

	fc_config_init(&c);
	CHECK_EQ_INT(put(fc_put_mmds_config, &c, "{\"network_interfaces\":[\"eth0\"]}"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "eth0");
	REQUIRE_EQ_INT(put(net, &c, "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}"), 0);
	CHECK_EQ_INT(put(fc_put_mmds_config, &c, "{\"network_interfaces\":[]}"), -EINVAL);
	CHECK_EQ_INT(put(fc_put_mmds_config, &c, "{\"network_interfaces\":[1]}"), -EINVAL);
	CHECK_EQ_INT(put(fc_put_mmds_config, &c, "{\"network_interfaces\":[\"eth0\"],"
			 "\"version\":\"V3\"}"), -EINVAL);
	CHECK_EQ_INT(put(fc_put_mmds_config, &c, "{\"network_interfaces\":[\"eth0\"],"
			 "\"ipv4_address\":\"169.254.169\"}"), -EINVAL);
	CHECK_NULL(c.mmds_config);
	REQUIRE_EQ_INT(put(fc_put_mmds_config, &c, "{\"network_interfaces\":[\"eth0\"],"
			   "\"ipv4_address\":\"169.254.170.2\"}"), 0);
	CHECK_STR_EQ(json_string_value(json_object_get(c.mmds_config, "version")), "V1");

	CHECK_EQ_INT(put(fc_patch_mmds, &c, "{\"a\":1}"), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "not initialized");
	REQUIRE_EQ_INT(put(fc_put_mmds, &c, "{\"a\":{\"b\":1}}"), 0);
	REQUIRE_EQ_INT(put(fc_patch_mmds, &c, "{\"a\":{\"c\":2}}"), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(c.mmds, "a"), "b")), 1);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(c.mmds, "a"), "c")), 2);
	fc_config_free(&c);
}

static int parse_doc(struct fc_config *c, const char *text)
{
	err_clear();
	return fc_config_parse(c, text, strlen(text), "vm.json");
}

TEST(config_file_document)
{
	char doc[2048];
	struct fc_config c;
	struct vm_config vc;
	char *cl = NULL;

	snprintf(doc, sizeof(doc),
		 "{\"boot-source\":{\"kernel_image_path\":\"%s\",\"boot_args\":\"console=ttyS0\"},"
		 "\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":64},"
		 "\"drives\":[{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":true,"
		 "\"is_read_only\":true}],"
		 "\"network-interfaces\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}],"
		 "\"vsock\":null,\"logger\":{\"level\":\"Info\"},\"metrics\":null,"
		 "\"mmds-config\":{\"network_interfaces\":[\"eth0\"]},\"entropy\":{},\"balloon\":null}",
		 some_file(), some_file());
	fc_config_init(&c);
	REQUIRE_EQ_INT(parse_doc(&c, doc), 0);
	CHECK_EQ_U64(c.vcpus, 2);
	CHECK_EQ_U64(c.ndrives, 1);
	CHECK_EQ_U64(c.nnets, 1);
	CHECK(c.entropy);
	CHECK(c.logger.set);
	memset(&vc, 0, sizeof(vc));
	REQUIRE_EQ_INT(fc_config_to_vm_config(&c, &vc, &cl), 0);
	CHECK_STR_EQ(vc.cmdline, "console=ttyS0 root=/dev/vda ro pci=off");
	CHECK_EQ_U64(vc.vcpus, 2);
	CHECK_EQ_U64(vc.mem_mib, 64);
	CHECK_EQ_U64(vc.ndisks, 1);
	CHECK(vc.disks[0].read_only);
	CHECK_STR_EQ(vc.nets[0].tap, "tap0");
	CHECK(vc.rng);
	free(cl);
	fc_config_free(&c);
}

TEST(config_file_errors_name_file_and_section)
{
	static const struct { const char *doc, *needle; } bad[] = {
		{ "{", "vm.json: invalid JSON at line" },
		{ "[]", "expected a JSON object" },
		{ "{\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":64}}", "missing \"boot-source\"" },
		{ "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"cpu-config\":{}}", "unknown section \"cpu-config\"" },
		{ "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"balloon\":{\"amount_mib\":1}}", "balloon" },
		{ "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"drives\":{}}", "must be an array" },
		{ "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"drives\":[{\"drive_id\":\"a\","
		  "\"path_on_host\":\"%s\",\"is_root_device\":false},{\"drive_id\":\"b\"}]}", "vm.json: drives[1]: drives: missing field `path_on_host`" },
		{ "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"network-interfaces\":[5]}", "network-interfaces[0]" },
		{ "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"logger\":{\"level\":\"x\"}}", "vm.json: logger" },
		{ "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"vsock\":{\"guest_cid\":1,\"uds_path\":\"/v\"}}", "vm.json: vsock" },
		{ "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"mmds-config\":{\"network_interfaces\":[\"x\"]}}", "mmds-config" },
		{ "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"boot-source\":{}}", "duplicate" },
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct fc_config c;
		char doc[1024];

		subst(doc, sizeof(doc), bad[i].doc);
		fc_config_init(&c);
		CHECK_EQ_INT(parse_doc(&c, doc), -EINVAL);
		CHECK_STR_CONTAINS(err_msg(), bad[i].needle);
		fc_config_free(&c);
	}
}

TEST(vm_config_json_shape_and_no_kernel)
{
	static const char *const keys[] = { "boot-source", "machine-config", "drives",
		"network-interfaces", "vsock", "logger", "metrics", "mmds-config", "entropy" };
	struct fc_config c;
	struct vm_config vc;
	char *cl = NULL;
	json_t *o, *mc;

	fc_config_init(&c);
	CHECK_EQ_INT(fc_config_to_vm_config(&c, &vc, &cl), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "/boot-source");
	o = fc_config_to_json(&c, NULL);
	REQUIRE_NOT_NULL(o);
	CHECK_EQ_U64(json_object_size(o), ARRAY_LEN(keys));
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		CHECK_NOT_NULL(json_object_get(o, keys[i]));
	CHECK(json_is_null(json_object_get(o, "vsock")));
	CHECK_EQ_U64(json_object_size(json_object_get(o, "boot-source")), 0);
	json_decref(o);
	mc = fc_machine_config_json(&c);
	CHECK_EQ_U64(json_object_size(mc), 5);
	CHECK_STR_EQ(json_string_value(json_object_get(mc, "huge_pages")), "None");
	CHECK(json_is_false(json_object_get(mc, "smt")));
	json_decref(mc);
	fc_config_free(&c);
}

/* The MMDS store is bounded: a PUT or a PATCH that would make it larger than the limit
 * is refused and the store stays as it was. */
TEST(mmds_size_limit)
{
	struct fc_config c;
	char big[600];

	fc_config_init(&c);
	c.mmds_limit = 100;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	REQUIRE_EQ_INT(put(fc_put_mmds, &c, "{\"a\":\"%.60s\"}", big), 0);
	CHECK_EQ_INT(put(fc_put_mmds, &c, "{\"a\":\"%s\"}", big), -EINVAL);
	CHECK_STR_CONTAINS(err_msg(), "doesn't fit");
	CHECK_EQ_INT(put(fc_patch_mmds, &c, "{\"b\":\"%.60s\"}", big), -EINVAL);
	CHECK_NULL(json_object_get(c.mmds, "b"));
	CHECK_EQ_INT(put(fc_patch_mmds, &c, "{\"b\":1}"), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(c.mmds, "b")), 1);
	CHECK_EQ_INT(put(fc_put_mmds, &c, "[1]"), -EINVAL);
	fc_config_free(&c);
	CHECK_EQ_U64(c.mmds_limit, 100);
}
