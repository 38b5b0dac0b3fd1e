/* history.c: the working set's ring of recent points (history.h). */
#include "history.h"

const struct history_point *history_at(const struct history *h, size_t i)
{
	return &h->p[(h->head + i) % HISTORY_POINTS];
}

void history_note(struct history *h, usec_t at, uint64_t working_set)
{
	struct history_point *p;

	if (h->n && at - history_at(h, h->n - 1)->at < HISTORY_STEP)
		return;
	if (h->n < HISTORY_POINTS)
		p = &h->p[(h->head + h->n++) % HISTORY_POINTS];
	else {
		p = &h->p[h->head];
		h->head = (h->head + 1) % HISTORY_POINTS;
	}
	*p = (struct history_point){ .at = at, .working_set = working_set };
}
