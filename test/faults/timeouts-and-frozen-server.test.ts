import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ConnectionError, Db, DbClosedError, TimeoutError } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'
import { Cluster, clusterSupported } from './support/cluster.js'
import { backendPid } from './support/server.js'
import { failure, waitFor } from './support/wait.js'

// Issue 5, item 4: a statement past statementTimeout fails with TimeoutError within the limit,
// and a frozen server (SIGSTOP: it keeps the socket open but answers nothing) cannot hang a
// caller: the client-side guard (statementTimeout + 5 s) gives a TimeoutError, drops the
// connection, and a fresh one serves the next call.
const STATEMENT_TIMEOUT = 500
const CLIENT_GUARD = STATEMENT_TIMEOUT + 5_000 // what Db.connect derives from statementTimeout
const CONNECT_TIMEOUT = 1_000

describe.skipIf(backend !== 'postgres')('statementTimeout (shared server)', () => {
  let db: Db
  beforeAll(async () => {
    db = await openTestDb({ poolSize: 2, statementTimeout: STATEMENT_TIMEOUT })
  })
  afterAll(async () => {
    await db?.close()
  })

  test('a slow query fails with TimeoutError (57014) within the limit; the connection stays usable', async () => {
    const pid = await db.withConnection(async (conn) => {
      const { error, ms } = await failure(() => conn.query('SELECT pg_sleep(10)'))
      expect(error).toBeInstanceOf(TimeoutError)
      expect(error).toMatchObject({ code: '57014' })
      expect(ms).toBeGreaterThanOrEqual(STATEMENT_TIMEOUT - 50)
      expect(ms).toBeLessThan(STATEMENT_TIMEOUT + 1_000)
      // The server cancelled only the statement: the same connection answers again.
      expect(await conn.query('SELECT 1 AS one')).toEqual([{ one: 1 }])
      return backendPid(conn)
    })
    expect(await db.withConnection((conn) => backendPid(conn))).toBe(pid)
  })

  test('inside a transaction: TimeoutError, the transaction is rolled back, nothing committed', async () => {
    const { error } = await failure(() =>
      db.transaction(async (tx) => {
        await tx.agents.create({ name: 'slow-tx', type: 't', model: 'm' })
        await tx.query('SELECT pg_sleep(10)')
      }),
    )
    expect(error).toBeInstanceOf(TimeoutError)
    expect(await db.agents.getByName('slow-tx')).toBeNull()
    expect(db.poolStats.total).toBeLessThanOrEqual(2)
  })

  test('a repository call hitting the limit (lock wait) is a TimeoutError too', async () => {
    await db.agents.create({ name: 'locked', type: 't', model: 'm' })
    const holder = await db.startTransaction()
    await holder.db.query("SELECT id FROM agents WHERE name = 'locked' FOR UPDATE")
    const { error, ms } = await failure(() => db.agents.create({ name: 'locked', type: 'other', model: 'm' }))
    await holder.rollback()
    expect(error).toBeInstanceOf(TimeoutError)
    expect(ms).toBeLessThan(STATEMENT_TIMEOUT + 1_000)
    expect((await db.agents.getByName('locked'))?.type).toBe('t')
  })
})

describe.skipIf(backend !== 'postgres' || !clusterSupported())('frozen server (private cluster, SIGSTOP)', () => {
  let cluster: Cluster
  let db: Db

  beforeAll(async () => {
    cluster = await Cluster.start()
    db = await Db.connect({
      url: cluster.url(),
      poolSize: 1,
      statementTimeout: STATEMENT_TIMEOUT,
      connectTimeout: CONNECT_TIMEOUT,
      migrate: true,
    })
  }, 120_000)
  afterAll(async () => {
    cluster?.thaw()
    await db?.close()
    await cluster?.destroy()
  })

  test('a frozen backend: TimeoutError within the client guard, connection discarded, next call on a new backend', async () => {
    await db.agents.create({ name: 'kept', type: 't', model: 'm' })
    const frozenPid = await db.withConnection((conn) => backendPid(conn))
    cluster.freezeBackend(frozenPid)
    try {
      // The pool's only connection is the frozen one: the server-side statement_timeout can't
      // fire in a stopped process.
      const { error, ms } = await failure(() => db.agents.get(1))
      expect(error).toBeInstanceOf(TimeoutError)
      expect(error).toMatchObject({ code: 'CLIENT_TIMEOUT' })
      expect(ms).toBeGreaterThanOrEqual(CLIENT_GUARD - 100)
      expect(ms).toBeLessThan(CLIENT_GUARD + 2_000)
      await waitFor('the frozen connection to be discarded', () => db.poolStats.total === 0)

      // The rest of the server is fine: the next call opens a new connection and works.
      const freshPid = await db.withConnection((conn) => backendPid(conn))
      expect(freshPid).not.toBe(frozenPid)
      expect((await db.agents.getByName('kept'))?.name).toBe('kept')
    } finally {
      cluster.thaw()
    }
  }, 30_000)

  test('a frozen transaction: TimeoutError, then the transaction is rolled back by the server', async () => {
    const handle = await db.startTransaction()
    await handle.db.agents.create({ name: 'frozen-tx', type: 't', model: 'm' })
    const pid = await backendPid(handle.db)
    cluster.freezeBackend(pid)
    let error: unknown
    try {
      ;({ error } = await failure(() => handle.db.agents.count()))
    } finally {
      cluster.thaw()
    }
    expect(error).toBeInstanceOf(TimeoutError)
    await handle.rollback().catch(() => undefined) // the socket is gone; this must not hang
    await waitFor('the server to end the dropped backend', async () => {
      const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [pid])
      return rows[0]!.n === 0
    })
    expect(await db.agents.getByName('frozen-tx')).toBeNull()
  }, 30_000)

  test('the whole server frozen: a new connection gives up with ConnectionError within connectTimeout', async () => {
    const fresh = await Db.connect({
      url: cluster.url(),
      poolSize: 1,
      statementTimeout: STATEMENT_TIMEOUT,
      connectTimeout: CONNECT_TIMEOUT,
      idleTimeout: 50,
    })
    try {
      await waitFor('the idle connection to close', () => fresh.poolStats.total === 0)
      cluster.freezeAll()
      const { error, ms } = await failure(() => fresh.agents.count())
      expect(error).toBeInstanceOf(ConnectionError)
      expect(ms).toBeLessThan(CONNECT_TIMEOUT + 1_000)
      cluster.thaw()
      expect(await fresh.agents.count()).toBe(1)
    } finally {
      cluster.thaw()
      await fresh.close()
    }
  }, 30_000)

  test('close() with the whole server frozen still ends: closeTimeout, a cancel, then the sockets are cut', async () => {
    const closing = await Db.connect({ url: cluster.url(), poolSize: 2, statementTimeout: STATEMENT_TIMEOUT, closeTimeout: 300 })
    try {
      cluster.freezeAll()
      const stuck = failure(() => closing.query('SELECT 1'))
      await new Promise((r) => setTimeout(r, 100))
      const started = performance.now()
      await closing.close()
      expect(performance.now() - started).toBeLessThan(300 + 3_000)
      const { error, ms } = await stuck
      expect(error).toBeInstanceOf(DbClosedError)
      expect(ms).toBeLessThan(CLIENT_GUARD)
    } finally {
      cluster.thaw()
      await closing.close()
    }
  }, 30_000)
})
