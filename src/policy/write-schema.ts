import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { TEST_SCHEMA } from './test-schema.js'
import { POLICY_SCHEMA } from './schema.js'

/** `npm run schema`: writes the policy JSON Schema that editors use (policies/schema.json). */
export function schemaText (): string {
  return `${JSON.stringify(POLICY_SCHEMA, null, 2)}\n`
}

/** The JSON Schema of policy test files, written beside it (policies/test-schema.json). */
export function testSchemaText (): string {
  return `${JSON.stringify(TEST_SCHEMA, null, 2)}\n`
}

if (process.argv[1]?.endsWith('write-schema.js') === true) {
  const out = process.argv[2] ?? 'policies/schema.json'
  const testOut = join(dirname(out), 'test-schema.json')
  writeFileSync(out, schemaText())
  writeFileSync(testOut, testSchemaText())
  process.stdout.write(`wrote ${out} and ${testOut}\n`)
}
