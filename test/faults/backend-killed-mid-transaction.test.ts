import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ConnectionError, type Db } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'
import { recordingLogger } from './support/logger.js'
import { Admin, backendPid, databaseOf } from './support/server.js'
import { failure, waitFor } from './support/wait.js'

// Issue 5, item 2: the backend serving a transaction is killed (pg_terminate_backend → 57P01)
// while the callback awaits something else, and while a query runs. The caller must get a
// ConnectionError carrying 57P01 (not the ROLLBACK's failure), nothing may be committed, and the
// pool must discard the dead connection and keep working.
describe.skipIf(backend !== 'postgres')('backend killed in the middle of a transaction', () => {
  const logger = recordingLogger()
  let db: Db
  let admin: Admin
  let database: string

  beforeAll(async () => {
    db = await openTestDb({ poolSize: 2, logger, applicationName: 'amdb-faults-midtx' })
    admin = await Admin.connect()
    database = await databaseOf(db)
  })
  afterAll(async () => {
    await admin?.close()
    await db?.close()
  })

  /** Kills the backend of `tx` and waits until the client has seen its connection die. */
  async function killAndWait(tx: Db): Promise<void> {
    const before = logger.matching('connection lost').length
    await admin.terminate([await backendPid(tx)])
    await waitFor('the client to see its connection die', () => logger.matching('connection lost').length > before)
  }

  test('while the callback awaits, then queries again: ConnectionError 57P01, nothing committed', async () => {
    const { error } = await failure(() =>
      db.transaction(async (tx) => {
        await tx.agents.create({ name: 'doomed-await', type: 't', model: 'm' })
        await killAndWait(tx) // e.g. the callback awaited an HTTP call for a long time
        await tx.agents.create({ name: 'doomed-await-2', type: 't', model: 'm' })
      }),
    )
    expect(error).toBeInstanceOf(ConnectionError)
    // The second insert never reached the server: the connection was known dead before it.
    expect(error).toMatchObject({ code: '57P01', statementSent: false })
    expect(await db.agents.getByName('doomed-await')).toBeNull()
    expect(await db.agents.getByName('doomed-await-2')).toBeNull()
  })

  test('while the callback awaits, then returns (COMMIT on a dead connection): ConnectionError 57P01, nothing committed', async () => {
    const { error } = await failure(() =>
      db.transaction(async (tx) => {
        await tx.agents.create({ name: 'doomed-commit', type: 't', model: 'm' })
        await killAndWait(tx)
      }),
    )
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error).toMatchObject({ code: '57P01' })
    expect(await db.agents.getByName('doomed-commit')).toBeNull()
  })

  test('in the middle of a query (pg_sleep): ConnectionError 57P01 at once, nothing committed', async () => {
    const running = failure(() =>
      db.transaction(async (tx) => {
        await tx.agents.create({ name: 'doomed-query', type: 't', model: 'm' })
        await tx.query('SELECT pg_sleep(60)')
      }),
    )
    const pid = await admin.waitForBackend(database, { waitEvent: 'PgSleep' })
    await admin.terminate([pid])
    const { error, ms } = await running
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error).toMatchObject({ code: '57P01', outcomeUnknown: false, statementSent: true })
    expect(ms).toBeLessThan(10_000)
    expect(await db.agents.getByName('doomed-query')).toBeNull()
  })

  test('in a savepoint (nested transaction): the outer transaction fails with 57P01 too, nothing committed', async () => {
    const { error } = await failure(() =>
      db.transaction(async (tx) => {
        await tx.agents.create({ name: 'doomed-outer', type: 't', model: 'm' })
        await tx.transaction(async (inner) => {
          await inner.agents.create({ name: 'doomed-inner', type: 't', model: 'm' })
          await killAndWait(inner)
          await inner.agents.count()
        })
      }),
    )
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error).toMatchObject({ code: '57P01' })
    expect(await db.agents.getByName('doomed-outer')).toBeNull()
    expect(await db.agents.getByName('doomed-inner')).toBeNull()
  })

  test('a single query outside a transaction: ConnectionError 57P01', async () => {
    const running = failure(() => db.query('SELECT pg_sleep(60)'))
    const pid = await admin.waitForBackend(database, { waitEvent: 'PgSleep' })
    await admin.terminate([pid])
    const { error } = await running
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error).toMatchObject({ code: '57P01' })
  })

  test('the pool recovers: dead connections were discarded, none leaked, work goes on at full width', async () => {
    // Five kills above on a pool of two: had a dead or a stuck connection been kept, this would
    // hang or fail.
    await waitFor('the pool to settle', () => db.poolStats.total === db.poolStats.idle)
    expect(db.poolStats.total).toBeLessThanOrEqual(2)
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        db.transaction(async (tx) => (await tx.agents.create({ name: `after-${i}`, type: 't', model: 'm' })).name),
      ),
    )
    expect(results).toHaveLength(10)
    expect(await db.agents.count()).toBe(10)
    expect(db.poolStats.waiting).toBe(0)
  })
})
