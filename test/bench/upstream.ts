/** The trivial upstream of the benchmark, in a process of its own: 200 "ok" to everything. */
import { createServer } from 'node:http'

const server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok') })
server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => { process.stdout.write('listening\n') })
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)) })
