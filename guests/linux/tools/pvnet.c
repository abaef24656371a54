// SPDX-License-Identifier: MIT
/*
 * pvnet: TCP throughput between the guest and a peer, IPv4 only.
 *
 *   pvnet send ADDR PORT SIZE   connect, send SIZE bytes, close; wait for the peer to close
 *   pvnet recv PORT             accept one connection on PORT, read until EOF
 *
 * Byte n of what send sends is 'a' + n % 26.  Both print one line of
 * key=value pairs when done:
 *   pvnet op=send bytes=... ns=... MBps=...
 * The recv side prints "pvnet: listening" once it accepts connections.
 * SIZE takes K, M and G suffixes (powers of two).  Writes and reads use
 * 256 KiB buffers.
 */
#include "rt.h"

#define AF_INET 2
#define SOCK_STREAM 1
#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define SHUT_WR 1

#define CHUNK (256UL << 10)

struct sockaddr_in {
	uint16_t family;
	uint16_t port; /* network order */
	uint32_t addr; /* network order */
	uint8_t zero[8];
};

static char buf[CHUNK + 26] __attribute__((aligned(4096)));

static void usage(void)
{
	die("usage: pvnet send ADDR PORT SIZE | pvnet recv PORT", 0);
}

static uint16_t port_be(const char *s)
{
	uint64_t p = parse_size(s);

	if (!p || p > 65535)
		die("bad port", 0);
	return (uint16_t)(((p & 0xff) << 8) | (p >> 8));
}

static uint32_t addr_be(const char *s)
{
	uint32_t a = 0;

	for (int i = 0; i < 4; i++) {
		uint32_t part = 0;
		int digits = 0;

		for (; *s >= '0' && *s <= '9' && digits < 4; s++, digits++)
			part = part * 10 + (uint32_t)(*s - '0');
		if (!digits || part > 255 || *s != (i == 3 ? '\0' : '.'))
			die("bad IPv4 address", 0);
		s++;
		a |= part << (8 * i);
	}
	return a;
}

static int tcp_socket(void)
{
	long fd = SC(SYS_socket, AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket", fd);
	return (int)fd;
}

static void report(const char *op, uint64_t bytes, uint64_t ns)
{
	if (!ns)
		ns = 1;
	out_s("pvnet op=");
	out_s(op);
	out_kv_u("bytes", bytes);
	out_kv_u("ns", ns);
	out_kv_fixed("MBps", bytes * 1000, ns, 2);
	out_c('\n');
	out_flush();
}

static int do_send(const char *addr, const char *port, uint64_t size)
{
	struct sockaddr_in sa = { AF_INET, port_be(port), addr_be(addr), { 0 } };
	int fd = tcp_socket();
	long r = SC(SYS_connect, fd, &sa, sizeof(sa));

	if (r < 0)
		die("connect", r);
	for (uint64_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('a' + i % 26);
	uint64_t start = now_ns(), sent = 0;

	/* Byte n of the stream is 'a' + n % 26, whatever the partial writes. */
	while (sent < size) {
		uint64_t len = size - sent < CHUNK ? size - sent : CHUNK;

		r = SC(SYS_write, fd, buf + sent % 26, len);
		if (r == -EINTR)
			continue;
		if (r < 0)
			die("write", r);
		sent += (uint64_t)r;
	}
	/* The data has arrived when the peer, having read it all, closes. */
	SC(SYS_shutdown, fd, SHUT_WR, 0);
	while ((r = SC(SYS_read, fd, buf, CHUNK)) != 0)
		if (r < 0 && r != -EINTR)
			die("read", r);
	report("send", size, now_ns() - start);
	SC(SYS_close, fd, 0, 0);
	return 0;
}

static int do_recv(const char *port)
{
	struct sockaddr_in sa = { AF_INET, port_be(port), 0, { 0 } };
	int one = 1, fd = tcp_socket();
	long r;

	SC5(SYS_setsockopt, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	r = SC(SYS_bind, fd, &sa, sizeof(sa));
	if (r < 0)
		die("bind", r);
	r = SC(SYS_listen, fd, 1, 0);
	if (r < 0)
		die("listen", r);
	out_s("pvnet: listening\n");
	out_flush();
	long conn;

	while ((conn = SC(SYS_accept, fd, 0, 0)) == -EINTR)
		;
	if (conn < 0)
		die("accept", conn);
	uint64_t start = now_ns(), total = 0;

	while ((r = SC(SYS_read, conn, buf, CHUNK)) != 0) {
		if (r == -EINTR)
			continue;
		if (r < 0)
			die("read", r);
		total += (uint64_t)r;
	}
	uint64_t ns = now_ns() - start;

	SC(SYS_close, conn, 0, 0);
	SC(SYS_close, fd, 0, 0);
	report("recv", total, ns);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && str_eq(argv[1], "send"))
		return do_send(argv[2], argv[3], parse_size(argv[4]));
	if (argc == 3 && str_eq(argv[1], "recv"))
		return do_recv(argv[2]);
	usage();
	return 2;
}
