/**
 * The README's vitest example: each test gets `db`, a Db bound to its own transaction that is
 * rolled back when the test ends, so tests never clean tables and never see each other's rows.
 *
 * In your project the imports are:
 *   import type { Db } from 'automagik-db'
 *   import { createTestDb, dbFixture } from 'automagik-db/testing'
 */
import { afterAll, expect, test as base } from 'vitest'
import type { Db } from '../../src/index.js'
import { createTestDb, dbFixture } from '../../src/testing/index.js'
import { EmailTakenError, SignupService, UnknownReferrerError } from './signup.service.js'

// One migrated database per test file: TEST_DATABASE_URL → a fresh database on that server
// (dropped on close), unset → embedded PGlite. This repository runs the example on both backends
// (`npm test`, `npm run test:pg`), hence the explicit choice; your project can call createTestDb().
const testDb = await createTestDb(
  process.env.AMDB_TEST_BACKEND === 'postgres'
    ? { url: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' }
    : { embedded: true },
)
afterAll(() => testDb.close())

const test = base.extend<{ db: Db }>({ db: dbFixture(testDb) })

test('signUp creates the user, a welcome session and a greeting', async ({ db }) => {
  const service = new SignupService(db)

  const { user, session } = await service.signUp({ email: 'ada@example.com' })

  // Assert on the ids the service returned, never on literal ids: identity values are not rolled
  // back, so they differ from run to run and from test to test.
  expect(await db.users.getByEmail('ADA@example.com')).toMatchObject({ id: user.id })
  expect(await db.sessions.get(session.id)).toMatchObject({ userId: user.id, name: 'Welcome' })
  expect(await service.welcomeMessages(user.id)).toEqual(['Welcome aboard, ada@example.com!'])
})

test('the previous test left nothing behind', async ({ db }) => {
  expect(await db.users.getByEmail('ada@example.com')).toBeNull()
  expect(await db.users.count()).toBe(0)
})

test('signing up twice fails, and the test carries on with its transaction', async ({ db }) => {
  const service = new SignupService(db)
  await service.signUp({ email: 'grace@example.com' })

  // signUp's db.transaction() is a savepoint inside the test's transaction: its failure rolls back
  // only its own work.
  await expect(service.signUp({ email: 'Grace@example.com' })).rejects.toBeInstanceOf(EmailTakenError)

  expect(await db.users.count()).toBe(1)
  expect(await db.sessions.count()).toBe(1)
})

test('an unknown referrer undoes the whole sign-up', async ({ db }) => {
  const service = new SignupService(db)

  await expect(service.signUp({ email: 'linus@example.com', referredBy: 'nobody@example.com' })).rejects.toBeInstanceOf(
    UnknownReferrerError,
  )

  expect(await db.users.getByEmail('linus@example.com')).toBeNull()
  expect(await db.messages.count()).toBe(0)
})

test('a referral is recorded for the new user', async ({ db }) => {
  const service = new SignupService(db)
  const { user: referrer } = await service.signUp({ email: 'ada@example.com' })

  const { user } = await service.signUp({ email: 'alan@example.com', referredBy: 'ada@example.com' })

  const memory = await db.memories.getByName('referred-by', { userId: user.id, agentId: null, sessionId: null })
  expect(memory?.content).toBe(String(referrer.id))
})
