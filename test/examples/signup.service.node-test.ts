/**
 * The README's node:test example: `rollbackEach` gives each test a Db bound to a transaction that
 * is rolled back in afterEach. Run it with:
 *
 *   node --import tsx --test test/examples/signup.service.node-test.ts
 *
 * In your project the imports are:
 *   import type { Db } from 'automagik-db'
 *   import { createTestDb, rollbackEach } from 'automagik-db/testing'
 */
import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, test } from 'node:test'
import type { Db } from '../../src/index.js'
import { createTestDb, rollbackEach, type RollbackEach } from '../../src/testing/index.js'
import { EmailTakenError, SignupService } from './signup.service.js'

describe('SignupService', () => {
  let testDb: Db
  let each: RollbackEach
  let db: Db

  // TEST_DATABASE_URL → a fresh database on that server (dropped on close); unset → embedded PGlite.
  before(async () => {
    testDb = await createTestDb()
    each = rollbackEach(testDb)
  })
  after(() => testDb.close())

  beforeEach(async () => {
    db = await each.begin()
  })
  afterEach(() => each.end())

  test('signUp creates the user and greets them', async () => {
    const service = new SignupService(db)

    const { user } = await service.signUp({ email: 'ada@example.com' })

    assert.equal((await db.users.getByEmail('ada@example.com'))?.id, user.id)
    assert.deepEqual(await service.welcomeMessages(user.id), ['Welcome aboard, ada@example.com!'])
  })

  test('each test starts from an empty database', async () => {
    assert.equal(await db.users.count(), 0)
  })

  test('a duplicate email is refused without breaking the test transaction', async () => {
    const service = new SignupService(db)
    await service.signUp({ email: 'grace@example.com' })

    await assert.rejects(service.signUp({ email: 'GRACE@example.com' }), EmailTakenError)

    assert.equal(await db.users.count(), 1)
  })
})
