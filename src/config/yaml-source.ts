import { readFileSync } from 'node:fs'
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Document, type Node } from 'yaml'
import type { Problem } from '../errors.js'

/**
 * A YAML file parsed with positions, so that any later problem found at a
 * path inside the value can be reported as `file:line:col`.
 */
export interface YamlSource {
  file: string
  value: unknown
  /** `file:line:col` of the value at `path`, or of its key when `key` is given; falls back to the nearest parent. */
  locate (path: ReadonlyArray<string | number>, key?: string): string
}

export function parseYaml (file: string, text: string): { source: YamlSource, problems: Problem[] } {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true })
  const problems: Problem[] = []
  for (const e of [...doc.errors, ...doc.warnings]) {
    const pos = lineCounter.linePos(e.pos[0])
    problems.push({ where: `${file}:${pos.line}:${pos.col}`, message: e.message.split('\n')[0] ?? e.message, severity: doc.errors.includes(e as never) ? 'error' : 'warning' })
  }
  const at = (offset: number): string => {
    const pos = lineCounter.linePos(offset)
    return `${file}:${pos.line}:${pos.col}`
  }
  const value = doc.errors.length === 0 ? doc.toJS({ maxAliasCount: 100 }) : undefined
  const source: YamlSource = {
    file,
    value,
    locate (path, key) {
      const full = key === undefined ? [...path] : [...path, key]
      for (let depth = full.length; depth >= 0; depth--) {
        const offset = offsetOf(doc, full.slice(0, depth), depth === full.length && key !== undefined)
        if (offset !== undefined) return at(offset)
      }
      return `${file}:1:1`
    },
  }
  return { source, problems }
}

/**
 * Reads and parses a YAML file, adding what is wrong with it to `problems`;
 * undefined when it cannot be read or is not valid YAML (nothing more to check).
 */
export function readYamlFile (file: string, problems: Problem[]): { source: YamlSource, text: string } | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    problems.push({ where: file, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, severity: 'error' })
    return undefined
  }
  const parsed = parseYaml(file, text)
  problems.push(...parsed.problems)
  return parsed.problems.some(p => p.severity === 'error') ? undefined : { source: parsed.source, text }
}

function offsetOf (doc: Document, path: ReadonlyArray<string | number>, wantKey: boolean): number | undefined {
  if (path.length === 0) return doc.contents?.range?.[0] ?? 0
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true)
  const last = path[path.length - 1]
  if (isMap(parent)) {
    const pair = parent.items.find(p => isPair(p) && isScalar(p.key) && String(p.key.value) === String(last))
    if (pair === undefined) return undefined
    const node = (wantKey ? pair.key : (pair.value ?? pair.key)) as Node | null
    return node?.range?.[0]
  }
  const node = doc.getIn(path, true) as Node | undefined
  return node?.range?.[0]
}
