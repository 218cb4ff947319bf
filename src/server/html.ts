import { createHash } from 'node:crypto'
import { CONFIG_SCHEMA } from '../config/schema.js'

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, ch => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string)
}

export interface Branding {
  productName: string
  logoUrl: string | undefined
  /** #rrggbb */
  accentColor: string
  /** An email address, a URL, or words ("the IT service desk, ext. 4242"). */
  supportContact: string | undefined
}

/** For pages sent before the config's branding is known: the schema's defaults. */
const brandingDefaults = CONFIG_SCHEMA.properties.branding.properties
export const DEFAULT_BRANDING: Branding = { productName: brandingDefaults.product_name.default, logoUrl: undefined, accentColor: brandingDefaults.accent_color.default, supportContact: undefined }

function stylesheet (accent: string): string {
  return `
:root{color-scheme:light dark;--accent:${accent}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1b1d21}
header{max-width:40rem;margin:8vh auto 0;padding:0 1rem;display:flex;align-items:center;gap:.75rem;color:#3a3f47;font-weight:600}
header img{max-height:2rem;max-width:10rem}
main{max-width:40rem;margin:1rem auto 2rem;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin:0 0 .75rem}
h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
p{margin:.5rem 0}
.muted{color:#4d5560;font-size:.9rem}
code{font-size:.9rem;background:#eef0f3;padding:.1rem .3rem;border-radius:4px;word-break:break-all}
code.id{white-space:nowrap;word-break:normal}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.5rem 0}
dt{color:#4d5560}
dd{margin:0;word-break:break-word}
ul{padding-left:1.2rem;margin:.25rem 0}
.actions{margin-top:1.5rem;display:flex;gap:.75rem;flex-wrap:wrap}
.actions form{margin:0}
a{color:var(--accent)}
a.button,button{display:inline-block;padding:.55rem 1.1rem;border-radius:8px;border:1px solid var(--accent);background:var(--accent);color:#fff;font:inherit;text-decoration:none;cursor:pointer}
a.button.secondary,button.secondary{background:transparent;color:var(--accent)}
a:focus-visible,button:focus-visible{outline:3px solid #f0b400;outline-offset:2px}
@media (max-width:30rem){main{padding:1.25rem;border-radius:0}dl{grid-template-columns:1fr}}
@media (prefers-color-scheme:dark){body{background:#16181c;color:#e8e8ea}header{color:#c9ccd2}main{background:#202329;box-shadow:none}.muted,dt{color:#b4b9c2}code{background:#2b2f36}a{color:#9db9ff}a.button.secondary,button.secondary{color:#9db9ff;border-color:#9db9ff}}
`.trim()
}

export interface PageParts {
  title: string
  /** Trusted HTML: callers escape every value they interpolate. */
  body: string
}

/**
 * The gateway's own pages: server-rendered, no scripts, one inline
 * stylesheet allowed by its hash, images only from the gateway or the
 * configured logo's origin. Built once from the branding at start-up.
 */
export class PageRenderer {
  readonly branding: Branding
  readonly #css: string
  readonly #styleHash: string
  readonly #imgSources: string

  constructor (branding: Branding = DEFAULT_BRANDING) {
    this.branding = branding
    this.#css = stylesheet(branding.accentColor)
    this.#styleHash = `'sha256-${createHash('sha256').update(this.#css).digest('base64')}'`
    this.#imgSources = ["'self'", 'data:', ...(branding.logoUrl === undefined ? [] : [new URL(branding.logoUrl).origin])].join(' ')
  }

  /** Content-Security-Policy: no script at all; forms post to the gateway (and, for sign-out, on to the IdP). */
  csp (formTargets: readonly string[] = []): string {
    return [
      "default-src 'none'",
      "script-src 'none'",
      `style-src ${this.#styleHash}`,
      `img-src ${this.#imgSources}`,
      `form-action 'self'${formTargets.map(t => ` ${t}`).join('')}`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; ')
  }

  render ({ title, body }: PageParts): string {
    const b = this.branding
    const logo = b.logoUrl === undefined ? '' : `<img src="${escapeHtml(b.logoUrl)}" alt="">`
    const support = b.supportContact === undefined ? '' : `<p class="muted">Need help? Contact ${supportLink(b.supportContact)}.</p>`
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)} · ${escapeHtml(b.productName)}</title>
<style>${this.#css}</style>
</head>
<body>
<header>${logo}<span>${escapeHtml(b.productName)}</span></header>
<main>
${body}
${support}
</main>
</body>
</html>
`
  }
}

function supportLink (contact: string): string {
  if (/^[^\s@]+@[^\s@]+$/.test(contact)) return `<a href="mailto:${escapeHtml(contact)}">${escapeHtml(contact)}</a>`
  if (/^https:\/\//.test(contact)) return `<a href="${escapeHtml(contact)}">${escapeHtml(contact)}</a>`
  return escapeHtml(contact)
}
