import { writeFileSync } from 'node:fs'
import { POLICY_SCHEMA } from './schema.js'

/** `npm run schema`: writes the policy JSON Schema that editors use (policies/schema.json). */
export function schemaText (): string {
  return `${JSON.stringify(POLICY_SCHEMA, null, 2)}\n`
}

if (process.argv[1]?.endsWith('write-schema.js') === true) {
  const out = process.argv[2] ?? 'policies/schema.json'
  writeFileSync(out, schemaText())
  process.stdout.write(`wrote ${out}\n`)
}
