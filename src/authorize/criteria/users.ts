import { criterion, STRING_LIST } from './criterion.js'

/** `users`: the stable user id is listed. */
export const users = criterion({
  key: 'users',
  field: 'users',
  schema: { ...STRING_LIST, description: 'The user id (the `sub` claim; tid/oid for Entra ID) is one of these' },
  reason: 'user_not_listed',
  needsUser: true,
  compile: (raw: readonly string[]) => raw,
  test: (ids, { identity }) => identity !== undefined && ids.includes(identity.id),
  describe: () => 'available to listed users only',
})
