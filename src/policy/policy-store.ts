import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import { statSync } from 'node:fs'
import { ConfigError, type Problem } from '../errors.js'
import type { Logger } from '../log/logger.js'
import type { AuditLog } from '../log/audit.js'
import { defaultPolicy, loadPolicy, type Policy, type PolicySettings } from './load-policy.js'

const RELOAD_DEBOUNCE_MS = 150
/** Failing test cases named in a reload_failed audit event; the log has every one. */
const MAX_AUDITED_FAILURES = 20

export interface PolicyStatus {
  /** False when the last reload failed; the previous policy is still in force. */
  ok: boolean
  hash: string
  loadedAt: string
  /** Problems of the last failed reload, file:line:col. */
  errors: Problem[]
  reloads: number
  failedReloads: number
  /** Test cases (policy.tests) the refused policy failed; 0 when the last load passed them or none are set. */
  testsFailed: number
}

/**
 * Checks a loaded policy before it goes live (policy.tests): how many cases
 * failed, and a problem for each (file:line). A policy with failures is
 * refused like an invalid one.
 */
export type PolicyGate = (policy: Policy) => { readonly failed: number, readonly problems: readonly Problem[] }

/**
 * Holds the policy in force. A reload validates the files and swaps the
 * compiled policy in one assignment; a bad edit keeps the last good policy,
 * logs every problem, and shows in status. Each request keeps the policy it
 * started with, so in-flight requests finish under it.
 */
export class PolicyStore {
  readonly #path: string | undefined
  readonly #settings: PolicySettings
  readonly #log: Logger
  readonly #audit: AuditLog
  #current: Policy
  #status: PolicyStatus
  #watcher: FSWatcher | undefined
  #timer: NodeJS.Timeout | undefined
  #listeners: Array<(ok: boolean) => void> = []
  readonly #gate: PolicyGate | undefined

  /** Loads the policy once; throws ConfigError when it is invalid (the gateway does not start). */
  constructor (path: string | undefined, settings: PolicySettings, log: Logger, audit: AuditLog, gate?: PolicyGate) {
    this.#path = path
    this.#settings = settings
    this.#log = log.child({ module: 'policy' })
    this.#audit = audit
    this.#gate = gate
    const { policy, warnings } = path === undefined ? { policy: defaultPolicy(settings), warnings: [] } : loadPolicy(path, settings)
    for (const w of warnings) this.#log.warn({ where: w.where }, w.message)
    const verdict = gate?.(policy)
    if (verdict !== undefined && verdict.failed > 0) throw new ConfigError(verdict.problems)
    this.#current = policy
    this.#status = { ok: true, hash: policy.hash, loadedAt: new Date().toISOString(), errors: [], reloads: 0, failedReloads: 0, testsFailed: 0 }
  }

  get current (): Policy {
    return this.#current
  }

  get status (): PolicyStatus {
    return this.#status
  }

  /** Reads the files again. Returns true when the new policy is in force, false when the old one stays. */
  reload (reason: string): boolean {
    if (this.#path === undefined) return true
    try {
      const { policy, warnings } = loadPolicy(this.#path, this.#settings)
      for (const w of warnings) this.#log.warn({ where: w.where }, w.message)
      const verdict = this.#gate?.(policy)
      if (verdict !== undefined && verdict.failed > 0) return this.#refused(reason, verdict.problems, verdict.failed)
      const changed = policy.hash !== this.#current.hash
      this.#current = policy
      this.#status = { ...this.#status, ok: true, hash: policy.hash, loadedAt: new Date().toISOString(), errors: [], reloads: this.#status.reloads + 1, testsFailed: 0 }
      this.#audit('policy.reloaded', { reason, hash: policy.hash, changed, routes: policy.routes.length })
    } catch (err) {
      const problems = err instanceof ConfigError ? [...err.problems] : [{ where: this.#path, message: (err as Error).message, severity: 'error' as const }]
      return this.#refused(reason, problems, 0)
    }
    this.#notify(true)
    return true
  }

  /** A reload that failed (invalid files, or failing tests): the last good policy stays, and says so. */
  #refused (reason: string, problems: readonly Problem[], testsFailed: number): false {
    for (const p of problems) this.#log.error({ event: 'policy.not_reloaded', where: p.where, problem: p.message }, `policy not reloaded: ${p.message}`)
    const errors = problems.filter(p => p.severity === 'error')
    this.#status = { ...this.#status, ok: false, errors, failedReloads: this.#status.failedReloads + 1, testsFailed }
    this.#audit('policy.reload_failed', {
      reason,
      detail: errors[0] === undefined ? undefined : `${errors[0].where}: ${errors[0].message}`,
      errors: errors.length,
      kept: this.#current.hash,
      ...(testsFailed > 0 ? { tests_failed: testsFailed, failing_cases: errors.slice(0, MAX_AUDITED_FAILURES).map(p => `${p.where}: ${p.message}`) } : {}),
    })
    this.#notify(false)
    return false
  }

  #notify (ok: boolean): void {
    for (const listener of this.#listeners) listener(ok)
  }

  /** Called after every reload attempt (tests await it instead of sleeping). */
  onReload (listener: (ok: boolean) => void): () => void {
    this.#listeners.push(listener)
    return () => { this.#listeners = this.#listeners.filter(l => l !== listener) }
  }

  /** Reloads when a policy file changes (editors that replace files included). */
  watch (): void {
    if (this.#path === undefined || this.#watcher !== undefined) return
    const isDir = statSync(this.#path).isDirectory()
    const dir = isDir ? this.#path : dirname(this.#path)
    const file = isDir ? undefined : basename(this.#path)
    this.#watcher = watch(dir, { persistent: false }, (_event, name) => {
      if (file !== undefined && name !== null && name !== file) return
      if (this.#timer !== undefined) clearTimeout(this.#timer)
      this.#timer = setTimeout(() => { this.#timer = undefined; this.reload('file changed') }, RELOAD_DEBOUNCE_MS)
    })
    this.#watcher.on('error', (err) => { this.#log.error({ err: { message: err.message } }, 'policy watcher failed; SIGHUP still reloads') })
  }

  close (): void {
    this.#watcher?.close()
    this.#watcher = undefined
    if (this.#timer !== undefined) clearTimeout(this.#timer)
  }
}
