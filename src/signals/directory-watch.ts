import type { EntraSettings } from '../config/types.js'
import type { DeltaEntry, DeltaRound, GraphDelta } from '../entra/graph-delta.js'
import type { Logger } from '../log/logger.js'
import type { DirectoryPollResult, GatewayMetrics } from '../metrics/gateway-metrics.js'
import { ActiveSession } from '../session/active-session.js'
import type { LifetimeSettings } from '../session/lifetime.js'
import type { SessionEnder } from '../session/session-ender.js'
import type { SessionStore } from '../session/session-store.js'

const LOCK = 'directory-watch'
const USERS_LINK = 'directory-watch:users'
const GROUPS_LINK = 'directory-watch:groups'
/** Graph keeps a directory delta link usable for about a week; an older one starts over. */
const LINK_TTL_MS = 7 * 24 * 3600_000
/** The lock outlives one interval by this much: a gateway that stops polling hands over after it. */
const LEASE_MARGIN_MS = 30_000
/** Graph's limit on `id eq` terms in one groups/delta `$filter`; more groups are filtered here instead. */
const MAX_FILTERED_GROUPS = 50
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** What a round did: `stopped` once the gateway closes. */
export type PollResult = DirectoryPollResult | 'stopped'

export interface DirectoryWatchDeps {
  readonly entra: EntraSettings
  readonly watch: NonNullable<EntraSettings['directoryWatch']>
  readonly graph: GraphDelta
  readonly store: SessionStore
  readonly ender: SessionEnder
  /** The groups the policy in force names (names of entra.group_names, or object ids). */
  readonly mentionedGroups: () => ReadonlySet<string>
  readonly lifetimes: LifetimeSettings
  readonly clock: () => number
  readonly metrics: Pick<GatewayMetrics, 'directoryPoll' | 'groupsStale'>
  readonly log: Logger
}

/**
 * Entra ID sends no logout to relying parties: this polls Microsoft Graph
 * delta queries instead, one gateway at a time (a lock in the session store,
 * held as a lease renewed before every page), and resumes from the delta
 * links kept there. In `users/delta`, a disabled or deleted account ends
 * the user's sessions, and a `signInSessionsValidFromDateTime` ("Revoke
 * sessions") ends those signed in before it. In `groups/delta` of the groups
 * policies name, a member removed has the groups of their sessions read
 * again at the next request (from Graph, failing closed). A failing or
 * throttling Graph ends nothing: the round is a warning and a count, and the
 * next round starts from the same delta link.
 */
export class DirectoryWatch {
  readonly #deps: DirectoryWatchDeps
  readonly #log: Logger
  #lock: string | undefined
  #round: Promise<PollResult> = Promise.resolve('success')
  #timer: NodeJS.Timeout | undefined
  #notBefore = 0
  #stopped = false
  #asked = false

  constructor (deps: DirectoryWatchDeps) {
    this.#deps = deps
    this.#log = deps.log.child({ module: 'directory-watch' })
  }

  /** Polls now (unless a round was asked for already), then every interval. */
  start (): void {
    if (!this.#asked) void this.pollNow()
  }

  /** One round, after any round under way; resolves when it is done. The next round is due an interval later. */
  pollNow (): Promise<PollResult> {
    this.#asked = true
    const round = this.#round.then(async () => await this.#poll())
    this.#round = round
    return round
  }

  /** Stops polling, waits for a round under way, and hands the lock over. */
  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#round
    const token = this.#lock
    this.#lock = undefined
    if (token !== undefined) await this.#deps.store.backend.unlock(LOCK, token).catch(() => undefined)
  }

