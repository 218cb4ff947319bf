import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import type { FastifyInstance } from 'fastify'
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client'
import type { GatewayConfig } from '../config/types.js'
import type { Logger } from '../log/logger.js'
import { buildAdminServer } from './admin.js'
import { isWorkerMessage, type PrimaryMessage } from './cluster-messages.js'
import { clusterReadiness, type WorkerReadiness } from './cluster-readiness.js'
import type { Readiness } from './readiness.js'

/** A crashed worker is replaced after this long, doubled for each crash in a row, up to the maximum. */
const RESTART_DELAY_MS = 100
const MAX_RESTART_DELAY_MS = 30_000
/** A worker that ran this long without crashing starts the count of crashes in a row again. */
const STEADY_MS = 30_000
/** How long /readyz waits for a worker's answer (its own checks take up to a second). */
const READINESS_TIMEOUT_MS = 2000
/** Workers still running this long after the grace period are killed. */
const KILL_MARGIN_MS = 5000

/** The number of worker processes `workers` asks for. */
export function workerCount (setting: number | 'auto'): number {
  return setting === 'auto' ? availableParallelism() : setting
}

interface Slot {
  worker: Worker | undefined
  startedAt: number
  /** Crashes in a row (reset once a worker has run for STEADY_MS). */
  crashes: number
  restart: NodeJS.Timeout | undefined
}

/**
 * The primary process of `workers: N`: it forks N worker processes, each a
 * whole gateway with its own session store connection (and so its own exact
 * session cache), which share the public listener through node:cluster. The
 * primary serves nothing itself but the admin listener, whose /metrics adds
 * up every worker's metrics (prom-client's AggregatorRegistry) and whose
 * /readyz asks every worker. SIGHUP is passed on to every worker (each also
 * watches the policy files); SIGTERM and SIGINT stop every worker gracefully,
 * then the primary. A worker that crashes is logged and replaced, after a
 * delay that grows with crashes in a row. A worker that stops before its
 * gateway first listens stops the start: every worker would fail alike.
 */
export class ClusterPrimary {
  readonly #config: GatewayConfig
  readonly #log: Logger
  readonly #slots: Slot[]
  readonly #aggregator = new AggregatorRegistry()
  readonly #own = new Registry()
  readonly #restarts: Counter
  #admin: FastifyInstance | undefined
  #starting = true
  #stopping = false
  #done: (code: number) => void = () => {}
  #allExited: (() => void) | undefined
  readonly #finished: Promise<number>
  #requests = 0
  readonly #waiting = new Map<number, (readiness: Readiness) => void>()

