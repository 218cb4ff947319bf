/** The baseline: a bare @fastify/http-proxy in front of the upstream (child process of the benchmark). */
import Fastify from 'fastify'
import httpProxy from '@fastify/http-proxy'

const upstream = process.env.UPSTREAM ?? ''
const app = Fastify({ logger: false })
await app.register(httpProxy, { upstream, undici: { connections: 128, pipelining: 1 } })
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.stdout.write('listening\n')
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
