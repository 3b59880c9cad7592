import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { Memory, type Db } from '../../src/index.js'
import { expectValidation, unique, useTestDb } from '../conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { test, log } = ctx

/** Two agents, two users, a session of (agent, user) and another session of the same pair. */
async function world(db: Db) {
  const agent = await db.agents.create({ name: unique('agent'), type: 't', model: 'm' })
  const agent2 = await db.agents.create({ name: unique('agent2'), type: 't', model: 'm' })
  const user = await db.users.create({ email: `${unique('u')}@example.com` })
  const user2 = await db.users.create({ email: `${unique('u2')}@example.com` })
  const session = await db.sessions.create({ agentId: agent.id, userId: user.id })
  const session2 = await db.sessions.create({ agentId: agent.id, userId: user.id })
  return { agent, agent2, user, user2, session, session2 }
}

type Key = 'S' | 'U' | 'A'
/** Every scope a memory can have (agent or user required), most specific first. */
const RANKED: readonly (readonly Key[])[] = [['S', 'U', 'A'], ['S', 'U'], ['S', 'A'], ['U', 'A'], ['U'], ['A']]

describe('memories.resolve: the specificity table', () => {
  // For each scope, a memory of that scope and of every less specific one exist: the winner is
  // always the most specific of those present. Then, removing the winner one by one, each next
  // row of the table wins: session > user > agent, more keys beat fewer.
  test('each scope beats every scope below it in the table', async ({ db }) => {
    const w = await world(db)
    const ids = { S: w.session.id, U: w.user.id, A: w.agent.id }
    const created = new Map<string, Memory>()
    for (const keys of RANKED) {
      const m = await db.memories.create({
        name: 'tone',
        content: keys.join('+'),
        sessionId: keys.includes('S') ? ids.S : null,
        userId: keys.includes('U') ? ids.U : null,
        agentId: keys.includes('A') ? ids.A : null,
      })
      created.set(keys.join('+'), m)
    }
    const request = { agentId: w.agent.id, userId: w.user.id, sessionId: w.session.id }
    for (const keys of RANKED) {
      const winner = await db.memories.resolve('tone', request)
      expect(winner?.content).toBe(keys.join('+'))
      expect(winner).toEqual(created.get(keys.join('+')))
      await db.memories.delete(winner!.id)
    }
    expect(await db.memories.resolve('tone', request)).toBeNull()
  })

  test('pairwise: for every two scopes, the one higher in the table wins', async ({ db }) => {
    const w = await world(db)
    const ids = { S: w.session.id, U: w.user.id, A: w.agent.id }
    const request = { agentId: w.agent.id, userId: w.user.id, sessionId: w.session.id }
    for (let hi = 0; hi < RANKED.length; hi++) {
      for (let lo = hi + 1; lo < RANKED.length; lo++) {
        const name = `pair-${hi}-${lo}`
        for (const keys of [RANKED[lo]!, RANKED[hi]!]) {
          await db.memories.create({
            name,
            content: keys.join('+'),
            sessionId: keys.includes('S') ? ids.S : null,
            userId: keys.includes('U') ? ids.U : null,
            agentId: keys.includes('A') ? ids.A : null,
          })
        }
        expect((await db.memories.resolve(name, request))?.content, `${RANKED[hi]} vs ${RANKED[lo]}`).toBe(RANKED[hi]!.join('+'))
      }
    }
  })

  test('candidates: another agent, user or session never applies; a key not given matches only NULL', async ({ db }) => {
    const w = await world(db)
    await db.memories.create({ name: 'n', content: 'other agent', agentId: w.agent2.id })
    await db.memories.create({ name: 'n', content: 'other user', userId: w.user2.id })
    await db.memories.create({ name: 'n', content: 'other session', agentId: w.agent.id, sessionId: w.session2.id })
    await db.memories.create({ name: 'n', content: 'other user of agent', agentId: w.agent.id, userId: w.user2.id })
    expect(await db.memories.resolve('n', { agentId: w.agent.id, userId: w.user.id, sessionId: w.session.id })).toBeNull()

    await db.memories.create({ name: 'n', content: 'agent', agentId: w.agent.id })
    await db.memories.create({ name: 'n', content: 'user', userId: w.user.id })
    await db.memories.create({ name: 'n', content: 'user+agent', agentId: w.agent.id, userId: w.user.id })
    await db.memories.create({ name: 'n', content: 'agent+session', agentId: w.agent.id, sessionId: w.session.id })
    // No session given: session-scoped memories do not apply.
    expect((await db.memories.resolve('n', { agentId: w.agent.id, userId: w.user.id }))?.content).toBe('user+agent')
    // No user given: only memories without a user.
    expect((await db.memories.resolve('n', { agentId: w.agent.id }))?.content).toBe('agent')
    expect((await db.memories.resolve('n', { agentId: w.agent.id, sessionId: w.session.id }))?.content).toBe('agent+session')
    // No agent given: only memories without an agent.
    expect((await db.memories.resolve('n', { userId: w.user.id, sessionId: w.session.id }))?.content).toBe('user')
    expect((await db.memories.resolve('n', { userId: w.user.id, agentId: null }))?.content).toBe('user')
    expect(await db.memories.resolve('n', {})).toBeNull()
    expect(await db.memories.resolve('other-name', { agentId: w.agent.id })).toBeNull()
  })

  test('returns the same Memory a get returns', async ({ db }) => {
    const w = await world(db)
    const m = await db.memories.create({ name: 'x', content: 'c', agentId: w.agent.id, metadata: { k: [1] }, readMode: 'tool' })
    const r = await db.memories.resolve('x', { agentId: w.agent.id })
    expect(r).toBeInstanceOf(Memory)
    expect(r).toEqual(await db.memories.get(m.id))
  })
})

