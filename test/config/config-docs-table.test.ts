import { readFileSync } from 'node:fs'
import t from 'tap'
import { ENV_KEYS } from '../../src/config/load.js'

/**
 * The configuration table of docs/configuration.md names every key of the schema, and
 * nothing else: `a.b` / `_file` stands for a.b and a.b_file, and
 * `a.b`, `.c` for a.b and a.c.
 */
function documentedKeys (doc: string): Set<string> {
  const section = doc.slice(0, doc.indexOf('\n## '))
  const keys = new Set<string>()
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue
    const cell = line.split('|')[1] ?? ''
    const names = [...cell.matchAll(/`([^`]+)`/g)].map(m => m[1] as string)
    const first = names[0] ?? ''
    const parent = first.includes('.') ? first.slice(0, first.lastIndexOf('.')) : ''
    for (const name of names) {
      if (name.startsWith('_')) keys.add(`${first}${name}`)
      else if (name.startsWith('.')) keys.add(`${parent}${name}`)
      else keys.add(name)
    }
  }
  return keys
}

t.test('the configuration table documents every key, and only keys that exist', async t => {
  const documented = documentedKeys(readFileSync('docs/configuration.md', 'utf8'))
  const schema = new Set(ENV_KEYS.map(k => k.path.join('.')))
  t.ok(schema.size > 30)
  for (const key of schema) t.ok(documented.has(key), `${key} is in the table`)
  for (const key of documented) t.ok(schema.has(key), `${key} (docs) is a config key`)
})
