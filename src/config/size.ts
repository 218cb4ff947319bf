const UNIT_BYTES = { B: 1, KiB: 1024, MiB: 1024 * 1024 } as const

/** Pattern for sizes in config files: a whole number and a unit, e.g. `512B`, `16KiB`, `1MiB`. */
export const SIZE_PATTERN = '^[0-9]+(B|KiB|MiB)$'

/** Parses a size written as `<number><unit>` into bytes. Validation has already checked the form. */
export function parseSize (text: string): number {
  const match = /^([0-9]+)(B|KiB|MiB)$/.exec(text)
  if (match === null) throw new TypeError(`not a size: ${text}`)
  return Number(match[1]) * UNIT_BYTES[match[2] as keyof typeof UNIT_BYTES]
}
