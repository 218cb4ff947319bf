/**
 * Remembers the answers of a function whose answer for a string never
 * changes, for up to `max` keys of at most `maxKeyLength` characters (longer
 * ones are answered every time). When full it starts again empty, so keys a
 * client made up cannot hold the places for good. A plain Map: these sit on
 * the per-request path, where the answer is cheaper than an LRU's bookkeeping.
 */
export function boundedMemo<T> (fn: (key: string) => T, max: number, maxKeyLength = 256): (key: string) => T {
  const known = new Map<string, T>()
  return (key) => {
    let value = known.get(key)
    if (value === undefined && !known.has(key)) {
      value = fn(key)
      if (key.length <= maxKeyLength) {
        if (known.size >= max) known.clear()
        known.set(key, value)
      }
    }
    return value as T
  }
}
