import type { Address } from '../../net/address.js'
import type { Identity } from '../../identify/identity.js'
import type { ConditionSet } from '../../policy/types.js'

/** What a decision may look at: who (if anyone is signed in) and from where. */
export interface RequestFacts {
  readonly identity: Identity | undefined
  /** undefined when the client address cannot be known (a malformed forwarded entry): ip allow rules fail, ip deny rules match. */
  readonly clientIp: Address | undefined
}

/**
 * One kind of condition in a policy entry. `test` is called only when the
 * entry has this condition, and for user criteria only with a signed-in user.
 */
export interface Criterion {
  /** Stable reason code when this condition fails in an allow entry. */
  readonly reason: string
  readonly needsUser: boolean
  has (set: ConditionSet): boolean
  test (set: ConditionSet, facts: RequestFacts): boolean
  /** For people: what the condition requires, e.g. "requires group admins". */
  describe (set: ConditionSet): string
}

/** "a", "a or b", "a, b or c". */
export function list (values: readonly string[]): string {
  return values.length <= 1 ? (values[0] ?? '') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1] ?? ''}`
}
