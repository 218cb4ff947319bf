import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const NGINX = '/usr/sbin/nginx'

interface Teardown { teardown (fn: () => unknown): void }

export interface Nginx {
  dir: string
  /** The error log so far (nginx writes refused auth subrequests and its own errors there). */
  errorLog (): string
}

/**
 * Runs a real nginx in the foreground, as one process (`master_process off`),
 * with everything it writes (pid, logs, temporary files) in a folder of its
 * own. `http` is the inside of the http block; the rest is supplied here.
 * Resolves once nginx listens (it writes its pid file after binding its
 * sockets); killed and cleaned up by t.teardown.
 */
export async function startNginx (t: Teardown, http: string): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-nginx-'))
  const pidFile = join(dir, 'nginx.pid')
  const errorLog = join(dir, 'error.log')
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(kind => `  ${kind}_temp_path ${join(dir, kind)};`).join('\n')
  writeFileSync(join(dir, 'nginx.conf'), `daemon off;
master_process off;
pid ${pidFile};
error_log ${errorLog} info;
events { worker_connections 256; }
http {
  access_log ${join(dir, 'access.log')};
${temp}
${http}
}
`)
  const child = spawn(NGINX, ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', errorLog], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const exited = once(child, 'exit')
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  })
  const log = (): string => existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : ''

  const watcher = watch(dir)
  try {
    await new Promise<void>((resolve, reject) => {
      const check = (): void => { if (existsSync(pidFile)) resolve() }
      watcher.on('change', check)
      child.once('exit', code => reject(new Error(`nginx exited (${String(code)}): ${stderr}${log()}`)))
      child.once('error', reject)
      check()
    })
  } finally {
    watcher.close()
  }
  return { dir, errorLog: log }
}
