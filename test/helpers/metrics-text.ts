/** One sample of the Prometheus text format. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Parses a /metrics answer (text format 0.0.4); comment lines are skipped. */
export function parseMetrics (text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (m === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_s, c: string) => c === 'n' ? '\n' : c)
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) })
  }
  return samples
}

/** The value of the sample with this name whose labels include `labels`; 0 when there is none. */
export function valueOf (samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  return found.reduce((sum, s) => sum + s.value, 0)
}

/** Fetches and parses the admin listener's /metrics. */
export async function scrape (adminUrl: string | undefined): Promise<Sample[]> {
  if (adminUrl === undefined) throw new Error('the stack has no admin listener (start it with admin: true)')
  const res = await fetch(`${adminUrl}/metrics`)
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
  return parseMetrics(await res.text())
}
