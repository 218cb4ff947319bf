import type { Criterion } from './criterion.js'
import { list } from './criterion.js'

/** `groups`: member of at least one. Compared exactly (group ids and names are case-sensitive in most IdPs). */
export const groups: Criterion = {
  reason: 'group_required',
  needsUser: true,
  has: set => set.groups !== undefined,
  test: (set, { identity }) => identity !== undefined && (set.groups ?? []).some(g => identity.groups.includes(g)),
  describe: set => `requires group ${list(set.groups ?? [])}`,
}

/** `all_groups`: member of every one. */
export const allGroups: Criterion = {
  reason: 'groups_required',
  needsUser: true,
  has: set => set.allGroups !== undefined,
  test: (set, { identity }) => identity !== undefined && (set.allGroups ?? []).every(g => identity.groups.includes(g)),
  describe: set => `requires every group of ${(set.allGroups ?? []).join(', ')}`,
}
