/**
 * Freezes a value and everything it holds (config, compiled policies, cached
 * sessions: built once, shared by every request, never changed in place).
 * Stops at objects already frozen. Sets and Maps are frozen as objects but keep
 * their entries mutable, so holders of them are read-only by convention.
 */
export function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
