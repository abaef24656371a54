/* SPDX-License-Identifier: MIT */
/*
 * A few dozen lines of runtime for the guest tools, in place of a libc.
 *
 * The tools live in the initramfs, whose unpacking is emulated kernel code
 * on the development host (~0.6 s per MB): a static glibc binary is ~680 KB,
 * these are a few KB.  x86-64 Linux only.  Include once, from the tool's
 * single source file, which defines main().
 */
#ifndef PYVIRT_RT_H
#define PYVIRT_RT_H

typedef unsigned long size_t;
typedef long ssize_t;
typedef unsigned long uint64_t;
typedef unsigned int uint32_t;
typedef unsigned short uint16_t;
typedef unsigned char uint8_t;

/* Helpers a tool does not use are fine. */
#define RT static __attribute__((unused))

#define O_RDONLY 00
#define O_WRONLY 01
#define O_RDWR 02
#define O_DIRECT 040000
#define O_CLOEXEC 02000000

#define EINTR 4
#define EAGAIN 11

#define CLOCK_MONOTONIC 1

struct timespec {
	long tv_sec;
	long tv_nsec;
};

/* System calls (x86-64 numbers). */
enum {
	SYS_read = 0, SYS_write = 1, SYS_open = 2, SYS_close = 3,
	SYS_ioctl = 16, SYS_pread64 = 17, SYS_pwrite64 = 18,
	SYS_socket = 41, SYS_connect = 42, SYS_accept = 43,
	SYS_shutdown = 48, SYS_bind = 49, SYS_listen = 50,
	SYS_setsockopt = 54, SYS_fsync = 74, SYS_nanosleep = 35,
	SYS_clock_gettime = 228, SYS_exit_group = 231,
};

static inline long syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define SC(n, a, b, c) syscall6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SC5(n, a, b, c, d, e) syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

/* The compiler may emit calls to these for struct copies and clears. */
void *memcpy(void *dst, const void *src, size_t n)
{
	char *d = dst;
	const char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	char *d = dst;

	while (n--)
		*d++ = (char)c;
	return dst;
}

RT size_t str_len(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

RT int str_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

RT __attribute__((noreturn)) void sys_exit(int code)
{
	SC(SYS_exit_group, code, 0, 0);
	__builtin_unreachable();
}

/* Writes all of buf; a negative errno on failure. */
RT long write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		long n = SC(SYS_write, fd, p, len);

		if (n == -EINTR)
			continue;
		if (n < 0)
			return n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A line buffer for stdout: out_s(), out_u(), ... then out_flush(). */
static char out_buf[512];
static size_t out_len;

RT void out_flush(void)
{
	write_all(1, out_buf, out_len);
	out_len = 0;
}

RT void out_c(char c)
{
	if (out_len == sizeof(out_buf))
		out_flush();
	out_buf[out_len++] = c;
}

RT void out_s(const char *s)
{
	while (*s)
		out_c(*s++);
}

RT void out_u(uint64_t v)
{
	char tmp[24];
	int i = 0;

	do
		tmp[i++] = (char)('0' + v % 10);
	while (v /= 10);
	while (i)
		out_c(tmp[--i]);
}

/* num / den with `decimals` digits after the point, rounded. */
RT void out_fixed(uint64_t num, uint64_t den, int decimals)
{
	uint64_t pow = 1;

	for (int i = 0; i < decimals; i++)
		pow *= 10;
	if (!den) {
		out_s("inf");
		return;
	}
	/* num * pow may overflow for huge num: scale down first. */
	while (num > (~0UL) / pow / 2) {
		num /= 10;
		den /= 10;
		if (!den)
			den = 1;
	}
	uint64_t v = (num * pow + den / 2) / den;

	out_u(v / pow);
	if (decimals) {
		out_c('.');
		uint64_t frac = v % pow;

		for (uint64_t p = pow / 10; p; p /= 10) {
			out_c((char)('0' + frac / p));
			frac %= p;
		}
	}
}

/* " key=value" pieces of a result line. */
RT void out_kv_u(const char *key, uint64_t v)
{
	out_c(' ');
	out_s(key);
	out_c('=');
	out_u(v);
}

RT void out_kv_fixed(const char *key, uint64_t num, uint64_t den, int decimals)
{
	out_c(' ');
	out_s(key);
	out_c('=');
	out_fixed(num, den, decimals);
}

RT __attribute__((noreturn)) void die(const char *what, long err)
{
	out_flush();
	write_all(2, what, str_len(what));
	if (err < 0) {
		char tmp[32];
		size_t i = sizeof(tmp);
		uint64_t e = (uint64_t)-err;

		tmp[--i] = '\n';
		do
			tmp[--i] = (char)('0' + e % 10);
		while (e /= 10);
		const char *pre = ": errno ";

		write_all(2, pre, str_len(pre));
		write_all(2, tmp + i, sizeof(tmp) - i);
	} else {
		write_all(2, "\n", 1);
	}
	sys_exit(1);
}

/* Unsigned decimal with an optional K/M/G suffix (powers of two); dies if bad. */
RT uint64_t parse_size(const char *s)
{
	uint64_t v = 0;

	if (!*s)
		die("empty number", 0);
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (uint64_t)(*s - '0');
	switch (*s) {
	case 'K': case 'k': v <<= 10; s++; break;
	case 'M': case 'm': v <<= 20; s++; break;
	case 'G': case 'g': v <<= 30; s++; break;
	}
	if (*s)
		die("bad number", 0);
	return v;
}

RT uint64_t now_ns(void)
{
	struct timespec ts;

	SC(SYS_clock_gettime, CLOCK_MONOTONIC, &ts, 0);
	return (uint64_t)ts.tv_sec * 1000000000UL + (uint64_t)ts.tv_nsec;
}

RT void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	SC(SYS_nanosleep, &ts, 0, 0);
}

int main(int argc, char **argv);

void start_c(long *sp);

void start_c(long *sp)
{
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);

	sys_exit(main(argc, argv));
}

__asm__(".text\n"
	".global _start\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call start_c\n"
	"	hlt\n");

#endif
