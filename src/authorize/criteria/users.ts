import type { Criterion } from './criterion.js'

/** `users`: the stable user id is listed. */
export const users: Criterion = {
  reason: 'user_not_listed',
  needsUser: true,
  has: set => set.users !== undefined,
  test: (set, { identity }) => identity !== undefined && (set.users ?? []).includes(identity.id),
  describe: () => 'available to listed users only',
}
