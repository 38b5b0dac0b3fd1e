/* vm-exit: end the test VM with a status through qemu's isa-debug-exit.
 * Runs from the initramfs (static), qemu then exits with 2*STATUS+1. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>
#include <termios.h>
#include <unistd.h>

/* The port vmrun gives -device isa-debug-exit,iobase=0xf4. */
#define DEBUG_EXIT_PORT 0xf4

/* The UARTs hand bytes to qemu from an interrupt-driven ring: exiting
 * right after write() would cut off the result marker, so wait until
 * each serial line has sent everything it holds. */
static void drain(const char *tty)
{
	int fd = open(tty, O_WRONLY | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return;
	(void)tcdrain(fd);
	close(fd);
}

int main(int argc, char **argv)
{
	unsigned long status = 0;
	char *end;

	if (argc > 2) {
		fprintf(stderr, "usage: vm-exit [STATUS]\n");
		return 2;
	}
	if (argc == 2) {
		errno = 0;
		status = strtoul(argv[1], &end, 10);
		if (errno || end == argv[1] || *end || status > 255) {
			fprintf(stderr, "vm-exit: bad status '%s'\n", argv[1]);
			return 2;
		}
	}
	drain("/dev/ttyS1");
	drain("/dev/ttyS0");
	if (ioperm(DEBUG_EXIT_PORT, 4, 1) < 0) {
		perror("vm-exit: ioperm");
		return 1;
	}
	outl((unsigned int)status, DEBUG_EXIT_PORT);
	/* Only reached without an isa-debug-exit device. */
	fprintf(stderr, "vm-exit: no isa-debug-exit device at 0x%x\n", DEBUG_EXIT_PORT);
	return 1;
}
