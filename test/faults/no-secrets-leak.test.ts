import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ConflictError, ConnectionError, Db, QueryError, ValidationError } from '../../src/index.js'
import { serverPool } from '../../src/connect-options.js'
import { backend } from '../support/test-db.js'
import { Cluster, clusterSupported } from './support/cluster.js'
import { recordingLogger } from './support/logger.js'
import { freePort } from './support/net.js'
import { Admin } from './support/server.js'
import { failure, waitFor } from './support/wait.js'

// Issue 5, item 9: with a password in the URL, nothing the data layer produces contains it:
// errors (connection refused, authentication failure, query errors) in their message, stack,
// cause chain, JSON.stringify, util.inspect and String(); log lines; the Db itself; the pool's
// options. Authentication runs against a private cluster with scram-sha-256 for a user of ours.
const USER = 'amdb_secret_user'
const PASSWORD = "Sup3r-s3cret:p@ss/w%rd'\"?#&"
const WRONG = 'Wr0ng-but-still-s3cret:pw%'
const SECRETS = [PASSWORD, encodeURIComponent(PASSWORD), WRONG, encodeURIComponent(WRONG)]

/** Every rendering of `value` a program might log or send. */
function renderings(value: unknown): string[] {
  const out = [inspect(value, { depth: Infinity, showHidden: true }), inspect(value, { depth: Infinity })]
  try {
    out.push(JSON.stringify(value) ?? '')
  } catch (err) {
    out.push(String(err))
  }
  out.push(String(value))
  // The cause chain, link by link (JSON.stringify does not follow it).
  for (let e: unknown = value, i = 0; e instanceof Error && i < 10; e = e.cause, i++) {
    out.push(e.message, e.stack ?? '', JSON.stringify(e), JSON.stringify(Object.getOwnPropertyDescriptors(e)))
  }
  return out
}

function expectNoSecret(what: string, value: unknown): void {
  for (const text of renderings(value)) {
    for (const secret of SECRETS) {
      if (text.includes(secret)) throw new Error(`${what} leaks a secret: …${text.slice(Math.max(0, text.indexOf(secret) - 80), text.indexOf(secret) + 80)}…`)
    }
  }
}

const url = (port: number, password: string, database = 'postgres') =>
  `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`

describe.skipIf(backend !== 'postgres')('no secret leaks: connection refused', () => {
  test('the error of a refused connection, and the log, hold no password', async () => {
    const logger = recordingLogger()
    const port = await freePort() // nothing listens there
    const { error } = await failure(() => Db.connect({ url: url(port, PASSWORD), connectTimeout: 1_000, logger }))
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error).toMatchObject({ code: 'ECONNREFUSED' })
    expectNoSecret('refused-connection error', error)
    expectNoSecret('log', logger.text())
  })

  test('an unparsable URL is refused without quoting it', async () => {
    const { error } = await failure(() => Db.connect({ url: `postgres://${USER}:${PASSWORD}@[::1` }))
    expect(error).toBeInstanceOf(ConnectionError)
    expectNoSecret('invalid-URL error', error)
  })

  test("the pool's options never hold the password as a string", () => {
    const conn = serverPool(url(5432, PASSWORD), {})
    try {
      expectNoSecret('pool options', conn.pool.options)
      expectNoSecret('pool', conn.pool)
    } finally {
      void conn.pool.end()
    }
  })
})

describe.skipIf(backend !== 'postgres' || !clusterSupported())('no secret leaks: password authentication (scram-sha-256)', () => {
  const logger = recordingLogger()
  let cluster: Cluster
  let db: Db

  beforeAll(async () => {
    cluster = await Cluster.start({ passwordUsers: [{ name: USER, password: PASSWORD }] })
    await cluster.psql(`GRANT ALL ON SCHEMA public TO ${USER}`)
    db = await Db.connect({ url: url(cluster.port, PASSWORD), logger, poolSize: 2, migrate: true })
  }, 120_000)
  afterAll(async () => {
    await db?.close()
    await cluster?.destroy()
  })

  test('a wrong password: ConnectionError 28P01, and neither password appears anywhere', async () => {
    const wrongLogger = recordingLogger()
    const { error } = await failure(() => Db.connect({ url: url(cluster.port, WRONG), logger: wrongLogger }))
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error).toMatchObject({ code: '28P01' })
    expect((error as Error).message).toMatch(/password authentication failed/)
    expectNoSecret('authentication error', error)
    expectNoSecret('log', wrongLogger.text())
  })

  test('the right password connects; the Db, its Kysely and its JSON hold no password', async () => {
    expect(await db.query('SELECT current_user AS u')).toEqual([{ u: USER }])
    expectNoSecret('db', db)
    expectNoSecret('db.kysely', db.kysely)
    expect(String(db)).toBe(`Db(postgres://127.0.0.1:${cluster.port}/postgres)`)
    await db.transaction(async (tx) => {
      expectNoSecret('transaction db', tx)
    })
  })

  test('query errors hold no password, even when the failing value is the password itself', async () => {
    const errors: unknown[] = []
    for (const call of [
      () => db.query('SELEC 1'),
      () => db.query('SELECT $1::int', [PASSWORD]),
      () => db.query('SELECT * FROM no_such_table WHERE x = $1', [PASSWORD]),
      () => db.query('INSERT INTO agents (name, type, model) VALUES ($1, $1, $1), ($1, $1, $1)', [PASSWORD]),
      () => db.agents.create({ name: `${PASSWORD}\u0000`, type: 't', model: 'm' }),
    ]) {
      errors.push((await failure(call)).error)
    }
    expect(errors[0]).toBeInstanceOf(QueryError)
    expect(errors[1]).toBeInstanceOf(QueryError)
    expect((errors[1] as Error).message).toMatch(/invalid input syntax for type integer/)
    expect(errors[3]).toBeInstanceOf(ConflictError)
    expect(errors[4]).toBeInstanceOf(ValidationError)
    errors.forEach((e, i) => expectNoSecret(`query error ${i}`, e))
    expectNoSecret('log', logger.text())
  })

  test('a connection killed by the server: the logged and the thrown errors hold no password', async () => {
    const admin = await Admin.connect(cluster.url())
    try {
      const running = failure(() => db.query('SELECT pg_sleep(30)'))
      const pid = await admin.waitForBackend('postgres', { waitEvent: 'PgSleep' })
      await db.query('SELECT 1') // a second, idle connection
      const idle = (await admin.backends('postgres', { state: 'idle' })).filter((p) => p !== pid)
      await admin.terminate([pid, ...idle])
      const { error } = await running
      expect(error).toBeInstanceOf(ConnectionError)
      expectNoSecret('terminated-connection error', error)
      await waitFor('the idle loss to be logged', () => logger.matching('idle connection lost').length > 0)
      expectNoSecret('log', logger.text())
      expect(await db.agents.count()).toBe(0)
    } finally {
      await admin.close()
    }
  })
})
