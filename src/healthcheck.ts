/**
 * Container health check: exits 0 when /.gatehouse/healthz answers 200 on the
 * port from GATEHOUSE_LISTEN (default 8080). No shell or curl in the image.
 */
const listen = process.env.GATEHOUSE_LISTEN ?? '0.0.0.0:8080'
const port = listen.slice(listen.lastIndexOf(':') + 1)
try {
  const res = await fetch(`http://127.0.0.1:${port}/.gatehouse/healthz`, { signal: AbortSignal.timeout(2000) })
  process.exitCode = res.ok ? 0 : 1
} catch {
  process.exitCode = 1
}
