import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'

/**
 * A private redis-server on a free port, for tests that stop, freeze or
 * misconfigure Redis. The machine's shared Redis is never touched.
 */
export class TestRedis {
  readonly port: number
  /** With a folder, Redis keeps its data on disk (append-only file) across restarts. */
  readonly #dir: string | undefined
  #child: ChildProcess | undefined

  private constructor (port: number, dir: string | undefined) {
    this.port = port
    this.#dir = dir
  }

  static async start (opts: { persistent?: boolean } = {}): Promise<TestRedis> {
    // A port found free can be taken before redis-server binds it: try another.
    for (let attempt = 1; ; attempt++) {
      const redis = new TestRedis(await freePort(), opts.persistent === true ? mkdtempSync(join(tmpdir(), 'gatehouse-redis-')) : undefined)
      try {
        await redis.#spawn()
        return redis
      } catch (err) {
        await redis.stop()
        if (attempt === 3) throw err
      }
    }
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async #spawn (): Promise<void> {
    const persistence = this.#dir === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.#dir]
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    let out = ''
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        out += chunk.toString()
        if (out.includes('Ready to accept connections')) { child.stdout?.off('data', onData); resolve() }
      }
      child.stdout?.on('data', onData)
      child.once('exit', code => reject(new Error(`redis-server exited (${String(code)}): ${out}`)))
      child.once('error', reject)
    })
    child.stdout?.resume()
    child.stderr?.resume()
  }

  /** Kills the server and waits for the process to exit. */
  async kill (): Promise<void> {
    const child = this.#child
    if (child === undefined || child.exitCode !== null) return
    this.#child = undefined
    child.kill('SIGKILL')
    await once(child, 'exit')
  }

  /** Kills the server and removes its data. */
  async stop (): Promise<void> {
    await this.kill()
    if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true })
  }

  /** Starts it again on the same port (with its data, when persistent). */
  async restart (): Promise<void> {
    await this.kill()
    await this.#spawn()
  }

  /** Freezes the process (it keeps its socket open but answers nothing). */
  freeze (): void { this.#child?.kill('SIGSTOP') }
  thaw (): void { this.#child?.kill('SIGCONT') }
}
