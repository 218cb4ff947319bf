import t from 'tap'
import { CRITERIA, type CriterionReason } from '../../src/authorize/criteria/index.js'
import type { DecisionReason } from '../../src/authorize/decision.js'
import { POLICY_SCHEMA } from '../../src/policy/schema.js'

t.test('the policy schema lists exactly the registry\'s conditions, with their schemas', async t => {
  const entry = POLICY_SCHEMA.properties.routes.items.properties.deny.items
  const properties = entry.properties as Record<string, unknown>
  t.same(Object.keys(properties).sort(), [...CRITERIA.map(c => c.key), 'anonymous'].sort())
  for (const c of CRITERIA) t.equal(properties[c.key], c.schema, c.key)
})

t.test('keys, fields and reason codes are unique', async t => {
  for (const name of ['key', 'field', 'reason'] as const) {
    const values = CRITERIA.map(c => c[name])
    t.equal(new Set(values).size, values.length, name)
  }
})

t.test('reason codes are a closed set of strings', async t => {
  const reason: CriterionReason = 'group_required'
  const decision: DecisionReason = reason
  // @ts-expect-error a code no criterion or decision gives is not a reason
  const unknown: DecisionReason = 'because'
  t.equal(decision, 'group_required')
  t.equal(unknown, 'because')
})
