import { describe, expect } from 'vitest'
import { FeatureUnavailableError, type Db } from '../../src/index.js'
import { expectValidation, unique, useTestDb } from '../conformance/base-repository.conformance.js'
import { backend } from '../support/test-db.js'

const ctx = useTestDb()
const { test, log } = ctx

async function seed(db: Db) {
  const agent = await db.agents.create({ name: unique('search-agent'), type: 't', model: 'm' })
  const user = await db.users.create({ email: `${unique('s')}@example.com` })
  const other = await db.users.create({ email: `${unique('o')}@example.com` })
  const session = await db.sessions.create({ userId: user.id, agentId: agent.id })
  const session2 = await db.sessions.create({ userId: other.id, agentId: agent.id })
  const [refund, paypal, weather, shipping] = await db.messages.createMany([
    { sessionId: session.id, role: 'user', userId: user.id, agentId: agent.id, textContent: 'I want a refund for my broken kettle' },
    { sessionId: session.id, role: 'assistant', userId: user.id, agentId: agent.id, textContent: 'Refunds through PayPal take five days; a refund to a card takes three' },
    { sessionId: session.id, role: 'user', userId: user.id, agentId: agent.id, textContent: 'What is the weather like in Lisbon?' },
    { sessionId: session2.id, role: 'user', userId: other.id, textContent: 'Shipping to Lisbon was refunded' },
  ])
  return { agent, user, other, session, session2, refund: refund!, paypal: paypal!, weather: weather!, shipping: shipping! }
}

