/**
 * The six semantics of automagik-db/testing (issue 3), on this run's backend.
 * The vitest fixture is used as a user would; where a test must observe what happens after a
 * fixture ends (a failing test, a late query), the fixture is driven by hand.
 */
import { afterAll, beforeAll, describe, expect, test as base } from 'vitest'
import { TransactionClosedError, type Agent, type Db } from '../../src/index.js'
import { dbFixture } from '../../src/testing/index.js'
import { openTestDb } from '../support/test-db.js'

let testDb: Db
let seed: Agent
beforeAll(async () => {
  testDb = await openTestDb()
  // Committed before any test: every test must find it exactly like this.
  seed = await testDb.agents.create({ name: 'seed', type: 'simple', model: 'gpt-4', config: { tier: 'gold' } })
})
afterAll(() => testDb?.close())

const test = base.extend<{ db: Db }>({ db: dbFixture(() => testDb) })

/**
 * Row counts of every table. Outside a test's transaction, read on the root Db; inside one, pass
 * the test's `db` (on PGlite the root Db would wait for the connection the test holds).
 */
async function snapshot(db: Db = testDb): Promise<Record<string, number>> {
  const [row] = await db.query<Record<string, number>>(
    `SELECT (SELECT count(*) FROM agents)::int AS agents, (SELECT count(*) FROM users)::int AS users,
            (SELECT count(*) FROM sessions)::int AS sessions, (SELECT count(*) FROM messages)::int AS messages,
            (SELECT count(*) FROM memories)::int AS memories`,
  )
  return row!
}
const EMPTY_BUT_SEED = { agents: 1, users: 0, sessions: 0, messages: 0, memories: 0 }

/** A small piece of "code under test" that opens its own transaction. */
async function createUserWithSession(db: Db, email: string, options: { failAfterWrites?: boolean } = {}) {
  return db.transaction(async (tx) => {
    const user = await tx.users.create({ email })
    const session = await tx.sessions.create({ userId: user.id, agentId: seed.id })
    await tx.messages.create({ sessionId: session.id, role: 'user', textContent: 'hello' })
    if (options.failAfterWrites) throw new Error('payment declined')
    return { user, session }
  })
}

describe('1. writes are visible inside the test and gone after it', () => {
  test('a test writes, reads its writes, and changes committed data', async ({ db }) => {
    const { user } = await createUserWithSession(db, 'one@example.com')
    expect(await db.users.getByEmail('one@example.com')).toMatchObject({ id: user.id })
    expect(await db.messages.count()).toBe(1)
    await db.agents.update(seed.id, { model: 'changed', config: {} })
    expect(await db.agents.delete(seed.id)).toBe(true) // cascades to the session and message
    expect(await db.sessions.count()).toBe(0)
  })

  test('the next test sees the database as it was', async ({ db }) => {
    expect(await db.users.getByEmail('one@example.com')).toBeNull()
    const again = await db.agents.get(seed.id)
    expect(again).toEqual(seed) // same model, config and updated_at
    expect(await snapshot(db)).toEqual(EMPTY_BUT_SEED)
  })
})

describe('2. code under test that calls db.transaction() works unchanged (a savepoint)', () => {
  test('its commit is visible to the rest of the test, and still rolled back after it', async ({ db }) => {
    const { user } = await createUserWithSession(db, 'two@example.com')
    expect((await db.users.get(user.id))?.email).toBe('two@example.com')
  })

  test('its error rolls back only its part, and the fixture stays usable', async ({ db }) => {
    const before = await db.users.create({ email: 'before@example.com' })
    await expect(createUserWithSession(db, 'declined@example.com', { failAfterWrites: true })).rejects.toThrow(
      'payment declined',
    )
    expect(await db.users.getByEmail('declined@example.com')).toBeNull()
    expect(await db.sessions.count()).toBe(0)
    expect(await db.users.get(before.id)).not.toBeNull()

    // A database error inside it (which aborts a plain transaction) is contained the same way.
    await expect(
      db.transaction((tx) => tx.query('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', ['seed', 't', 'm'])),
    ).rejects.toMatchObject({ name: 'ConflictError' })
    const after = await db.users.create({ email: 'after@example.com' })
    expect(await db.users.count()).toBe(2)
    expect(after.id).toBeGreaterThan(before.id)
  })

  test('and nothing of it is left afterwards', async () => {
    expect(await snapshot()).toEqual(EMPTY_BUT_SEED)
  })
})

