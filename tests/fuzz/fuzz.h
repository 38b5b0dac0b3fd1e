/* fuzz.h: what every libFuzzer target of guardian's shares: the entry
 * point's prototype, and check(), which aborts (a finding libFuzzer keeps)
 * when an invariant of the code under test does not hold. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond)                  \
	do {                         \
		if (!(cond))         \
			abort();     \
	} while (0)
