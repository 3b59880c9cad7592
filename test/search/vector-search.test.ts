import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { FeatureUnavailableError, kyselyContext, type Db } from '../../src/index.js'
import { hnswIndexName } from '../../src/search/model-registry.js'
import { readSearchOptions } from '../../src/search/search-options.js'
import { searchExtensions, searchStatement } from '../../src/search/run-search.js'
import { messageSearchTarget } from '../../src/search/targets.js'
import { expectValidation, unique, useTestDb } from '../conformance/base-repository.conformance.js'
import { backend } from '../support/test-db.js'

const ctx = useTestDb()
const { test } = ctx
const model = (tag: string) => `${tag}-${randomUUID().slice(0, 8)}`

async function seed(db: Db) {
  const agent = await db.agents.create({ name: unique('vec-agent'), type: 't', model: 'm' })
  const user = await db.users.create({ email: `${unique('v')}@example.com` })
  const session = await db.sessions.create({ userId: user.id, agentId: agent.id })
  const [a, b] = [model('vec-a'), model('vec-b')]
  const rows = await db.messages.createMany([
    { sessionId: session.id, role: 'user', textContent: 'tea kettle', embedding: { model: a, vector: [1, 0] } },
    { sessionId: session.id, role: 'assistant', textContent: 'tea tea tea and coffee', embedding: { model: a, vector: [0.8, 0.6] } },
    { sessionId: session.id, role: 'user', textContent: 'coffee beans', embedding: { model: a, vector: [0, 1] } },
    { sessionId: session.id, role: 'user', textContent: 'green tea', embedding: { model: a, vector: [-1, 0] } },
    { sessionId: session.id, role: 'user', textContent: 'tea only in b', embedding: { model: b, vector: [1, 0] } },
  ])
  return { agent, user, session, a, b, m: rows }
}

const pgvector = backend === 'pglite' // this machine: PGlite has pgvector, the PostgreSQL 15 server does not

