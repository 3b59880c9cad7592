import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ConnectionError, type Db } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'

const POOL_SIZE = 2
const CONNECT_TIMEOUT = 500
const HOLD_MS = 1_500

// Issue 5, item 5: more concurrent transactions than the pool holds. The ones that can't get a
// connection within connectTimeout fail with a typed error instead of hanging; the ones holding
// connections are unaffected; once connections free up, work resumes at full width.
describe.skipIf(backend !== 'postgres')('pool exhaustion', () => {
  let db: Db
  beforeAll(async () => {
    db = await openTestDb({ poolSize: POOL_SIZE, connectTimeout: CONNECT_TIMEOUT })
  })
  afterAll(async () => {
    await db?.close()
  })

  test('waiters get ConnectionError POOL_TIMEOUT after connectTimeout; holders commit; then work resumes', async () => {
    const started = performance.now()
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        db
          .transaction(async (tx) => {
            const agent = await tx.agents.create({ name: `holder-${i}`, type: 't', model: 'm' })
            await new Promise((r) => setTimeout(r, HOLD_MS)) // holds its connection
            return agent.name
          })
          .then(
            () => ({ ok: true as const, ms: performance.now() - started }),
            (error: unknown) => ({ ok: false as const, error, ms: performance.now() - started }),
          ),
      ),
    )
    const elapsed = performance.now() - started
    const done = outcomes.filter((o) => o.ok)
    const failed = outcomes.flatMap((o) => (o.ok ? [] : [o]))

    expect(done).toHaveLength(POOL_SIZE)
    expect(failed).toHaveLength(5 - POOL_SIZE)
    for (const { error, ms } of failed) {
      expect(error).toBeInstanceOf(ConnectionError)
      expect(error).toMatchObject({ code: 'POOL_TIMEOUT', outcomeUnknown: false })
      expect((error as Error).message).toMatch(/all 2 connections of the pool are busy/)
      // Failed after waiting connectTimeout — not at once, not after the holders finished.
      expect(ms).toBeGreaterThanOrEqual(CONNECT_TIMEOUT - 50)
      expect(ms).toBeLessThan(HOLD_MS)
    }
    expect(elapsed).toBeLessThan(HOLD_MS + 2_000) // nobody hung
    // Exactly the holders' work was committed; the waiters wrote nothing.
    expect(await db.agents.count()).toBe(POOL_SIZE)
    expect(db.poolStats.waiting).toBe(0)

    // Connections are free again: the same load, spread out, all succeeds.
    const again = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        db.transaction(async (tx) => (await tx.agents.create({ name: `again-${i}`, type: 't', model: 'm' })).name),
      ),
    )
    expect(again).toHaveLength(5)
    expect(await db.agents.count()).toBe(POOL_SIZE + 5)
  }, 20_000)

  test('a waiter that gets a connection before the timeout just waits', async () => {
    const hold = (ms: number) =>
      db.transaction(async (tx) => {
        await tx.agents.count()
        await new Promise((r) => setTimeout(r, ms))
      })
    const holders = [hold(200), hold(200)]
    // A third caller waits ~200 ms (< connectTimeout) and then runs.
    expect(await db.agents.count()).toBeGreaterThan(0)
    await Promise.all(holders)
  })
})
