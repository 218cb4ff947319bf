import type { SessionFields } from './session-data.js'

export interface LifetimeSettings {
  /** Sliding: a session unused this long ends. */
  idleMs: number
  /** Absolute: no session lives longer than this after sign-in. */
  maxMs: number
}

export type SessionState = 'active' | 'idle' | 'expired'

/** Whether a session may still be used at `now`. */
export function sessionState (s: SessionFields, now: number, l: LifetimeSettings): SessionState {
  const created = s.createdAt ?? 0
  if (now - created >= l.maxMs) return 'expired'
  if (now - (s.lastSeenAt ?? created) >= l.idleMs) return 'idle'
  return 'active'
}

/**
 * Sliding the idle timeout must not write on every request: the last-seen
 * time is written back only once this much of the idle timeout has passed
 * (a tenth of it, at most a minute).
 */
export function touchIntervalMs (l: LifetimeSettings): number {
  return Math.min(60_000, Math.max(1000, Math.floor(l.idleMs / 10)))
}

export function needsTouch (s: SessionFields, now: number, l: LifetimeSettings): boolean {
  return now - (s.lastSeenAt ?? s.createdAt ?? 0) >= touchIntervalMs(l)
}

/** How long the store keeps the session from `now`: until it would go idle, and never past its maximum. */
export function storeTtlMs (s: SessionFields, now: number, l: LifetimeSettings): number {
  const created = s.createdAt ?? now
  const lastSeen = s.lastSeenAt ?? created
  return Math.max(1, Math.min(created + l.maxMs, lastSeen + l.idleMs) - now)
}
