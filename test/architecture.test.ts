import t from 'tap'
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
    net: ['config', 'policy', 'identify', 'authorize', 'sign', 'proxy', 'signin', 'session', 'server'],
    config: ['policy', 'identify', 'authorize', 'sign', 'proxy', 'signin', 'session', 'server'],
    policy: ['signin', 'session', 'server', 'sign', 'proxy'],
    identify: ['signin', 'server', 'sign', 'proxy', 'authorize', 'entra', 'session'],
    entra: ['signin', 'server', 'sign', 'proxy', 'authorize', 'session', 'policy'],
    authorize: ['signin', 'session', 'server', 'sign', 'proxy'],
    sign: ['signin', 'session', 'server', 'proxy', 'authorize', 'policy'],
    session: ['signin', 'server', 'proxy', 'authorize', 'policy'],
    proxy: ['signin', 'session'],
    log: ['config', 'policy', 'identify', 'authorize', 'sign', 'proxy', 'signin', 'session', 'server', 'metrics'],
    metrics: ['config', 'policy', 'identify', 'authorize', 'sign', 'proxy', 'signin', 'session', 'server', 'log', 'net'],
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
