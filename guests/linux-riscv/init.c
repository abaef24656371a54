/*
 * /init of the pyvirt RISC-V test guest, built against the kernel's nolibc:
 * print the userspace marker, read the first sector of the virtio disk and
 * print its first line, then power off (reboot -> SBI SRST -> test device).
 */
#include <linux/reboot.h>

static void say(const char *s)
{
	write(1, s, strlen(s));
}

static void show_disk(void)
{
	char buf[512];
	int fd = open("/dev/vda", O_RDONLY, 0);
	ssize_t n, i;

	if (fd < 0) {
		say("PYVIRT_DISK: none\n");
		return;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	for (i = 0; i < n && buf[i] >= ' ' && buf[i] <= '~'; i++)
		;
	say("PYVIRT_DISK: ");
	write(1, buf, i);
	say("\n");
}

int main(void)
{
	int fd;

	mount("devtmpfs", "/dev", "devtmpfs", 0, "");
	fd = open("/dev/console", O_RDWR, 0);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	say("PYVIRT_RISCV_USERSPACE\n");
	show_disk();
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	say("PYVIRT_POWEROFF_FAILED\n");
	return 1; /* init exits: the kernel panics, and panic=-1 resets */
}
