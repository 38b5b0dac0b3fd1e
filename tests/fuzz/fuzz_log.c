/* fuzz_log.c: libFuzzer target for `guardctl log` reading an action log:
 * any bytes, as lines of a file it did not write, must print or be
 * skipped, never crash, abort or read out of bounds. */
#include <stdio.h>

#include "fuzz.h"
#include "../../tools/guardctl-log.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct log_opts o = { .service = NULL };
	static int null_fd = -1, err_fd = -1;
	char *buf = malloc(size + 1);

	/* What it prints goes nowhere; libFuzzer's own stderr stays. */
	if (null_fd < 0) {
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		err_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (!freopen("/dev/null", "w", stdout))
			abort();
	}
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	fflush(stderr);
	dup2(null_fd, STDERR_FILENO);
	(void)print_lines(buf, size, &o);
	fflush(stderr);
	dup2(err_fd, STDERR_FILENO);
	free(buf);
	return 0;
}
