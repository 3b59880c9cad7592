// Misuse that must fail loudly instead of losing data: a Db kept after withConnection, work
// started from a pinned connection, concurrent savepoints, savepoints of an ended transaction.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DataLayerError, Db, QueryError, TransactionClosedError } from '../../src/index.js'
import { openTestDb } from '../support/test-db.js'

let db: Db
beforeAll(async () => {
  db = await openTestDb()
})
afterAll(() => db?.close())

let seq = 0
const unique = (label: string): string => `${label}-${++seq}`
const agent = (name: string) => ({ name, type: 'simple', model: 'gpt-4' })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('withConnection', () => {
  test('the pinned Db stops working when the callback ends (its connection is back in the pool)', async () => {
    let leaked: Db | undefined
    await db.withConnection(async (conn) => {
      leaked = conn
      await conn.query('SELECT 1')
    })
    const name = unique('leak')
    await expect(leaked!.agents.create(agent(name))).rejects.toBeInstanceOf(TransactionClosedError)
    await expect(leaked!.query('SELECT 1')).rejects.toBeInstanceOf(TransactionClosedError)
    expect(await db.agents.getByName(name)).toBeNull()
  })

  test('a transaction started on the pinned Db runs on that connection (session state visible)', async () => {
    const seen = await db.withConnection(async (conn) => {
      await conn.query('CREATE TEMP TABLE pinned_probe (x int)')
      await conn.transaction((tx) => tx.query('INSERT INTO pinned_probe VALUES (7)'))
      const rows = await conn.query<{ x: number }>('SELECT x FROM pinned_probe')
      await conn.query('DROP TABLE pinned_probe')
      return rows.map((r) => r.x)
    })
    expect(seen).toEqual([7])
  })
})

describe('savepoints', () => {
  test('two concurrent tx.transaction() calls both work: one fails alone, the other commits', async () => {
    const a = unique('sibling-a')
    const b = unique('sibling-b')
    const outcomes = await db.transaction(async (tx) =>
      Promise.allSettled([
        tx.transaction(async (inner) => {
          await inner.agents.create(agent(a))
        }),
        tx.transaction(async (inner) => {
          await inner.agents.create(agent(b))
          await sleep(20)
          throw new Error('b fails')
        }),
      ]),
    )
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected'])
    expect(await db.agents.getByName(a)).not.toBeNull()
    expect(await db.agents.getByName(b)).toBeNull()
    await db.agents.delete((await db.agents.getByName(a))!.id)
  })

  test('opening a savepoint on the outer Db from inside its own savepoint fails at once (MISUSE)', async () => {
    const error = await db
      .transaction((tx) => tx.transaction(() => tx.transaction(async () => 1)))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DataLayerError)
    expect(error).toMatchObject({ code: 'MISUSE' })
  })

  test('a savepoint whose outer transaction ended refuses every query with TransactionClosedError', async () => {
    const outer = await db.startTransaction()
    const inner = await outer.db.startTransaction()
    await outer.rollback()
    for (const call of [
      () => inner.db.agents.count(),
      () => inner.db.agents.get(1),
      () => inner.db.messages.createMany([{ sessionId: '00000000-0000-4000-8000-000000000000', role: 'user' }]),
      () => inner.db.query('SELECT 1'),
    ]) {
      await expect(call()).rejects.toBeInstanceOf(TransactionClosedError)
    }
  })
})

describe('statement errors are not connection errors', () => {
  test('a wrong parameter count is a QueryError (08P01) and the connection is kept', async () => {
    const error = await db.query('SELECT 1', [1]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(QueryError)
    expect(await db.query<{ n: number }>('SELECT 2 AS n')).toEqual([{ n: 2 }])
  })
})
