/**
 * Semantic 4: tests running at the same time don't see each other's uncommitted rows. On a server
 * each test's transaction has its own connection (also across Dbs, as for parallel vitest workers);
 * on embedded PGlite (one connection) concurrent tests are serialised, and still isolated.
 */
import { afterAll, beforeAll, describe, expect, test as base } from 'vitest'
import { Db } from '../../src/index.js'
import { dbFixture } from '../../src/testing/index.js'
import { backend, openTestDb, serverUrl } from '../support/test-db.js'

let testDb: Db
beforeAll(async () => {
  testDb = await openTestDb()
})
afterAll(() => testDb?.close())

const test = base.extend<{ db: Db }>({ db: dbFixture(() => testDb) })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

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

const emails = async (db: Db): Promise<string[]> => (await db.users.list()).map((u) => u.email ?? '').sort()

describe.runIf(backend === 'postgres')('on a server', () => {
  test('two fixtures open at the same time on one Db see only their own rows', async () => {
    const bothWrote = barrier(2)
    const bothRead = barrier(2)
    const worker = (email: string) =>
      dbFixture(testDb)({}, async (db) => {
        await db.users.create({ email })
        await bothWrote() // the other test's row now exists, uncommitted
        expect(await emails(db)).toEqual([email])
        await bothRead()
      })
    await Promise.all([worker('a@one.io'), worker('b@two.io')])
    expect(await testDb.users.count()).toBe(0)
  })

  test('two Dbs on the same database (parallel workers) see only their own rows', async () => {
    const [{ name }] = (await testDb.query<{ name: string }>('SELECT current_database() AS name')) as [{ name: string }]
    const url = new URL(serverUrl)
    url.pathname = `/${name}`
    await using otherWorker = await Db.connect({ url: url.toString() })
    const bothWrote = barrier(2)
    const bothRead = barrier(2)
    const worker = (root: Db, email: string) =>
      dbFixture(root)({}, async (db) => {
        await db.users.create({ email })
        await bothWrote()
        expect(await emails(db)).toEqual([email])
        await bothRead()
      })
    await Promise.all([worker(testDb, 'a@worker1.io'), worker(otherWorker, 'b@worker2.io')])
    expect(await otherWorker.users.count()).toBe(0)
    expect(await testDb.users.count()).toBe(0)
  })
})

describe.runIf(backend === 'pglite')('on embedded PGlite', () => {
  test('two fixtures started at the same time run one after the other, each isolated', async () => {
    const spans: Record<string, { start: number; end: number }> = {}
    const worker = (email: string) =>
      dbFixture(testDb)({}, async (db) => {
        const start = performance.now()
        await db.users.create({ email })
        await sleep(100)
        expect(await emails(db)).toEqual([email])
        spans[email] = { start, end: performance.now() }
      })
    await Promise.all([worker('a@one.io'), worker('b@two.io')])
    const [a, b] = [spans['a@one.io']!, spans['b@two.io']!]
    // No overlap: one test's body ran entirely before the other's.
    expect(a.end <= b.start || b.end <= a.start).toBe(true)
    expect(await testDb.users.count()).toBe(0)
  })
})

describe('vitest tests of one file running concurrently', () => {
  let active = 0
  let maxActive = 0

  describe.concurrent('concurrent tests', () => {
    for (const n of [1, 2, 3, 4]) {
      test(`test ${n} sees only its own rows`, async ({ db }) => {
        active++
        maxActive = Math.max(maxActive, active)
        try {
          await db.users.create({ email: `concurrent-${n}@example.com` })
          await sleep(100)
          expect(await emails(db)).toEqual([`concurrent-${n}@example.com`])
        } finally {
          active--
        }
      })
    }
  })

  test(`ran ${backend === 'postgres' ? 'in parallel' : 'one at a time'}, and left nothing behind`, async () => {
    if (backend === 'postgres') expect(maxActive).toBeGreaterThan(1)
    else expect(maxActive).toBe(1)
    expect(await testDb.users.count()).toBe(0)
  })
})