describe('memories.effective', () => {
  test('one memory per name, the most specific, ordered by name', async ({ db }) => {
    const w = await world(db)
    await db.memories.create({ name: 'b-tone', content: 'agent', agentId: w.agent.id })
    await db.memories.create({ name: 'b-tone', content: 'user', agentId: w.agent.id, userId: w.user.id })
    await db.memories.create({ name: 'a-lang', content: 'agent', agentId: w.agent.id })
    await db.memories.create({ name: 'c-goal', content: 'session', userId: w.user.id, sessionId: w.session.id })
    await db.memories.create({ name: 'c-goal', content: 'user', userId: w.user.id })
    await db.memories.create({ name: 'd-other', content: 'x', agentId: w.agent2.id })
    await db.memories.create({ name: 'e-other', content: 'x', agentId: w.agent.id, sessionId: w.session2.id })

    const all = await db.memories.effective({ agentId: w.agent.id, userId: w.user.id, sessionId: w.session.id })
    expect(all.map((m) => [m.name, m.content])).toEqual([
      ['a-lang', 'agent'],
      ['b-tone', 'user'],
      ['c-goal', 'session'],
    ])
    expect(all.every((m) => m instanceof Memory)).toBe(true)
    for (const m of all) expect(m).toEqual(await db.memories.get(m.id))

    const agentOnly = await db.memories.effective({ agentId: w.agent.id })
    expect(agentOnly.map((m) => [m.name, m.content])).toEqual([
      ['a-lang', 'agent'],
      ['b-tone', 'agent'],
    ])
    expect(await db.memories.effective({})).toEqual([])
    // Each name is resolved as resolve() does.
    for (const m of all) {
      expect(await db.memories.resolve(m.name, { agentId: w.agent.id, userId: w.user.id, sessionId: w.session.id })).toEqual(m)
    }
  })

  test('readMode filters the winners: an override in tool mode hides the agent memory from the system prompt', async ({ db }) => {
    const w = await world(db)
    await db.memories.create({ name: 'tone', content: 'formal', agentId: w.agent.id, readMode: 'system_prompt' })
    await db.memories.create({ name: 'tone', content: 'casual', agentId: w.agent.id, userId: w.user.id, readMode: 'tool' })
    await db.memories.create({ name: 'lang', content: 'en', agentId: w.agent.id, readMode: 'system_prompt' })
    await db.memories.create({ name: 'notes', content: 'n', agentId: w.agent.id, readMode: 'tool' })
    await db.memories.create({ name: 'unset', content: 'u', agentId: w.agent.id })
    const request = { agentId: w.agent.id, userId: w.user.id }

    const prompt = await db.memories.effective({ ...request, readMode: 'system_prompt' })
    expect(prompt.map((m) => [m.name, m.content])).toEqual([['lang', 'en']])
    const tools = await db.memories.effective({ ...request, readMode: 'tool' })
    expect(tools.map((m) => [m.name, m.content])).toEqual([
      ['notes', 'n'],
      ['tone', 'casual'],
    ])
    // Without the user, the agent's memory is the winner and is in the prompt.
    const agentPrompt = await db.memories.effective({ agentId: w.agent.id, readMode: 'system_prompt' })
    expect(agentPrompt.map((m) => [m.name, m.content])).toEqual([
      ['lang', 'en'],
      ['tone', 'formal'],
    ])
    // No readMode: every winner, whatever its mode (null included).
    const all = await db.memories.effective(request)
    expect(all.map((m) => m.name)).toEqual(['lang', 'notes', 'tone', 'unset'])
  })
})

