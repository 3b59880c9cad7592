import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Db, QueryError, SerializationError, TransactionAbortedError } from '../../src/index.js'
import { openTestDb } from '../support/test-db.js'

// Issue 8, item 1: PostgreSQL aborts a transaction at its first failing statement. A callback
// that catches that error and returns normally must not leave the transaction broken or commit.

let db: Db
beforeAll(async () => {
  db = await openTestDb()
})
afterAll(() => db?.close())

let n = 0
const agent = (label: string) => ({ name: `${label}-${++n}`, type: 'simple', model: 'gpt-4' })

describe('a statement error caught inside a savepoint', () => {
  test('regression: savepoint callback swallowed 22012 → TransactionAbortedError, the outer transaction carries on and commits', async () => {
    const before = agent('before')
    const inside = agent('inside')
    const after = agent('after')
    let caught: unknown
    let savepointError: unknown
    await db.transaction(async (tx) => {
      await tx.agents.create(before)
      savepointError = await tx
        .transaction(async (inner) => {
          await inner.agents.create(inside)
          try {
            await inner.query('SELECT 1/0')
          } catch (err) {
            caught = err
          }
          return 'returned normally'
        })
        .catch((e: unknown) => e)
      // The README's promise: the outer transaction carries on when you catch the savepoint's error.
      expect(await tx.query('SELECT 1 AS one')).toEqual([{ one: 1 }])
      await tx.agents.create(after)
    })
    expect(caught).toBeInstanceOf(QueryError)
    expect(caught).toMatchObject({ code: '22012' })
    expect(savepointError).toBeInstanceOf(TransactionAbortedError)
    expect(savepointError).toMatchObject({ code: 'TRANSACTION_ABORTED' })
    expect((savepointError as Error).cause).toBe(caught)
    expect(await db.agents.getByName(before.name)).not.toBeNull()
    expect(await db.agents.getByName(after.name)).not.toBeNull()
    expect(await db.agents.getByName(inside.name)).toBeNull() // rolled back to the savepoint
  })

  test('a later statement in the aborted savepoint fails with TransactionAbortedError naming the first failure', async () => {
    let second: unknown
    const err = await db
      .transaction(async (tx) => {
        await tx.query('SELECT 1/0').catch(() => undefined)
        second = await tx.query('SELECT 1').catch((e: unknown) => e)
      })
      .catch((e: unknown) => e)
    expect(second).toBeInstanceOf(TransactionAbortedError)
    expect((second as Error).cause).toMatchObject({ code: '22012' })
    expect(err).toBeInstanceOf(TransactionAbortedError)
  })

  test('nested: an inner savepoint that swallowed an error is undone; the middle one commits', async () => {
    const middle = agent('middle')
    const innermost = agent('innermost')
    await db.transaction(async (tx) => {
      await tx.transaction(async (mid) => {
        await mid.agents.create(middle)
        const err = await mid
          .transaction(async (inner) => {
            await inner.agents.create(innermost)
            await inner.query('SELECT 1/0').catch(() => undefined)
          })
          .catch((e: unknown) => e)
        expect(err).toBeInstanceOf(TransactionAbortedError)
      })
    })
    expect(await db.agents.getByName(middle.name)).not.toBeNull()
    expect(await db.agents.getByName(innermost.name)).toBeNull()
  })
})

describe('a statement error caught inside a top-level transaction', () => {
  test('regression: db.transaction() whose callback swallowed an error rejects with TransactionAbortedError, nothing committed', async () => {
    const kept = agent('kept')
    const err = await db
      .transaction(async (tx) => {
        await tx.agents.create(kept)
        try {
          await tx.query('SELECT 1/0')
        } catch {
          // swallowed
        }
        return 'done'
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TransactionAbortedError)
    expect(err).not.toBeInstanceOf(QueryError)
    expect(err).toMatchObject({ code: 'TRANSACTION_ABORTED' })
    expect((err as Error).cause).toMatchObject({ code: '22012' })
    expect(await db.agents.getByName(kept.name)).toBeNull()
    // The connection is clean for the next caller.
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }])
  })

  test('startTransaction().commit() after a swallowed error rejects the same way and writes nothing', async () => {
    const kept = agent('handle')
    const handle = await db.startTransaction()
    await handle.db.agents.create(kept)
    await handle.db.query('SELECT 1/0').catch(() => undefined)
    await expect(handle.commit()).rejects.toBeInstanceOf(TransactionAbortedError)
    expect(handle.isOpen).toBe(false)
    expect(await db.agents.getByName(kept.name)).toBeNull()
  })

  test('a swallowed retryable failure makes the TransactionAbortedError retryable, so `retries` re-runs', async () => {
    let attempts = 0
    const name = agent('retried').name
    await db.transaction(
      async (tx) => {
        attempts++
        await tx.agents.create({ name, type: 't', model: 'm' })
        if (attempts === 1) {
          // A serialization failure raised by the server, caught by the callback.
          await tx
            .query("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'serialization_failure', MESSAGE = 'simulated'; END $$")
            .catch((e: unknown) => expect(e).toBeInstanceOf(SerializationError))
        }
      },
      { retries: 2, retryDelay: 1 },
    )
    expect(attempts).toBe(2)
    expect(await db.agents.getByName(name)).not.toBeNull()
  })
})
