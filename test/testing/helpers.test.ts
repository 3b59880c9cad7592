/** withRollback, rollbackEach and createTestDb: the framework-agnostic building blocks. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { ConnectionError, Db, MisuseError, TransactionClosedError, ValidationError } from '../../src/index.js'
import { createTestDb, rollbackEach, withRollback } from '../../src/testing/index.js'
import { backend, openTestDb, serverUrl } from '../support/test-db.js'

let testDb: Db
beforeAll(async () => {
  testDb = await openTestDb()
})
afterAll(() => testDb?.close())

describe('withRollback', () => {
  test('returns what fn returns; its writes are visible inside and gone after', async () => {
    const id = await withRollback(testDb, async (tx) => {
      expect(tx.isTransaction).toBe(true)
      const user = await tx.users.create({ email: 'wr@example.com' })
      expect((await tx.users.getByEmail('wr@example.com'))?.id).toBe(user.id)
      return user.id
    })
    expect(typeof id).toBe('number')
    expect(await testDb.users.get(id)).toBeNull()
  })

  test('rethrows what fn throws, and still rolls back', async () => {
    const failure = new Error('test failed')
    await expect(
      withRollback(testDb, async (tx) => {
        await tx.users.create({ email: 'wr-throw@example.com' })
        throw failure
      }),
    ).rejects.toBe(failure)
    expect(await testDb.users.getByEmail('wr-throw@example.com')).toBeNull()
  })

  test('code under test that opens a transaction gets a savepoint', async () => {
    await withRollback(testDb, async (tx) => {
      await tx.transaction((inner) => inner.users.create({ email: 'kept@example.com' }))
      await tx
        .transaction(async (inner) => {
          await inner.users.create({ email: 'undone@example.com' })
          throw new Error('inner')
        })
        .catch(() => undefined)
      expect((await tx.users.list()).map((u) => u.email)).toEqual(['kept@example.com'])
    })
    expect(await testDb.users.count()).toBe(0)
  })

  test('its Db fails with TransactionClosedError once it returned', async () => {
    const tx = await withRollback(testDb, async (t) => t)
    await expect(tx.users.list()).rejects.toBeInstanceOf(TransactionClosedError)
  })

  test.runIf(backend === 'pglite')('on PGlite, a query on the root Db inside fails fast with SELF_DEADLOCK', async () => {
    const started = Date.now()
    const err = await withRollback(testDb, () => testDb.users.list()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MisuseError)
    expect(err).toMatchObject({ code: 'SELF_DEADLOCK' })
    expect(Date.now() - started).toBeLessThan(3_000)
    expect(await testDb.users.count()).toBe(0) // and the Db is usable again
  })
})

describe('rollbackEach', () => {
  test('begin() opens a transaction, end() rolls it back; it can be used again', async () => {
    const each = rollbackEach(testDb)
    const first = await each.begin()
    await first.users.create({ email: 're-1@example.com' })
    await each.end()
    expect(await testDb.users.count()).toBe(0)
    await expect(first.users.list()).rejects.toBeInstanceOf(TransactionClosedError)

    const second = await each.begin()
    expect(await second.users.count()).toBe(0)
    await each.end()
  })

  test('begin() twice without end() is refused; end() without begin() is a no-op', async () => {
    const each = rollbackEach(testDb)
    await expect(each.end()).resolves.toBeUndefined()
    await each.begin()
    await expect(each.begin()).rejects.toMatchObject({ code: 'MISUSE' })
    await each.end()
    await expect(each.end()).resolves.toBeUndefined()
  })

  describe('in beforeEach / afterEach', () => {
    let each: ReturnType<typeof rollbackEach>
    let db: Db
    beforeEach(async () => {
      each ??= rollbackEach(testDb) // testDb is set in beforeAll
      db = await each.begin()
    })
    afterEach(() => each.end())

    test('a test writes', async () => {
      await db.users.create({ email: 'hooked@example.com' })
      expect(await db.users.count()).toBe(1)
    })

    test('the next test starts clean', async () => {
      expect(await db.users.count()).toBe(0)
    })
  })
})

describe('createTestDb', () => {
  test(`gives a migrated Db on this run's backend (${backend})`, async () => {
    expect(testDb.backend).toBe(backend)
    const status = await testDb.migrationStatus()
    expect(status.length).toBeGreaterThan(0)
    expect(status.every((m) => m.executedAt instanceof Date)).toBe(true)
  })

  test.runIf(backend === 'postgres')('on a server: a fresh database named by prefix, dropped on close', async () => {
    const db = await createTestDb({ url: serverUrl, prefix: 'amdb_ct' })
    const [{ name }] = (await db.query<{ name: string }>('SELECT current_database() AS name')) as [{ name: string }]
    expect(name).toMatch(/^amdb_ct_\d+_[0-9a-f]{8}$/)
    expect(await db.users.count()).toBe(0)
    await db.close()

    await using admin = await Db.connect({ url: serverUrl })
    expect(await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).toEqual([])
  })

  test.runIf(backend === 'postgres')('a prefix that is not a plain identifier is refused before anything is created', async () => {
    await expect(createTestDb({ url: serverUrl, prefix: 'x; DROP DATABASE postgres' })).rejects.toBeInstanceOf(ValidationError)
    await expect(createTestDb({ url: serverUrl, prefix: 'Upper' })).rejects.toBeInstanceOf(ValidationError)
  })

  test('an unreachable server fails with ConnectionError', async () => {
    await expect(createTestDb({ url: 'postgres://postgres@127.0.0.1:1/postgres' })).rejects.toBeInstanceOf(ConnectionError)
  })
})