describe('validation before any SQL', () => {
  const cases: [string, (db: Db) => Promise<unknown>, string][] = [
    ['resolve: empty name', (db) => db.memories.resolve('', { agentId: 1 }), 'name'],
    ['resolve: name not a string', (db) => db.memories.resolve(5 as never, { agentId: 1 }), 'name'],
    ['resolve: agentId', (db) => db.memories.resolve('n', { agentId: 0 }), 'agentId'],
    ['resolve: userId', (db) => db.memories.resolve('n', { userId: 1.5 }), 'userId'],
    ['resolve: sessionId', (db) => db.memories.resolve('n', { sessionId: 'nope' }), 'sessionId'],
    ['resolve: readMode is not a resolve key', (db) => db.memories.resolve('n', { readMode: 'tool' } as never), 'readMode'],
    ['resolve: unknown key', (db) => db.memories.resolve('n', { agent: 1 } as never), 'agent'],
    ['effective: agentId', (db) => db.memories.effective({ agentId: '1' as never }), 'agentId'],
    ['effective: sessionId', (db) => db.memories.effective({ sessionId: randomUUID().slice(1) }), 'sessionId'],
    ['effective: readMode', (db) => db.memories.effective({ agentId: 1, readMode: 'prompt' as never }), 'readMode'],
    ['effective: readMode null', (db) => db.memories.effective({ agentId: 1, readMode: null as never }), 'readMode'],
    ['effective: unknown key', (db) => db.memories.effective({ agentId: 1, access: 'read' } as never), 'access'],
  ]
  test.for(cases)('%s', async ([, run, field], { db }) => {
    log.clear()
    await expectValidation(run(db), field)
    expect(log.queries).toEqual([])
  })
})

test('resolve and effective are one statement each', async ({ db }) => {
  const w = await world(db)
  await db.memories.create({ name: 'a', content: 'x', agentId: w.agent.id })
  log.clear()
  await db.memories.resolve('a', { agentId: w.agent.id, userId: w.user.id, sessionId: w.session.id })
  expect(log.queries).toHaveLength(1)
  log.clear()
  await db.memories.effective({ agentId: w.agent.id, userId: w.user.id, sessionId: w.session.id, readMode: 'tool' })
  expect(log.queries).toHaveLength(1)
})
