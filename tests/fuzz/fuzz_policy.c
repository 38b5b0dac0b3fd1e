/* fuzz_policy.c: libFuzzer target for the policy loader: any bytes must
 * give a policy or diagnostics, never a crash, leak or undefined behaviour. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = NULL;
	struct diag d = { 0 };

	if (policy_load_buffer("fuzz.yaml", (const char *)data, size, &p, &d) == 0)
		policy_free(p);
	diag_free(&d);
	return 0;
}
