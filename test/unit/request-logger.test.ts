import t from 'tap'
import { createLogger } from '../../src/log/logger.js'
import { RequestLogger } from '../../src/log/request-logger.js'
import { LogCapture } from '../helpers/log-capture.js'

t.test('a request logger writes like a child with the request id, only at enabled levels', async t => {
  const capture = new LogCapture()
  const root = createLogger({ level: 'warn', destination: capture })
  const log = new RequestLogger(root, { reqId: 'r-1' }, {})
  log.info({ cookie: 'secret' }, 'not written: below the level')
  t.same(capture.records(), [], 'nothing below the level is written')
  t.equal(log.level, 'warn', 'the level is the parent\'s')
  t.equal(log.isLevelEnabled('info'), false)
  log.warn({ headers: { cookie: 'gatehouse=secret' } }, 'written')
  const [line] = capture.records()
  t.match(line, { reqId: 'r-1', msg: 'written', level: 40, service: 'gatehouse' }, 'the line carries the request id and the root bindings')
  t.notOk(capture.text.includes('gatehouse=secret'), 'redaction applies as for any child')
  log.level = 'debug'
  log.debug('now written')
  t.equal(capture.records().at(-1)?.msg, 'now written', 'the request logger\'s own level can be lowered')
  t.equal(root.level, 'warn', 'without changing the parent')
  log.child({ module: 'x' }).warn('from a child')
  t.match(capture.records().at(-1), { reqId: 'r-1', module: 'x', msg: 'from a child' })
})