  async #poll (): Promise<PollResult> {
    if (this.#stopped) return 'stopped'
    clearTimeout(this.#timer)
    const result = await this.#attempt()
    this.#deps.metrics.directoryPoll(result)
    if (!this.#stopped) {
      const wait = Math.max(this.#deps.watch.intervalMs, 0)
      this.#timer = setTimeout(() => { void this.pollNow() }, result === 'throttled' ? Math.max(0, this.#notBefore - Date.now()) : wait)
      this.#timer.unref()
    }
    return result
  }

  async #attempt (): Promise<DirectoryPollResult> {
    if (Date.now() < this.#notBefore) return 'throttled'
    try {
      if (!await this.#hold()) return 'standby'
      const users = await this.#readUsers()
      const result = users.ok ? await this.#readGroups() : users
      if (result.ok) {
        this.#log.debug({ event: 'directory.poll', changes: users.ok ? users.entries : 0 }, 'directory polled')
        return 'success'
      }
      if (result.expired === true) {
        // Nothing is lost by starting over, but what changed while the link was unusable (deleted users, removals).
        await this.#deps.store.setValue(USERS_LINK, '', LINK_TTL_MS)
        await this.#deps.store.setValue(GROUPS_LINK, '', LINK_TTL_MS)
      }
      if (result.throttled === true) {
        this.#notBefore = Date.now() + (result.retryAfterMs ?? this.#deps.watch.intervalMs)
        this.#log.warn({ event: 'directory.poll_throttled', reason: result.reason, retryAfterMs: result.retryAfterMs ?? null }, 'Microsoft Graph is throttling the directory watch; nothing changed, the next poll waits as asked')
        return 'throttled'
      }
      this.#log.warn({ event: 'directory.poll_failed', reason: result.reason }, 'the directory watch could not read Microsoft Graph; nothing changed, the next poll tries again')
      return 'failed'
    } catch (err) {
      this.#log.warn({ event: 'directory.poll_failed', reason: (err as Error).message, code: (err as { code?: string }).code }, 'the directory watch failed; nothing changed, the next poll tries again')
      return 'failed'
    }
  }

  /** Takes the lock, or renews it when held; false when another gateway holds it. */
  async #hold (): Promise<boolean> {
    const { store, watch } = this.#deps
    const lease = watch.intervalMs + LEASE_MARGIN_MS
    if (this.#lock !== undefined && await store.backend.renew(LOCK, this.#lock, lease)) return true
    this.#lock = await store.backend.lock(LOCK, lease)
    return this.#lock !== undefined
  }

  async #readUsers (): Promise<DeltaRound> {
    const { graph } = this.#deps
    const stored = await this.#storedLink(USERS_LINK)
    const start = stored ?? graph.url('users/delta?$select=id,accountEnabled,signInSessionsValidFromDateTime')
    const tenant = this.#deps.watch.tenant
    const round = await graph.round(start, {
      beforePage: async () => await this.#hold(),
      onPage: async entries => {
        for (const entry of entries) {
          const oid = idOf(entry)
          if (oid === undefined) continue
          const user = `${tenant}/${oid}`
          if (entry['@removed'] !== undefined) await this.#endUser(user, 'account_deleted')
          else if (entry.accountEnabled === false) await this.#endUser(user, 'account_disabled')
          else if (typeof entry.signInSessionsValidFromDateTime === 'string') await this.#endSessionsBefore(user, Date.parse(entry.signInSessionsValidFromDateTime))
        }
      },
    })
    if (round.ok) await this.#deps.store.setValue(USERS_LINK, round.deltaLink, LINK_TTL_MS)
    return round
  }

  async #readGroups (): Promise<DeltaRound> {
    const { graph, store } = this.#deps
    const watched = this.#watchedGroups()
    if (watched.length === 0) return { ok: true, deltaLink: '', entries: 0 }
    // The link is kept with the groups it follows: when the policy names other groups, it starts over.
    const scope = watched.join(',')
    const stored = await this.#storedLink(GROUPS_LINK)
    const [storedScope, storedLink] = stored === undefined ? [] : [stored.slice(0, stored.indexOf(' ')), stored.slice(stored.indexOf(' ') + 1)]
    const filter = watched.length <= MAX_FILTERED_GROUPS ? `&$filter=${encodeURIComponent(watched.map(id => `id eq '${id}'`).join(' or '))}` : ''
    const start = storedScope === scope && storedLink !== undefined && graph.isOwn(storedLink) ? storedLink : graph.url(`groups/delta?$select=id,members${filter}`)
    const round = await graph.round(start, {
      beforePage: async () => await this.#hold(),
      onPage: async entries => {
        for (const entry of entries) {
          const group = idOf(entry)
          const members = entry['members@delta']
          if (group === undefined || !watched.includes(group) || !Array.isArray(members)) continue
          for (const member of members as unknown[]) {
            const m = member as DeltaEntry | null
            const oid = m === null || typeof m !== 'object' ? undefined : idOf(m)
            if (oid !== undefined && m?.['@removed'] !== undefined) await this.#regroup(`${this.#deps.watch.tenant}/${oid}`, group)
          }
        }
      },
    })
    if (round.ok) await store.setValue(GROUPS_LINK, `${scope} ${round.deltaLink}`, LINK_TTL_MS)
    return round
  }

  /** Object ids of the groups the policy names: by their entra.group_names name, or by id. */
  #watchedGroups (): string[] {
    const mentioned = this.#deps.mentionedGroups()
    const ids = new Set<string>()
    for (const [id, name] of Object.entries(this.#deps.entra.groupNames)) if (mentioned.has(name)) ids.add(id)
    for (const name of mentioned) if (GUID.test(name.toLowerCase())) ids.add(name.toLowerCase())
    return [...ids].sort()
  }

  async #storedLink (key: string): Promise<string | undefined> {
    const link = await this.#deps.store.getValue(key)
    if (link === undefined || link === '') return undefined
    return key === USERS_LINK && !this.#deps.graph.isOwn(link) ? undefined : link
  }

  async #endUser (user: string, reason: string): Promise<void> {
    // Most disabled accounts have no session here: only those that do are ended (and audited).
    if ((await this.#deps.store.backend.idsBy('user', user)).length === 0) return
    await this.#deps.ender.end({ user }, 'directory', { reason })
  }

  /** Ends the user's sessions signed in before `validFrom` ("Revoke sessions"); later sign-ins stay. */
  async #endSessionsBefore (user: string, validFrom: number): Promise<void> {
    if (Number.isNaN(validFrom)) return
    const { store, ender } = this.#deps
    for (const id of await store.backend.idsBy('user', user)) {
      const record = await store.get(id, { fresh: true })
      if (record?.createdAt === undefined || record.createdAt >= validFrom) continue
      await ender.end({ session: id, identity: record.identity }, 'directory', { reason: 'sign_in_sessions_revoked' })
    }
  }

  /** Marks the user's sessions so that their groups are read again from Graph at the next request. */
  async #regroup (user: string, group: string): Promise<void> {
    const { store, lifetimes, clock } = this.#deps
    let marked = 0
    for (const id of await store.backend.idsBy('user', user)) {
      const record = await store.get(id, { fresh: true })
      // Marked again even when already stale: a request reading the groups now may have read them before this change.
      if (record === undefined) continue
      const session = new ActiveSession(id, record, { store, lifetimes, clock })
      session.update({ groupsStale: true, groupsMark: (record.groupsMark ?? 0) + 1 })
      if (await session.save()) marked++
    }
    if (marked === 0) return
    this.#deps.metrics.groupsStale(marked)
    this.#log.info({ event: 'directory.groups_stale', user, group: this.#deps.entra.groupNames[group] ?? group, sessions: marked }, 'a member left a group the policy names: the groups of their sessions are read again at the next request')
  }
}

/** The lower-case object id of a delta entry. */
function idOf (entry: DeltaEntry): string | undefined {
  return typeof entry.id === 'string' && entry.id !== '' ? entry.id.toLowerCase() : undefined
}
