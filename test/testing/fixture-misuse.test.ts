/**
 * Issue 9, section 5: misusing the root Db inside a test fixture — a query on `testDb` instead of
 * the test's `db` — fails at once with MisuseError on both backends. Before, on a server it ran
 * outside the test's transaction and its row leaked into the next test (on PGlite it waited for
 * the connection the test held). A root-Db query outside fixtures keeps working.
 */
import { afterAll, beforeAll, describe, expect, test as base } from 'vitest'
import { MisuseError, type Db } from '../../src/index.js'
import { dbFixture, rollbackEach, withRollback } from '../../src/testing/index.js'
import { backend, openTestDb } from '../support/test-db.js'

let testDb: Db
beforeAll(async () => {
  testDb = await openTestDb()
})
afterAll(() => testDb?.close())

const test = base.extend<{ db: Db }>({ db: dbFixture(() => testDb) })
const agent = (name: string) => ({ name, type: 'simple', model: 'gpt-4' })

/** Code under test that was handed the root Db by mistake. */
class AgentService {
  constructor(private readonly db: Db) {}
  register(name: string) {
    return this.db.transaction((tx) => tx.agents.create(agent(name)))
  }
}

describe('the vitest fixture', () => {
  test('a write on the root Db inside the test fails at once with MisuseError', async ({ db }) => {
    const error = await testDb.agents.create(agent('leaked-by-root')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MisuseError)
    expect(error).toMatchObject({ code: 'MISUSE' })
    expect((error as Error).message).toContain("fixture's Db")
    // The test's own Db is untouched by the refused call.
    await db.agents.create(agent('written-by-the-test'))
    expect(await db.agents.count()).toBe(1)
  })

  test('every way into the root Db is refused: query, transaction, kysely, withConnection, code under test', async ({ db }) => {
    const attempts: (() => Promise<unknown>)[] = [
      () => testDb.query('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', ['leaked-by-query', 't', 'm']),
      () => testDb.transaction((tx) => tx.agents.create(agent('leaked-by-transaction'))),
      () => testDb.startTransaction(),
      () => testDb.kysely.insertInto('agents').values(agent('leaked-by-kysely')).execute(),
      () => testDb.withConnection((conn) => conn.agents.create(agent('leaked-by-connection'))),
      () => testDb.batch('INSERT INTO agents (name, type, model) VALUES ($1, $2, $3)', [['leaked-by-batch', 't', 'm']]),
      () => new AgentService(testDb).register('leaked-by-service'),
      () => testDb.agents.count(),
    ]
    for (const attempt of attempts) await expect(attempt()).rejects.toBeInstanceOf(MisuseError)
    // The same service handed the test's Db works, inside the test's transaction.
    await new AgentService(db).register('registered-in-test')
    expect((await db.agents.list()).map((a) => a.name)).toEqual(['registered-in-test'])
  })

  test('nothing of the tests above leaked, and the root Db works again once the fixture ended', async () => {
    expect(await testDb.agents.count()).toBe(0)
    await testDb.agents.create(agent('committed-outside-fixtures'))
    expect(await testDb.agents.getByName('committed-outside-fixtures')).not.toBeNull()
    await testDb.query('DELETE FROM agents')
  })
})

describe('withRollback', () => {
  test('a root-Db query inside fn fails at once with MisuseError and leaks nothing', async () => {
    const error = await withRollback(testDb, async (tx) => {
      await tx.agents.create(agent('inside-with-rollback'))
      return testDb.agents.create(agent('leaked-from-with-rollback'))
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MisuseError)
    // On PGlite the same call would also deadlock on the one connection: that is what it says.
    expect(error).toMatchObject({ code: backend === 'pglite' ? 'SELF_DEADLOCK' : 'MISUSE' })
    expect(await testDb.agents.count()).toBe(0)
  })

  test('work that fn starts in a later tick (setImmediate) is refused too', async () => {
    let late: Promise<unknown> | undefined
    await withRollback(testDb, async (tx) => {
      await tx.agents.create(agent('inside'))
      late = new Promise((resolve) => setImmediate(resolve)).then(() => testDb.agents.count())
      await late.catch(() => undefined)
    })
    await expect(late).rejects.toBeInstanceOf(MisuseError)
  })
})

describe('rollbackEach', () => {
  test('between begin() and end() the root Db refuses queries; after end() it works', async () => {
    const each = rollbackEach(testDb)
    const db = await each.begin()
    await db.agents.create(agent('in-rollback-each'))
    const error = await testDb.agents.create(agent('leaked-from-rollback-each')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MisuseError)
    expect(error).toMatchObject({ code: 'MISUSE' })
    await each.end()
    expect(await testDb.agents.count()).toBe(0)

    // A second round behaves the same.
    const again = await each.begin()
    await expect(testDb.query('SELECT 1')).rejects.toBeInstanceOf(MisuseError)
    expect(await again.agents.count()).toBe(0)
    await each.end()
    expect(await testDb.query<{ n: number }>('SELECT 1 AS n')).toEqual([{ n: 1 }])
  })
})

describe('outside fixtures nothing changes', () => {
  const removeAgent = (name: string) => testDb.query('DELETE FROM agents WHERE name = $1', [name])

  test('root-Db queries, transactions and pinned connections work', async () => {
    await testDb.transaction((tx) => tx.agents.create(agent('plain-transaction')))
    await testDb.withConnection((conn) => conn.query('SELECT 1'))
    expect(await testDb.agents.getByName('plain-transaction')).not.toBeNull()
    await removeAgent('plain-transaction')
  })

  test.runIf(backend === 'postgres')('on a server, a root-Db query inside an ordinary db.transaction still runs (on its own connection)', async () => {
    const seen = await testDb.transaction(async (tx) => {
      await tx.agents.create(agent('uncommitted'))
      return testDb.agents.getByName('uncommitted') // another connection: the row is not visible yet
    })
    expect(seen).toBeNull()
    expect(await testDb.agents.getByName('uncommitted')).not.toBeNull()
    await removeAgent('uncommitted')
  })
})
