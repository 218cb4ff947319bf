import type { LoadedConfig } from '../config/load.js'
import { userInfo } from 'node:os'
import type { AuditLog } from '../log/audit.js'
import { storeTtlMs } from './lifetime.js'
import { SessionEnder } from './session-ender.js'
import type { SessionStore } from './session-store.js'

export interface SessionsCommand {
  action: 'list' | 'revoke'
  user?: string | undefined
  session?: string | undefined
  all?: boolean | undefined
  json?: boolean | undefined
}

/**
 * `gatehouse sessions list|revoke` against the configured Redis. Revocation
 * deletes the sessions and announces it, so every running gateway drops its
 * cached copy at once.
 */
export async function runSessionsCommand (cmd: SessionsCommand, loaded: LoadedConfig, store: SessionStore, out: (text: string) => void, audit: AuditLog): Promise<number> {
  const { config } = loaded
  if (store.kind !== 'redis') {
    out('gatehouse sessions: no Redis is configured; in-memory sessions live inside the running gateway only\n')
    return 2
  }
  const lifetimes = { idleMs: config.session.idleTimeoutMs, maxMs: config.session.maxLifetimeMs }
  if (cmd.action === 'list') {
    const now = Date.now()
    const { sessions: readable, unreadable } = await store.inventory()
    const sessions = readable.filter(s => cmd.user === undefined || s.record.identity?.id === cmd.user)
    const rows = sessions.map(({ id, record }) => ({
      session: id,
      user: record.identity?.id ?? '(signing in)',
      email: record.identity?.email ?? '',
      signed_in: iso(record.createdAt),
      last_seen: iso(record.lastSeenAt),
      expires: iso(now + storeTtlMs(record, now, lifetimes)),
    }))
    if (cmd.json === true) {
      out(`${JSON.stringify(rows)}\n`)
      return 0
    }
    out(`${rows.length} session(s)\n`)
    // Sessions sealed with another secret are there all the same: say so rather than report none.
    if (unreadable.length > 0) out(`${unreadable.length} more session(s) stored that this session secret cannot read (sealed with another secret, or altered)${cmd.user === undefined ? '' : '; their users are unknown'}\n`)
    for (const r of rows) out(`${r.session}  ${r.user}  ${r.email}  signed in ${r.signed_in}  last seen ${r.last_seen}  expires ${r.expires}\n`)
    return 0
  }
  const chosen = [cmd.user !== undefined, cmd.session !== undefined, cmd.all === true].filter(Boolean).length
  if (chosen !== 1) {
    out('gatehouse sessions revoke: give exactly one of --user ID, --session ID, --all\n')
    return 2
  }
  const which = cmd.user !== undefined ? { user: cmd.user } : cmd.session !== undefined ? { session: cmd.session } : { all: true as const }
  // Who ran the command, as the operating system knows them.
  const count = await new SessionEnder({ store, audit }).end(which, 'cli', { reason: 'operator', operator: operator() })
  out(`revoked ${count} session(s)\n`)
  return 0
}

function operator (): string | undefined {
  try {
    return userInfo().username
  } catch {
    return undefined
  }
}

function iso (ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString()
}
