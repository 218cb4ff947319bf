import type { ClaimTest } from '../../policy/types.js'
import type { Criterion } from './criterion.js'

function claimHolds (test: ClaimTest, value: unknown): boolean {
  if (test.kind === 'contains') return Array.isArray(value) && value.some(v => v === test.value)
  return test.values.some(v => v === value)
}

/** `claims`: each named ID token claim equals a value, is one of a list, or (a list claim) contains a value. */
export const claims: Criterion = {
  reason: 'claim_mismatch',
  needsUser: true,
  has: set => set.claims !== undefined,
  test: (set, { identity }) => identity !== undefined && (set.claims ?? []).every(t => claimHolds(t, identity.claims[t.claim])),
  describe: set => `requires ${(set.claims ?? []).map(t => t.kind === 'contains' ? `${t.claim} to contain ${String(t.value)}` : `${t.claim} = ${t.values.map(String).join(' or ')}`).join(' and ')}`,
}
