import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ConflictError, ValidationError, type Db } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'

let db: Db
beforeAll(async () => {
  db = await openTestDb()
})
afterAll(() => db?.close())

let seq = 0
const unique = (label: string): string => `${label}-${++seq}`
const emailCount = async (domain: string): Promise<number> =>
  (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE email LIKE $1', [`%@${domain}`]))[0]!.n

describe('db.query', () => {
  test('runs a $1-parameterised statement and returns its rows', async () => {
    const rows = await db.query<{ a: number; b: string }>('SELECT $1::int + 1 AS a, upper($2) AS b', [41, 'x'])
    expect(rows).toEqual([{ a: 42, b: 'X' }])
    expect(await db.query('SELECT 1 AS one WHERE false')).toEqual([])
  })

  test('parameters are values, never SQL', async () => {
    const hostile = "x'); DROP TABLE agents; --"
    const [row] = await db.query<{ v: string }>('SELECT $1::text AS v', [hostile])
    expect(row?.v).toBe(hostile)
    expect(await db.query('SELECT count(*)::int AS n FROM agents')).toHaveLength(1)
  })

  test('INSERT … RETURNING gives the inserted rows', async () => {
    const name = unique('q-insert')
    const rows = await db.query<{ id: number; name: string }>(
      'INSERT INTO agents (name, type, model) VALUES ($1, $2, $3) RETURNING id, name',
      [name, 't', 'm'],
    )
    expect(rows).toEqual([{ id: expect.any(Number), name }])
    expect((await db.agents.getByName(name))?.id).toBe(rows[0]!.id)
  })

  test('on a transaction Db it runs inside that transaction', async () => {
    const name = unique('q-tx')
    await expect(
      db.transaction(async (tx) => {
        const [{ level }] = (await tx.query<{ level: string }>(
          `SELECT current_setting('transaction_isolation') AS level`,
        )) as [{ level: string }]
        expect(level).toBe('serializable')
        await tx.query('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', [name, 't', 'm'])
        expect(await tx.query('SELECT name FROM agents WHERE name = $1', [name])).toEqual([{ name }])
        throw new Error('undo')
      }, { isolationLevel: 'serializable' }),
    ).rejects.toThrow('undo')
    expect(await db.query('SELECT name FROM agents WHERE name = $1', [name])).toEqual([])
  })

  test('rejects a missing SQL string or non-array params before sending anything', async () => {
    await expect(db.query('')).rejects.toBeInstanceOf(ValidationError)
    await expect(db.query('  ')).rejects.toBeInstanceOf(ValidationError)
    await expect(db.query('SELECT $1', 'x' as never)).rejects.toBeInstanceOf(ValidationError)
  })
})

describe('db.batch', () => {
  test('runs the statement once per row and returns the total rows affected', async () => {
    const domain = `${unique('batch')}.io`
    const rows = [
      [`a@${domain}`, '+1'],
      [`b@${domain}`, '+2'],
      [`c@${domain}`, null],
    ]
    expect(await db.batch('INSERT INTO users (email, phone_number) VALUES ($1, $2)', rows)).toBe(3)
    expect(await emailCount(domain)).toBe(3)
    const phones = await db.query<{ phone_number: string | null }>(
      'SELECT phone_number FROM users WHERE email LIKE $1 ORDER BY email',
      [`%@${domain}`],
    )
    expect(phones.map((p) => p.phone_number)).toEqual(['+1', '+2', null])
    // UPDATE counts every row each run touched.
    expect(await db.batch('UPDATE users SET phone_number = $1 WHERE email LIKE $2', [['+9', `%@${domain}`], ['+8', `a@${domain}`]])).toBe(4)
  })

  test('is atomic: when one row fails, no row is written', async () => {
    const domain = `${unique('batch-atomic')}.io`
    const err = await db
      .batch('INSERT INTO users (email) VALUES ($1)', [[`a@${domain}`], [`b@${domain}`], [`A@${domain}`]])
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConflictError)
    expect(err).toMatchObject({ constraint: 'users_email_lower_key' })
    expect(await emailCount(domain)).toBe(0)
  })

  test('no rows → 0 without touching the database; malformed rows are rejected', async () => {
    expect(await db.batch('INSERT INTO users (email) VALUES ($1)', [])).toBe(0)
    await expect(db.batch('INSERT INTO users (email) VALUES ($1)', ['x'] as never)).rejects.toBeInstanceOf(ValidationError)
    await expect(db.batch('INSERT INTO users (email) VALUES ($1)', null as never)).rejects.toBeInstanceOf(ValidationError)
  })

  test('on a transaction Db it is a savepoint: a failed batch leaves the transaction usable', async () => {
    const domain = `${unique('batch-tx')}.io`
    await db.transaction(async (tx) => {
      await tx.batch('INSERT INTO users (email) VALUES ($1)', [[`a@${domain}`]])
      await expect(tx.batch('INSERT INTO users (email) VALUES ($1)', [[`b@${domain}`], [`a@${domain}`]])).rejects.toBeInstanceOf(
        ConflictError,
      )
      await tx.batch('INSERT INTO users (email) VALUES ($1)', [[`c@${domain}`]])
    })
    const emails = await db.query<{ email: string }>('SELECT email FROM users WHERE email LIKE $1 ORDER BY email', [`%@${domain}`])
    expect(emails.map((e) => e.email)).toEqual([`a@${domain}`, `c@${domain}`])
  })
})

