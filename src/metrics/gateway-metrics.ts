import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client'

/** How a request was decided: `none` when no decision was taken (the gateway's own endpoints, no route, a failure first). */
export type DecisionLabel = 'allow' | 'deny' | 'unauthenticated' | 'none'

/** The `route` label of requests that matched no policy route, and of the gateway's own endpoints. */
export const UNROUTED = '(none)'
export const GATEWAY_ROUTE = '(gateway)'

export type RefreshResult = 'success' | 'rejected' | 'error'

/** How a poll of the directory went: `standby` when another gateway holds the lock and polls. */
export type DirectoryPollResult = 'success' | 'failed' | 'throttled' | 'standby'

/** What the metrics read when scraped: counts kept by the parts themselves, at no cost per request. */
export interface MetricSources {
  sessionCache: () => { hits: number, misses: number }
  policy: () => { hash: string, reloads: number, failedReloads: number }
}

/**
 * Process metrics (CPU, memory, event loop, GC) are facts about the process,
 * not about one gateway: collected once per process into a registry of their
 * own (never prom-client's global one), and merged into every gateway's output.
 */
let processRegistry: Registry | undefined

function processMetrics (): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/**
 * The gateway's Prometheus metrics, in a registry of its own, so several
 * gateways in one process never share or clash. The per-request path keeps
 * plain numbers in cells found by route, decision and status (no label
 * hashing, no allocation once a combination has been seen); they become
 * counter values when /metrics is scraped.
 */
export class GatewayMetrics {
  readonly registry: Registry
  readonly #own = new Registry()
  /** route -> decision -> status -> cell */
  readonly #requests = new Map<string, Record<DecisionLabel, Map<number, RequestCell>>>()
  readonly #upstream = new RouteHistogram('gatehouse_upstream_duration_seconds', 'Time from sending a request to the upstream to its response headers, by policy route', UPSTREAM_BUCKETS)
  readonly #signins: Counter
  readonly #signinFailures: Counter<'reason'>
  readonly #refreshes: Counter<'result'>
  readonly #redisErrors: Counter<'command'>
  readonly #revoked: Counter<'source'>
  readonly #directoryPolls: Counter<'result'>
  readonly #groupsStale: Counter
  #sources: MetricSources | undefined

