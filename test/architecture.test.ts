import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import madge from 'madge'

/**
 * The folders of src/ follow the request: config -> policy -> identify ->
 * authorize -> sign -> proxy, with the sign-in flow and sessions beside them
 * and server/ assembling everything. These checks keep import cycles out and
 * keep the lower layers from reaching up into the ones that use them.
 */
const graphPromise = madge('src/', {
  fileExtensions: ['ts'],
  tsConfig: 'tsconfig.json',
  // Type imports count: a cycle through types is still two folders that cannot be read apart.
  detectiveOptions: { ts: { skipTypeImports: false }, es6: { skipTypeImports: false } },
})

t.test('no import cycles in src/', async t => {
  const graph = await graphPromise
  t.same(graph.circular(), [])
  t.ok(Object.keys(graph.obj()).length > 40, 'the graph covers the sources')
})

t.test('lower layers do not import the layers that use them', async t => {
  const graph = (await graphPromise).obj()
  const layerOf = (file: string): string => file.split('/')[0] ?? ''
  // What each folder may not import (types included).
  const forbidden: Record<string, string[]> = {
    net: ['config', 'policy', 'identify', 'authorize', 'sign', 'proxy', 'signin', 'session', 'pipeline', 'server'],
    config: ['policy', 'identify', 'authorize', 'sign', 'proxy', 'signin', 'session', 'pipeline', 'server'],
    policy: ['signin', 'session', 'pipeline', 'server', 'sign', 'proxy'],
    identify: ['signin', 'pipeline', 'server', 'sign', 'proxy', 'authorize', 'entra', 'session'],
    entra: ['signin', 'pipeline', 'server', 'sign', 'proxy', 'authorize', 'session', 'policy'],
    authorize: ['signin', 'session', 'pipeline', 'server', 'sign', 'proxy'],
    sign: ['signin', 'session', 'pipeline', 'server', 'proxy', 'authorize', 'policy'],
    session: ['signin', 'pipeline', 'server', 'proxy', 'authorize', 'policy'],
    signin: ['pipeline', 'server', 'proxy'],
    proxy: ['signin', 'session', 'pipeline', 'server'],
    // The pipeline's steps are plain functions: the server runs them, they never reach back into it.
    pipeline: ['server', 'demo', 'devidp'],
    log: ['config', 'policy', 'identify', 'authorize', 'sign', 'proxy', 'signin', 'session', 'pipeline', 'server', 'metrics'],
    metrics: ['config', 'policy', 'identify', 'authorize', 'sign', 'proxy', 'signin', 'session', 'pipeline', 'server', 'log', 'net'],
  }
  const violations: string[] = []
  for (const [file, deps] of Object.entries(graph)) {
    const from = layerOf(file)
    for (const dep of deps) {
      if ((forbidden[from] ?? []).includes(layerOf(dep))) violations.push(`${file} -> ${dep}`)
    }
  }
  t.same(violations, [])
})

t.test('no import cycles between folders (type imports count)', async t => {
  const graph = (await graphPromise).obj()
  const folderOf = (file: string): string => file.includes('/') ? file.split('/')[0] ?? '' : file
  const edges = new Map<string, Set<string>>()
  for (const [file, deps] of Object.entries(graph)) {
    for (const dep of deps) {
      const [from, to] = [folderOf(file), folderOf(dep)]
      if (from !== to) edges.set(from, (edges.get(from) ?? new Set()).add(to))
    }
  }
  const cycles: string[] = []
  const walk = (folder: string, path: string[]): void => {
    for (const next of edges.get(folder) ?? []) {
      if (next === path[0]) cycles.push([...path, next].join(' -> '))
      else if (!path.includes(next) && next > (path[0] ?? '')) walk(next, [...path, next])
    }
  }
  for (const folder of edges.keys()) walk(folder, [folder])
  t.same(cycles, [])
  t.ok(edges.size >= 12, `${edges.size} folders import others`)
})

t.test('the pipeline\'s steps run without Fastify: no file in src/pipeline/ imports it', async t => {
  const files = readdirSync('src/pipeline').filter(f => f.endsWith('.ts'))
  t.ok(files.length >= 8, `${files.length} files`)
  for (const file of files) t.notMatch(readFileSync(join('src/pipeline', file), 'utf8'), /from '(fastify|@fastify\/[^']+)'/, file)
})
