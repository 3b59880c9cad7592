import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { Db } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'
import { parentOf, registerTracing } from './support.js'

// Issue 11 §3: spans after the stable database conventions, on PGlite and on the server
// (`npx vitest run test/telemetry/tracing.test.ts [--mode pg]`).

const { exporter } = registerTracing()
let db: Db
let namespace: string

beforeAll(async () => {
  db = await openTestDb()
  namespace = backend === 'postgres' ? new URL(db.toJSON().target).pathname.slice(1) : 'pglite'
})
afterAll(() => db?.close())
beforeEach(() => exporter.reset())

const spans = () => exporter.getFinishedSpans()
const named = (name: string) => spans().filter((s) => s.name === name)
const one = (name: string): ReadableSpan => {
  const found = named(name)
  expect(found, `spans named ${name} among ${spans().map((s) => s.name).join(', ')}`).toHaveLength(1)
  return found[0]!
}
const id = (span: ReadableSpan) => span.spanContext().spanId

describe('statement spans', () => {
  test('a repository call: CLIENT span `SELECT agents` with the database attributes, parameterised SQL only', async () => {
    const agent = await db.agents.create({ name: 'traced-agent', type: 'simple', model: 'gpt-4' })
    exporter.reset()
    await db.agents.get(agent.id)
    const span = one('SELECT agents')
    expect(span.kind).toBe(SpanKind.CLIENT)
    expect(span.instrumentationScope.name).toBe('automagik-db')
    expect(span.attributes).toMatchObject({
      'db.system.name': 'postgresql',
      'db.operation.name': 'SELECT',
      'db.collection.name': 'agents',
      'db.query.summary': 'SELECT agents',
      'db.namespace': namespace,
    })
    expect(span.attributes['db.query.text']).toMatch(/from "agents" where "id" = \$1/)
    expect(span.status.code).toBe(SpanStatusCode.UNSET)
    if (backend === 'postgres') {
      expect(span.attributes['server.address']).toBe('127.0.0.1')
      expect(span.attributes['server.port']).toBe(5432)
    } else {
      expect(span.attributes).not.toHaveProperty('server.address')
      expect(span.attributes).not.toHaveProperty('server.port')
    }
  })

  test('create: `INSERT agents`; parameter values appear nowhere', async () => {
    await db.agents.create({ name: 'value-that-must-not-leak', type: 'simple', model: 'gpt-4' })
    const span = one('INSERT agents')
    expect(span.attributes['db.operation.name']).toBe('INSERT')
    expect(JSON.stringify(span.attributes)).not.toContain('value-that-must-not-leak')
  })

  test('db.query: its SQL text as written, never the parameters', async () => {
    await db.query('SELECT count(*)::int AS n FROM agents WHERE name = $1', ['secret-name-param'])
    const span = one('SELECT agents')
    expect(span.attributes['db.query.text']).toBe('SELECT count(*)::int AS n FROM agents WHERE name = $1')
    expect(JSON.stringify(span.attributes)).not.toContain('secret-name-param')
  })

  test('a query on the root Kysely', async () => {
    await db.kysely.selectFrom('users').select('id').execute()
    expect(one('SELECT users').attributes['db.collection.name']).toBe('users')
  })

  test('a join names no single collection; the summary lists the tables', async () => {
    await db.kysely.selectFrom('sessions').innerJoin('agents', 'agents.id', 'sessions.agent_id').select('sessions.id').execute()
    const span = one('SELECT sessions agents')
    expect(span.attributes['db.operation.name']).toBe('SELECT')
    expect(span.attributes).not.toHaveProperty('db.collection.name')
  })

  test('a statement inside an application span is its child', async () => {
    const tracer = trace.getTracer('app')
    await tracer.startActiveSpan('handler', async (handler) => {
      await db.agents.list()
      handler.end()
    })
    expect(parentOf(one('SELECT agents'))).toBe(id(one('handler')))
  })

  test('a failure: status ERROR, error.type and db.response.status_code are the SQLSTATE; no parameter in the message', async () => {
    await expect(db.query('SELECT $1::int', ['not-a-number-xyz'])).rejects.toThrow()
    const span = one('SELECT')
    expect(span.status.code).toBe(SpanStatusCode.ERROR)
    expect(span.attributes['error.type']).toBe('22P02')
    expect(span.attributes['db.response.status_code']).toBe('22P02')
    expect(span.status.message).toContain('invalid input syntax')
    expect(span.status.message).not.toContain('not-a-number-xyz')
  })

  test('a foreign-key violation through a repository', async () => {
    await expect(db.sessions.create({ userId: 999_999, platform: 'web' })).rejects.toThrow()
    const failed = spans().filter((s) => s.status.code === SpanStatusCode.ERROR)
    expect(failed).toHaveLength(1)
    expect(failed[0]!.name).toBe('INSERT sessions')
    expect(failed[0]!.attributes).toMatchObject({ 'error.type': '23503', 'db.response.status_code': '23503' })
  })
})

