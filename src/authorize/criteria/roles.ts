import type { Criterion } from './criterion.js'
import { list } from './criterion.js'

/** `roles`: has at least one of the app roles. */
export const roles: Criterion = {
  reason: 'role_required',
  needsUser: true,
  has: set => set.roles !== undefined,
  test: (set, { identity }) => identity !== undefined && (set.roles ?? []).some(r => identity.roles.includes(r)),
  describe: set => `requires app role ${list(set.roles ?? [])}`,
}
