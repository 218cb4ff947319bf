import type { Address } from '../../net/address.js'
import type { ClientCertificate, Identity } from '../../identify/identity.js'
import type { StepUpNeed } from '../step-up.js'

/** What a decision may look at: who (if anyone is signed in), from where, and with which verified client certificate. */
export interface RequestFacts {
  readonly identity: Identity | undefined
  /** The connection's verified client certificate (tls.client_ca_file); absent without one, and for forward-auth (the connection is the proxy's). */
  readonly clientCertificate?: ClientCertificate | undefined
  /** undefined when the client address cannot be known (a malformed forwarded entry): ip allow rules fail, ip deny rules match. */
  readonly clientIp: Address | undefined
  /** Epoch ms, for the route's reauth_after; without it (explain, policy tests) sign-in age is not checked. */
  readonly now?: number
}

/** Where a policy value is written, and how a problem with it is reported. */
export interface CompileContext {
  /** file:line:col of the value, or of an item of it. */
  at (...path: Array<string | number>): string
  error (where: string, message: string): void
  warn (where: string, message: string): void
}

/**
 * One kind of condition in a policy entry, all in its own file: the YAML key
 * and its JSON Schema, how the written value is compiled, the stable reason
 * code when it fails, and the test itself. The registry (index.ts) lists
 * every criterion; the policy schema, the loader and the condition types are
 * made from it.
 */
export interface Criterion<Key extends string = string, Field extends string = string, Raw = unknown, Value = unknown, Reason extends string = string> {
  /** The key in a policy file's allow/deny entry. */
  readonly key: Key
  /** The field of a compiled entry (ConditionSet). */
  readonly field: Field
  /** JSON Schema of the written value (with a description, for editors). */
  readonly schema: Readonly<Record<string, unknown>>
  /** Stable reason code when this condition fails in an allow entry. */
  readonly reason: Reason
  readonly needsUser: boolean
  /** The compiled value; problems are reported through ctx. The schema has already checked the shape. */
  compile (raw: Raw, ctx: CompileContext): Value
  /** Called only for a compiled value, and for user criteria only with a signed-in user. */
  test (value: Value, facts: RequestFacts): boolean
  /** For people: what the condition requires, e.g. "requires group admins". */
  describe (value: Value): string
  /** The groups the value names (for upstream.forward_groups: mentioned). */
  groups? (value: Value): readonly string[]
  /** For conditions on how the user signed in: what a new sign-in must bring to pass (a step-up rather than a 403). */
  stepUp? (value: Value): StepUpNeed
}

/** Declares a criterion, keeping its literal key, field and reason for the types made from the registry. */
export function criterion<const Key extends string, const Field extends string, Raw, Value, const Reason extends string> (c: Criterion<Key, Field, Raw, Value, Reason>): Criterion<Key, Field, Raw, Value, Reason> {
  return c
}

/** A list of strings, at least one. */
export const STRING_LIST = { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 } as const

/** "a", "a or b", "a, b or c". */
export function list (values: readonly string[]): string {
  return values.length <= 1 ? (values[0] ?? '') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1] ?? ''}`
}
