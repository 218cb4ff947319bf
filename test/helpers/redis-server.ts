import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { freePort } from './ports.js'

/**
 * A private redis-server on a free port, for tests that stop, freeze or
 * misconfigure Redis. The machine's shared Redis is never touched.
 */
export class TestRedis {
  readonly port: number
  #child: ChildProcess | undefined

  private constructor (port: number) {
    this.port = port
  }

  static async start (): Promise<TestRedis> {
    const redis = new TestRedis(await freePort())
    await redis.#spawn()
    return redis
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async #spawn (): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
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

  /** Stops the server and waits for the process to exit. */
  async stop (): Promise<void> {
    const child = this.#child
    if (child === undefined || child.exitCode !== null) return
    this.#child = undefined
    child.kill('SIGKILL')
    await once(child, 'exit')
  }

  /** Starts it again on the same port. */
  async restart (): Promise<void> {
    await this.stop()
    await this.#spawn()
  }

  /** Freezes the process (it keeps its socket open but answers nothing). */
  freeze (): void { this.#child?.kill('SIGSTOP') }
  thaw (): void { this.#child?.kill('SIGCONT') }
}
