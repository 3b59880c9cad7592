import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { MetricData } from '@opentelemetry/sdk-metrics'
import { Db } from '../../src/index.js'
import { createTestDb } from '../../src/testing/index.js'
import { backend, serverUrl } from '../support/test-db.js'
import { registerMetrics, registerTracing, spanStrings } from './support.js'

// Issue 11 §3: no span or metric attribute, name or status message carries the password of the
// URL (server; trust auth accepts any password) or the dataDir path (PGlite).
// `npx vitest run test/telemetry/no-secrets.test.ts [--mode pg]`.

const PASSWORD = 's3cret-pw'
const { exporter } = registerTracing()
const metrics = registerMetrics()

/** Every string of every finished span and of every metric data point's attributes. */
async function everything(): Promise<string[]> {
  const metricStrings = (all: MetricData[]) =>
    all.flatMap((m) => [m.descriptor.name, ...m.dataPoints.flatMap((p) => Object.values(p.attributes).map(String))])
  return [...exporter.getFinishedSpans().flatMap(spanStrings), ...metricStrings(await metrics.collect())]
}

/** Repository calls, raw SQL, Kysely, a transaction with a savepoint, a batch, and failures. */
async function workload(db: Db, secret: string): Promise<void> {
  const agent = await db.agents.create({ name: 'no-secrets', type: 'simple', model: 'gpt-4' })
  await db.agents.get(agent.id)
  await db.kysely.selectFrom('agents').select('id').execute()
  await db.transaction(async (tx) => {
    await tx.users.create({ email: 'no-secrets@example.com' })
    await tx.transaction((inner) => inner.query('SELECT 1'))
  })
  await db.batch('SELECT $1::text', [[secret], [secret]])
  // The secret as a parameter whose value PostgreSQL quotes in its error message…
  await expect(db.query('SELECT $1::int', [secret])).rejects.toThrow()
  // …and written into the SQL text itself.
  await expect(db.query(`SELECT '${secret}'::int`)).rejects.toThrow()
  await expect(db.transaction(async (tx) => tx.query(`SELECT '${secret}'::int`))).rejects.toThrow()
}

describe.runIf(backend === 'postgres')('a password in the URL (server)', () => {
  const url = new URL(serverUrl)
  url.password = PASSWORD
  let db: Db

  beforeAll(async () => {
    db = await createTestDb({ url: url.toString() })
  })
  afterAll(() => db?.close())

  test('appears in no attribute, name or status message of any span or metric', async () => {
    exporter.reset()
    await workload(db, PASSWORD)
    const strings = await everything()
    expect(exporter.getFinishedSpans().length).toBeGreaterThan(10)
    expect(strings.some((s) => s.includes('127.0.0.1'))).toBe(true) // server.address is there
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD)]) {
      expect(strings.filter((s) => s.includes(secret))).toEqual([])
    }
    expect(strings.filter((s) => s.includes('postgres://'))).toEqual([])
  })

  test('nor in the spans of a connection that fails (no such database)', async () => {
    exporter.reset()
    const bad = new URL(url)
    bad.pathname = '/amdb_no_such_database_for_telemetry'
    await expect(Db.connect({ url: bad.toString() })).rejects.toThrow()
    const failed = exporter.getFinishedSpans()
    expect(failed.length).toBeGreaterThan(0)
    expect(failed[0]!.attributes['error.type']).toBeDefined()
    expect((await everything()).filter((s) => s.includes(PASSWORD))).toEqual([])
  })
})

describe.runIf(backend === 'pglite')('the dataDir path (PGlite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'amdb-telemetry-private-folder-'))
  let db: Db

  beforeAll(async () => {
    db = await Db.connect({ dataDir: join(dir, 'data'), migrate: true })
  })
  afterAll(async () => {
    await db?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('appears in no attribute: db.namespace is `pglite`, and no server.*', async () => {
    exporter.reset()
    await workload(db, 'some-value')
    const spans = exporter.getFinishedSpans()
    expect(spans.length).toBeGreaterThan(10)
    for (const span of spans) {
      expect(span.attributes['db.namespace']).toBe('pglite')
      expect(span.attributes).not.toHaveProperty('server.address')
    }
    expect((await everything()).filter((s) => s.includes(dir) || s.includes('amdb-telemetry-private-folder'))).toEqual([])
  })
})
