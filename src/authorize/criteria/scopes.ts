import type { Criterion } from './criterion.js'
import { list } from './criterion.js'

/** `scopes`: a bearer token carries at least one of these delegated scopes (`scp`). Sessions and app-only tokens have none. */
export const scopes: Criterion = {
  reason: 'scope_required',
  needsUser: true,
  has: set => set.scopes !== undefined,
  test: (set, { identity }) => identity !== undefined && (set.scopes ?? []).some(s => (identity.scopes ?? []).includes(s)),
  describe: set => `requires a token with scope ${list(set.scopes ?? [])}`,
}
