// A scripted, JavaScript-less "browser" for integration tests: global fetch
// with redirect: 'manual', a cookie jar per host:port honouring Path and
// Max-Age/Expires, redirect following (max 20 hops) and HTML form submission.

export interface Page {
  /** Final URL (after redirects). */
  url: string;
  status: number;
  headers: Headers;
  body: string;
  /** Every response of this navigation, in order, including the final one. */
  history: Array<{ url: string; status: number; location?: string }>;
}

interface StoredCookie {
  name: string;
  value: string;
  path: string;
  /** epoch ms; undefined = session cookie */
  expiresAt?: number;
}

type RequestOptions = RequestInit & { followRedirects?: boolean };

const MAX_REDIRECTS = 20;

const DEFAULT_HEADERS: Record<string, string> = {
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
  'user-agent': 'gatehouse-browserless/1.0',
};

// Node's fetch (undici) unconditionally overwrites Sec-Fetch-Mode with the
// request mode ("cors"), and `mode: 'navigate'` cannot be requested. To send
// a navigation-like request anyway, the wanted value travels in a private
// header and a thin dispatcher wrapper around undici's current global
// dispatcher puts it back just before the request hits the wire.
const MODE_OVERRIDE_HEADER = 'x-browserless-sec-fetch-mode';
const UNDICI_GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

interface DispatcherLike {
  dispatch(options: { headers?: unknown }, handler: unknown): boolean;
}

function rewriteModeHeader(headers: unknown): unknown {
  if (Array.isArray(headers)) {
    // flat [name, value, name, value, ...] or [[name, value], ...]
    const pairs: Array<[string, string]> = Array.isArray(headers[0])
      ? (headers as Array<[string, string]>).map(([k, v]) => [String(k), String(v)])
      : Array.from({ length: Math.floor(headers.length / 2) }, (_, i) => [String(headers[2 * i]), String(headers[2 * i + 1])]);
    const wanted = pairs.find(([k]) => k.toLowerCase() === MODE_OVERRIDE_HEADER)?.[1];
    if (wanted === undefined) return headers;
    const out = pairs.filter(([k]) => {
      const lower = k.toLowerCase();
      return lower !== MODE_OVERRIDE_HEADER && lower !== 'sec-fetch-mode';
    });
    out.push(['sec-fetch-mode', wanted]);
    return Array.isArray(headers[0]) ? out : out.flat();
  }
  if (headers && typeof headers === 'object') {
    const record = { ...(headers as Record<string, unknown>) };
    const key = Object.keys(record).find((k) => k.toLowerCase() === MODE_OVERRIDE_HEADER);
    if (key === undefined) return headers;
    const wanted = record[key];
    delete record[key];
    for (const k of Object.keys(record)) if (k.toLowerCase() === 'sec-fetch-mode') delete record[k];
    record['sec-fetch-mode'] = wanted;
    return record;
  }
  return headers;
}

let modeDispatcher: DispatcherLike | null | undefined;

async function getModeDispatcher(): Promise<DispatcherLike | null> {
  if (modeDispatcher !== undefined) return modeDispatcher;
  const globalDispatcher = (): DispatcherLike | undefined =>
    (globalThis as Record<symbol, unknown>)[UNDICI_GLOBAL_DISPATCHER] as DispatcherLike | undefined;
  if (!globalDispatcher()) {
    // Node loads undici (and installs the global dispatcher) on first use.
    await fetch('data:,').then((r) => r.arrayBuffer()).catch(() => undefined);
  }
  modeDispatcher = typeof globalDispatcher()?.dispatch === 'function'
    ? {
        dispatch(options, handler) {
          return globalDispatcher()!.dispatch({ ...options, headers: rewriteModeHeader(options.headers) }, handler);
        },
      }
    : null;
  return modeDispatcher;
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos|nbsp);/gi, (_, entity: string) => {
    const e = entity.toLowerCase();
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' } as Record<string, string>)[e] ?? _;
  });
}