  constructor () {
    const registers = [this.#own]
    const requests = this.#requests
    const sources = (): MetricSources | undefined => this.#sources
    new Counter({
      name: 'gatehouse_requests_total',
      help: 'Requests answered, by policy route, authorization decision and HTTP status',
      labelNames: ['route', 'decision', 'status'] as const,
      registers,
      collect () {
        this.reset()
        for (const byDecision of requests.values()) {
          for (const byStatus of Object.values(byDecision)) {
            for (const cell of byStatus.values()) this.inc(cell.labels, cell.value)
          }
        }
      },
    })
    this.#own.registerMetric(this.#upstream as unknown as Metric)
    this.#signins = new Counter({ name: 'gatehouse_signins_total', help: 'Completed sign-ins', registers })
    this.#signinFailures = new Counter({ name: 'gatehouse_signin_failures_total', help: 'Failed sign-ins, by error code', labelNames: ['reason'] as const, registers })
    this.#refreshes = new Counter({ name: 'gatehouse_token_refreshes_total', help: 'Token refreshes at the identity provider: success, rejected (the session ends), error (the provider could not be reached)', labelNames: ['result'] as const, registers })
    this.#redisErrors = new Counter({ name: 'gatehouse_redis_errors_total', help: 'Redis commands that failed or timed out, and connection errors (command="connection")', labelNames: ['command'] as const, registers })
    this.#directoryPolls = new Counter({ name: 'gatehouse_directory_polls_total', help: 'Polls of Microsoft Graph by the Entra directory watch: success, failed, throttled, standby (another gateway holds the lock)', labelNames: ['result'] as const, registers })
    this.#groupsStale = new Counter({ name: 'gatehouse_directory_groups_stale_total', help: 'Sessions whose groups the directory watch marked to be read again (a member left a group that policies name)', registers })
    this.#revoked = new Counter({ name: 'gatehouse_sessions_revoked_total', help: 'Sessions ended by someone other than their user, by source: frontchannel, backchannel, ssf, directory, cli, refresh', labelNames: ['source'] as const, registers })
    new Counter({
      name: 'gatehouse_session_cache_hits_total',
      help: 'Sessions served from the in-process cache',
      registers,
      collect () { this.reset(); this.inc(sources()?.sessionCache().hits ?? 0) },
    })
    new Counter({
      name: 'gatehouse_session_cache_misses_total',
      help: 'Sessions read from the session store (not cached, expired from the cache, or read fresh on purpose)',
      registers,
      collect () { this.reset(); this.inc(sources()?.sessionCache().misses ?? 0) },
    })
    new Counter({
      name: 'gatehouse_policy_reloads_total',
      help: 'Policy reloads, by result (failure: the previous policy stays in force)',
      labelNames: ['result'] as const,
      registers,
      // Every worker process reloads the same files: added up, one reload would count once per worker.
      aggregator: 'max',
      collect () {
        const { reloads, failedReloads } = sources()?.policy() ?? { reloads: 0, failedReloads: 0 }
        this.reset()
        this.inc({ result: 'success' }, reloads)
        this.inc({ result: 'failure' }, failedReloads)
      },
    })
    new Gauge({
      name: 'gatehouse_policy_info',
      help: 'The policy in force: 1, labelled with its hash',
      labelNames: ['hash'] as const,
      registers,
      // 1 for each hash some worker process has in force (two only while they reload).
      aggregator: 'max',
      collect () {
        this.reset()
        const policy = sources()?.policy()
        if (policy !== undefined) this.set({ hash: policy.hash }, 1)
      },
    })
    this.registry = Registry.merge([processMetrics(), this.#own])
  }

  /** Where the counts kept by the session store and the policy store are read when scraped. */
  readFrom (sources: MetricSources): void {
    this.#sources = sources
  }

  /** Counts one answered request. */
  request (route: string, decision: DecisionLabel, status: number): void {
    let byDecision = this.#requests.get(route)
    if (byDecision === undefined) {
      byDecision = { allow: new Map(), deny: new Map(), unauthenticated: new Map(), none: new Map() }
      this.#requests.set(route, byDecision)
    }
    const byStatus = byDecision[decision]
    const cell = byStatus.get(status)
    if (cell === undefined) byStatus.set(status, { labels: { route, decision, status: String(status) }, value: 1 })
    else cell.value++
  }

  /** Time to the upstream's response headers, in seconds. */
  upstream (route: string, seconds: number): void {
    this.#upstream.observe(route, seconds)
  }

  signin (): void {
    this.#signins.inc()
  }

  signinFailure (code: string): void {
    this.#signinFailures.inc({ reason: code })
  }

  refresh (result: RefreshResult): void {
    this.#refreshes.inc({ result })
  }

  /** Sessions ended by a revocation (none is still counted, so that the source shows). */
  sessionsRevoked (source: string, sessions: number): void {
    this.#revoked.inc({ source }, sessions)
  }

  directoryPoll (result: DirectoryPollResult): void {
    this.#directoryPolls.inc({ result })
  }

  groupsStale (sessions: number): void {
    this.#groupsStale.inc(sessions)
  }

  redisError (command: string): void {
    this.#redisErrors.inc({ command })
  }

  /** The text exposition format, and its content type. */
  async scrape (): Promise<{ contentType: string, text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() }
  }
}

/**
 * A histogram by route that counts into plain arrays: prom-client's own
 * observe() builds a label key and a closure on every call, which the proxy
 * path does not need to pay for. The registry reads it as it reads its own
 * metrics (name, help, type, and get() with the sample values), when scraped.
 */
class RouteHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly name: string
  readonly help: string
  readonly buckets: readonly number[]
  readonly #routes = new Map<string, { counts: Float64Array, sum: number, count: number }>()

  constructor (name: string, help: string, buckets: readonly number[]) {
    this.name = name
    this.help = help
    this.buckets = buckets
  }

  observe (route: string, seconds: number): void {
    let cells = this.#routes.get(route)
    if (cells === undefined) {
      cells = { counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 }
      this.#routes.set(route, cells)
    }
    let i = 0
    while (i < this.buckets.length && seconds > (this.buckets[i] as number)) i++
    ;(cells.counts[i] as number)++
    cells.sum += seconds
    cells.count++
  }

  async get (): Promise<{ name: string, help: string, type: string, aggregator: string, values: Array<{ metricName: string, labels: Record<string, string | number>, value: number }> }> {
    const values: Array<{ metricName: string, labels: Record<string, string | number>, value: number }> = []
    for (const [route, cells] of this.#routes) {
      let cumulative = 0
      this.buckets.forEach((le, i) => {
        cumulative += cells.counts[i] as number
        values.push({ metricName: `${this.name}_bucket`, labels: { le, route }, value: cumulative })
      })
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', route }, value: cells.count })
      values.push({ metricName: `${this.name}_sum`, labels: { route }, value: cells.sum })
      values.push({ metricName: `${this.name}_count`, labels: { route }, value: cells.count })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}

interface RequestCell {
  readonly labels: { route: string, decision: DecisionLabel, status: string }
  value: number
}
