import { criterion, list, STRING_LIST } from './criterion.js'

/** `scopes`: a bearer token carries at least one of these delegated scopes (`scp`). Sessions and app-only tokens have none. */
export const scopes = criterion({
  key: 'scopes',
  field: 'scopes',
  schema: { ...STRING_LIST, description: 'A bearer token carries at least one of these delegated scopes (scp)' },
  reason: 'scope_required',
  needsUser: true,
  compile: (raw: readonly string[]) => raw,
  test: (names, { identity }) => identity !== undefined && names.some(s => (identity.scopes ?? []).includes(s)),
  describe: names => `requires a token with scope ${list(names)}`,
})
