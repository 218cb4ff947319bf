import type { Identity } from '../identify/identity.js'
import type { SessionTokens } from './session-tokens.js'

/** What a signed-in session holds (besides @fastify/session's cookie data). */
export interface SessionFields {
  identity?: Identity
  tokens?: SessionTokens
  /** Epoch ms of sign-in: the start of the maximum lifetime. */
  createdAt?: number
  /** Epoch ms of the last request that was recorded (written back at most every touch interval). */
  lastSeenAt?: number
  /** Epoch ms of the last token refresh. */
  refreshedAt?: number
  /** The groups were read from Microsoft Graph (overage): read again at every refresh. */
  groupsFromGraph?: boolean
  /** Set when a refresh could not read the groups from Graph, or the directory watch saw a member leave a group: requests are refused until they are read. */
  groupsStale?: boolean
  /**
   * How many times the directory watch has marked the groups stale. A write
   * that read the session before the latest mark keeps the mark, so a
   * request that was in flight when the member left a group cannot clear it.
   */
  groupsMark?: number
  /** Scopes of a downstream API the sign-in of this session asked the IdP for (incremental consent). */
  consented?: readonly string[]
  /**
   * The last step-up sign-in of this session: what was asked (a stable key of
   * the need) and when. A request that still fails on the same need soon
   * after gets the 403 page, never a second trip to the IdP.
   */
  stepUpTried?: { key: string, at: number }
}

/** A session as stored: the fields plus @fastify/session's cookie data. */
export interface SessionRecord extends SessionFields {
  cookie?: { expires?: string | Date | null, originalMaxAge?: number | null }
}

declare module 'fastify' {
  interface Session extends SessionFields {}
}
