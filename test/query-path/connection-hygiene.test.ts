import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Db, MisuseError } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'

// Issue 8, item 4: a connection re-enters the pool only idle and clean. With one pooled
// connection (poolSize 1; PGlite has one anyway), the next caller gets the very connection the
// previous one used, so anything left on it would show.

let db: Db
beforeAll(async () => {
  db = await openTestDb({ poolSize: 1 })
})
afterAll(() => db?.close())

const sessionState = () =>
  db.query<{ timeout: string; work_mem: string; locks: number; temp: boolean }>(
    `SELECT current_setting('statement_timeout') AS timeout, current_setting('work_mem') AS work_mem,
            (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks,
            to_regclass('pg_temp.scratch') IS NOT NULL AS temp`,
  )

describe('withConnection', () => {
  test('regression: session settings, advisory locks and temp tables do not reach the next caller', async () => {
    const [before] = await sessionState()
    const pidInside = await db.withConnection(async (conn) => {
      await conn.query("SET statement_timeout = '50ms'")
      await conn.query("SET work_mem = '7MB'")
      await conn.query('SELECT pg_advisory_lock(4242)')
      await conn.query('CREATE TEMP TABLE scratch (x int)')
      const [inside] = await conn.query<{ timeout: string; locks: number }>(
        "SELECT current_setting('statement_timeout') AS timeout, (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks",
      )
      expect(inside).toEqual({ timeout: '50ms', locks: 1 })
      return (await conn.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]!.pid
    })
    const { pid } = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]!
    expect(pid).toBe(pidInside) // the same connection came back
    expect(await sessionState()).toEqual([{ ...before, locks: 0, temp: false }])
    expect(before!.timeout).not.toBe('50ms')
    // The unrelated caller is not cut short by the 50 ms limit.
    await expect(db.query('SELECT pg_sleep(0.2)')).resolves.toHaveLength(1)
  })

  test('a transaction left open inside withConnection is rolled back, not handed on', async () => {
    const name = `left-open-${Date.now()}`
    await db.withConnection(async (conn) => {
      await conn.query('BEGIN')
      await conn.agents.create({ name, type: 't', model: 'm' })
    })
    expect(await db.agents.getByName(name)).toBeNull()
    const written = await db.agents.create({ name, type: 't', model: 'm' })
    expect((await db.agents.getByName(name))?.id).toBe(written.id)
  })
})

describe('a bare BEGIN on the root Db', () => {
  test('regression: it is refused (MisuseError) and rolled back; a later write is committed and visible elsewhere', async () => {
    const err = await db.query('BEGIN').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MisuseError)
    expect(err).toMatchObject({ code: 'MISUSE' })
    const name = `after-begin-${Date.now()}`
    const agent = await db.agents.create({ name, type: 't', model: 'm' })
    const { autocommit } = (await db.query<{ autocommit: boolean }>('SELECT now() = statement_timestamp() AS autocommit'))[0]!
    expect(autocommit).toBe(true)
    if (backend === 'postgres') {
      // Another connection (another Db on the same database) sees the write: it was committed.
      const other = await Db.connect({ url: await currentUrl() })
      try {
        expect((await other.agents.getByName(name))?.id).toBe(agent.id)
      } finally {
        await other.close()
      }
    } else {
      expect((await db.agents.getByName(name))?.id).toBe(agent.id)
    }
  })

  test('the same through db.kysely (a raw BEGIN compiled query) is refused and rolled back too', async () => {
    const { sql } = await import('kysely')
    await expect(sql`BEGIN`.execute(db.kysely)).rejects.toBeInstanceOf(MisuseError)
    const { autocommit } = (await db.query<{ autocommit: boolean }>('SELECT now() = statement_timestamp() AS autocommit'))[0]!
    expect(autocommit).toBe(true)
  })
})

/** The URL of this test's database on the shared server (createTestDb made it). */
async function currentUrl(): Promise<string> {
  const { name } = (await db.query<{ name: string }>('SELECT current_database() AS name'))[0]!
  const base = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
  base.pathname = `/${name}`
  return base.toString()
}
