import { ConfigError, type Problem } from '../../src/errors.js'

/** The problems of the ConfigError that `fn` throws; fails the test if it throws nothing or something else. */
export function problemsOf (fn: () => unknown): Problem[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems]
    throw err
  }
  throw new Error('expected a ConfigError')
}
