/* SPDX-License-Identifier: MIT */
/* group.h - what the worker loop tells fork-join groups (group.c). */
#ifndef FILCH_GROUP_H
#define FILCH_GROUP_H

#include "sched.h"

/* t was just stolen by worker thief: if t is a group job, its group
 * remembers the thief, so that its waiting owner can run the thief's
 * descendants of that job (leapfrogging). On the thief's thread. */
void filch__group_note_steal(struct filch__task *t, unsigned thief);

#endif /* FILCH_GROUP_H */
