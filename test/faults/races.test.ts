import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Db } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'

const N = 100

// Issue 5, item 6: 100 concurrent callers on one key, on a real server with a pool of 10 (true
// parallelism). Each upsert is one atomic statement, so: exactly one row, the counter exactly
// +100, and no error ever reaches a caller.
describe.skipIf(backend !== 'postgres')('races on one key', () => {
  let db: Db
  beforeAll(async () => {
    db = await openTestDb({ poolSize: 10 })
  })
  afterAll(async () => {
    await db?.close()
  })

  test('100 concurrent agents.create with one name → one row, every caller gets it', async () => {
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => db.agents.create({ name: 'racer', type: 'chat', model: `m-${i}` })),
    )
    const ids = new Set(results.map((a) => a.id))
    expect(ids.size).toBe(1)
    expect(await db.query('SELECT count(*)::int AS n FROM agents WHERE name = $1', ['racer'])).toEqual([{ n: 1 }])
    // The last writer won, with one of the models that was sent.
    expect((await db.agents.getByName('racer'))?.model).toMatch(/^m-\d+$/)
  })

  test('100 concurrent users.create with one email in mixed case → one user, first spelling kept', async () => {
    const spellings = ['ada@example.com', 'ADA@example.com', 'Ada@Example.com', 'aDa@eXample.COM']
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => db.users.create({ email: spellings[i % spellings.length]!, userData: { i } })),
    )
    expect(new Set(results.map((u) => u.id)).size).toBe(1)
    expect(await db.query("SELECT count(*)::int AS n FROM users WHERE lower(email) = 'ada@example.com'")).toEqual([{ n: 1 }])
    const user = await db.users.getByEmail('ADA@EXAMPLE.COM')
    expect(spellings).toContain(user?.email)
  })

  test('100 concurrent incrementRunId → exactly +100, each caller a distinct value', async () => {
    const agent = await db.agents.create({ name: 'counter', type: 't', model: 'm' })
    const start = agent.runId
    const values = await Promise.all(Array.from({ length: N }, () => db.agents.incrementRunId(agent.id)))
    expect(new Set(values).size).toBe(N)
    expect(Math.max(...(values as number[]))).toBe(start + N)
    expect((await db.agents.get(agent.id))?.runId).toBe(start + N)
  })

  test('100 concurrent memory upserts on one (name, scope) → one row; other scopes stay separate', async () => {
    const agent = await db.agents.create({ name: 'mem-agent', type: 't', model: 'm' })
    const user = await db.users.create({ email: 'mem@example.com' })
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        i % 2 === 0
          ? db.memories.create({ name: 'tone', content: `agent-global ${i}`, agentId: agent.id })
          : db.memories.create({ name: 'tone', content: `user ${i}`, agentId: agent.id, userId: user.id }),
      ),
    )
    expect(new Set(results.map((m) => m.id)).size).toBe(2)
    expect(await db.memories.count({ agentId: agent.id, userId: null })).toBe(1)
    expect(await db.memories.count({ agentId: agent.id, userId: user.id })).toBe(1)
    expect((await db.memories.getByName('tone', { agentId: agent.id }))?.content).toMatch(/^agent-global \d+$/)
  })

  test('100 concurrent transactions appending messages to one session: none lost, no error', async () => {
    const session = await db.sessions.create({})
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        db.transaction((tx) => tx.messages.create({ sessionId: session.id, role: 'user', textContent: `m${i}` })),
      ),
    )
    const history = await db.messages.listBySession(session.id, { limit: 1000 })
    expect(history).toHaveLength(N)
    expect(new Set(history.map((m) => m.textContent)).size).toBe(N)
  })
})
