import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ConnectionError, Db } from '../../src/index.js'
import { backend } from '../support/test-db.js'
import { Cluster, clusterSupported } from './support/cluster.js'
import { recordingLogger } from './support/logger.js'
import { failure } from './support/wait.js'

const CONNECT_TIMEOUT = 1_000

// Issue 5, item 3: the server restarts under a running process (private cluster: the shared
// server is never stopped). While it is down, calls fail fast with ConnectionError — within the
// connect timeout, not after a hang. After it is back, the same Db works without a restart of
// the process, and nothing committed before is lost.
describe.skipIf(backend !== 'postgres' || !clusterSupported())('server restart', () => {
  const logger = recordingLogger()
  let cluster: Cluster
  let db: Db

  beforeAll(async () => {
    cluster = await Cluster.start()
    db = await Db.connect({ url: cluster.url(), poolSize: 3, connectTimeout: CONNECT_TIMEOUT, migrate: true, logger })
  }, 120_000)
  afterAll(async () => {
    await db?.close()
    await cluster?.destroy()
  })

  for (const mode of ['fast', 'immediate'] as const) {
    test(`stop -m ${mode}: fast ConnectionError while down, the same Db works after the restart`, async () => {
      const agent = await db.agents.create({ name: `before-${mode}`, type: 't', model: 'm' })
      await Promise.all(Array.from({ length: 3 }, () => db.query('SELECT 1'))) // idle connections in the pool

      await cluster.stopServer(mode)

      for (const call of [
        () => db.agents.get(agent.id),
        () => db.agents.create({ name: `during-${mode}`, type: 't', model: 'm' }),
        () => db.transaction(async (tx) => tx.agents.count()),
        () => db.query('SELECT 1'),
      ]) {
        const { error, ms } = await failure(call)
        expect(error).toBeInstanceOf(ConnectionError)
        expect(ms).toBeLessThan(CONNECT_TIMEOUT + 500)
      }

      await cluster.startServer()

      expect((await db.agents.get(agent.id))?.name).toBe(`before-${mode}`)
      expect(await db.agents.getByName(`during-${mode}`)).toBeNull()
      await db.transaction(async (tx) => {
        await tx.agents.create({ name: `after-${mode}`, type: 't', model: 'm' })
      })
      expect((await db.agents.getByName(`after-${mode}`))?.name).toBe(`after-${mode}`)
    }, 60_000)
  }

  test('a query running when the server stops fails with ConnectionError, and is not half-applied', async () => {
    const running = failure(() =>
      db.transaction(async (tx) => {
        await tx.agents.create({ name: 'mid-shutdown', type: 't', model: 'm' })
        await tx.query('SELECT pg_sleep(30)')
      }),
    )
    await new Promise((r) => setTimeout(r, 300))
    await cluster.stopServer('fast')
    const { error } = await running
    expect(error).toBeInstanceOf(ConnectionError)
    expect((error as ConnectionError).code).toMatch(/^57P01$|^CONNECTION$/)
    await cluster.startServer()
    expect(await db.agents.getByName('mid-shutdown')).toBeNull()
    expect(await db.agents.count()).toBe(4)
  }, 60_000)
})
