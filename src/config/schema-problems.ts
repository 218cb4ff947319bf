import type { ErrorObject } from 'ajv'
import type { Problem } from '../errors.js'
import { nearest } from './nearest.js'

export type Locate = (path: ReadonlyArray<string | number>, key?: string) => string

export function pointerPath (pointer: string): string[] {
  return pointer.split('/').slice(1).map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

/**
 * Turns ajv's errors into problems a person can act on: one per place, the
 * unknown key named (with the nearest known key as a suggestion), `oneOf`
 * failures explained once by the schema's description instead of once per branch.
 */
export function schemaProblems (errors: readonly ErrorObject[], locate: Locate): Problem[] {
  const problems: Problem[] = []
  const seen = new Set<string>()
  for (const e of selectErrors(errors)) {
    const problem = schemaProblem(e, locate)
    const key = `${problem.where} ${problem.message}`
    if (seen.has(key)) continue
    seen.add(key)
    problems.push(problem)
  }
  return problems
}

/**
 * For a value that fails `oneOf`, ajv reports every branch. When the value
 * has the shape of exactly one branch (say, a list where a list of conditions
 * is allowed), that branch's errors are the useful ones (an unknown key, a
 * typo); otherwise one sentence from the schema's description says what fits.
 */
function selectErrors (errors: readonly ErrorObject[]): ErrorObject[] {
  const drop = new Set<ErrorObject>()
  for (const o of errors.filter(e => e.keyword === 'oneOf')) {
    const prefix = `${o.schemaPath}/`
    const branches = new Map<string, ErrorObject[]>()
    for (const e of errors) {
      // The same schema applies to every item of a list: the instance tells them apart.
      if (!e.schemaPath.startsWith(prefix) || !(e.instancePath === o.instancePath || e.instancePath.startsWith(`${o.instancePath}/`))) continue
      const branch = e.schemaPath.slice(prefix.length).split('/')[0] ?? ''
      branches.set(branch, [...(branches.get(branch) ?? []), e])
    }
    const shapeErrors = new Set(['type', 'enum', 'const'])
    const shaped = [...branches.values()].filter(list => !list.some(e => e.instancePath === o.instancePath && shapeErrors.has(e.keyword)))
    const keep = shaped.length === 1 ? new Set(shaped[0]) : new Set<ErrorObject>()
    if (keep.size > 0) drop.add(o)
    for (const list of branches.values()) for (const e of list) if (!keep.has(e)) drop.add(e)
  }
  return errors.filter(e => !drop.has(e))
}

export function schemaProblem (e: ErrorObject, locate: Locate): Problem {
  const path = pointerPath(e.instancePath)
  const name = path.join('.') || '(root)'
  const parent = e.parentSchema as { description?: string, properties?: Record<string, unknown> } | undefined
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty)
      const known = Object.keys(parent?.properties ?? {})
      const hint = nearest(key, known)
      return { where: locate(path, key), message: `unknown key "${[...path, key].join('.')}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`, severity: 'error' }
    }
    case 'required':
      return { where: locate(path), message: `${name === '(root)' ? '' : `${name}: `}"${String((e.params as { missingProperty: string }).missingProperty)}" is required`, severity: 'error' }
    case 'enum':
      return { where: locate(path), message: `${name} must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).map(v => JSON.stringify(v)).join(', ')}`, severity: 'error' }
    case 'const':
      return { where: locate(path), message: `${name} can only be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`, severity: 'error' }
    case 'oneOf':
      return { where: locate(path), message: `${name} has the wrong form${parent?.description === undefined ? '' : `: ${parent.description}`}`, severity: 'error' }
    case 'pattern':
      return { where: locate(path), message: `${name} has the wrong form${patternHint(String(e.params.pattern))}`, severity: 'error' }
    case 'propertyNames':
      return { where: locate(path), message: `${name} has a name of the wrong form (letters, digits, _ . - only)`, severity: 'error' }
    default:
      return { where: locate(path), message: `${name} ${e.message ?? 'is invalid'}`, severity: 'error' }
  }
}

function patternHint (pattern: string): string {
  if (/ms\|s\|m/.test(pattern)) return ' (a duration such as 500ms, 30s, 5m, 12h)'
  if (pattern.includes('KiB')) return ' (a size such as 512B, 16KiB, 1MiB)'
  return ` (must match ${pattern})`
}
