import { criterion, list, STRING_LIST } from './criterion.js'

/** `roles`: has at least one of the app roles. */
export const roles = criterion({
  key: 'roles',
  field: 'roles',
  schema: { ...STRING_LIST, description: 'The user has at least one of these app roles' },
  reason: 'role_required',
  needsUser: true,
  compile: (raw: readonly string[]) => raw,
  test: (names, { identity }) => identity !== undefined && names.some(r => identity.roles.includes(r)),
  describe: names => `requires app role ${list(names)}`,
})
