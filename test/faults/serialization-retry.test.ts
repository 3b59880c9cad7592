import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  ConflictError,
  DeadlockError,
  SerializationError,
  TimeoutError,
  ValidationError,
  type Db,
} from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'
import { failure } from './support/wait.js'

/** Resolves for both parties once both have arrived (each party only on its first attempt). */
function barrier(parties: number): () => Promise<void> {
  let arrived = 0
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return () => {
    if (++arrived === parties) open()
    return opened
  }
}

// Issue 5, item 7: `retries` re-runs the whole function on 40001 / 40P01, with backoff and a cap;
// real conflicts between two transactions are forced, and the final state is checked. Unique
// violations, timeouts and the caller's own errors are never retried.
describe.skipIf(backend !== 'postgres')('serialization failures and deadlocks (real conflicts)', () => {
  let db: Db
  beforeAll(async () => {
    db = await openTestDb({ poolSize: 4 })
  })
  afterAll(async () => {
    await db?.close()
  })

  /** Two serializable transactions that both read the count, then both write `ledger-<count>`. */
  function writeSkew(retries: number) {
    const meet = barrier(2)
    const attempts = { a: 0, b: 0 }
    const run = (who: 'a' | 'b') =>
      db.transaction(
        async (tx) => {
          attempts[who]++
          const [row] = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM agents WHERE type = 'ledger'")
          if (attempts[who] === 1) await meet() // both have read before either writes
          await tx.agents.create({ name: `ledger-${row!.n}`, type: 'ledger', model: who })
          return row!.n
        },
        { isolationLevel: 'serializable', retries, retryDelay: 5 },
      )
    return { attempts, results: Promise.allSettled([run('a'), run('b')]) }
  }

  test('without retries, one of two conflicting transactions fails with SerializationError 40001', async () => {
    const { results } = writeSkew(0)
    const settled = await results
    const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(SerializationError)
    expect(errors[0]).toMatchObject({ code: '40001', retryable: true })
    expect(await db.query("SELECT name FROM agents WHERE type = 'ledger' ORDER BY name")).toEqual([{ name: 'ledger-0' }])
    await db.query("DELETE FROM agents WHERE type = 'ledger'")
  })

  test('with retries, the loser re-runs from the start and sees the winner: both rows, consistent', async () => {
    const { attempts, results } = writeSkew(3)
    const settled = await results
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled'])
    const counts = settled.map((s) => (s as PromiseFulfilledResult<number>).value).sort()
    expect(counts).toEqual([0, 1]) // the retry read the committed row
    expect(attempts.a + attempts.b).toBe(3)
    expect(await db.query("SELECT name FROM agents WHERE type = 'ledger' ORDER BY name")).toEqual([
      { name: 'ledger-0' },
      { name: 'ledger-1' },
    ])
  })

  test('a real deadlock (40P01) is retried and both transactions end up applied', async () => {
    const a = await db.agents.create({ name: 'lock-a', type: 't', model: 'm' })
    const b = await db.agents.create({ name: 'lock-b', type: 't', model: 'm' })
    const meet = barrier(2)
    const attempts = { ab: 0, ba: 0 }
    const errors: unknown[] = []
    const run = (order: 'ab' | 'ba') =>
      db.transaction(
        async (tx) => {
          attempts[order]++
          const [first, second] = order === 'ab' ? [a, b] : [b, a]
          await tx.agents.incrementRunId(first.id)
          if (attempts[order] === 1) await meet() // each holds one row lock and wants the other's
          await tx.agents.incrementRunId(second.id)
        },
        { retries: 2, retryDelay: 5 },
      ).catch((err: unknown) => {
        errors.push(err)
      })
    await Promise.all([run('ab'), run('ba')])
    expect(errors).toEqual([])
    expect(attempts.ab + attempts.ba).toBe(3)
    expect((await db.agents.get(a.id))?.runId).toBe(2)
    expect((await db.agents.get(b.id))?.runId).toBe(2)
  })

  test('without retries the deadlock victim gets DeadlockError 40P01, and its work is rolled back', async () => {
    const a = await db.agents.create({ name: 'lock-c', type: 't', model: 'm' })
    const b = await db.agents.create({ name: 'lock-d', type: 't', model: 'm' })
    const meet = barrier(2)
    const run = (first: number, second: number) =>
      db.transaction(async (tx) => {
        await tx.agents.incrementRunId(first)
        await meet()
        await tx.agents.incrementRunId(second)
      })
    const settled = await Promise.allSettled([run(a.id, b.id), run(b.id, a.id)])
    const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(DeadlockError)
    expect(errors[0]).toMatchObject({ code: '40P01', retryable: true })
    const runIds = [(await db.agents.get(a.id))!.runId, (await db.agents.get(b.id))!.runId]
    expect(runIds).toEqual([1, 1]) // the winner's two increments; none of the victim's
  })
})

