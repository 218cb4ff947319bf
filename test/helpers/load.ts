/** One outcome of a request made under load: an HTTP status, or what went wrong on the way. */
export type Outcome = number | 'hang' | `error:${string}`

/**
 * A few concurrent request loops in the test process ("under load" for
 * resilience tests, not a benchmark). Every outcome is counted per label and
 * per phase; tests wait for counts (an event, not a sleep) and then assert
 * which outcomes occurred. Each request has a generous deadline, only to turn
 * a hang into an outcome that fails the test instead of the test timing out.
 */
export class Load {
  readonly #counts = new Map<string, Map<Outcome, number>>()
  readonly #loops: Array<Promise<void>> = []
  #stopped = false
  #phase = 'start'
  #waiters: Array<{ done: () => boolean, resolve: () => void }> = []

  /** The current phase; outcomes are counted under the phase in which their request started. */
  get phase (): string {
    return this.#phase
  }

  set phase (phase: string) {
    this.#phase = phase
  }

  /** Starts a loop that calls `request` until stop(); `label` names the kind of request. A request that resolves undefined did nothing and is not counted. */
  loop (label: string, request: (signal: AbortSignal) => Promise<number | undefined>, deadlineMs = 20_000): void {
    this.#loops.push((async () => {
      while (!this.#stopped) {
        const phase = this.#phase
        let outcome: Outcome | undefined
        const signal = AbortSignal.timeout(deadlineMs)
        try {
          outcome = await request(signal)
        } catch (err) {
          outcome = signal.aborted ? 'hang' : `error:${codeOf(err)}`
        }
        if (outcome !== undefined) this.record(label, phase, outcome)
        // Let timers and I/O of the rest of the process run between requests.
        await new Promise(resolve => setImmediate(resolve))
      }
    })())
  }

  record (label: string, phase: string, outcome: Outcome): void {
    const key = `${label}|${phase}`
    let counts = this.#counts.get(key)
    if (counts === undefined) this.#counts.set(key, counts = new Map())
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1)
    this.#waiters = this.#waiters.filter(w => {
      if (!w.done()) return true
      w.resolve()
      return false
    })
  }

  /** Outcomes of requests with this label (in this phase, or all phases), with their counts. */
  outcomes (label: string, phase?: string): Map<Outcome, number> {
    const out = new Map<Outcome, number>()
    for (const [key, counts] of this.#counts) {
      const [l, p] = key.split('|')
      if (l !== label || (phase !== undefined && p !== phase)) continue
      for (const [o, n] of counts) out.set(o, (out.get(o) ?? 0) + n)
    }
    return out
  }

  count (label: string, phase?: string, outcome?: Outcome): number {
    let n = 0
    for (const [o, c] of this.outcomes(label, phase)) if (outcome === undefined || o === outcome) n += c
    return n
  }

  /** Resolves once `done` holds (checked after every outcome), or once the load is stopped. */
  async until (done: () => boolean): Promise<void> {
    if (done() || this.#stopped) return
    await new Promise<void>(resolve => this.#waiters.push({ done, resolve }))
  }

  get stopped (): boolean {
    return this.#stopped
  }

  async stop (): Promise<void> {
    this.#stopped = true
    // A loop waiting for other loops' outcomes would otherwise wait for ever.
    for (const w of this.#waiters) w.resolve()
    this.#waiters = []
    await Promise.all(this.#loops)
  }

  /** The outcomes of a label as a plain object, for messages. */
  describe (label: string, phase?: string): Record<string, number> {
    return Object.fromEntries([...this.outcomes(label, phase)].map(([o, n]) => [String(o), n]))
  }
}

function codeOf (err: unknown): string {
  const e = err as { code?: string, cause?: { code?: string }, name?: string }
  return e.cause?.code ?? e.code ?? e.name ?? 'unknown'
}
