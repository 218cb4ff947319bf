import { criterion } from './criterion.js'

type ClaimValue = string | number | boolean

export type ClaimTest =
  | { readonly claim: string, readonly kind: 'equals', readonly values: readonly ClaimValue[] }
  | { readonly claim: string, readonly kind: 'contains', readonly value: ClaimValue }

function claimHolds (test: ClaimTest, value: unknown): boolean {
  if (test.kind === 'contains') return Array.isArray(value) && value.some(v => v === test.value)
  return test.values.some(v => v === value)
}

const scalar = { type: ['string', 'number', 'boolean'] }

/** `claims`: each named ID token claim equals a value, is one of a list, or (a list claim) contains a value. */
export const claims = criterion({
  key: 'claims',
  field: 'claims',
  schema: {
    type: 'object',
    description: 'ID token claims: a value (equals), a list (any of), or { contains: value } for list claims',
    minProperties: 1,
    additionalProperties: {
      oneOf: [
        scalar,
        { type: 'array', items: scalar, minItems: 1 },
        { type: 'object', additionalProperties: false, required: ['contains'], properties: { contains: scalar } },
      ],
    },
  },
  reason: 'claim_mismatch',
  needsUser: true,
  compile: (raw: Readonly<Record<string, ClaimValue | ClaimValue[] | { contains: ClaimValue }>>): readonly ClaimTest[] => Object.entries(raw).map(([claim, v]): ClaimTest => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return { claim, kind: 'contains', value: v.contains }
    return { claim, kind: 'equals', values: Array.isArray(v) ? v : [v] }
  }),
  test: (tests, { identity }) => identity !== undefined && tests.every(t => claimHolds(t, identity.claims[t.claim])),
  describe: tests => `requires ${tests.map(t => t.kind === 'contains' ? `${t.claim} to contain ${String(t.value)}` : `${t.claim} = ${t.values.map(String).join(' or ')}`).join(' and ')}`,
})
