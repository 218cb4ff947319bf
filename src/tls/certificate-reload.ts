import { watch, type FSWatcher } from 'node:fs'
import { dirname } from 'node:path'
import type { Logger } from '../log/logger.js'
import { readTlsFiles, type TlsMaterial, type TlsPaths } from './tls-files.js'

/** Changes within this long are read once: a renewal writes the key and the chain one after the other. */
export const DEFAULT_DEBOUNCE_MS = 250
/** The files are read again this often in any case: a watch can miss a change (network volumes, some container mounts). */
export const DEFAULT_POLL_MS = 30_000

export interface CertificateReloadOptions {
  readonly paths: TlsPaths
  /** What is served now. */
  readonly current: TlsMaterial
  /** Puts new material in service (the server's setSecureContext: new handshakes use it, open connections keep theirs). */
  readonly apply: (material: TlsMaterial) => void
  readonly log: Logger
  readonly debounceMs?: number
  readonly pollMs?: number
}

/** The outcome of one look at the files, for the log and for tests. */
export type ReloadOutcome = 'unchanged' | 'reloaded' | 'refused'

/**
 * Puts a renewed certificate in service without a restart and without
 * dropping a connection. The folders of the files are watched, not the
 * files: cert-manager swaps a `..data` symlink in the mounted folder and
 * certbot replaces symlinks under live/, and a watch on the old file would
 * see neither. Every event (and a periodic check) reads the files again;
 * contents that did not change are ignored, and files that do not serve (half
 * written, a key of another certificate) leave the certificate in service as
 * it is, with a warning.
 */
export class CertificateReload {
  readonly #opts: CertificateReloadOptions
  readonly #watchers: FSWatcher[] = []
  #current: TlsMaterial
  #timer: NodeJS.Timeout | undefined
  #poll: NodeJS.Timeout | undefined
  #listeners: Array<(outcome: ReloadOutcome) => void> = []
  /** The problems last warned of: the periodic check does not repeat the same warning. */
  #lastRefusal = ''

  constructor (opts: CertificateReloadOptions) {
    this.#opts = opts
    this.#current = opts.current
  }

  get current (): TlsMaterial { return this.#current }

  start (): void {
    const { paths, log } = this.#opts
    const folders = new Set([paths.certFile, paths.keyFile, ...(paths.clientCaFile === undefined ? [] : [paths.clientCaFile])].map(f => dirname(f)))
    for (const folder of folders) {
      try {
        const watcher = watch(folder, { persistent: false }, () => { this.#soon() })
        watcher.on('error', (err) => { log.warn({ event: 'tls.watch_failed', folder, err: { message: err.message } }, 'certificate folder watch failed; the files are still checked periodically') })
        this.#watchers.push(watcher)
      } catch (err) {
        log.warn({ event: 'tls.watch_failed', folder, err: { message: (err as Error).message } }, 'cannot watch the certificate folder; the files are checked periodically')
      }
    }
    this.#poll = setInterval(() => { this.check() }, this.#opts.pollMs ?? DEFAULT_POLL_MS)
    this.#poll.unref()
  }

  #soon (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => { this.#timer = undefined; this.check() }, this.#opts.debounceMs ?? DEFAULT_DEBOUNCE_MS)
    this.#timer.unref()
  }

  /** Reads the files now; puts them in service when they changed and serve. */
  check (): ReloadOutcome {
    const outcome = this.#check()
    for (const listener of this.#listeners) listener(outcome)
    return outcome
  }

  #check (): ReloadOutcome {
    const { paths, log } = this.#opts
    const read = readTlsFiles(paths)
    if (!read.ok) {
      const refusal = read.problems.map(p => p.message).join('; ')
      if (refusal === this.#lastRefusal) return 'refused'
      this.#lastRefusal = refusal
      log.warn({ event: 'tls.reload_refused', problems: read.problems.map(p => `tls.${p.key}: ${p.message}`), kept: this.#current.fingerprint }, 'the certificate files changed but do not serve; the certificate in service is kept')
      return 'refused'
    }
    this.#lastRefusal = ''
    if (read.material.digest === this.#current.digest) return 'unchanged'
    try {
      this.#opts.apply(read.material)
    } catch (err) {
      log.warn({ event: 'tls.reload_refused', problems: [(err as Error).message], kept: this.#current.fingerprint }, 'the new certificate was refused; the certificate in service is kept')
      return 'refused'
    }
    const previous = this.#current
    this.#current = read.material
    log.info({ event: 'tls.reloaded', fingerprint: read.material.fingerprint, subject: read.material.subject, not_after: read.material.notAfter, previous: previous.fingerprint }, 'certificate reloaded')
    return 'reloaded'
  }

  /** Called after every look at the files (tests await it instead of sleeping). */
  onCheck (listener: (outcome: ReloadOutcome) => void): () => void {
    this.#listeners.push(listener)
    return () => { this.#listeners = this.#listeners.filter(l => l !== listener) }
  }

  stop (): void {
    for (const w of this.#watchers) w.close()
    this.#watchers.length = 0
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    if (this.#poll !== undefined) clearInterval(this.#poll)
  }
}