describe('3. a test that throws or fails still rolls back', () => {
  test('driven by hand: the fixture rethrows the test’s error and leaves nothing behind', async () => {
    const failure = new Error('assertion failed in the test')
    let seen: Db | undefined
    const outcome = dbFixture(testDb)({}, async (db) => {
      seen = db
      await createUserWithSession(db, 'three@example.com')
      await db.agents.update(seed.id, { active: false })
      throw failure
    })
    await expect(outcome).rejects.toBe(failure)
    expect(seen?.isTransaction).toBe(true)
    expect(await testDb.users.getByEmail('three@example.com')).toBeNull()
    expect((await testDb.agents.get(seed.id))?.active).toBe(true)
    expect(await snapshot()).toEqual(EMPTY_BUT_SEED)
  })

  test('driven by hand: a SQL error that aborted the test’s transaction is rolled back too', async () => {
    const outcome = dbFixture(testDb)({}, async (db) => {
      await db.users.create({ email: 'aborted@example.com' })
      await db.query('SELECT 1/0') // the transaction is now aborted (25P02 for any further query)
    })
    await expect(outcome).rejects.toMatchObject({ code: '22012' })
    expect(await snapshot()).toEqual(EMPTY_BUT_SEED)
  })

  // A real vitest test that fails on its assertion, after writing through the fixture: its writes
  // must not survive. test.fails alone would pass for any error (a crash, a TransactionClosedError,
  // a typo), so the body lets only the expected assertion failure through; anything else (or no
  // failure) is swallowed, which makes test.fails report this test, and is named by the next test.
  // (What the error was is copied when caught: vitest rewrites a failed test's error afterwards.)
  const EXPECTED_FAILURE = {
    name: 'AssertionError',
    message: 'expected 1 to be +0 // Object.is equality',
    actual: 1,
    expected: 0,
  }
  let failingTest: { wrote?: number; error?: Record<string, unknown> } | undefined
  test.fails('a failing vitest test', async ({ db }) => {
    failingTest = {}
    try {
      const { user } = await createUserWithSession(db, 'failing@example.com')
      failingTest.wrote = user.id
      expect(await db.users.count()).toBe(0) // fails: the user above is there
    } catch (e) {
      const { name, message, actual, expected } = e as Record<string, unknown>
      failingTest.error = { name, message, actual, expected }
      const expectedOne = Object.entries(EXPECTED_FAILURE).every(([key, value]) => failingTest!.error![key] === value)
      if (e instanceof Error && expectedOne) throw e
    }
  })

  test('the test before failed on its assertion, after its writes, and this one starts clean', async ({ db }) => {
    expect(failingTest, 'the failing test did not run before this one').toBeDefined()
    expect(failingTest!.wrote, 'the failing test did not get to write').toEqual(expect.any(Number))
    expect(failingTest!.error, 'the failing test did not fail on its assertion').toEqual(EXPECTED_FAILURE)
    // The fixture rolled the failing test's transaction back: nothing it wrote is left.
    expect(await db.users.get(failingTest!.wrote!)).toBeNull()
    expect(await db.users.getByEmail('failing@example.com')).toBeNull()
    expect(await snapshot(db)).toEqual(EMPTY_BUT_SEED)
  })

  test('and nothing of it is left on the root Db either', async () => {
    expect(await testDb.users.getByEmail('failing@example.com')).toBeNull()
    expect(await snapshot()).toEqual(EMPTY_BUT_SEED)
  })
})

describe('5. a query after the test’s transaction ended fails with a clear error', () => {
  test('a forgotten await: the late query throws TransactionClosedError instead of running outside', async () => {
    let late: Promise<unknown> | undefined
    await dbFixture(testDb)({}, async (db) => {
      // Not awaited: it runs its second query after the test (and its transaction) has ended.
      late = (async () => {
        await new Promise((resolve) => setTimeout(resolve, 50))
        return db.users.create({ email: 'late@example.com' })
      })()
      late.catch(() => undefined) // observed below
    })
    const started = Date.now()
    const err = await late!.catch((e: unknown) => e)
    expect(Date.now() - started).toBeLessThan(2_000) // does not hang
    expect(err).toBeInstanceOf(TransactionClosedError)
    expect(err).toMatchObject({ code: 'TRANSACTION_CLOSED' })
    expect((err as Error).message).toMatch(/already rolled back/)
    expect((err as Error).message).toMatch(/query was issued after it ended/)
    expect((err as Error).message).toMatch(/missing await/)
    expect(await testDb.users.getByEmail('late@example.com')).toBeNull()
  })

  test('a Db kept from a finished test: every kind of query fails the same way', async () => {
    let kept!: Db
    await dbFixture(testDb)({}, async (db) => {
      kept = db
    })
    for (const attempt of [
      () => kept.users.list(),
      () => kept.query('INSERT INTO users (email) VALUES ($1)', ['kept@example.com']),
      () => kept.batch('INSERT INTO users (email) VALUES ($1)', [['kept@example.com']]),
      () => kept.transaction((tx) => tx.users.create({ email: 'kept@example.com' })),
      () => kept.kysely.selectFrom('users').selectAll().execute(),
    ]) {
      await expect(attempt()).rejects.toBeInstanceOf(TransactionClosedError)
    }
    expect(await snapshot()).toEqual(EMPTY_BUT_SEED)
  })

  test('a Db from a savepoint of the test, used after the savepoint ended, fails too', async ({ db }) => {
    let inner!: Db
    await db.transaction(async (tx) => {
      inner = tx
    })
    await expect(inner.query('SELECT 1')).rejects.toBeInstanceOf(TransactionClosedError)
    expect(await db.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]) // the test's own Db is fine
  })
})

describe('6. identity values are not rolled back', () => {
  const ids: number[] = []

  test('a test creates a user', async ({ db }) => {
    ids.push((await db.users.create({ email: 'ids@example.com' })).id)
  })

  test('the same insert in the next test gets a new id: never assert literal ids', async ({ db }) => {
    const user = await db.users.create({ email: 'ids@example.com' })
    ids.push(user.id)
    // The first user was rolled back, but its id was consumed: sequences are not transactional.
    expect(ids[1]).toBeGreaterThan(ids[0]!)
    expect(await db.users.count()).toBe(1)
  })

  test('the pattern: assert on the ids your code returns, and look rows up by them', async ({ db }) => {
    const { user, session } = await createUserWithSession(db, 'pattern@example.com')
    // Not: expect(user.id).toBe(1)
    expect(await db.sessions.list({ userId: user.id })).toEqual([expect.objectContaining({ id: session.id })])
    expect((await db.messages.listBySession(session.id)).map((m) => m.textContent)).toEqual(['hello'])
  })
})
