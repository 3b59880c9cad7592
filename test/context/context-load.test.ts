import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { Agent, Memory, Message, Session, User, type Db } from '../../src/index.js'
import { expectValidation, unique, useTestDb } from '../conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { test, log } = ctx

async function world(db: Db) {
  const agent = await db.agents.create({ name: unique('agent'), type: 't', model: 'm', systemPrompt: 'be kind', config: { t: 0.2 } })
  const agent2 = await db.agents.create({ name: unique('agent2'), type: 't', model: 'm' })
  const user = await db.users.create({ email: `${unique('u')}@example.com`, userData: { plan: 'pro' } })
  const user2 = await db.users.create({ email: `${unique('u2')}@example.com` })
  const session = await db.sessions.create({ agentId: agent.id, userId: user.id, name: 's', metadata: { k: [1, { a: null }] } })
  const other = await db.sessions.create({ agentId: agent.id, userId: user.id })
  return { agent, agent2, user, user2, session, other }
}

/** Writes messages with these token counts, oldest first; returns them. */
async function history(db: Db, sessionId: string, counts: readonly number[]): Promise<Message[]> {
  return db.messages.createMany(counts.map((tokenCount, i) => ({ sessionId, role: 'user' as const, textContent: `m${i}`, tokenCount })))
}

const texts = (messages: readonly Message[]) => messages.map((m) => m.textContent)