describe('what is never retried, and the cap', () => {
  let db: Db
  beforeAll(async () => {
    db = await openTestDb()
  })
  afterAll(async () => {
    await db?.close()
  })

  test('a unique violation is not retried', async () => {
    let attempts = 0
    const { error } = await failure(() =>
      db.transaction(
        async (tx) => {
          attempts++
          await tx.query("INSERT INTO agents (name, type, model) VALUES ('dup', 't', 'm'), ('dup', 't', 'm')")
        },
        { retries: 5, retryDelay: 1 },
      ),
    )
    expect(error).toBeInstanceOf(ConflictError)
    expect(attempts).toBe(1)
    expect(await db.agents.getByName('dup')).toBeNull()
  })

  // PGlite runs in-process without timers: it has no statement_timeout to trip.
  test.skipIf(backend !== 'postgres')('a statement timeout is not retried', async () => {
    let attempts = 0
    const { error } = await failure(() =>
      db.transaction(
        async (tx) => {
          attempts++
          await tx.query("SET LOCAL statement_timeout = '50ms'")
          await tx.query('SELECT pg_sleep(1)')
        },
        { retries: 5, retryDelay: 1 },
      ),
    )
    expect(error).toBeInstanceOf(TimeoutError)
    expect(attempts).toBe(1)
  })

  test("the caller's own error is not retried", async () => {
    let attempts = 0
    const { error } = await failure(() =>
      db.transaction(
        async () => {
          attempts++
          throw new Error('business rule')
        },
        { retries: 5, retryDelay: 1 },
      ),
    )
    expect((error as Error).message).toBe('business rule')
    expect(attempts).toBe(1)
  })

  test('a failure that keeps happening is retried exactly `retries` times, with backoff, then surfaces', async () => {
    let attempts = 0
    const started = performance.now()
    const { error } = await failure(() =>
      db.transaction(
        async (tx) => {
          attempts++
          await tx.agents.create({ name: `attempt-${attempts}`, type: 't', model: 'm' })
          await tx.query("DO $$ BEGIN RAISE EXCEPTION 'simulated conflict' USING ERRCODE = '40001'; END $$")
        },
        { retries: 3, retryDelay: 20 },
      ),
    )
    expect(error).toBeInstanceOf(SerializationError)
    expect(attempts).toBe(4)
    // Backoff: at least half of 20 + 40 + 80 ms (jittered) was waited between attempts.
    expect(performance.now() - started).toBeGreaterThanOrEqual(70)
    expect(await db.agents.count()).toBe(0) // every attempt rolled back
  })

  test('retries are capped: more than 10 is refused before anything runs', async () => {
    let ran = false
    const { error } = await failure(() =>
      db.transaction(
        async () => {
          ran = true
        },
        { retries: 1_000 },
      ),
    )
    expect(error).toBeInstanceOf(ValidationError)
    expect(ran).toBe(false)
  })
})
