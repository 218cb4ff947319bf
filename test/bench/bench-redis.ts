import { TestRedis } from '../helpers/redis-server.js'

/** A private redis-server for a benchmark; says what to install when there is none. */
export async function benchRedis (): Promise<TestRedis> {
  try {
    return await TestRedis.start()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('the benchmark starts its own redis-server, which is not installed: apt-get install redis-server (as .ci/run does)')
    throw err
  }
}
