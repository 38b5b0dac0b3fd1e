/* metrics-families.c: prints every metric family guardian's exposition
 * can hold, "NAME TYPE" a line, for the dashboard check. */
#include <stdio.h>

#include "metrics.h"

int main(void)
{
	for (size_t i = 0; i < metrics_n_families; i++)
		printf("%s %s\n", metrics_families[i].name, metrics_families[i].type);
	return 0;
}
