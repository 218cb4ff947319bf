import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { schemaText, testSchemaText } from '../../src/policy/write-schema.js'

t.test('policies/schema.json is the schema the gateway validates with (npm run schema writes it)', async t => {
  t.equal(readFileSync('policies/schema.json', 'utf8'), schemaText())
  t.equal(readFileSync('policies/test-schema.json', 'utf8'), testSchemaText(), 'and the test file schema beside it')
})

t.test('every shipped policy test file names the test schema and validates against it', async t => {
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strict: true })
  const validate = ajv.compile(JSON.parse(readFileSync('policies/test-schema.json', 'utf8')) as object)
  const files = ['policies', 'policies/demo'].flatMap(dir => readdirSync(dir).filter(f => f.endsWith('.test.yaml')).map(f => join(dir, f)))
  t.equal(files.length, 2)
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    t.match(text.split('\n')[0], /^# yaml-language-server: \$schema=(\.\/|\.\.\/)test-schema\.json$/, `${file} points editors at the test schema`)
    t.ok(validate(parse(text)), `${file} is valid: ${JSON.stringify(validate.errors)}`)
  }
})

t.test('every shipped policy file names the schema for editors and validates against it', async t => {
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strict: true })
  const validate = ajv.compile(JSON.parse(readFileSync('policies/schema.json', 'utf8')) as object)
  const files = ['policies', 'policies/demo'].flatMap(dir => readdirSync(dir).filter(f => f.endsWith('.yaml') && !f.endsWith('.test.yaml')).map(f => join(dir, f)))
  t.ok(files.length >= 2)
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    t.match(text.split('\n')[0], /^# yaml-language-server: \$schema=(\.\/|\.\.\/)schema\.json$/, `${file} points editors at the schema`)
    t.ok(validate(parse(text)), `${file} is valid: ${JSON.stringify(validate.errors)}`)
  }
})

t.test('the schema documents every key for completion', async t => {
  const schema = JSON.parse(readFileSync('policies/schema.json', 'utf8')) as { properties: { routes: { items: { properties: Record<string, { description?: string }> } } } }
  for (const [key, value] of Object.entries(schema.properties.routes.items.properties)) {
    if (key !== 'name' && key !== 'allow' && key !== 'deny' && key !== 'upstream') continue
    t.ok(value.description !== undefined && value.description.length > 10, `${key} has a description`)
  }
})
