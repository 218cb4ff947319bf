import { readFileSync } from 'node:fs'
import t from 'tap'
import { ERROR_CODES } from '../../src/errors.js'

/**
 * docs/errors.md documents every code of src/errors.ts with its status and a
 * meaning, and nothing that is not a code.
 */
interface Documented { status: number, meaning: string }

function documentedCodes (doc: string): Map<string, Documented[]> {
  const codes = new Map<string, Documented[]>()
  for (const line of doc.split('\n')) {
    const row = /^\| `(GH_[A-Z_]+)` \| ([^|]*) \|(.*)\|$/.exec(line)
    if (row === null) continue
    const [, code, status, meaning] = row as unknown as [string, string, string, string]
    const seen = codes.get(code) ?? []
    seen.push({ status: Number(status.trim()), meaning: meaning.trim() })
    codes.set(code, seen)
  }
  return codes
}

t.test('docs/errors.md lists every error code once, with its status and meaning', async t => {
  const documented = documentedCodes(readFileSync('docs/errors.md', 'utf8'))
  for (const [code, { status }] of Object.entries(ERROR_CODES)) {
    const rows = documented.get(code)
    if (rows === undefined) {
      t.fail(`${code} is documented in docs/errors.md`)
      continue
    }
    t.equal(rows.length, 1, `${code} has one row`)
    t.equal(rows[0]?.status, status, `${code}: the documented status is the one the gateway sends`)
    t.ok((rows[0]?.meaning.length ?? 0) > 10, `${code} says what it means`)
  }
  for (const code of documented.keys()) t.ok(code in ERROR_CODES, `${code} (docs) is a code of src/errors.ts`)
})
