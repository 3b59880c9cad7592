import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { sql } from 'kysely'
import { Db, MisuseError, StaleStatementError, TransactionClosedError, ValidationError } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'

// Found by a cold review of the rebuilt query path (issue 8): handles and savepoints that outlive
// their scope, concurrent statements around a savepoint, settings left behind. One pooled
// connection, so the next caller always gets the connection a stale handle pointed at.

let db: Db
beforeAll(async () => {
  db = await openTestDb({ poolSize: 1 })
})
afterAll(() => db?.close())

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let n = 0
const agent = (label: string) => ({ name: `${label}-${++n}`, type: 't', model: 'm' })
const exists = async (name: string) => (await db.agents.getByName(name)) !== null

describe('a handle that outlived its scope sends nothing', () => {
  test('a transaction handle from withConnection, rolled back later, cannot touch the next caller', async () => {
    let stale!: Awaited<ReturnType<Db['startTransaction']>>
    await db.withConnection(async (conn) => {
      stale = await conn.startTransaction()
    })
    const x = agent('x')
    const y = agent('y')
    const other = db.transaction(async (tx) => {
      await tx.agents.create(x)
      await sleep(60) // meanwhile the stale handle is rolled back
      await tx.agents.create(y)
    })
    await sleep(20)
    await expect(stale.rollback()).rejects.toBeInstanceOf(TransactionClosedError)
    await other
    expect(await exists(x.name)).toBe(true)
    expect(await exists(y.name)).toBe(true)
  })

  test('a savepoint not awaited (its callback outlives the transaction) fails the transaction with MisuseError; nothing commits', async () => {
    const a = agent('sp-a')
    const outer = agent('outer')
    let stray: Promise<unknown> = Promise.resolve()
    const err = await db
      .transaction(async (tx) => {
        await tx.agents.create(outer)
        stray = tx
          .transaction(async (sp) => {
            await sp.agents.create(a)
            await sleep(80)
            await sp.agents.create(agent('sp-b'))
          })
          .catch((e: unknown) => e)
        await sleep(20)
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MisuseError)
    expect(await stray).toBeInstanceOf(TransactionClosedError)
    expect(await exists(outer.name)).toBe(false)
    expect(await exists(a.name)).toBe(false)
    // The next caller's own savepoint is untouched by the stray one's end.
    const x = agent('next')
    await db.transaction((tx) => tx.transaction((sp) => sp.agents.create(x)))
    expect(await exists(x.name)).toBe(true)
  })
})

describe('statements of a transaction while one of its savepoints is open', () => {
  test('an outer statement issued from outside the savepoint waits for it, and is not rolled back with it', async () => {
    const outer = agent('outer')
    const inner = agent('inner')
    await db.transaction(async (tx) => {
      const [created, failure] = await Promise.all([
        (async () => {
          await sleep(5)
          return tx.agents.create(outer)
        })(),
        tx
          .transaction(async (sp) => {
            await sp.agents.create(inner)
            await sleep(30)
            throw new Error('the savepoint fails')
          })
          .catch((e: unknown) => e),
      ])
      expect(created.name).toBe(outer.name)
      expect(failure).toBeInstanceOf(Error)
    })
    expect(await exists(outer.name)).toBe(true)
    expect(await exists(inner.name)).toBe(false)
  })

  test('a savepoint handle left open makes the next tx.transaction() fail at once instead of hanging', async () => {
    const err = await db
      .transaction(async (tx) => {
        await tx.startTransaction() // never ended
        return tx.transaction((sp) => sp.query('SELECT 1'))
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MisuseError)
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }])
  })
})

describe('settings do not outlive what changed them', () => {
  test('migrating a tenant inside a transaction or withConnection leaves search_path and statement_timeout as they were', async () => {
    const before = await db.query<{ search_path: string; statement_timeout: string }>(
      "SELECT current_setting('search_path') AS search_path, current_setting('statement_timeout') AS statement_timeout",
    )
    const inTx = agent('in-tx')
    await db.transaction(async (tx) => {
      await tx.withSchema('guard_tenant_q').migrate()
      await tx.agents.create(inTx)
    })
    expect(await exists(inTx.name)).toBe(true)
    const pinned = agent('pinned')
    await db.withConnection(async (conn) => {
      await conn.withSchema('guard_tenant_r').migrate()
      expect(
        await conn.query("SELECT current_setting('search_path') AS search_path, current_setting('statement_timeout') AS statement_timeout"),
      ).toEqual(before)
      await conn.agents.create(pinned)
    })
    expect(await exists(pinned.name)).toBe(true)
    expect(await db.withSchema('guard_tenant_r').agents.getByName(pinned.name)).toBeNull()
  })

  test("session state set through db.kysely.connection() is reset before the next caller", async () => {
    const [before] = await db.query<{ timeout: string }>("SELECT current_setting('statement_timeout') AS timeout")
    await db.kysely.connection().execute(async (conn) => {
      await sql`SET statement_timeout = '1ms'`.execute(conn)
      await sql`SELECT pg_advisory_lock(4343)`.execute(conn)
    })
    expect(await db.query("SELECT current_setting('statement_timeout') AS timeout")).toEqual([before])
    expect(await db.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4343")).toEqual([{ n: 0 }])
  })
})

test('statements prepared after a stale one in the same transaction survive its deallocation', async () => {
  await db.query('CREATE TABLE IF NOT EXISTS guard_stale (a int)')
  await db.query('SELECT * FROM guard_stale WHERE a = $1', [1])
  await db.query('ALTER TABLE guard_stale ADD COLUMN b int')
  const result = await db.transaction(async (tx) => {
    const err = await tx.transaction((sp) => sp.query('SELECT * FROM guard_stale WHERE a = $1', [1])).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StaleStatementError)
    return tx.query('SELECT $1::int + 100 AS x', [1])
  })
  expect(result).toEqual([{ x: 101 }])
  expect(await db.transaction((tx) => tx.query('SELECT $1::int + 100 AS x', [2]))).toEqual([{ x: 102 }])
})

test('COPY … FROM STDIN through db.query is refused before anything is sent', async () => {
  await expect(db.query('COPY agents (name) FROM STDIN')).rejects.toBeInstanceOf(ValidationError)
  expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }])
})

test.runIf(backend === 'pglite')('PGlite: a root query from an ended savepoint whose transaction is still open fails fast (SELF_DEADLOCK)', async () => {
  const err = await db
    .transaction(async (tx) => {
      let later!: Promise<unknown>
      await tx.transaction(async () => {
        later = (async () => {
          await sleep(10)
          return db.query('SELECT 1')
        })()
      })
      return later
    })
    .catch((e: unknown) => e)
  expect(err).toBeInstanceOf(MisuseError)
  expect(err).toMatchObject({ code: 'SELF_DEADLOCK' })
})
