import type { ServerResponse } from 'node:http'
import { escapeHtml } from '../server/html.js'

/** Escapes any value (undefined as empty) for HTML. */
export function escapeValue (value: unknown): string {
  return escapeHtml(String(value ?? ''))
}

/** The dev IdP's pages: one small form per page, no script. `body` is trusted HTML. */
export function idpPage (title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeValue(title)}</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:40px 16px}
main{max-width:340px;margin:0 auto;background:#fff;border-radius:6px;padding:24px;box-shadow:0 1px 3px rgba(0,0,0,.2)}
h1{font-size:1.3em;margin-top:0}label{display:block;margin:12px 0 4px}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:8px;font-size:1em}
button{margin-top:16px;padding:8px 14px;font-size:1em;cursor:pointer}
.error{color:#b00020}.muted{color:#666;font-size:.9em}
</style>
</head>
<body><main>
${body}
</main></body>
</html>`
}

export function sendPage (res: ServerResponse, status: number, html: string): void {
  res.statusCode = status
  res.setHeader('Content-Type', 'text/html; charset=utf-8')
  res.setHeader('Cache-Control', 'no-store')
  res.end(html)
}

/** An error page naming what went wrong. */
export function errorPage (heading: string, detail?: string): string {
  return idpPage('Error - Dev IdP', `<h1>${escapeValue(heading)}</h1>${detail === undefined ? '' : `<p class="error">${escapeValue(detail)}</p>`}`)
}
