import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { freePort } from './ports.js'

/**
 * Private Redis Sentinel sets and Redis Clusters built from the redis-server
 * and redis-cli binaries, on loopback, free ports and a temp dir of their own.
 * Every process is killed (SIGKILL) and waited for, and the temp dir removed,
 * by t.teardown. The machine's shared Redis is never touched.
 */

interface Teardown { teardown (fn: () => unknown): void }

/** How long a topology may take to come up before the test gives up. */
const STARTUP_TIMEOUT_MS = 20_000
const POLL_MS = 50

/** Why these topologies cannot be started here (a binary is missing), or undefined when they can. */
export function redisBinariesMissing (): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(d => d !== '')
  const missing = ['redis-server', 'redis-cli'].filter(bin => !dirs.some(dir => {
    try {
      accessSync(join(dir, bin), constants.X_OK)
      return true
    } catch {
      return false
    }
  }))
  return missing.length === 0 ? undefined : `${missing.join(' and ')} not found on PATH (install redis-server / redis-tools)`
}

/** Runs redis-cli against 127.0.0.1:port and returns its standard output. */
export async function redisCli (port: number, ...args: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${err.message} ${stderr}`))
      else resolve(stdout)
    })
  })
}

/** Processes and a temp dir, all removed at teardown. */
class Processes {
  readonly dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-topology-'))
  readonly #children: ChildProcess[] = []
  readonly #output = new Map<ChildProcess, string>()

  constructor (t: Teardown) {
    t.teardown(() => this.close())
  }

  /** Spawns redis-server with these arguments and resolves once it accepts connections. */
  async redisServer (args: string[]): Promise<ChildProcess> {
    const child = this.spawn(args)
    await this.until(child, 'Ready to accept connections')
    return child
  }

  /** Spawns redis-server with these arguments (a sentinel, say: the caller polls it until it answers). */
  spawn (args: string[]): ChildProcess {
    const child = spawn('redis-server', args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] })
    this.#children.push(child)
    this.#output.set(child, '')
    const record = (chunk: Buffer): void => { this.#output.set(child, (this.#output.get(child) ?? '') + chunk.toString()) }
    child.stdout?.on('data', record)
    child.stderr?.on('data', record)
    child.on('error', err => { this.#output.set(child, `${this.output(child)}\n${err.message}`) })
    return child
  }

  /** Resolves once the process has printed `text`; rejects if it exits first or takes too long. */
  async until (child: ChildProcess, text: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const what = `redis-server ${child.spawnargs.slice(1).join(' ')}`
      const timer = setTimeout(() => { done(); reject(new Error(`${what} did not print "${text}": ${this.output(child)}`)) }, STARTUP_TIMEOUT_MS)
      const check = (): void => { if (this.output(child).includes(text)) { done(); resolve() } }
      const onExit = (code: number | null): void => { done(); reject(new Error(`${what} exited (${String(code)}): ${this.output(child)}`)) }
      const done = (): void => {
        clearTimeout(timer)
        child.stdout?.off('data', check)
        child.off('exit', onExit)
      }
      child.stdout?.on('data', check)
      child.once('exit', onExit)
      check()
    })
  }

  /** Throws if a process has exited (so that polling stops at once, with its output). */
  assertAlive (): void {
    for (const child of this.#children) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server ${child.spawnargs.slice(1).join(' ')} exited (${String(child.exitCode ?? child.signalCode)}): ${this.output(child)}`)
    }
  }

  output (child: ChildProcess): string {
    return this.#output.get(child) ?? ''
  }

  /** Kills every process (SIGKILL), waits for each to exit, removes the temp dir. */
  async close (): Promise<void> {
    await Promise.all(this.#children.splice(0).map(async child => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    }))
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** `n` different ports, all free a moment ago. */
async function distinctFreePorts (n: number): Promise<number[]> {
  const seen = new Set<number>()
  while (seen.size < n) seen.add(await freePort())
  return [...seen]
}

/** Calls `check` every POLL_MS until it returns a value (not undefined), at most STARTUP_TIMEOUT_MS. */
async function pollUntil<T> (procs: Processes, what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS
  let last: unknown
  for (;;) {
    procs.assertAlive()
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${(last as Error).message}`}`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

export interface SentinelSet {
  masterName: string
  masterPort: number
  replicaPorts: number[]
  sentinelPort: number
  /** redis+sentinel://127.0.0.1:<sentinel>/<master name> */
  url: string
  /** How long the set took to come up, in ms. */
  startupMs: number
  dir: string
}

/**
 * A master, `replicas` replicas (default 1) and one sentinel monitoring the
 * master (quorum 1). Resolves once the sentinel names the master and knows
 * every replica.
 */
export async function startSentinelSet (t: Teardown, opts: { masterName?: string, replicas?: number } = {}): Promise<SentinelSet> {
  const started = Date.now()
  const masterName = opts.masterName ?? 'mymaster'
  const procs = new Processes(t)
  const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', procs.dir]
  const [masterPort = 0, sentinelPort = 0, ...replicaPorts] = await distinctFreePorts(2 + (opts.replicas ?? 1))
  // No 5 s wait for more replicas before a diskless full sync.
  await procs.redisServer(['--port', String(masterPort), ...common, '--repl-diskless-sync-delay', '0'])
  await Promise.all(replicaPorts.map(async port => await procs.redisServer(['--port', String(port), ...common, '--replicaof', '127.0.0.1', String(masterPort)])))
  const conf = join(procs.dir, 'sentinel.conf')
  // The sentinel rewrites this file as it learns the topology: it must be writable.
  writeFileSync(conf, [
    `port ${sentinelPort}`,
    'bind 127.0.0.1',
    `dir ${procs.dir}`,
    `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
    `sentinel down-after-milliseconds ${masterName} 1000`,
    '',
  ].join('\n'))
  procs.spawn([conf, '--sentinel'])
  await pollUntil(procs, `sentinel ${sentinelPort} to name master ${masterName}`, async () => {
    const answer = (await redisCli(sentinelPort, 'sentinel', 'get-master-addr-by-name', masterName)).trim().split('\n')
    return answer[0] === '127.0.0.1' && answer[1] === String(masterPort) ? true : undefined
  })
  if (replicaPorts.length > 0) {
    // Replicas are in sync and known to the sentinel (it learns them from the master's INFO).
    await pollUntil(procs, `replicas of ${masterName} to be online`, async () => {
      const info = await redisCli(masterPort, 'info', 'replication')
      return info.includes(`connected_slaves:${replicaPorts.length}`) && replicaPorts.every(p => new RegExp(`port=${p},state=online`).test(info)) ? true : undefined
    })
    await pollUntil(procs, `sentinel ${sentinelPort} to know the replicas`, async () => {
      const replicas = await redisCli(sentinelPort, 'sentinel', 'replicas', masterName)
      return replicaPorts.every(p => replicas.includes(String(p))) ? true : undefined
    })
  }
  return {
    masterName,
    masterPort,
    replicaPorts,
    sentinelPort,
    url: `redis+sentinel://127.0.0.1:${sentinelPort}/${masterName}`,
    startupMs: Date.now() - started,
    dir: procs.dir,
  }
}

export interface RedisCluster {
  /** The client ports of the masters. */
  ports: number[]
  /** redis+cluster://127.0.0.1:<port> for the given seed nodes (default: the first). */
  url (seeds?: number): string
  /** How long the cluster took to come up, in ms. */
  startupMs: number
  dir: string
}

/**
 * A Cluster of `masters` masters (default 3, no replicas) made with
 * `redis-cli --cluster create`. Resolves once every node reports
 * cluster_state:ok.
 */
export async function startRedisCluster (t: Teardown, opts: { masters?: number } = {}): Promise<RedisCluster> {
  const started = Date.now()
  const procs = new Processes(t)
  // The cluster bus ports are chosen too: the default, port + 10000, may be taken or above 65535.
  const masters = opts.masters ?? 3
  const all = await distinctFreePorts(2 * masters)
  const ports = all.slice(0, masters)
  const busPorts = all.slice(masters)
  await Promise.all(ports.map(async (port, i) => {
    await procs.redisServer([
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes',
      '--cluster-port', String(busPorts[i] ?? 0),
      '--cluster-config-file', `nodes-${port}.conf`,
      '--cluster-node-timeout', '2000',
      '--save', '',
      '--appendonly', 'no',
      '--dir', procs.dir,
    ])
  }))
  await new Promise<void>((resolve, reject) => {
    execFile('redis-cli', ['--cluster', 'create', ...ports.map(p => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: STARTUP_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`redis-cli --cluster create: ${err.message}\n${stdout}\n${stderr}`))
      else resolve()
    })
  })
  for (const port of ports) {
    await pollUntil(procs, `cluster node ${port} to report cluster_state:ok`, async () => (await redisCli(port, 'cluster', 'info')).includes('cluster_state:ok') ? true : undefined)
  }
  return {
    ports,
    url: (seeds = 1) => `redis+cluster://${ports.slice(0, seeds).map(p => `127.0.0.1:${p}`).join(',')}`,
    startupMs: Date.now() - started,
    dir: procs.dir,
  }
}
