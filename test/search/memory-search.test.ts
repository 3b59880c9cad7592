import { describe, expect } from 'vitest'
import type { Db } from '../../src/index.js'
import { expectValidation, unique, useTestDb } from '../conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { test, log } = ctx

async function seed(db: Db) {
  const agent = await db.agents.create({ name: unique('msearch-agent'), type: 't', model: 'm' })
  const user = await db.users.create({ email: `${unique('ms')}@example.com` })
  const session = await db.sessions.create({ userId: user.id, agentId: agent.id })
  const color = await db.memories.create({ name: 'favorite_color', content: 'The user likes blue', agentId: agent.id, userId: user.id })
  const shipping = await db.memories.create({
    name: 'shipping', description: 'policy', content: 'Our shipping policy: free over 50 euros', agentId: agent.id, readMode: 'tool',
  })
  const tone = await db.memories.create({ name: 'tone', content: 'Friendly, mentions shipping rarely', agentId: agent.id, readMode: 'system_prompt' })
  const userOnly = await db.memories.create({ name: 'shipping_address', content: 'Lisbon', userId: user.id, sessionId: session.id })
  return { agent, user, session, color, shipping, tone, userOnly }
}

describe('memories.search: full text', () => {
  test('name (A) outranks description (B) outranks content (C); stemmed', async ({ db }) => {
    const s = await seed(db)
    const hits = await db.memories.search({ text: 'shipped', agentId: s.agent.id })
    expect(hits.map((h) => h.item.name)).toEqual(['shipping', 'tone'])
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score)
    expect((await db.memories.search({ text: 'policy -free', agentId: s.agent.id })).map((h) => h.item.name)).toEqual([])
    expect((await db.memories.search({ text: '"free over"' })).map((h) => h.item.id)).toEqual([s.shipping.id])
  })

  test('scope filters: omitted = any, null = IS NULL, readMode', async ({ db }) => {
    const s = await seed(db)
    const names = async (f: object) => (await db.memories.search({ text: 'shipping', ...f })).map((h) => h.item.name).sort()
    expect(await names({ userId: s.user.id })).toEqual(['shipping_address'])
    expect(await names({ agentId: s.agent.id, userId: null })).toEqual(['shipping', 'tone'])
    expect(await names({ agentId: null, userId: s.user.id })).toEqual(['shipping_address'])
    expect(await names({ agentId: s.agent.id, readMode: 'tool' })).toEqual(['shipping'])
    expect(await names({ agentId: s.agent.id, readMode: null })).toEqual([])
    expect(await names({ sessionId: s.session.id })).toEqual(['shipping_address'])
  })
})

describe('memories.search: fuzzy', () => {
  test('typos find favorite_color by name', async ({ db }) => {
    const s = await seed(db)
    expect(await db.memories.search({ text: 'zebra crossing', mode: 'fuzzy', agentId: s.agent.id })).toEqual([])
    for (const text of ['favourite colr', 'favorit color', 'favorite_color', 'fav color']) {
      const hits = await db.memories.search({ text, mode: 'fuzzy', agentId: s.agent.id })
      expect(hits[0]?.item.id, text).toBe(s.color.id)
      expect(hits[0]!.score).toBeGreaterThan(0.3)
      expect(hits[0]!.score).toBeLessThanOrEqual(1)
    }
    const exact = await db.memories.search({ text: 'favorite_color', mode: 'fuzzy' })
    expect(exact[0]!.score).toBe(1)
  })

  test('typos in a word of the content (word similarity)', async ({ db }) => {
    const s = await seed(db)
    const hits = await db.memories.search({ text: 'shiping', mode: 'fuzzy', agentId: s.agent.id })
    // both have the word "shipping" in their content: the same word similarity, a tie broken by id
    expect(hits.map((h) => h.item.name).sort()).toEqual(['shipping', 'tone'])
    expect(hits[0]!.score).toBe(hits[1]!.score)
    expect(hits[0]!.score).toBeGreaterThanOrEqual(0.6)
    expect(hits[0]!.item.id < hits[1]!.item.id).toBe(true)
    const named = await db.memories.search({ text: 'shiping polcy', mode: 'fuzzy', agentId: s.agent.id })
    expect(named[0]!.item.name).toBe('shipping')
    expect((await db.memories.search({ text: 'lisbn', mode: 'fuzzy', userId: s.user.id })).map((h) => h.item.id)).toEqual([s.userOnly.id])
  })

  test('fuzzy pages with a cursor; fulltext cursors are not fuzzy cursors', async ({ db }) => {
    const s = await seed(db)
    const all = await db.memories.search({ text: 'shiping', mode: 'fuzzy' })
    expect(all.length).toBe(3)
    const p1 = await db.memories.search({ text: 'shiping', mode: 'fuzzy', limit: 2 })
    const p2 = await db.memories.search({ text: 'shiping', mode: 'fuzzy', limit: 2, cursor: p1.nextCursor })
    expect(p2.nextCursor).toBeNull()
    expect([...p1, ...p2].map((h) => h.item.id)).toEqual(all.map((h) => h.item.id))
    await expectValidation(db.memories.search({ text: 'shiping', limit: 2, cursor: p1.nextCursor }), 'cursor')
    const messages = await db.messages.search({ text: 'x' })
    expect(messages).toEqual([])
    void s
  })

  test('bad input is a ValidationError naming the field, before any SQL', async ({ db }) => {
    log.clear()
    const cases: [object, string][] = [
      [{ text: '', mode: 'fuzzy' }, 'text'],
      [{ mode: 'fuzzy' }, 'text'],
      [{ text: 'a', vector: [1], model: 'm', mode: 'fuzzy' }, 'vector'],
      [{ text: 'a', mode: 'semantic' }, 'mode'],
      [{ text: 'a', role: 'user' }, 'role'],
      [{ text: 'a', readMode: 'always' }, 'readMode'],
      [{ text: 'a', agentId: 'x' }, 'agentId'],
      [{ text: 'a', limit: 1.5 }, 'limit'],
      [{ text: 'a', cursor: 12 }, 'cursor'],
    ]
    for (const [options, field] of cases) await expectValidation(db.memories.search(options as never), field)
    expect(log.queries).toEqual([])
  })
})