function parseAttributes(tag: string): Map<string, string> {
  const attrs = new Map<string, string>();
  const inner = tag.replace(/^<\s*[a-z0-9-]+/i, '').replace(/\/?>$/, '');
  const re = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (let m = re.exec(inner); m; m = re.exec(inner)) {
    const name = m[1]!.toLowerCase();
    if (!attrs.has(name)) attrs.set(name, decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return attrs;
}

function stripTags(html: string): string {
  return decodeEntities(html.replace(/<[^>]*>/g, '')).replace(/\s+/g, ' ').trim();
}

interface ParsedButton {
  name?: string;
  value: string;
  text: string;
  id?: string;
  formAction?: string;
  formMethod?: string;
}

interface ParsedForm {
  id?: string;
  action?: string;
  method: string;
  /** successful controls in document order */
  fields: Array<[string, string]>;
  fieldNames: Set<string>;
  buttons: ParsedButton[];
}

function parseForms(html: string): ParsedForm[] {
  const forms: Array<ParsedForm & { start: number; end: number }> = [];
  const formRe = /<form\b[^>]*>([\s\S]*?)<\/form\s*>/gi;
  for (let m = formRe.exec(html); m; m = formRe.exec(html)) {
    const attrs = parseAttributes(m[0].slice(0, m[0].indexOf('>') + 1));
    forms.push({
      id: attrs.get('id'),
      action: attrs.get('action'),
      method: (attrs.get('method') ?? 'get').toLowerCase(),
      fields: [],
      fieldNames: new Set(),
      buttons: [],
      start: m.index,
      end: m.index + m[0].length,
    });
  }
  const owner = (index: number, attrs: Map<string, string>) => {
    const formId = attrs.get('form');
    if (formId !== undefined) return forms.find((f) => f.id === formId);
    return forms.find((f) => index > f.start && index < f.end);
  };

  const controlRe = /<(input|button|textarea|select)\b[^>]*>/gi;
  for (let m = controlRe.exec(html); m; m = controlRe.exec(html)) {
    const tagName = m[1]!.toLowerCase();
    const attrs = parseAttributes(m[0]);
    const form = owner(m.index, attrs);
    if (!form || attrs.has('disabled')) continue;
    const name = attrs.get('name');
    if (tagName === 'input') {
      const type = (attrs.get('type') ?? 'text').toLowerCase();
      if (type === 'submit' || type === 'image') {
        form.buttons.push({
          name, value: attrs.get('value') ?? '', text: attrs.get('value') ?? '', id: attrs.get('id'),
          formAction: attrs.get('formaction'), formMethod: attrs.get('formmethod'),
        });
        continue;
      }
      if (!name || type === 'button' || type === 'reset' || type === 'file') continue;
      form.fieldNames.add(name);
      if ((type === 'checkbox' || type === 'radio') && !attrs.has('checked')) continue;
      form.fields.push([name, attrs.get('value') ?? ((type === 'checkbox' || type === 'radio') ? 'on' : '')]);
    } else if (tagName === 'button') {
      const close = html.indexOf('</button', m.index);
      const text = stripTags(html.slice(m.index + m[0].length, close === -1 ? undefined : close));
      const type = (attrs.get('type') ?? 'submit').toLowerCase();
      if (type !== 'submit') continue;
      form.buttons.push({
        name, value: attrs.get('value') ?? '', text, id: attrs.get('id'),
        formAction: attrs.get('formaction'), formMethod: attrs.get('formmethod'),
      });
    } else if (tagName === 'textarea') {
      if (!name) continue;
      const close = html.indexOf('</textarea', m.index);
      form.fieldNames.add(name);
      form.fields.push([name, decodeEntities(html.slice(m.index + m[0].length, close === -1 ? undefined : close))]);
    } else if (tagName === 'select') {
      if (!name) continue;
      const close = html.indexOf('</select', m.index);
      const inner = html.slice(m.index + m[0].length, close === -1 ? undefined : close);
      const options = [...inner.matchAll(/<option\b[^>]*>([^<]*)/gi)].map((o) => {
        const oa = parseAttributes(o[0].slice(0, o[0].indexOf('>') + 1));
        return { value: oa.get('value') ?? decodeEntities(o[1] ?? '').trim(), selected: oa.has('selected') };
      });
      const chosen = options.find((o) => o.selected) ?? options[0];
      form.fieldNames.add(name);
      if (chosen) form.fields.push([name, chosen.value]);
    }
  }
  return forms;
}

function defaultCookiePath(url: URL): string {
  const path = url.pathname;
  if (!path.startsWith('/')) return '/';
  const last = path.lastIndexOf('/');
  return last <= 0 ? '/' : path.slice(0, last);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

function hostKey(origin: string): string {
  return new URL(origin).host;
}

export class Browser {
  #jar = new Map<string, StoredCookie[]>();

  constructor() {}

  /** Cookies currently held for an origin (or any URL on it), by name. */
  cookies(origin: string): Map<string, string> {
    const now = Date.now();
    const list = (this.#jar.get(hostKey(origin)) ?? [])
      .filter((c) => c.expiresAt === undefined || c.expiresAt > now)
      .sort((a, b) => a.path.length - b.path.length); // most specific path wins
    return new Map(list.map((c) => [c.name, c.value]));
  }

  /** Sets a session cookie with Path=/ for an origin. */
  setCookie(origin: string, name: string, value: string): void {
    this.#store(hostKey(origin), { name, value, path: '/' });
  }

  async get(url: string, init?: { headers?: Record<string, string> }): Promise<Page> {
    return this.request(url, { method: 'GET', ...(init?.headers ? { headers: init.headers } : {}) });
  }

  /** Turns an already received response into a Page, following its redirects. */
  async follow(res: Response, from: string): Promise<Page> {
    this.#storeSetCookies(from, res.headers);
    return this.#continue(res, from, [], new Headers(DEFAULT_HEADERS), true, { method: 'GET' });
  }

  async request(url: string, init: RequestOptions = {}): Promise<Page> {
    const { followRedirects = true, headers: initHeaders, ...rest } = init;
    const headers = new Headers(DEFAULT_HEADERS);
    new Headers(initHeaders).forEach((value, key) => headers.set(key, value));
    const res = await this.#fetch(url, { ...rest, headers });
    const method = (rest.method ?? 'GET').toUpperCase();
    return this.#continue(res, url, [], headers, followRedirects, { method, body: rest.body });
  }

  /**
   * Submits a form of `page`: the form containing `opts.button` (matched by
   * name, value, id or visible text) or else the first form that has inputs
   * for all of `fields` (falling back to the first form). Hidden and
   * pre-filled inputs are sent along, overridden by `fields`; the clicked
   * (or default) submit button contributes its name=value like a browser.
   */
  async submitForm(page: Page, fields: Record<string, string>, opts: { button?: string } = {}): Promise<Page> {
    const forms = parseForms(page.body);
    if (!forms.length) throw new Error(`no <form> on ${page.url} (status ${page.status}): ${page.body.slice(0, 500)}`);

    let form: ParsedForm | undefined;
    let button: ParsedButton | undefined;
    if (opts.button !== undefined) {
      const wanted = opts.button.toLowerCase();
      const matches = (b: ParsedButton) =>
        b.name?.toLowerCase() === wanted || b.id?.toLowerCase() === wanted
        || b.text.toLowerCase() === wanted || (b.value !== '' && b.value.toLowerCase() === wanted);
      form = forms.find((f) => f.buttons.some(matches));
      button = form?.buttons.find(matches);
      if (!form || !button) {
        const available = forms.flatMap((f) => f.buttons.map((b) => b.name ?? b.text));
        throw new Error(`no submit button "${opts.button}" on ${page.url}; buttons: ${JSON.stringify(available)}`);
      }
    } else {
      const names = Object.keys(fields);
      form = forms.find((f) => names.every((n) => f.fieldNames.has(n))) ?? forms[0]!;
      button = form.buttons[0];
    }

    const data: Array<[string, string]> = form.fields.filter(([name]) => !(name in fields));
    for (const [name, value] of Object.entries(fields)) data.push([name, value]);
    if (button?.name) data.push([button.name, button.value]);

    const action = new URL(button?.formAction ?? form.action ?? '', page.url);
    action.hash = '';
    const method = (button?.formMethod ?? form.method).toLowerCase();
    const body = new URLSearchParams(data);
    if (method === 'post') {
      return this.request(action.href, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: new URL(page.url).origin,
          referer: page.url,
        },
        body: body.toString(),
      });
    }
    action.search = body.toString();
    return this.request(action.href, { method: 'GET', headers: { referer: page.url } });
  }

  #store(host: string, cookie: StoredCookie): void {
    const list = (this.#jar.get(host) ?? []).filter((c) => !(c.name === cookie.name && c.path === cookie.path));
    if (cookie.expiresAt === undefined || cookie.expiresAt > Date.now()) list.push(cookie);
    this.#jar.set(host, list);
  }

  #storeSetCookies(url: string, headers: Headers): void {
    const target = new URL(url);
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie: StoredCookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        path: defaultCookiePath(target),
      };
      let maxAge: number | undefined;
      let expires: number | undefined;
      for (const attribute of attributes) {
        const i = attribute.indexOf('=');
        const key = (i === -1 ? attribute : attribute.slice(0, i)).trim().toLowerCase();
        const value = i === -1 ? '' : attribute.slice(i + 1).trim();
        if (key === 'path' && value.startsWith('/')) cookie.path = value;
        else if (key === 'max-age' && /^-?\d+$/.test(value)) maxAge = Number(value);
        else if (key === 'expires') {
          const t = Date.parse(value);
          if (!Number.isNaN(t)) expires = t;
        }
      }
      if (maxAge !== undefined) cookie.expiresAt = maxAge <= 0 ? 0 : Date.now() + maxAge * 1000;
      else if (expires !== undefined) cookie.expiresAt = expires;
      this.#store(target.host, cookie);
    }
  }

  #cookieHeader(url: URL): string | undefined {
    const now = Date.now();
    const list = (this.#jar.get(url.host) ?? [])
      .filter((c) => (c.expiresAt === undefined || c.expiresAt > now) && pathMatches(url.pathname, c.path))
      .sort((a, b) => b.path.length - a.path.length);
    return list.length ? list.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  async #fetch(url: string, init: RequestInit & { headers: Headers }): Promise<Response> {
    const target = new URL(url);
    const headers = new Headers(init.headers);
    const jarCookies = this.#cookieHeader(target);
    const explicit = headers.get('cookie');
    if (jarCookies) headers.set('cookie', explicit ? `${jarCookies}; ${explicit}` : jarCookies);
    const mode = headers.get('sec-fetch-mode');
    const dispatcher = mode ? await getModeDispatcher() : null;
    if (mode && dispatcher) headers.set(MODE_OVERRIDE_HEADER, mode);
    const res = await fetch(target, {
      ...init,
      headers,
      redirect: 'manual',
      ...(dispatcher ? { dispatcher } : {}),
    } as RequestInit);
    this.#storeSetCookies(target.href, res.headers);
    return res;
  }

  async #continue(
    first: Response,
    firstUrl: string,
    history: Page['history'],
    headers: Headers,
    followRedirects: boolean,
    original: { method: string; body?: RequestInit['body'] },
  ): Promise<Page> {
    let res = first;
    let url = firstUrl;
    for (let hops = 0; ; hops++) {
      const location = res.headers.get('location') ?? undefined;
      const isRedirect = res.status >= 300 && res.status < 400 && location !== undefined;
      history.push({ url, status: res.status, ...(location !== undefined ? { location } : {}) });
      if (!isRedirect || !followRedirects) {
        return { url, status: res.status, headers: res.headers, body: await res.text(), history };
      }
      if (hops >= MAX_REDIRECTS) {
        await res.body?.cancel();
        throw new Error(`too many redirects (>${MAX_REDIRECTS}); last hops: ${JSON.stringify(history.slice(-5))}`);
      }
      await res.body?.cancel();
      url = new URL(location, url).href;
      const next = new Headers(headers);
      // 307/308 repeat the request as is (when its body can be re-sent);
      // 301/302/303 become a body-less GET, as in browsers.
      const replayable = original.body === undefined || original.body === null
        || typeof original.body === 'string' || original.body instanceof URLSearchParams;
      if ((res.status === 307 || res.status === 308) && replayable) {
        res = await this.#fetch(url, {
          method: original.method,
          headers: next,
          ...(original.body != null ? { body: original.body } : {}),
        });
        continue;
      }
      original = { method: 'GET' };
      next.delete('content-type');
      next.delete('content-length');
      next.delete('origin');
      res = await this.#fetch(url, { method: 'GET', headers: next });
    }
  }
}

/**
 * GET startUrl, follow redirects to the IdP login form, fill in login and
 * password, submit and follow everything back. Returns the final page (the
 * login form again, with an error, when the credentials are wrong).
 */
export async function signInThroughIdp(browser: Browser, startUrl: string, user: string, password: string): Promise<Page> {
  const loginPage = await browser.get(startUrl);
  const hasLoginForm = parseForms(loginPage.body).some((f) => f.fieldNames.has('login') && f.fieldNames.has('password'));
  if (!hasLoginForm) {
    throw new Error(
      `expected an IdP login form after ${startUrl}, got ${loginPage.status} at ${loginPage.url}; `
      + `history: ${JSON.stringify(loginPage.history)}; body: ${loginPage.body.slice(0, 500)}`,
    );
  }
  let result = await browser.submitForm(loginPage, { login: user, password });
  // Without JavaScript, auto-submitting form_post pages must be submitted by hand.
  for (let i = 0; i < 3 && /document\.forms\[0\]\.submit\(\)/.test(result.body); i++) {
    result = await browser.submitForm(result, {});
  }
  return result;
}
