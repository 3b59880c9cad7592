import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { Db, DbClosedError, ValidationError } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'
import { Admin, scratchDatabase } from './support/server.js'
import { failure, sleep, waitFor } from './support/wait.js'

// Issue 5, item 11: db.close() lets work in flight finish (up to closeTimeout), then ends —
// always; calls made during and after close fail at once with DbClosedError. Work cut off by
// the timeout is cancelled and rolled back by the server, never half-applied.

describe('calls after close (both backends)', () => {
  test('every kind of call fails with DbClosedError; close is idempotent', async () => {
    const db = await openTestDb()
    await db.agents.create({ name: 'a', type: 't', model: 'm' })
    await db.close()
    for (const call of [
      () => db.agents.list(),
      () => db.agents.create({ name: 'b', type: 't', model: 'm' }),
      () => db.users.get(1),
      () => db.query('SELECT 1'),
      () => db.batch('SELECT $1', [[1]]),
      () => db.transaction(async (tx) => tx.agents.count()),
      () => db.startTransaction(),
      () => db.withConnection((c) => c.query('SELECT 1')),
      () => db.migrationStatus(),
    ]) {
      const { error, ms } = await failure(call)
      expect(error).toBeInstanceOf(DbClosedError)
      expect(error).toMatchObject({ code: 'DB_CLOSED' })
      expect(ms).toBeLessThan(100)
    }
    await db.close()
  })

  test('an invalid closeTimeout is refused before anything is opened', async () => {
    for (const closeTimeout of [-1, Number.NaN, '5000' as never]) {
      const { error } = await failure(() => Db.connect({ embedded: true, closeTimeout }))
      expect(error).toBeInstanceOf(ValidationError)
      expect((error as ValidationError).fields).toEqual(['closeTimeout'])
    }
  })

  test('close() waits for a transaction in flight, which commits', async () => {
    const db = await openTestDb()
    let closed = false
    const tx = db.transaction(async (t) => {
      await t.agents.create({ name: 'first', type: 't', model: 'm' })
      await sleep(300)
      expect(closed).toBe(false)
      await t.agents.create({ name: 'second', type: 't', model: 'm' })
      return t.agents.count()
    })
    await sleep(50)
    const closing = db.close().then(() => (closed = true))
    expect(await tx).toBe(2)
    await closing
    expect(closed).toBe(true)
  })
})

describe.skipIf(backend !== 'postgres')('graceful shutdown on a server', () => {
  let admin: Admin
  let scratch: Awaited<ReturnType<typeof scratchDatabase>>
  let db: Db | undefined

  beforeAll(async () => {
    admin = await Admin.connect()
  })
  afterAll(async () => {
    await admin?.close()
  })
  beforeEach(async () => {
    scratch = await scratchDatabase(admin, 'amdb_faults_close')
    const setup = await Db.connect({ url: scratch.url, migrate: true })
    await setup.agents.create({ name: 'row', type: 't', model: 'm' })
    await setup.close()
  })
  afterEach(async () => {
    await db?.close().catch(() => undefined)
    db = undefined
    await scratch.drop()
  })

  const committed = async (name: string) =>
    (await Admin.connect(scratch.url).then(async (a) => {
      try {
        return await a.query<{ description: string | null }>('SELECT description FROM agents WHERE name = $1', [name])
      } finally {
        await a.close()
      }
    }))[0]

  test('in-flight queries and transactions finish; new calls during close get DbClosedError at once', async () => {
    db = await Db.connect({ url: scratch.url, poolSize: 4, closeTimeout: 5_000 })
    const d = db
    const slow = [d.query<{ v: string }>("SELECT pg_sleep(0.5), 'done' AS v"), d.query<{ v: string }>("SELECT pg_sleep(0.7), 'done' AS v")]
    const tx = d.transaction(async (t) => {
      await t.agents.update(1, { description: 'in flight' })
      await sleep(400)
      await t.agents.create({ name: 'late', type: 't', model: 'm', description: 'committed' })
    })
    await admin.waitForBackend(scratch.name, { waitEvent: 'PgSleep' })

    const started = performance.now()
    const closing = d.close()
    const during = await failure(() => d.agents.count())
    expect(during.error).toBeInstanceOf(DbClosedError)
    expect(during.ms).toBeLessThan(100)

    expect((await Promise.all(slow)).map((r) => r[0]!.v)).toEqual(['done', 'done'])
    await tx
    await closing
    const took = performance.now() - started
    expect(took).toBeGreaterThanOrEqual(350)
    expect(took).toBeLessThan(3_000)
    expect(await committed('row')).toEqual({ description: 'in flight' })
    expect(await committed('late')).toEqual({ description: 'committed' })
    expect(await admin.backends(scratch.name)).toEqual([]) // every connection closed
  })

  test('past closeTimeout a running statement is cancelled and rolled back; the caller gets DbClosedError', async () => {
    db = await Db.connect({ url: scratch.url, poolSize: 2, closeTimeout: 500 })
    const d = db
    const stuck = failure(() =>
      d.query("UPDATE agents SET description = 'too late' WHERE name = 'row' AND pg_sleep(30) IS NOT NULL"),
    )
    await admin.waitForBackend(scratch.name, { waitEvent: 'PgSleep' })
    const started = performance.now()
    await d.close()
    const took = performance.now() - started
    expect(took).toBeGreaterThanOrEqual(450)
    expect(took).toBeLessThan(3_000)
    const { error } = await stuck
    expect(error).toBeInstanceOf(DbClosedError)
    expect((error as Error).message).toMatch(/closeTimeout/)
    await waitFor('the server to end the connections', async () => (await admin.backends(scratch.name)).length === 0)
    expect(await committed('row')).toEqual({ description: null })
  })

  test('past closeTimeout a transaction waiting on its caller is cut off and rolled back; close still ends', async () => {
    db = await Db.connect({ url: scratch.url, poolSize: 2, closeTimeout: 300 })
    const d = db
    let resume!: () => void
    const callerWork = new Promise<void>((r) => (resume = r))
    const tx = failure(() =>
      d.transaction(async (t) => {
        await t.agents.update(1, { description: 'never committed' })
        await callerWork // e.g. an HTTP call that outlives the shutdown
        await t.agents.count()
      }),
    )
    await admin.waitForBackend(scratch.name, { state: 'idle in transaction' })
    const started = performance.now()
    await d.close()
    expect(performance.now() - started).toBeLessThan(3_000)
    resume()
    const { error } = await tx
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).name).toMatch(/DbClosedError|ConnectionError/)
    await waitFor('the server to end the connections', async () => (await admin.backends(scratch.name)).length === 0)
    expect(await committed('row')).toEqual({ description: null })
  })
})
