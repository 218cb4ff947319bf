const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** Pattern for durations in config and policy files: a whole number and a unit, e.g. `500ms`, `30s`, `8h`. */
export const DURATION_PATTERN = '^[0-9]+(ms|s|m|h|d)$'

/** Parses a duration written as `<number><unit>` into milliseconds. Validation has already checked the form. */
export function parseDuration (text: string): number {
  const match = /^([0-9]+)(ms|s|m|h|d)$/.exec(text)
  if (match === null) throw new TypeError(`not a duration: ${text}`)
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]
}
