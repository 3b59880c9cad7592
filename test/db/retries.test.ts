import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ConflictError, SerializationError, type Db } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'

let db: Db
beforeAll(async () => {
  db = await openTestDb()
})
afterAll(() => db?.close())

let seq = 0
const unique = (label: string): string => `${label}-${++seq}`

/** Resolves for everyone once `n` callers are waiting. */
function barrier(n: number): () => Promise<void> {
  let waiting = 0
  let release!: () => void
  const all = new Promise<void>((resolve) => (release = resolve))
  return () => {
    if (++waiting >= n) release()
    return all
  }
}

const runId = async (id: number): Promise<number> => (await db.agents.get(id))!.runId

/**
 * Read-modify-write of one counter in a serializable transaction. Both callers read before either
 * writes (the barrier, on their first attempt only), so the second writer fails with 40001.
 */
function racingIncrements(id: number, retries: number) {
  const attempts = { a: 0, b: 0 }
  const bothRead = barrier(2)
  const increment = (who: 'a' | 'b') =>
    db.transaction(
      async (tx) => {
        const attempt = ++attempts[who]
        const [row] = await tx.query<{ run_id: number }>('SELECT run_id FROM agents WHERE id = $1', [id])
        if (attempt === 1) await bothRead()
        await tx.query('UPDATE agents SET run_id = $2 WHERE id = $1', [id, row!.run_id + 1])
      },
      { isolationLevel: 'serializable', retries, retryDelay: 1 },
    )
  return { attempts, results: Promise.allSettled([increment('a'), increment('b')]) }
}

describe.runIf(backend === 'postgres')('retries on a real serialization failure (server)', () => {
  test('without retries, the second writer fails with a retryable SerializationError (no lost update)', async () => {
    const agent = await db.agents.create({ name: unique('no-retry'), type: 't', model: 'm' })
    const { attempts, results } = racingIncrements(agent.id, 0)
    const settled = await results
    const failed = settled.filter((r) => r.status === 'rejected')
    expect(failed).toHaveLength(1)
    const err = (failed[0] as PromiseRejectedResult).reason
    expect(err).toBeInstanceOf(SerializationError)
    expect(err).toMatchObject({ code: '40001', retryable: true })
    expect(attempts.a + attempts.b).toBe(2)
    expect(await runId(agent.id)).toBe(1)
  })

  test('with retries, the failed transaction runs again from the start and both increments land', async () => {
    const agent = await db.agents.create({ name: unique('retry'), type: 't', model: 'm' })
    const { attempts, results } = racingIncrements(agent.id, 3)
    const settled = await results
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled'])
    // One of them ran once, the other twice.
    expect([attempts.a, attempts.b].sort()).toEqual([1, 2])
    expect(await runId(agent.id)).toBe(2)
  })
})

describe('retries (both backends)', () => {
  // A 40001 raised by the database itself: the one way to get one on single-connection PGlite.
  const raise40001 = `DO $$ BEGIN RAISE EXCEPTION 'simulated conflict' USING ERRCODE = 'serialization_failure'; END $$`

  test('a serialization failure is retried up to `retries` times, rolling back each attempt', async () => {
    const name = unique('flaky')
    let attempts = 0
    const result = await db.transaction(
      async (tx) => {
        attempts++
        // Each failed attempt's insert must be rolled back, or the final insert would conflict.
        await tx.query('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', [name, 't', 'm'])
        if (attempts < 3) await tx.query(raise40001)
        return attempts
      },
      { retries: 3, retryDelay: 1 },
    )
    expect(result).toBe(3)
    expect((await db.query('SELECT count(*)::int AS n FROM agents WHERE name = $1', [name]))[0]).toEqual({ n: 1 })
  })

  test('when retries run out, the SerializationError is thrown', async () => {
    let attempts = 0
    const err = await db
      .transaction(
        async (tx) => {
          attempts++
          await tx.query(raise40001)
        },
        { retries: 2, retryDelay: 1 },
      )
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SerializationError)
    expect(attempts).toBe(3)
  })

  test('a unique violation (ConflictError) is never retried', async () => {
    const name = unique('conflict')
    await db.agents.create({ name, type: 't', model: 'm' })
    let attempts = 0
    const err = await db
      .transaction(
        async (tx) => {
          attempts++
          await tx.query('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', [name, 't', 'm'])
        },
        { retries: 5, retryDelay: 1 },
      )
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConflictError)
    expect(err).toMatchObject({ code: '23505', constraint: 'agents_name_key', retryable: false })
    expect(attempts).toBe(1)
  })

  test("the function's own errors are never retried", async () => {
    let attempts = 0
    await expect(
      db.transaction(
        async () => {
          attempts++
          throw new Error('mine')
        },
        { retries: 5, retryDelay: 1 },
      ),
    ).rejects.toThrow('mine')
    expect(attempts).toBe(1)
  })

  test('a nested savepoint never retries on its own; the error reaches the outer transaction', async () => {
    let inner = 0
    let outer = 0
    const result = await db.transaction(
      async (tx) => {
        outer++
        await tx
          .transaction(
            async (sp) => {
              inner++
              if (outer === 1) await sp.query(raise40001)
            },
            { retries: 5 },
          )
        return 'done'
      },
      { retries: 2, retryDelay: 1 },
    )
    // The savepoint threw once; the whole transaction (not the savepoint) was run again.
    expect(result).toBe('done')
    expect({ inner, outer }).toEqual({ inner: 2, outer: 2 })
  })
})