describe('context.load', () => {
  test('an unknown session is null', async ({ db }) => {
    expect(await db.context.load(randomUUID())).toBeNull()
    expect(await db.context.load(randomUUID(), { maxTokens: 10, maxMessages: 0, readMode: 'tool' })).toBeNull()
  })

  test('session, agent, user, memories and messages equal what the repositories return', async ({ db }) => {
    const w = await world(db)
    await db.sessions.update(w.session.id, { runFinishedAt: new Date('2026-01-02T03:04:05.678Z') })
    const m1 = await db.memories.create({ name: 'b', content: 'agent', agentId: w.agent.id, readMode: 'system_prompt', metadata: { x: 1 } })
    const m2 = await db.memories.create({ name: 'a', content: 'user', userId: w.user.id, readMode: 'system_prompt', access: 'read' })
    const msgs = await db.messages.createMany([
      { sessionId: w.session.id, role: 'user', textContent: 'hi', rawPayload: { r: 1 } },
      { sessionId: w.session.id, role: 'assistant', textContent: 'hello', toolCalls: [{ id: 'c1', type: 'function' }] },
    ])
    const c = await db.context.load(w.session.id)
    expect(c).not.toBeNull()
    expect(c!.session).toBeInstanceOf(Session)
    expect(c!.session).toEqual(await db.sessions.get(w.session.id))
    expect(c!.session.runFinishedAt).toEqual(new Date('2026-01-02T03:04:05.678Z'))
    expect(c!.agent).toBeInstanceOf(Agent)
    expect(c!.agent).toEqual(await db.agents.get(w.agent.id))
    expect(c!.user).toBeInstanceOf(User)
    expect(c!.user).toEqual(await db.users.get(w.user.id))
    expect(c!.memories.every((m) => m instanceof Memory)).toBe(true)
    expect(c!.memories).toEqual([await db.memories.get(m2.id), await db.memories.get(m1.id)])
    expect(c!.messages.every((m) => m instanceof Message)).toBe(true)
    expect(c!.messages).toEqual(msgs)
    expect(c!.messages).toEqual([...(await db.messages.listBySession(w.session.id))])
    expect(typeof c!.messages[0]!.seq).toBe('number')
    expect(c!.messages[0]!.createdAt).toBeInstanceOf(Date)
    expect(c!.tokenCount).toBe(msgs[0]!.tokenCount + msgs[1]!.tokenCount)
    expect(c!.truncated).toBe(false)
  })

  test('a session with no agent, no user, no memories and no messages', async ({ db }) => {
    const s = await db.sessions.create({})
    const c = await db.context.load(s.id)
    expect(c).toEqual({ session: await db.sessions.get(s.id), agent: null, user: null, memories: [], messages: [], tokenCount: 0, truncated: false })
    const u = await db.users.create({ email: `${unique('only')}@example.com` })
    const s2 = await db.sessions.create({ userId: u.id })
    const c2 = await db.context.load(s2.id)
    expect(c2?.agent).toBeNull()
    expect(c2?.user).toEqual(u)
  })

  test('the newest messages that fit, oldest first; a large message blocks older ones (contiguous)', async ({ db }) => {
    const w = await world(db)
    await history(db, w.session.id, [1, 1, 1, 50, 2, 3])
    const c = await db.context.load(w.session.id, { maxTokens: 10 })
    // newest first: 3, 2 (=5), then 50 would make 55: stop; the 1s before it are not taken.
    expect(texts(c!.messages)).toEqual(['m4', 'm5'])
    expect(c!.tokenCount).toBe(5)
    expect(c!.truncated).toBe(true)
    expect(c!.messages.map((m) => m.seq)).toEqual([...c!.messages.map((m) => m.seq)].sort((a, b) => a - b))
  })

  test('exactly at the token limit: included; one token less: left out', async ({ db }) => {
    const w = await world(db)
    await history(db, w.session.id, [4, 3, 2, 5])
    const exact = await db.context.load(w.session.id, { maxTokens: 10 })
    expect(texts(exact!.messages)).toEqual(['m1', 'm2', 'm3'])
    expect(exact!.tokenCount).toBe(10)
    expect(exact!.truncated).toBe(true)
    const less = await db.context.load(w.session.id, { maxTokens: 9 })
    expect(texts(less!.messages)).toEqual(['m2', 'm3'])
    expect(less!.tokenCount).toBe(7)
    const all = await db.context.load(w.session.id, { maxTokens: 14 })
    expect(texts(all!.messages)).toEqual(['m0', 'm1', 'm2', 'm3'])
    expect(all!.tokenCount).toBe(14)
    expect(all!.truncated).toBe(false)
    const none = await db.context.load(w.session.id, { maxTokens: 4 })
    expect(none!.messages).toEqual([])
    expect(none!.tokenCount).toBe(0)
    expect(none!.truncated).toBe(true)
    // Zero-token messages fit a zero budget.
    const zeros = await db.sessions.create({})
    await history(db, zeros.id, [5, 0, 0])
    const z = await db.context.load(zeros.id, { maxTokens: 0 })
    expect(texts(z!.messages)).toEqual(['m1', 'm2'])
    expect(z!.truncated).toBe(true)
  })

  test('maxMessages, its default of 50, and truncated', async ({ db }) => {
    const w = await world(db)
    await history(db, w.session.id, Array.from({ length: 60 }, () => 1))
    const three = await db.context.load(w.session.id, { maxMessages: 3 })
    expect(texts(three!.messages)).toEqual(['m57', 'm58', 'm59'])
    expect(three!.truncated).toBe(true)
    const byDefault = await db.context.load(w.session.id)
    expect(byDefault!.messages).toHaveLength(50)
    expect(byDefault!.messages[0]!.textContent).toBe('m10')
    expect(byDefault!.truncated).toBe(true)
    expect(byDefault!.tokenCount).toBe(50)
    const exactly = await db.context.load(w.session.id, { maxMessages: 60 })
    expect(exactly!.messages).toHaveLength(60)
    expect(exactly!.truncated).toBe(false)
    const zero = await db.context.load(w.session.id, { maxMessages: 0 })
    expect(zero!.messages).toEqual([])
    expect(zero!.truncated).toBe(true)
    // Both limits: the tighter one wins.
    const both = await db.context.load(w.session.id, { maxMessages: 5, maxTokens: 3 })
    expect(texts(both!.messages)).toEqual(['m57', 'm58', 'm59'])
    expect(both!.truncated).toBe(true)
    const loose = await db.context.load(w.session.id, { maxMessages: 1000, maxTokens: 1000 })
    expect(loose!.messages).toHaveLength(60)
    expect(loose!.truncated).toBe(false)
  })

  test('everything fits: truncated is false; no messages: false too', async ({ db }) => {
    const w = await world(db)
    await history(db, w.session.id, [2, 2])
    const c = await db.context.load(w.session.id, { maxTokens: 100, maxMessages: 2 })
    expect(texts(c!.messages)).toEqual(['m0', 'm1'])
    expect(c!.truncated).toBe(false)
    const empty = await db.context.load(w.other.id, { maxTokens: 0, maxMessages: 0 })
    expect(empty!.messages).toEqual([])
    expect(empty!.truncated).toBe(false)
  })

  test('messages of other sessions are never included', async ({ db }) => {
    const w = await world(db)
    await history(db, w.other.id, [1, 1, 1])
    await history(db, w.session.id, [1])
    const c = await db.context.load(w.session.id)
    expect(c!.messages.map((m) => m.sessionId)).toEqual([w.session.id])
  })

  test('memories: the effective set of the session; other sessions, agents and users excluded; readMode', async ({ db }) => {
    const w = await world(db)
    await db.memories.create({ name: 'tone', content: 'formal', agentId: w.agent.id, readMode: 'system_prompt' })
    await db.memories.create({ name: 'tone', content: 'casual', agentId: w.agent.id, userId: w.user.id, readMode: 'system_prompt' })
    await db.memories.create({ name: 'tone', content: 'this session', userId: w.user.id, sessionId: w.session.id, readMode: 'system_prompt' })
    await db.memories.create({ name: 'goal', content: 'other session', agentId: w.agent.id, sessionId: w.other.id, readMode: 'system_prompt' })
    await db.memories.create({ name: 'goal2', content: 'other agent', agentId: w.agent2.id, readMode: 'system_prompt' })
    await db.memories.create({ name: 'goal3', content: 'other user', userId: w.user2.id, readMode: 'system_prompt' })
    await db.memories.create({ name: 'lang', content: 'en', agentId: w.agent.id, readMode: 'system_prompt' })
    await db.memories.create({ name: 'lang', content: 'fr (tool override)', agentId: w.agent.id, userId: w.user.id, readMode: 'tool' })
    await db.memories.create({ name: 'notes', content: 'n', userId: w.user.id, readMode: 'tool' })

    const c = await db.context.load(w.session.id)
    expect(c!.memories.map((m) => [m.name, m.content])).toEqual([['tone', 'this session']])
    const scope = { agentId: w.agent.id, userId: w.user.id, sessionId: w.session.id }
    expect(c!.memories).toEqual(await db.memories.effective({ ...scope, readMode: 'system_prompt' }))
    const tools = await db.context.load(w.session.id, { readMode: 'tool' })
    expect(tools!.memories.map((m) => [m.name, m.content])).toEqual([
      ['lang', 'fr (tool override)'],
      ['notes', 'n'],
    ])
    expect(tools!.memories).toEqual(await db.memories.effective({ ...scope, readMode: 'tool' }))
    const other = await db.context.load(w.other.id)
    expect(other!.memories.map((m) => [m.name, m.content])).toEqual([
      ['goal', 'other session'],
      ['tone', 'casual'],
    ])
  })

  test('one SQL statement per call', async ({ db }) => {
    const w = await world(db)
    await db.memories.create({ name: 'tone', content: 'formal', agentId: w.agent.id, readMode: 'system_prompt' })
    await history(db, w.session.id, [1, 2, 3])
    for (const options of [{}, { maxTokens: 4 }, { maxMessages: 1, readMode: 'tool' as const }]) {
      log.clear()
      const c = await db.context.load(w.session.id, options)
      expect(c).not.toBeNull()
      expect(log.queries).toHaveLength(1)
    }
    log.clear()
    await db.context.load(randomUUID())
    expect(log.queries).toHaveLength(1)
  })

  test('inside a transaction it sees the transaction’s writes', async ({ db }) => {
    const w = await world(db)
    await db.transaction(async (tx) => {
      await tx.messages.create({ sessionId: w.session.id, role: 'user', textContent: 'in tx', tokenCount: 1 })
      expect(texts((await tx.context.load(w.session.id))!.messages)).toEqual(['in tx'])
    })
  })
})