  constructor (config: GatewayConfig, log: Logger, workers: number) {
    this.#config = config
    this.#log = log.child({ module: 'workers' })
    this.#slots = Array.from({ length: workers }, () => ({ worker: undefined, startedAt: 0, crashes: 0, restart: undefined }))
    this.#finished = new Promise(resolve => { this.#done = resolve })
    this.#restarts = new Counter({ name: 'gatehouse_worker_restarts_total', help: 'Worker processes that stopped unexpectedly and were replaced', registers: [this.#own] })
    const slots = this.#slots
    new Gauge({
      name: 'gatehouse_workers',
      help: 'Worker processes running (the configured number, but while one is being replaced)',
      registers: [this.#own],
      collect () { this.set(slots.filter(s => s.worker?.isConnected() === true).length) },
    })
  }

  /** Forks the workers and, once every one listens, opens the admin listener; resolves with the exit code when all have stopped. */
  async run (): Promise<number> {
    cluster.on('exit', (worker, code, signal) => { this.#exited(worker, code, signal) })
    cluster.on('message', (_worker, message: unknown) => {
      if (!isWorkerMessage(message) || message.type !== 'gatehouse:readiness') return
      this.#waiting.get(message.id)?.(message.readiness)
    })
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => { this.stop(signal) })
    process.on('SIGHUP', () => {
      this.#log.info({ event: 'policy.reload_requested', workers: this.#running().length }, 'SIGHUP: every worker reloads the policy')
      for (const worker of this.#running()) worker.process.kill('SIGHUP')
    })
    const started = await Promise.all(this.#slots.map(slot => this.#fork(slot)))
    this.#starting = false
    if (started.includes(false) || this.#stopping) return await this.#finished
    this.#log.info({ event: 'workers.started', workers: this.#slots.length, pids: this.#running().map(w => w.process.pid) }, `${this.#slots.length} worker processes listening`)
    const listen = this.#config.admin.listen
    if (listen !== undefined) {
      const admin = buildAdminServer({ log: this.#log, scrape: async () => await this.#scrape(), readiness: async () => await this.#readiness() })
      this.#admin = admin
      try {
        await admin.listen({ host: listen.host, port: listen.port })
      } catch (err) {
        process.stderr.write(`gatehouse: admin listener (admin.listen ${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}): ${(err as Error).message}\n`)
        this.#admin = undefined
        this.stop('admin_listener_failed', 1)
      }
    }
    return await this.#finished
  }

  /** The admin listener's bound address, once listening. */
  get adminAddress (): { host: string, port: number } | undefined {
    const address = this.#admin?.server.address()
    return address === null || address === undefined || typeof address === 'string' ? undefined : { host: address.address, port: address.port }
  }

  /** Stops every worker gracefully (they finish the requests in flight within the grace period), then the primary. */
  stop (reason: string, code = 0): void {
    if (this.#stopping) return
    this.#stopping = true
    const grace = this.#config.shutdown.gracePeriodMs
    this.#log.info({ event: 'shutdown.started', signal: reason, gracePeriodMs: grace, workers: this.#running().length }, 'shutting down every worker')
    for (const slot of this.#slots) clearTimeout(slot.restart)
    for (const worker of this.#running()) worker.process.kill('SIGTERM')
    const kill = setTimeout(() => {
      for (const worker of this.#running()) {
        this.#log.warn({ event: 'shutdown.worker_killed', worker: worker.id, pid: worker.process.pid }, 'worker still running after the grace period; killed')
        worker.process.kill('SIGKILL')
      }
    }, grace + KILL_MARGIN_MS)
    kill.unref()
    void this.#whenAllExited().then(async () => {
      clearTimeout(kill)
      await this.#admin?.close()
      this.#done(code)
    })
  }

  #running (): Worker[] {
    return this.#slots.flatMap(s => s.worker === undefined || s.worker.isDead() ? [] : [s.worker])
  }

  async #whenAllExited (): Promise<void> {
    if (this.#slots.every(s => s.worker === undefined)) return
    await new Promise<void>(resolve => { this.#allExited = resolve })
  }

  /** Forks a worker into `slot`; resolves true once its gateway listens, false when it stops before. */
  async #fork (slot: Slot): Promise<boolean> {
    slot.restart = undefined
    const worker = cluster.fork()
    slot.worker = worker
    slot.startedAt = Date.now()
    return await new Promise<boolean>(resolve => {
      const onMessage = (message: unknown): void => {
        if (!isWorkerMessage(message) || message.type !== 'gatehouse:worker-started') return
        worker.off('message', onMessage)
        resolve(true)
      }
      worker.on('message', onMessage)
      worker.once('exit', () => { worker.off('message', onMessage); resolve(false) })
    })
  }

  #exited (worker: Worker, code: number | null, signal: string | null): void {
    const slot = this.#slots.find(s => s.worker === worker)
    if (slot === undefined) return
    slot.worker = undefined
    if (this.#stopping) {
      if (this.#slots.every(s => s.worker === undefined)) this.#allExited?.()
      return
    }
    if (this.#starting) {
      // Its own error is on stderr already; every other worker would fail alike.
      process.stderr.write(`gatehouse: worker ${worker.id} stopped before it listened (${signal ?? `exit code ${String(code)}`}); not starting\n`)
      this.stop('worker_failed_to_start', 1)
      return
    }
    const ranMs = Date.now() - slot.startedAt
    if (ranMs >= STEADY_MS) slot.crashes = 0
    const delay = Math.min(RESTART_DELAY_MS * 2 ** slot.crashes, MAX_RESTART_DELAY_MS)
    slot.crashes++
    this.#restarts.inc()
    this.#log.error({ event: 'worker.exited', worker: worker.id, pid: worker.process.pid, exitCode: code, signal, ranMs, restartInMs: delay }, 'worker process stopped unexpectedly; replacing it')
    slot.restart = setTimeout(() => {
      void this.#fork(slot).then(listening => {
        if (listening) this.#log.info({ event: 'worker.replaced', worker: slot.worker?.id, pid: slot.worker?.process.pid }, 'worker process replaced')
      })
    }, delay)
  }

  async #scrape (): Promise<{ contentType: string, text: string }> {
    const workers = await this.#aggregator.clusterMetrics()
    return { contentType: this.#aggregator.contentType, text: `${workers.trimEnd()}\n${await this.#own.metrics()}` }
  }

  async #readiness (): Promise<Readiness> {
    if (this.#stopping) return { ready: false, body: { status: 'not_ready', checks: { shutdown: 'in_progress' } } }
    const answers = await Promise.all(this.#running().map(async (worker): Promise<WorkerReadiness> => ({ worker: worker.id, pid: worker.process.pid, readiness: await this.#ask(worker) })))
    return clusterReadiness(answers, this.#slots.length)
  }

  async #ask (worker: Worker): Promise<Readiness | undefined> {
    const id = this.#requests++
    return await new Promise<Readiness | undefined>(resolve => {
      const timer = setTimeout(() => { this.#waiting.delete(id); resolve(undefined) }, READINESS_TIMEOUT_MS)
      this.#waiting.set(id, readiness => { clearTimeout(timer); this.#waiting.delete(id); resolve(readiness) })
      const request: PrimaryMessage = { type: 'gatehouse:readiness?', id }
      try {
        worker.send(request)
      } catch {
        clearTimeout(timer)
        this.#waiting.delete(id)
        resolve(undefined)
      }
    })
  }
}
