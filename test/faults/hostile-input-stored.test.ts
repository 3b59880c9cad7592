import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ValidationError, type Agent, type Db } from '../../src/index.js'
import { openTestDb } from '../support/test-db.js'
import { canonical, ONE_MB, STORABLE_TEXT, storableJson } from './support/hostile.js'
import { failure } from './support/wait.js'

// Issue 5, item 8 (first half): hostile values that PostgreSQL can store are stored and read
// back exactly — through every repository method that writes or looks up text or JSON, and
// through db.query parameters — and the tables are intact afterwards. Runs on both backends.
describe('hostile input that is stored exactly', () => {
  let db: Db
  let owner: Agent
  const made = { agents: 1, users: 0, sessions: 0, messages: 0, memories: 0 }

  beforeAll(async () => {
    db = await openTestDb()
    owner = await db.agents.create({ name: 'owner', type: 't', model: 'm' })
  })
  afterAll(async () => {
    await db?.close()
  })

  test.each(STORABLE_TEXT)('text: %s — every text column, lookups and filters', async (_label, s) => {
    // agents: create (upsert), get, getByName, list, update
    const agent = await db.agents.create({ name: s, type: s, model: s, description: s, version: s, systemPrompt: s })
    made.agents++
    const text = { type: s, model: s, description: s, version: s, systemPrompt: s }
    expect(await db.agents.get(agent.id)).toMatchObject({ name: s, ...text })
    expect((await db.agents.getByName(s))?.id).toBe(agent.id)
    expect((await db.agents.list({ activeOnly: false, limit: 1000 })).filter((a) => a.name === s)).toHaveLength(1)
    const again = await db.agents.create({ name: s, type: 'upserted', model: s })
    expect(again.id).toBe(agent.id) // the upsert matched the hostile name exactly
    expect((await db.agents.update(agent.id, { description: `${s}|${s}` }))?.description).toBe(`${s}|${s}`)
    expect((await db.agents.get(agent.id))?.description).toBe(`${s}|${s}`)

    // users: phone number (at most 50) and a JSON field keyed by the value
    const user = await db.users.create({ phoneNumber: s, userData: { [s]: s } })
    made.users++
    expect(await db.users.get(user.id)).toMatchObject({ phoneNumber: s, userData: { [s]: s } })
    expect((await db.users.update(user.id, { phoneNumber: s.slice(0, 10) }))?.phoneNumber).toBe(s.slice(0, 10))

    // sessions
    const session = await db.sessions.create({ name: s, platform: s, userId: user.id, agentId: agent.id })
    made.sessions++
    expect(await db.sessions.get(session.id)).toMatchObject({ name: s, platform: s })
    expect((await db.sessions.list({ userId: user.id, agentId: agent.id })).map((x) => x.name)).toEqual([s])
    expect((await db.sessions.update(session.id, { platform: `${s}!` }))?.platform).toBe(`${s}!`)

    // messages: create, createMany, get, listBySession, update
    const fields = { textContent: s, mediaUrl: s, mimeType: s, messageType: s, systemPrompt: s, userFeedback: s, flagged: s }
    const message = await db.messages.create({ sessionId: session.id, role: 'user', ...fields })
    const many = await db.messages.createMany([
      { sessionId: session.id, role: 'assistant', ...fields },
      { sessionId: session.id, role: 'tool', textContent: `${s}${s}` },
    ])
    made.messages += 3
    expect(await db.messages.get(message.id)).toMatchObject(fields)
    expect(many.map((m) => m.textContent)).toEqual([s, `${s}${s}`])
    const history = await db.messages.listBySession(session.id)
    expect(history.map((m) => m.textContent)).toEqual([s, s, `${s}${s}`])
    expect((await db.messages.update(message.id, { userFeedback: `${s}?` }))?.userFeedback).toBe(`${s}?`)
    expect(await db.messages.count(session.id)).toBe(3)

    // memories: create (upsert on name + scope), getByName, list
    const memory = await db.memories.create({ name: s, description: s, content: s, agentId: owner.id })
    made.memories++
    expect(await db.memories.get(memory.id)).toMatchObject({ name: s, description: s, content: s })
    expect((await db.memories.getByName(s, { agentId: owner.id }))?.id).toBe(memory.id)
    expect((await db.memories.create({ name: s, content: 'second', agentId: owner.id })).id).toBe(memory.id)
    expect((await db.memories.list({ agentId: owner.id, limit: 1000 })).filter((m) => m.name === s)).toHaveLength(1)

    // raw parameters
    expect(await db.query('SELECT $1::text AS v, length($1::text) AS n', [s])).toEqual([{ v: s, n: [...s].length }])
  })

  test('1 MB strings in every unbounded text column round-trip exactly; in a bounded one they are refused', async () => {
    const agent = await db.agents.create({ name: 'big', type: 't', model: 'm', description: ONE_MB, systemPrompt: ONE_MB })
    made.agents++
    const back = await db.agents.get(agent.id)
    expect(back?.description === ONE_MB && back.systemPrompt === ONE_MB).toBe(true)

    const session = await db.sessions.create({})
    made.sessions++
    const [m1, m2] = await db.messages.createMany([
      { sessionId: session.id, role: 'user', textContent: ONE_MB },
      { sessionId: session.id, role: 'assistant', systemPrompt: ONE_MB, toolOutputs: { out: ONE_MB } },
    ])
    made.messages += 2
    expect((await db.messages.get(m1!.id))?.textContent === ONE_MB).toBe(true)
    const m2back = await db.messages.get(m2!.id)
    expect(m2back?.systemPrompt === ONE_MB && (m2back.toolOutputs as Record<string, unknown>).out === ONE_MB).toBe(true)

    const memory = await db.memories.create({ name: 'big', content: ONE_MB, metadata: { big: ONE_MB }, agentId: owner.id })
    made.memories++
    const memBack = await db.memories.get(memory.id)
    expect(memBack?.content === ONE_MB && memBack.metadata.big === ONE_MB).toBe(true)

    for (const call of [
      () => db.agents.create({ name: ONE_MB, type: 't', model: 'm' }),
      () => db.agents.getByName(ONE_MB),
      () => db.memories.create({ name: ONE_MB, agentId: owner.id }),
      () => db.sessions.create({ name: ONE_MB }),
      () => db.users.create({ phoneNumber: ONE_MB }),
    ]) {
      expect((await failure(call)).error).toBeInstanceOf(ValidationError)
    }
  })

  test.each(storableJson())('JSON: %s — every JSON column round-trips value for value', async (_label, value) => {
    const want = canonical(value)
    const agent = await db.agents.create({ name: `json-${made.agents}`, type: 't', model: 'm', config: value })
    made.agents++
    const user = await db.users.create({ userData: value })
    made.users++
    const session = await db.sessions.create({ metadata: value })
    made.sessions++
    const message = await db.messages.create({
      sessionId: session.id,
      role: 'tool',
      rawPayload: value,
      toolCalls: value,
      toolOutputs: value,
      context: value,
      channelPayload: value,
    })
    const [bulk] = await db.messages.createMany([{ sessionId: session.id, role: 'tool', toolCalls: value }])
    made.messages += 2
    const memory = await db.memories.create({ name: `json-${made.memories}`, metadata: value, userId: user.id })
    made.memories++

    const m = await db.messages.get(message.id)
    const read = [
      (await db.agents.get(agent.id))?.config,
      (await db.users.get(user.id))?.userData,
      (await db.sessions.get(session.id))?.metadata,
      m?.rawPayload,
      m?.toolCalls,
      m?.toolOutputs,
      m?.context,
      m?.channelPayload,
      (await db.messages.get(bulk!.id))?.toolCalls,
      (await db.memories.get(memory.id))?.metadata,
      (await db.agents.update(agent.id, { config: value }))?.config,
    ]
    for (const r of read) {
      expect(canonical(r)).toBe(want)
      // A `__proto__` key read back is plain data, never the object's prototype.
      expect(Object.getPrototypeOf(r)).toBe(Object.prototype)
      expect((r as Record<string, unknown>).polluted).toBeUndefined()
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  test('dates round-trip to the millisecond, far past and far future included', async () => {
    const session = await db.sessions.create({})
    made.sessions++
    for (const iso of ['1970-01-01T00:00:00.000Z', '0001-01-01T00:00:00.000Z', '1900-02-28T23:59:59.999Z', '9999-12-31T23:59:59.999Z', '+275760-09-13T00:00:00.000Z']) {
      const at = new Date(iso)
      const m = await db.messages.create({ sessionId: session.id, role: 'user', createdAt: at })
      made.messages++
      expect((await db.messages.get(m.id))?.createdAt.toISOString()).toBe(iso)
      expect((await db.sessions.update(session.id, { runFinishedAt: at }))?.runFinishedAt?.toISOString()).toBe(iso)
    }
  })

  test('afterwards every table exists and holds exactly the rows written', async () => {
    const tables = await db.query<{ t: string | null }>(
      "SELECT to_regclass(t)::text AS t FROM unnest(ARRAY['agents','users','sessions','messages','memories']) AS t",
    )
    expect(tables.map((r) => r.t)).toEqual(['agents', 'users', 'sessions', 'messages', 'memories'])
    expect(await db.agents.count()).toBe(made.agents)
    expect(await db.users.count()).toBe(made.users)
    expect(await db.sessions.count()).toBe(made.sessions)
    expect(await db.messages.count()).toBe(made.messages)
    expect(await db.memories.count()).toBe(made.memories)
  })
})