describe('db.withConnection', () => {
  test('pins one connection: session settings and temp tables carry across calls', async () => {
    const result = await db.withConnection(async (conn) => {
      await conn.query(`SET application_name = 'amdb-pinned'`)
      await conn.query('CREATE TEMP TABLE pinned_scratch (v int)')
      await conn.query('INSERT INTO pinned_scratch VALUES ($1), ($2)', [1, 2])
      const [name] = await conn.query<{ application_name: string }>('SHOW application_name')
      const rows = await conn.query<{ v: number }>('SELECT v FROM pinned_scratch ORDER BY v')
      const pids = await Promise.all([1, 2, 3].map(() => conn.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')))
      await conn.query('DROP TABLE pinned_scratch')
      await conn.query('RESET application_name')
      return { name: name?.application_name, rows: rows.map((r) => r.v), pids: new Set(pids.map((p) => p[0]!.pid)).size }
    })
    expect(result).toEqual({ name: 'amdb-pinned', rows: [1, 2], pids: 1 })
  })

  test.runIf(backend === 'postgres')('outside withConnection, concurrent queries use several connections', async () => {
    const pids = await Promise.all(
      [1, 2, 3].map(() => db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.05)')),
    )
    expect(new Set(pids.map((p) => p[0]!.pid)).size).toBeGreaterThan(1)
  })

  test('returns what fn returns; the connection goes back to the pool even when fn throws', async () => {
    expect(await db.withConnection(async (conn) => (await conn.query<{ n: number }>('SELECT 7 AS n'))[0]!.n)).toBe(7)
    await expect(db.withConnection(async () => Promise.reject(new Error('fn failed')))).rejects.toThrow('fn failed')
    // On PGlite's single connection, a leaked checkout would make this wait forever.
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }])
    expect(db.poolStats.waiting).toBe(0)
  })

  test('on a transaction Db it runs fn on the transaction itself', async () => {
    const name = unique('wc-tx')
    await db.transaction(async (tx) => {
      await tx.withConnection(async (conn) => {
        expect(conn.isTransaction).toBe(true)
        await conn.query('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', [name, 't', 'm'])
      })
      expect(await tx.agents.getByName(name)).not.toBeNull()
      throw new Error('undo')
    }).catch(() => undefined)
    expect(await db.agents.getByName(name)).toBeNull()
  })
})