describe('context.load validation, before any SQL', () => {
  const id = '00000000-0000-4000-8000-000000000000'
  const cases: [string, (db: Db) => Promise<unknown>, string][] = [
    ['sessionId not a uuid', (db) => db.context.load('nope'), 'sessionId'],
    ['sessionId a number', (db) => db.context.load(1 as never), 'sessionId'],
    ['maxTokens negative', (db) => db.context.load(id, { maxTokens: -1 }), 'maxTokens'],
    ['maxTokens fraction', (db) => db.context.load(id, { maxTokens: 1.5 }), 'maxTokens'],
    ['maxTokens string', (db) => db.context.load(id, { maxTokens: '10' as never }), 'maxTokens'],
    ['maxTokens null', (db) => db.context.load(id, { maxTokens: null as never }), 'maxTokens'],
    ['maxMessages negative', (db) => db.context.load(id, { maxMessages: -1 }), 'maxMessages'],
    ['maxMessages over 1000', (db) => db.context.load(id, { maxMessages: 1001 }), 'maxMessages'],
    ['maxMessages NaN', (db) => db.context.load(id, { maxMessages: Number.NaN }), 'maxMessages'],
    ['readMode', (db) => db.context.load(id, { readMode: 'all' as never }), 'readMode'],
    ['unknown option', (db) => db.context.load(id, { limit: 5 } as never), 'limit'],
    ['options not an object', (db) => db.context.load(id, 5 as never), 'options'],
  ]
  test.for(cases)('%s', async ([, run, field], { db }) => {
    log.clear()
    await expectValidation(run(db), field)
    expect(log.queries).toEqual([])
  })
})

describe('context.load in a schema per tenant', () => {
  test('reads the tenant’s tables only (memories, messages, session)', async () => {
    const root = ctx.root()
    const tenant = root.withSchema(unique('ctx_tenant').replace('-', '_'))
    await tenant.migrate()
    try {
      const w = await world(tenant)
      await tenant.memories.create({ name: 'tone', content: 'tenant', agentId: w.agent.id, readMode: 'system_prompt' })
      await tenant.messages.create({ sessionId: w.session.id, role: 'user', textContent: 'tenant message', tokenCount: 3 })
      // The same ids in public have nothing.
      expect(await root.context.load(w.session.id)).toBeNull()
      const c = await tenant.context.load(w.session.id, { maxTokens: 10 })
      expect(c!.agent).toEqual(await tenant.agents.get(w.agent.id))
      expect(c!.memories.map((m) => m.content)).toEqual(['tenant'])
      expect(texts(c!.messages)).toEqual(['tenant message'])
      expect(c!.tokenCount).toBe(3)
    } finally {
      await root.query(`DROP SCHEMA ${tenant.schema} CASCADE`)
    }
  })
})
