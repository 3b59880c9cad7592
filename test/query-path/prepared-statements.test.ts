import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Db, StaleStatementError, ValidationError } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'

// Issue 8, item 3: named prepared statements used to break a pooled connection for good — after
// a migration by another process (0A000), after DISCARD ALL / DEALLOCATE ALL (26000), after a
// parameter the driver could not serialise. One connection (poolSize 1) so every call reuses it;
// on PGlite there is only one anyway and it can never be replaced.

let db: Db
beforeAll(async () => {
  db = await openTestDb({ poolSize: 1 })
})
afterAll(() => db?.close())

let n = 0
const agentInput = () => ({ name: `prep-${++n}`, type: 't', model: 'm' })
const selectAll = () => db.kysely.selectFrom('agents').selectAll().where('id', '>', 0).execute()

describe('a stale prepared statement is prepared again', () => {
  test('regression: SELECT * after another process adds a column (0A000 cached plan must not change result type)', async () => {
    await db.agents.create(agentInput())
    expect((await selectAll()).length).toBeGreaterThan(0)
    // What a rolling deploy does: a migration from another process.
    await db.query('ALTER TABLE agents ADD COLUMN extra_0a000 int')
    try {
      for (let i = 0; i < 3; i++) expect((await selectAll())[0]).toHaveProperty('extra_0a000')
    } finally {
      await db.query('ALTER TABLE agents DROP COLUMN extra_0a000')
    }
    expect((await selectAll())[0]).not.toHaveProperty('extra_0a000')
  })

  test.each(['DISCARD ALL', 'DEALLOCATE ALL'])('regression: repository calls after %s (26000 prepared statement does not exist)', async (statement) => {
    const agent = await db.agents.create(agentInput())
    expect((await db.agents.get(agent.id))?.name).toBe(agent.name)
    await db.query(statement)
    for (let i = 0; i < 2; i++) expect((await db.agents.get(agent.id))?.name).toBe(agent.name)
    expect(await db.query('SELECT id FROM agents WHERE id = $1', [agent.id])).toEqual([{ id: agent.id }])
  })

  test('regression: a parameter the driver cannot serialise fails typed, before any SQL, and the statement keeps working', async () => {
    const sql = 'SELECT $1::jsonb AS j'
    expect(await db.query(sql, [{ a: 1 }])).toEqual([{ j: { a: 1 } }])
    const circular: Record<string, unknown> = {}
    circular.self = circular
    const err = await db.query(sql, [circular]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).fields).toEqual(['$1'])
    for (let i = 0; i < 2; i++) expect(await db.query(sql, [{ a: 2 }])).toEqual([{ j: { a: 2 } }])
  })

  test('inside a transaction the transaction fails with a typed, retryable error; the next transaction works', async () => {
    const agent = await db.agents.create(agentInput())
    await db.agents.get(agent.id) // prepared on the one connection
    const err = await db
      .transaction(async (tx) => {
        await tx.query('DEALLOCATE ALL')
        await tx.agents.get(agent.id)
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StaleStatementError)
    expect(err).toMatchObject({ code: '26000', retryable: true })
    expect(await db.transaction((tx) => tx.agents.get(agent.id))).toMatchObject({ id: agent.id })
    // With retries, the same situation heals itself.
    let attempts = 0
    const again = await db.transaction(
      async (tx) => {
        if (++attempts === 1) await tx.query('DEALLOCATE ALL')
        return tx.agents.get(agent.id)
      },
      { retries: 1, retryDelay: 1 },
    )
    expect(again?.id).toBe(agent.id)
    expect(attempts).toBe(2)
  })
})

describe('the statement cache of a connection is bounded', () => {
  test('past statementCacheSize the least recently used statements are deallocated on the server', async () => {
    const small = await openTestDb({ poolSize: 1, statementCacheSize: 5 })
    try {
      for (let i = 0; i < 40; i++) expect(await small.query(`SELECT $1::int + ${i} AS v`, [1])).toEqual([{ v: 1 + i }])
      const { prepared } = (await small.query<{ prepared: number }>(
        "SELECT count(*)::int AS prepared FROM pg_prepared_statements WHERE name LIKE 'amdb\\_%'",
      ))[0]!
      expect(prepared).toBeLessThanOrEqual(5)
      expect(prepared).toBeGreaterThan(0)
      // The survivors still work, evicted texts are prepared again.
      expect(await small.query('SELECT $1::int + 39 AS v', [1])).toEqual([{ v: 40 }])
      expect(await small.query('SELECT $1::int + 0 AS v', [1])).toEqual([{ v: 1 }])
    } finally {
      await small.close()
    }
  })

  test.runIf(backend === 'postgres')('the default (256 per connection) holds the repositories without evictions', async () => {
    await db.agents.create(agentInput())
    const { prepared } = (await db.query<{ prepared: number }>(
      "SELECT count(*)::int AS prepared FROM pg_prepared_statements WHERE name LIKE 'amdb\\_%'",
    ))[0]!
    expect(prepared).toBeGreaterThan(0)
    expect(prepared).toBeLessThanOrEqual(256)
  })
})
