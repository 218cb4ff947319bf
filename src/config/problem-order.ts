import type { Problem } from '../errors.js'

/**
 * Problems in the order of the files, and of lines and columns within each
 * (`file:line:col`); those that name none of the files (an environment
 * variable, a key path) come last, in the order they were found.
 */
export function inFileOrder (problems: readonly Problem[], files: readonly string[]): Problem[] {
  const position = (where: string): [number, number, number] => {
    const file = files.findIndex(f => where === f || where.startsWith(`${f}:`))
    const [line, col] = where.slice((files[file] ?? '').length).split(':').slice(1).map(Number)
    return [file === -1 ? files.length : file, line ?? 0, col ?? 0]
  }
  return [...problems].map(p => ({ p, at: position(p.where) }))
    .sort((a, b) => a.at[0] - b.at[0] || a.at[1] - b.at[1] || a.at[2] - b.at[2])
    .map(({ p }) => p)
}
