import { createHash } from 'node:crypto'

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, ch => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string)
}

const STYLE = `
:root{color-scheme:light dark;--accent:#2457c5}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1b1d21}
main{max-width:34rem;margin:10vh auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin:0 0 .75rem}
p{margin:.5rem 0}
.muted{color:#555;font-size:.9rem}
code{font-size:.9rem;background:#eef0f3;padding:.1rem .3rem;border-radius:4px;word-break:break-all}
.actions{margin-top:1.5rem;display:flex;gap:.75rem;flex-wrap:wrap}
a.button,button{display:inline-block;padding:.55rem 1.1rem;border-radius:8px;border:1px solid var(--accent);background:var(--accent);color:#fff;font:inherit;text-decoration:none;cursor:pointer}
a.button.secondary,button.secondary{background:transparent;color:var(--accent)}
a:focus-visible,button:focus-visible{outline:3px solid #f0b400;outline-offset:2px}
@media (prefers-color-scheme:dark){body{background:#16181c;color:#e8e8ea}main{background:#202329;box-shadow:none}.muted{color:#aab}code{background:#2b2f36}a.button.secondary,button.secondary{color:#8fb0ff;border-color:#8fb0ff}}
`.trim()

const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`

/**
 * Content-Security-Policy of the gateway's own pages: no scripts at all, only
 * the one inline stylesheet (by hash), forms posting to the gateway (and, for
 * sign-out, on to the IdP's end-session endpoint).
 */
export function pageCsp (formTargets: readonly string[] = []): string {
  return [
    "default-src 'none'",
    `style-src ${STYLE_HASH}`,
    "img-src 'self' data:",
    `form-action 'self'${formTargets.map(t => ` ${t}`).join('')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ')
}

export interface PageParts {
  title: string
  /** Trusted HTML: callers escape every value they interpolate. */
  body: string
}

export function renderPage ({ title, body }: PageParts): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · Gatehouse</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`
}
