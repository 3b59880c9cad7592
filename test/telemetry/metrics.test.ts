import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { DataPoint, Histogram } from '@opentelemetry/sdk-metrics'
import type { Db } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'
import { points, registerMetrics } from './support.js'

// Issue 11 §3: db.client.operation.duration and db.client.connection.count, on PGlite and on the
// server (`npx vitest run test/telemetry/metrics.test.ts [--mode pg]`). The Db is opened before the
// meter provider is registered: a provider registered later is picked up at the next statement.

let db: Db
let metrics: ReturnType<typeof registerMetrics>

beforeAll(async () => {
  db = await openTestDb()
  metrics = registerMetrics()
})
afterAll(() => db?.close())

const histogramPoints = async () => points(await metrics.collect(), 'db.client.operation.duration') as DataPoint<Histogram>[]
const find = (all: DataPoint<Histogram>[], attrs: Record<string, unknown>) =>
  all.filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))

describe('db.client.operation.duration', () => {
  test('one value per statement, in seconds, by operation and collection', async () => {
    const before = find(await histogramPoints(), { 'db.operation.name': 'SELECT', 'db.collection.name': 'agents' })[0]?.value.count ?? 0
    for (let i = 0; i < 5; i++) await db.agents.list()
    const all = await metrics.collect()
    const metric = all.find((m) => m.descriptor.name === 'db.client.operation.duration')!
    expect(metric.descriptor.unit).toBe('s')
    const [point] = find(points(all, 'db.client.operation.duration') as DataPoint<Histogram>[], {
      'db.operation.name': 'SELECT',
      'db.collection.name': 'agents',
    })
    expect(point).toBeDefined()
    expect(point!.value.count - before).toBe(5)
    expect(point!.value.sum).toBeGreaterThan(0)
    expect(point!.value.sum).toBeLessThan(5 * 30) // seconds, not milliseconds
    expect(point!.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.query.summary': 'SELECT agents' })
    expect(point!.attributes).not.toHaveProperty('db.query.text') // high cardinality: spans only
    expect(point!.value.buckets.boundaries).toEqual([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10])
    if (backend === 'postgres') expect(point!.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': 5432 })
    else expect(point!.attributes['db.namespace']).toBe('pglite')
  })

  test('failures are recorded with error.type', async () => {
    await expect(db.query('SELECT 1/0 AS boom')).rejects.toThrow()
    const [point] = find(await histogramPoints(), { 'error.type': '22012' })
    expect(point?.value.count).toBe(1)
    expect(point!.attributes['db.response.status_code']).toBe('22012')
  })

  test('statements inside transactions and batches are recorded', async () => {
    await db.transaction((tx) => tx.users.list())
    await db.batch('SELECT $1::int', [[1], [2]])
    const all = await histogramPoints()
    expect(find(all, { 'db.collection.name': 'users' }).length).toBeGreaterThan(0)
    expect(find(all, { 'db.query.summary': 'SELECT' }).reduce((n, p) => n + p.value.count, 0)).toBeGreaterThanOrEqual(2)
  })
})

describe('db.client.connection.count', () => {
  const counts = async () => {
    const all = points(await metrics.collect(), 'db.client.connection.count')
    const of = (state: string) => all.find((p) => p.attributes['db.client.connection.state'] === state)?.value as number | undefined
    return { idle: of('idle'), used: of('used'), pool: all[0]?.attributes['db.client.connection.pool.name'] }
  }

  test('idle and used connections of the pool', async () => {
    await db.agents.list()
    const { idle, used, pool } = await counts()
    expect(used).toBe(0)
    expect(idle).toBe(db.poolStats.idle)
    expect(idle).toBeGreaterThanOrEqual(1)
    expect(pool).toBe(backend === 'postgres' ? `127.0.0.1:5432/${new URL(db.toJSON().target).pathname.slice(1)}` : 'pglite')
  })

  test('a connection held by a transaction counts as used', async () => {
    await db.transaction(async (tx) => {
      await tx.query('SELECT 1')
      const { used } = await counts()
      expect(used).toBe(1)
    })
  })
})
