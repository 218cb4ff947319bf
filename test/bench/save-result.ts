import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Writes a benchmark's figures to bench-results/NAME-DATE.json (two runs can then be compared); returns the path. */
export function saveResult (name: string, result: object): string {
  mkdirSync('bench-results', { recursive: true })
  const file = join('bench-results', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
  return file
}
