import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import pg from 'pg'
import { Db, TimeoutError, ValidationError } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'

// Issue 8, item 5: the client watchdog (it drops a connection whose server stopped answering)
// used to kill any statement after statementTimeout + 5 s, even one whose statement_timeout the
// caller raised on purpose, and could not be turned off. `clientTimeout` sets it (0 = off);
// migrations are never cut short by it. PGlite runs in process and has no watchdog.

/** Kysely's migration lock (session advisory lock) id: held elsewhere, migrate() has to wait. */
const MIGRATION_LOCK_ID = '3853314791062309107'

describe.runIf(backend === 'postgres')('clientTimeout (server)', () => {
  let db: Db
  beforeAll(async () => {
    db = await openTestDb({ poolSize: 2, statementTimeout: 200, clientTimeout: 600 })
  })
  afterAll(() => db?.close())

  test('a statement with no answer past clientTimeout fails with CLIENT_TIMEOUT (the watchdog works)', async () => {
    const err = await db
      .transaction(async (tx) => {
        await tx.query("SET LOCAL statement_timeout = '10s'")
        await tx.query('SELECT pg_sleep(2)')
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TimeoutError)
    expect(err).toMatchObject({ code: 'CLIENT_TIMEOUT' })
  })

  test('regression: clientTimeout 0 turns it off; a SET LOCAL statement_timeout raised by the caller is honoured', async () => {
    // Past the old fixed guard (statementTimeout + 5 s = 5.1 s), which killed this statement.
    const off = await openTestDb({ poolSize: 1, statementTimeout: 100, clientTimeout: 0 })
    try {
      const started = performance.now()
      const rows = await off.transaction(async (tx) => {
        await tx.query("SET LOCAL statement_timeout = '20s'")
        return tx.query<{ done: boolean }>('SELECT pg_sleep(5.5) IS NOT NULL AS done')
      })
      expect(rows).toEqual([{ done: true }])
      expect(performance.now() - started).toBeGreaterThanOrEqual(5_400)
      // The server's own limit still applies where it was not raised.
      await expect(off.query('SELECT pg_sleep(1)')).rejects.toMatchObject({ code: '57014' })
    } finally {
      await off.close()
    }
  })

  test('a clientTimeout above the raised statement_timeout lets the statement finish', async () => {
    const raised = await openTestDb({ poolSize: 1, statementTimeout: 200, clientTimeout: 3_000 })
    try {
      const rows = await raised.transaction(async (tx) => {
        await tx.query("SET LOCAL statement_timeout = '5s'")
        return tx.query<{ done: boolean }>('SELECT pg_sleep(0.8) IS NOT NULL AS done')
      })
      expect(rows).toEqual([{ done: true }])
    } finally {
      await raised.close()
    }
  })

  test('regression: migrations are never cut short by it (waiting for the migration lock past the default guard)', async () => {
    // The default guard is statementTimeout + 5 s = 5.1 s; the lock is held for 5.5 s.
    const fresh = await openTestDb({ poolSize: 2, statementTimeout: 100 })
    const { name } = (await fresh.query<{ name: string }>('SELECT current_database() AS name'))[0]!
    const url = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
    url.pathname = `/${name}`
    const holder = new pg.Client({ connectionString: url.toString() })
    await holder.connect()
    try {
      await fresh.migrateDown() // something to migrate again
      await holder.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK_ID})`)
      const unlock = setTimeout(() => void holder.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_ID})`), 5_500)
      const started = performance.now()
      const applied = await fresh.migrate().finally(() => clearTimeout(unlock))
      expect(performance.now() - started).toBeGreaterThanOrEqual(5_400)
      expect(applied.length).toBeGreaterThan(0)
    } finally {
      await holder.end()
      await fresh.close()
    }
  })
})

test('clientTimeout must be a whole number of ms', async () => {
  await expect(Db.connect({ embedded: true, clientTimeout: -1 })).rejects.toBeInstanceOf(ValidationError)
  await expect(Db.connect({ embedded: true, clientTimeout: 1.5 })).rejects.toBeInstanceOf(ValidationError)
})
