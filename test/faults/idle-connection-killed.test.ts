import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Db } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'
import { recordingLogger } from './support/logger.js'
import { Admin, databaseOf } from './support/server.js'
import { waitFor } from './support/wait.js'

// Issue 5, item 1: the server kills every idle pooled connection (pg_terminate_backend, as a DBA
// or a failover would). Without an 'error' listener on the pool this crashes the process.
describe.skipIf(backend !== 'postgres')('idle pooled connections killed by the server', () => {
  const logger = recordingLogger()
  let db: Db
  let admin: Admin
  let database: string

  beforeAll(async () => {
    db = await openTestDb({ poolSize: 4, logger, applicationName: 'amdb-faults-idle' })
    admin = await Admin.connect()
    database = await databaseOf(db)
  })
  afterAll(async () => {
    await admin?.close()
    await db?.close()
  })

  test('the process survives, the pool drops the dead connections, and the next query succeeds', async () => {
    await db.agents.create({ name: 'survivor', type: 'chat', model: 'm' })
    // Fill the pool: four connections, all idle afterwards.
    await Promise.all(Array.from({ length: 4 }, () => db.query('SELECT pg_sleep(0.1)')))
    expect(db.poolStats).toMatchObject({ total: 4, idle: 4 })

    const idle = await admin.backends(database, { state: 'idle' })
    expect(idle).toHaveLength(4)
    await admin.terminate(idle)

    // pg reports each loss as an 'error' event; the Db logs it instead of crashing.
    await waitFor('the pool to drop its dead connections', () => db.poolStats.total === 0)
    const lost = logger.matching('idle connection lost')
    expect(lost).toHaveLength(4)
    expect(lost[0]!.obj).toMatchObject({ err: { code: '57P01' } })

    // Work goes on, on fresh connections; nothing committed before was lost.
    expect((await db.agents.getByName('survivor'))?.type).toBe('chat')
    await db.agents.create({ name: 'after-kill', type: 'chat', model: 'm' })
    expect(await db.agents.count()).toBe(2)
  })
})