describe('messages.search: full text', () => {
  test('finds stemmed words, ranks best first with float scores', async ({ db }) => {
    const s = await seed(db)
    const hits = await db.messages.search({ text: 'refunds', sessionId: s.session.id })
    expect(hits.map((h) => h.item.id)).toEqual([s.paypal.id, s.refund.id]) // two mentions rank above one
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score)
    for (const h of hits) expect(typeof h.score).toBe('number')
    expect(hits[0]!.item.textContent).toBe(s.paypal.textContent)
    expect(hits.nextCursor).toBeNull()
    expect(Object.keys(hits)).toEqual(['0', '1']) // nextCursor is not enumerable
  })

  test('web-search syntax: "exact phrase", -not, or', async ({ db }) => {
    const s = await seed(db)
    const ids = async (text: string) => (await db.messages.search({ text, userId: s.user.id })).map((h) => h.item.id).sort()
    expect(await ids('refund -paypal')).toEqual([s.refund.id])
    expect(await ids('"broken kettle"')).toEqual([s.refund.id])
    expect(await ids('"kettle broken"')).toEqual([])
    expect(await ids('kettle or lisbon')).toEqual([s.refund.id, s.weather.id].sort())
  })

  test('scope filters: omitted = any, null = IS NULL, values exact', async ({ db }) => {
    const s = await seed(db)
    const ids = async (f: object) => (await db.messages.search({ text: 'lisbon', ...f })).map((h) => h.item.id).sort()
    expect(await ids({ agentId: s.agent.id })).toEqual([s.weather.id])
    expect(await ids({ agentId: null, userId: s.other.id })).toEqual([s.shipping.id])
    expect(await ids({ sessionId: s.session2.id })).toEqual([s.shipping.id])
    expect(await ids({ role: 'assistant', userId: s.user.id })).toEqual([])
    expect(await ids({ role: 'user', userId: s.user.id })).toEqual([s.weather.id])
  })

  test('cursor pages: strictly after the last hit, score DESC then id, no repeats or gaps', async ({ db }) => {
    const s = await seed(db)
    const rows = Array.from({ length: 25 }, (_, i) => ({
      sessionId: s.session.id, role: 'user' as const, textContent: `lamp ${'lamp '.repeat(i % 5)} number ${i}`,
    }))
    await db.messages.createMany(rows)
    const all = await db.messages.search({ text: 'lamp', limit: 1000 })
    expect(all).toHaveLength(25)
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page: Awaited<ReturnType<Db['messages']['search']>> = await db.messages.search({ text: 'lamp', limit: 7, cursor })
      seen.push(...page.map((h) => h.item.id))
      cursor = page.nextCursor
      pages++
    } while (cursor)
    expect(pages).toBe(4)
    expect(seen).toEqual(all.map((h) => h.item.id))
    for (let i = 1; i < all.length; i++) {
      const [a, b] = [all[i - 1]!, all[i]!]
      expect(a.score > b.score || (a.score === b.score && a.item.id < b.item.id)).toBe(true)
    }
    const first = await db.messages.search({ text: 'lamp', limit: 7 })
    // the cursor is bound to the query and filters
    await expectValidation(db.messages.search({ text: 'lamps', limit: 7, cursor: first.nextCursor }), 'cursor')
    await expectValidation(db.messages.search({ text: 'lamp', limit: 7, cursor: first.nextCursor, role: 'user' }), 'cursor')
    await expectValidation(db.memories.search({ text: 'lamp', limit: 7, cursor: first.nextCursor }), 'cursor')
    await expectValidation(db.memories.list({ cursor: first.nextCursor }), 'cursor')
  })

  test('default limit 20, max 1000', async ({ db }) => {
    const s = await seed(db)
    await db.messages.createMany(Array.from({ length: 30 }, () => ({ sessionId: s.session.id, role: 'user' as const, textContent: 'teapot' })))
    const hits = await db.messages.search({ text: 'teapot' })
    expect(hits).toHaveLength(20)
    expect(hits.nextCursor).not.toBeNull()
    await expectValidation(db.messages.search({ text: 'teapot', limit: 1001 }), 'limit')
    await expectValidation(db.messages.search({ text: 'teapot', limit: 0 }), 'limit')
  })

  test('bad input is a ValidationError naming the field, before any SQL', async ({ db }) => {
    const vector = [0.1, 0.2, 0.3]
    const cases: [object, string][] = [
      [{ text: '' }, 'text'],
      [{ text: '   ' }, 'text'],
      [{ text: 3 }, 'text'],
      [{}, 'text'],
      [{ text: 'a', bogus: 1 }, 'bogus'],
      [{ text: 'a', mode: 'fuzzy' }, 'mode'],
      [{ text: 'a', mode: 'nope' }, 'mode'],
      [{ text: 'a', mode: 'vector' }, 'vector'],
      [{ vector, model: 'm', mode: 'fulltext' }, 'text'],
      [{ text: 'a', mode: 'hybrid' }, 'vector'],
      [{ vector }, 'model'],
      [{ vector: [], model: 'm' }, 'vector'],
      [{ vector: [1, NaN], model: 'm' }, 'vector'],
      [{ vector: [1, Infinity], model: 'm' }, 'vector'],
      [{ vector: [0, 0], model: 'm' }, 'vector'],
      [{ vector: ['1'], model: 'm' }, 'vector'],
      [{ vector, model: "bad'name" }, 'model'],
      [{ text: 'a', model: 'm' }, 'model'],
      [{ text: 'a', sessionId: 'nope' }, 'sessionId'],
      [{ text: 'a', userId: 0 }, 'userId'],
      [{ text: 'a', role: 'robot' }, 'role'],
      [{ text: 'a', cursor: 'garbage' }, 'cursor'],
    ]
    log.clear()
    for (const [options, field] of cases) await expectValidation(db.messages.search(options as never), field)
    expect(log.queries).toEqual([])
  })

  test('vector search: unknown model and wrong dimension are ValidationErrors; no pgvector → FeatureUnavailableError', async ({ db }) => {
    const s = await seed(db)
    await db.messages.setEmbedding(s.refund.id, { model: unique('dim3').replace(/[^A-Za-z0-9-]/g, '-'), vector: [1, 0, 0] })
    if (db.features.vector) {
      await expectValidation(db.messages.search({ vector: [1, 0, 0], model: 'never-used-model' }), 'model')
    } else {
      const err = await db.messages.search({ vector: [1, 0, 0], model: 'never-used-model' }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(FeatureUnavailableError)
      expect(err).toMatchObject({ code: 'FEATURE_UNAVAILABLE', extension: 'vector' })
      const hybrid = await db.messages.search({ text: 'refund', vector: [1, 0, 0], model: 'x' }).catch((e: unknown) => e)
      expect(hybrid).toBeInstanceOf(FeatureUnavailableError)
    }
    // this machine: the server has no pgvector, PGlite has it
    expect(db.features.vector).toBe(backend === 'pglite')
  })
})
