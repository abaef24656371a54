// SPDX-License-Identifier: MIT
/*
 * pvblk: measure and exercise a block device from inside the guest.
 *
 *   pvblk [-b SIZE] [-w MS] read DEV COUNT      COUNT sequential O_DIRECT reads (default 1 MiB each)
 *   pvblk [-b SIZE] [-w MS] write DEV COUNT     COUNT sequential O_DIRECT writes
 *   pvblk [-b SIZE] [-w MS] randread DEV COUNT  COUNT O_DIRECT reads at random aligned offsets (default 4 KiB)
 *   pvblk discard DEV OFFSET LENGTH             BLKDISCARD
 *   pvblk zeroout DEV OFFSET LENGTH             BLKZEROOUT (write zeroes)
 *   pvblk flush DEV                             fsync: a cache flush request
 *   pvblk size DEV                              BLKGETSIZE64
 *
 * Sequential runs start at offset 0 and wrap at the end of the device.
 * With -w MS, the tool prints "pvblk: start" and sleeps MS ms before the
 * measured loop, so that a host watching the console can sample its own
 * counters in between.  Results are one line of key=value pairs:
 *   pvblk op=read bs=1048576 requests=64 bytes=67108864 ns=... MBps=... IOPS=...
 * Sizes take K, M and G suffixes (powers of two).
 */
#include "rt.h"

#define BLKGETSIZE64 0x80081272UL
#define BLKDISCARD 0x1277UL
#define BLKZEROOUT 0x127fUL

#define MAX_BS (4UL << 20)

static char buf[MAX_BS] __attribute__((aligned(4096)));

static void usage(void)
{
	die("usage: pvblk [-b SIZE] [-w MS] read|write|randread DEV COUNT\n"
	    "       pvblk discard|zeroout DEV OFFSET LENGTH\n"
	    "       pvblk flush|size DEV", 0);
}

static int open_dev(const char *path, int flags)
{
	long fd = SC(SYS_open, path, flags | O_CLOEXEC, 0);

	if (fd < 0)
		die(path, fd);
	return (int)fd;
}

static uint64_t dev_size(int fd)
{
	uint64_t size = 0;
	long r = SC(SYS_ioctl, fd, BLKGETSIZE64, &size);

	if (r < 0)
		die("BLKGETSIZE64", r);
	return size;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int run_io(const char *op, const char *path, uint64_t count, uint64_t bs, long wait_ms)
{
	int write = str_eq(op, "write"), random = str_eq(op, "randread");
	int fd = open_dev(path, (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
	uint64_t size = dev_size(fd), blocks = size / bs, seed = 0x9e3779b97f4a7c15UL;

	if (!blocks)
		die("device smaller than one request", 0);
	for (uint64_t i = 0; i < bs; i++)
		buf[i] = (char)(i * 7 + (i >> 9));
	if (wait_ms) {
		out_s("pvblk: start\n");
		out_flush();
		sleep_ms(wait_ms);
	}
	uint64_t start = now_ns();

	for (uint64_t i = 0; i < count; i++) {
		uint64_t off = (random ? xorshift(&seed) % blocks : i % blocks) * bs;
		long n = write ? SC5(SYS_pwrite64, fd, buf, bs, off, 0)
			       : SC5(SYS_pread64, fd, buf, bs, off, 0);

		if (n < 0)
			die(write ? "pwrite" : "pread", n);
		if ((uint64_t)n != bs)
			die("short transfer", 0);
	}
	uint64_t ns = now_ns() - start;

	if (!ns)
		ns = 1;
	out_s("pvblk op=");
	out_s(op);
	out_kv_u("bs", bs);
	out_kv_u("requests", count);
	out_kv_u("bytes", count * bs);
	out_kv_u("ns", ns);
	out_kv_fixed("MBps", count * bs * 1000, ns, 2);
	out_kv_fixed("IOPS", count * 1000000000UL, ns, 1);
	out_c('\n');
	out_flush();
	SC(SYS_close, fd, 0, 0);
	return 0;
}

static int run_range(const char *op, const char *path, uint64_t off, uint64_t len)
{
	int fd = open_dev(path, O_WRONLY);
	uint64_t range[2] = { off, len };
	long r = SC(SYS_ioctl, fd, str_eq(op, "discard") ? BLKDISCARD : BLKZEROOUT, range);

	if (r < 0)
		die(op, r);
	out_s("pvblk op=");
	out_s(op);
	out_kv_u("offset", off);
	out_kv_u("length", len);
	out_c('\n');
	out_flush();
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t bs = 0;
	long wait_ms = 0;
	int i = 1;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (str_eq(argv[i], "-b"))
			bs = parse_size(argv[i + 1]);
		else if (str_eq(argv[i], "-w"))
			wait_ms = (long)parse_size(argv[i + 1]);
		else
			usage();
	}
	if (argc - i < 2)
		usage();
	const char *op = argv[i], *dev = argv[i + 1];

	if (str_eq(op, "read") || str_eq(op, "write") || str_eq(op, "randread")) {
		if (argc - i != 3)
			usage();
		if (!bs)
			bs = str_eq(op, "randread") ? 4096 : 1UL << 20;
		if (bs % 512 || bs > MAX_BS)
			die("request size: a multiple of 512 up to 4M", 0);
		return run_io(op, dev, parse_size(argv[i + 2]), bs, wait_ms);
	}
	if (str_eq(op, "discard") || str_eq(op, "zeroout")) {
		if (argc - i != 4)
			usage();
		return run_range(op, dev, parse_size(argv[i + 2]), parse_size(argv[i + 3]));
	}
	if (argc - i != 2)
		usage();
	if (str_eq(op, "flush")) {
		int fd = open_dev(dev, O_WRONLY);
		long r = SC(SYS_fsync, fd, 0, 0);

		if (r < 0)
			die("fsync", r);
		out_s("pvblk op=flush\n");
	} else if (str_eq(op, "size")) {
		uint64_t size = dev_size(open_dev(dev, O_RDONLY));

		out_s("pvblk op=size");
		out_kv_u("bytes", size);
		out_c('\n');
	} else {
		usage();
	}
	out_flush();
	return 0;
}
