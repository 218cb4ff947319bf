import { criterion, list, STRING_LIST } from './criterion.js'

/** `groups`: member of at least one. Compared exactly (group ids and names are case-sensitive in most IdPs). */
export const groups = criterion({
  key: 'groups',
  field: 'groups',
  schema: { ...STRING_LIST, description: 'The user is in at least one of these groups' },
  reason: 'group_required',
  needsUser: true,
  compile: (raw: readonly string[]) => raw,
  test: (names, { identity }) => identity !== undefined && names.some(g => identity.groups.includes(g)),
  describe: names => `requires group ${list(names)}`,
  groups: names => names,
})

/** `all_groups`: member of every one. */
export const allGroups = criterion({
  key: 'all_groups',
  field: 'allGroups',
  schema: { ...STRING_LIST, description: 'The user is in every one of these groups' },
  reason: 'groups_required',
  needsUser: true,
  compile: (raw: readonly string[]) => raw,
  test: (names, { identity }) => identity !== undefined && names.every(g => identity.groups.includes(g)),
  describe: names => `requires every group of ${names.join(', ')}`,
  groups: names => names,
})
