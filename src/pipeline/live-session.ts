import { identityOf } from '../identify/from-session.js'
import type { Identity } from '../identify/identity.js'
import { auditRequest, auditUser, type AuditLog } from '../log/audit.js'
import type { ActiveSession, SessionReader } from '../session/active-session.js'
import { needsTouch, sessionState, touchIntervalMs, type LifetimeSettings } from '../session/lifetime.js'
import type { SessionStore } from '../session/session-store.js'
import type { IdentityBuilder } from '../signin/identity-builder.js'
import type { TokenRefresh } from '../signin/token-refresh.js'
import type { PipelineRequest } from './request.js'

export interface LiveSessionDeps {
  readonly sessions: SessionReader
  readonly store: SessionStore
  readonly refresh: TokenRefresh
  readonly identities: IdentityBuilder
  readonly lifetimes: LifetimeSettings
  readonly audit: AuditLog
  readonly clock: () => number
}

/** The session a cookie names, and its user while the session is live. */
export interface LiveSession {
  readonly session: ActiveSession | undefined
  readonly identity: Identity | undefined
}

const NONE: LiveSession = Object.freeze({ session: undefined, identity: undefined })

/**
 * The signed-in user of a session cookie, after the session's lifetimes are
 * checked (an idle or too old session ends here), its tokens refreshed when
 * due, groups read again when a refresh could not read them, and its
 * last-seen time written back when the touch interval has passed.
 */
export async function liveSession (request: PipelineRequest, cookie: string | undefined, route: string, deps: LiveSessionDeps): Promise<LiveSession> {
  const session = await deps.sessions.read(cookie)
  if (session === undefined || identityOf(session.record) === undefined) return NONE
  const now = deps.clock()
  const state = sessionState(session.record, now, deps.lifetimes)
  if (state !== 'active') {
    deps.audit('session.expired', { ...auditUser(session.record.identity), ...auditRequest(request), route, reason: state === 'idle' ? 'idle_timeout' : 'max_lifetime' })
    await session.end()
    return { session, identity: undefined }
  }
  const tokens = session.record.tokens
  // 'ended': the refresh has already removed the session from the store (or found it gone).
  if (deps.refresh.isDue(session) && await deps.refresh.refresh(request, session) === 'ended') return { session, identity: undefined }
  let changed = false
  if (session.record.groupsStale === true) {
    // A refresh could not read the groups from Graph: read them now, or refuse (never the old or no groups).
    const current = identityOf(session.record)
    if (current === undefined) return { session, identity: undefined }
    session.update({ identity: await deps.identities.withFreshGroups(current, session.record.tokens?.accessToken), groupsStale: undefined })
    changed = true
  }
  // Of the requests in flight together, one writes the last-seen time back; a request that took
  // new tokens always does, so that its write (with them) comes after any of the others.
  const tookNewTokens = session.record.tokens !== tokens
  if (needsTouch(session.record, now, deps.lifetimes) && (deps.store.claimTouch(session.id, now, touchIntervalMs(deps.lifetimes)) || tookNewTokens)) {
    session.update({ lastSeenAt: now })
    changed = true
  }
  // A session that ended since it was read (signed out, revoked) is not written back, nor used.
  if (changed && await saveQuietly(request, session) === 'ended') return { session, identity: undefined }
  return { session, identity: identityOf(session.record) }
}

/**
 * Writes back what a request changed in passing (last seen, groups read again). The request
 * goes on if the store does not answer: the session is valid as it is, a missed last-seen time
 * is written a touch interval later, and stale groups are read again on the next request.
 */
async function saveQuietly (request: PipelineRequest, session: ActiveSession): Promise<'saved' | 'ended' | 'failed'> {
  try {
    return await session.save() ? 'saved' : 'ended'
  } catch (err) {
    request.log.warn({ event: 'session.write_back_failed', err: { message: (err as Error).message } }, 'could not write the session back (session store unavailable?); the request goes on')
    return 'failed'
  }
}