describe.runIf(pgvector)('vector and hybrid search (pgvector)', () => {
  test('db.features.vector is true', async ({ db }) => {
    expect(db.features.vector).toBe(true)
  })

  test('vector: cosine similarity (1 - distance), best first, one model only', async ({ db }) => {
    const s = await seed(db)
    const hits = await db.messages.search({ vector: [1, 0], model: s.a })
    expect(hits.map((h) => h.item.id)).toEqual([s.m[0]!.id, s.m[1]!.id, s.m[2]!.id, s.m[3]!.id])
    expect(hits.map((h) => h.score).map((x) => Math.round(x * 1e6) / 1e6)).toEqual([1, 0.8, 0, -1])
    const other = await db.messages.search({ vector: [1, 0], model: s.b })
    expect(other.map((h) => h.item.id)).toEqual([s.m[4]!.id])
    const filtered = await db.messages.search({ vector: [1, 0], model: s.a, role: 'assistant', sessionId: s.session.id })
    expect(filtered.map((h) => h.item.id)).toEqual([s.m[1]!.id])
    await expectValidation(db.messages.search({ vector: [1, 0, 0], model: s.a }), 'vector')
    await expectValidation(db.messages.search({ vector: [1, 0], model: 'never-registered' }), 'model')
  })

  test('vector: cursor pages continue strictly after the last hit', async ({ db }) => {
    const s = await seed(db)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page: Awaited<ReturnType<Db['messages']['search']>> = await db.messages.search({ vector: [1, 0], model: s.a, limit: 1, cursor })
      expect(page.length).toBe(1)
      seen.push(page[0]!.item.id)
      cursor = page.nextCursor
    } while (cursor)
    expect(seen).toEqual(s.m.slice(0, 4).map((m) => m.id))
  })

  test('hybrid: reciprocal-rank fusion (k = 60) of the full-text and vector rankings', async ({ db }) => {
    const s = await seed(db)
    const ft = await db.messages.search({ text: 'tea', sessionId: s.session.id, limit: 1000 })
    const vs = await db.messages.search({ vector: [0, 1], model: s.a, sessionId: s.session.id, limit: 1000 })
    const expected = new Map<string, number>()
    ft.forEach((h, i) => expected.set(h.item.id, (expected.get(h.item.id) ?? 0) + 1 / (61 + i)))
    vs.forEach((h, i) => expected.set(h.item.id, (expected.get(h.item.id) ?? 0) + 1 / (61 + i)))
    const order = [...expected].sort(([ia, a], [ib, b]) => b - a || (ia < ib ? -1 : 1))
    const hits = await db.messages.search({ text: 'tea', vector: [0, 1], model: s.a, sessionId: s.session.id })
    expect(hits.map((h) => h.item.id)).toEqual(order.map(([id]) => id))
    hits.forEach((h, i) => expect(h.score).toBeCloseTo(order[i]![1], 12))
    // the message in both rankings, at the top of both, wins: 'tea tea tea and coffee'
    expect(hits[0]!.item.id).toBe(s.m[1]!.id)
    // pages of hybrid continue the same fused ranking
    const first = await db.messages.search({ text: 'tea', vector: [0, 1], model: s.a, sessionId: s.session.id, limit: 2 })
    const rest = await db.messages.search({ text: 'tea', vector: [0, 1], model: s.a, sessionId: s.session.id, limit: 2, cursor: first.nextCursor })
    const last = rest.nextCursor ? await db.messages.search({ text: 'tea', vector: [0, 1], model: s.a, sessionId: s.session.id, limit: 2, cursor: rest.nextCursor }) : []
    expect([...first, ...rest, ...last].map((h) => h.item.id)).toEqual(order.map(([id]) => id))
    expect(hits.length).toBe(5) // 'tea only in b' is on the full-text side only
  })

  test('memories: vector and hybrid', async ({ db }) => {
    const s = await seed(db)
    const m1 = await db.memories.create({ name: 'drink', content: 'likes green tea', agentId: s.agent.id })
    const m2 = await db.memories.create({ name: 'food', content: 'likes pasta', agentId: s.agent.id })
    await db.memories.setEmbedding(m1.id, { model: s.a, vector: [0, 1] })
    await db.memories.setEmbedding(m2.id, { model: s.a, vector: [1, 0.1] })
    const hits = await db.memories.search({ vector: [1, 0], model: s.a, agentId: s.agent.id })
    expect(hits.map((h) => h.item.name)).toEqual(['food', 'drink'])
    const hybrid = await db.memories.search({ text: 'tea', vector: [1, 0], model: s.a, agentId: s.agent.id })
    expect(hybrid.map((h) => h.item.name)).toEqual(['drink', 'food']) // drink: ft rank 1 + vector rank 2
    expect(hybrid[0]!.score).toBeCloseTo(1 / 61 + 1 / 62, 12)
    expect(hybrid[1]!.score).toBeCloseTo(1 / 61, 12)
  })

  test('the vector statement uses the model literal and the partial HNSW index expression', async ({ db }) => {
    const s = await seed(db)
    const context = kyselyContext(db.kysely)
    const request = readSearchOptions(messageSearchTarget, { vector: [1, 0], model: s.a, limit: 5 })
    const ext = await searchExtensions(context, {}, request)
    const { build, args } = searchStatement(db.kysely, messageSearchTarget, request, ext)
    const compiled = build(args).compile()
    await db.query('SET LOCAL enable_seqscan = off')
    const plan = (await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${compiled.sql}`, compiled.parameters as unknown[])).map((r) => r['QUERY PLAN']).join('\n')
    expect(plan).toContain(hnswIndexName('message_embeddings', s.a))
  })
})

describe.runIf(!pgvector)('vector and hybrid search without pgvector (PostgreSQL 15 here)', () => {
  test('db.features.vector is false; vector and hybrid searches throw FeatureUnavailableError; embeddings still store', async ({ db }) => {
    expect(db.features.vector).toBe(false)
    const s = await seed(db)
    const memory = await db.memories.create({ name: 'n', content: 'tea', agentId: s.agent.id })
    await db.memories.setEmbedding(memory.id, { model: s.a, vector: [1, 1] })
    for (const call of [
      () => db.messages.search({ vector: [1, 0], model: s.a }),
      () => db.messages.search({ text: 'tea', vector: [1, 0], model: s.a }),
      () => db.memories.search({ vector: [1, 0], model: s.a }),
      () => db.memories.search({ text: 'tea', vector: [1, 0], model: s.a, mode: 'hybrid' }),
    ]) {
      const err = await call().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(FeatureUnavailableError)
      expect(err).toMatchObject({ code: 'FEATURE_UNAVAILABLE', extension: 'vector' })
    }
    // full text still works
    expect((await db.messages.search({ text: 'kettle', sessionId: s.session.id })).map((h) => h.item.id)).toEqual([s.m[0]!.id])
  })
})