describe('transactions', () => {
  test('one `transaction` span; statements inside are its children', async () => {
    await db.transaction(async (tx) => {
      await tx.agents.list()
      await tx.query('SELECT 1')
    })
    const transaction = one('transaction')
    expect(transaction.kind).toBe(SpanKind.CLIENT)
    expect(transaction.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.namespace': namespace })
    expect(transaction.status.code).toBe(SpanStatusCode.UNSET)
    expect(parentOf(one('SELECT agents'))).toBe(id(transaction))
    expect(parentOf(one('SELECT'))).toBe(id(transaction))
  })

  test('a savepoint is a child of the transaction; its statements are its children', async () => {
    await db.transaction(async (tx) => {
      await tx.transaction(async (inner) => inner.query('SELECT 2'))
      await tx.query('SELECT 1')
    })
    const transaction = one('transaction')
    const savepoint = one('savepoint')
    expect(parentOf(savepoint)).toBe(id(transaction))
    const [first, second] = named('SELECT').sort((a, b) => String(a.attributes['db.query.text']).localeCompare(String(b.attributes['db.query.text'])))
    expect(parentOf(second!)).toBe(id(savepoint)) // SELECT 2
    expect(parentOf(first!)).toBe(id(transaction)) // SELECT 1
  })

  test('a callback that throws: the transaction span fails with its error', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query('SELECT 1')
        throw new TypeError('callback failed')
      }),
    ).rejects.toThrow('callback failed')
    const transaction = one('transaction')
    expect(transaction.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'callback failed' })
    expect(transaction.attributes['error.type']).toBe('TypeError')
  })

  test('startTransaction: statements through the handle are children even from outside any callback', async () => {
    const handle = await db.startTransaction()
    await handle.db.agents.list()
    await handle.rollback()
    expect(parentOf(one('SELECT agents'))).toBe(id(one('transaction')))
    expect(one('transaction').status.code).toBe(SpanStatusCode.UNSET)
  })

  test('batch: a `BATCH INSERT …` span with its size; one child per row', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS telemetry_audit (id serial PRIMARY KEY, note text)')
    exporter.reset()
    await db.batch('INSERT INTO telemetry_audit (note) VALUES ($1)', [['a'], ['b'], ['c']])
    const batch = one('BATCH INSERT telemetry_audit')
    expect(batch.attributes).toMatchObject({
      'db.operation.name': 'BATCH INSERT',
      'db.operation.batch.size': 3,
      'db.collection.name': 'telemetry_audit',
      'db.query.text': 'INSERT INTO telemetry_audit (note) VALUES ($1)',
    })
    const rows = named('INSERT telemetry_audit')
    expect(rows).toHaveLength(3)
    for (const row of rows) expect(parentOf(row)).toBe(id(batch))
  })
})

describe('the telemetry option', () => {
  test('telemetry: false makes no spans', async () => {
    const quiet = await openTestDb({ telemetry: false })
    try {
      exporter.reset()
      await quiet.agents.list()
      await quiet.transaction((tx) => tx.query('SELECT 1'))
      expect(spans()).toEqual([])
    } finally {
      await quiet.close()
    }
  })

  test('a tracer provider given in the option is used instead of the global one', async () => {
    const own = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(own)] })
    const other = await openTestDb({ telemetry: { tracerProvider: provider } })
    try {
      exporter.reset()
      await other.users.list()
      expect(own.getFinishedSpans().map((s) => s.name)).toContain('SELECT users')
      expect(spans()).toEqual([])
    } finally {
      await other.close()
    }
  })

  test('no tracer provider registered: no spans; one registered after connect: spans from then on', async () => {
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    trace.disable()
    try {
      await db.agents.list()
      await db.transaction((tx) => tx.agents.list())
      expect(spans()).toEqual([])
    } finally {
      trace.setGlobalTracerProvider(provider)
    }
    await db.agents.list()
    expect(named('SELECT agents')).toHaveLength(1)
  })

  test('a malformed option is a ValidationError', async () => {
    await expect(Db.connect({ embedded: true, telemetry: { tracerProvider: {} as never } })).rejects.toThrow(/telemetry.tracerProvider/)
  })
})
