// Issue 9 §5, as a user hit it:
// - a cursor from `users.page()` handed to `messages.listBySession()` (or to another session's
//   listBySession) returned rows; it must be a ValidationError naming `cursor`;
// - `toolCalls` / `toolOutputs` refused the OpenAI / AI SDK shape, a JSON array;
// - a missing required field read three messages (`type must be longer than or equal to 1
//   characters`, `type must be shorter than…`, …) instead of `type is required`.
import { describe, expect } from 'vitest'
import { ValidationError, type Db } from '../../src/index.js'
import { expectValidation, unique, useTestDb } from '../conformance/base-repository.conformance.js'

const { test, log } = useTestDb()

async function sessionWithMessages(db: Db, n: number) {
  const session = await db.sessions.create({})
  await db.messages.createMany(Array.from({ length: n }, (_, i) => ({ sessionId: session.id, role: 'user' as const, textContent: `${i}` })))
  return session
}

describe('regression: cursors name their method and filters', () => {
  test("a users.page() cursor is not a messages.listBySession() cursor, though both hold a number", async ({ db }) => {
    const session = await sessionWithMessages(db, 3)
    for (let i = 0; i < 3; i++) await db.users.create({})
    const users = await db.users.page({ limit: 1 })
    expect(users.nextCursor).not.toBeNull()
    const err = await expectValidation(db.messages.listBySession(session.id, { cursor: users.nextCursor }), 'cursor')
    expect(err.issues[0]!.messages[0]).toMatch(/returned by users\.page/)
    // …and no other list takes it either.
    await expectValidation(db.users.list({ cursor: users.nextCursor }), 'cursor')
    await expectValidation(db.agents.page({ cursor: users.nextCursor }), 'cursor')
    await expectValidation(db.sessions.list({ cursor: users.nextCursor }), 'cursor')
  })

  test("one session's cursor is refused by another session's listBySession (and endCursor too)", async ({ db }) => {
    const a = await sessionWithMessages(db, 4)
    const b = await sessionWithMessages(db, 4)
    const page = await db.messages.listBySession(a.id, { limit: 2 })
    expect(await db.messages.listBySession(a.id, { cursor: page.nextCursor })).toHaveLength(2)
    log.clear()
    const err = await expectValidation(db.messages.listBySession(b.id, { cursor: page.nextCursor }), 'cursor')
    expect(log.queries, 'refused before any SQL').toEqual([])
    expect(err.issues[0]!.messages[0]).toMatch(/other filters/)
    await expectValidation(db.messages.listBySession(b.id, { cursor: page.endCursor }), 'cursor')
    // The session id's letter case does not matter: it is the same session.
    expect(await db.messages.listBySession(a.id.toUpperCase(), { cursor: page.nextCursor })).toHaveLength(2)
  })

  test('a position from one order works in the other: the cursor names the session, not the order', async ({ db }) => {
    const s = await sessionWithMessages(db, 5)
    const first = await db.messages.listBySession(s.id, { limit: 3 })
    const before = await db.messages.listBySession(s.id, { order: 'desc', cursor: first.endCursor })
    expect(before.map((m) => m.textContent)).toEqual(['1', '0'])
  })

  test('agents.list cursors are bound to activeOnly; page() and list() cursors are not interchangeable', async ({ db }) => {
    for (const name of ['a', 'b', 'c']) await db.agents.create({ name: unique(name), type: 't', model: 'm' })
    const active = await db.agents.list({ limit: 1 })
    expect(active.nextCursor).not.toBeNull()
    expect(await db.agents.list({ activeOnly: true, limit: 1, cursor: active.nextCursor })).toHaveLength(1)
    await expectValidation(db.agents.list({ activeOnly: false, cursor: active.nextCursor }), 'cursor')
    await expectValidation(db.agents.page({ cursor: active.nextCursor }), 'cursor')
    const page = await db.agents.page({ limit: 1 })
    await expectValidation(db.agents.list({ cursor: page.nextCursor }), 'cursor')
  })

  test('sessions.list cursors are bound to their filters (left out ≠ null)', async ({ db }) => {
    const user = await db.users.create({})
    for (let i = 0; i < 3; i++) await db.sessions.create({ userId: user.id })
    const page = await db.sessions.list({ userId: user.id, limit: 1 })
    await expectValidation(db.sessions.list({ userId: user.id, agentId: null, cursor: page.nextCursor }), 'cursor')
    await expectValidation(db.sessions.list({ cursor: page.nextCursor }), 'cursor')
    expect(await db.sessions.list({ userId: user.id, limit: 5, cursor: page.nextCursor })).toHaveLength(2)
  })
})

describe('regression: toolCalls and toolOutputs take JSON arrays (OpenAI / AI SDK shape)', () => {
  const toolCalls = [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]
  const toolOutputs = [{ toolCallId: 'call_1', result: { temperature: 21, unit: 'C' } }, 'plain', 3, null, []]

  test('create, createMany, update and get keep arrays as arrays, objects as objects', async ({ db }) => {
    const s = await db.sessions.create({})
    const m = await db.messages.create({ sessionId: s.id, role: 'assistant', toolCalls, toolOutputs })
    expect(m.toolCalls).toEqual(toolCalls)
    expect(Array.isArray(m.toolCalls)).toBe(true)
    expect(await db.messages.get(m.id)).toMatchObject({ toolCalls, toolOutputs })
    const [x, y] = await db.messages.createMany([
      { sessionId: s.id, role: 'assistant', toolCalls },
      { sessionId: s.id, role: 'tool', toolOutputs: { call_1: 'sunny' } },
    ])
    expect([x!.toolCalls, x!.toolOutputs, y!.toolCalls, y!.toolOutputs]).toEqual([toolCalls, {}, {}, { call_1: 'sunny' }])
    expect(await db.messages.update(y!.id, { toolCalls: [], toolOutputs: [1, [2]] })).toMatchObject({ toolCalls: [], toolOutputs: [1, [2]] })
    const rows = await db.query<{ t: string }>('SELECT jsonb_typeof(tool_calls) AS t FROM messages WHERE id = $1', [x!.id])
    expect(rows[0]!.t).toBe('array')
  })

  test('arrays with values that are not JSON are refused naming the field, before any SQL', async ({ db }) => {
    const s = await db.sessions.create({})
    const cyclic: unknown[] = []
    cyclic.push(cyclic)
    const bad: unknown[] = [[new Date(0)], [() => 1], [undefined], [1, , 3], [{ a: undefined }], cyclic, [Number.NaN], [1n], ['\u0000']]
    log.clear()
    for (const value of bad) {
      await expectValidation(db.messages.create({ sessionId: s.id, role: 'tool', toolCalls: value as never }), 'toolCalls')
      await expectValidation(db.messages.create({ sessionId: s.id, role: 'tool', toolOutputs: value as never }), 'toolOutputs')
    }
    await expectValidation(db.messages.create({ sessionId: s.id, role: 'tool', toolCalls: 'call_1' as never }), 'toolCalls')
    await expectValidation(db.messages.create({ sessionId: s.id, role: 'tool', toolCalls: null as never }), 'toolCalls')
    expect(log.queries).toEqual([])
    // Other JSON columns stay objects only.
    await expectValidation(db.messages.create({ sessionId: s.id, role: 'tool', context: [] as never }), 'context')
  })
})

describe('regression: a missing required field reads `<field> is required`, once', () => {
  test('agents.create without type: one issue, one message', async ({ db }) => {
    const err = await expectValidation(db.agents.create({ name: 'a', model: 'm' } as never), 'type')
    expect(err.issues).toEqual([{ field: 'type', messages: ['type is required'] }])
    expect(err.message).toBe('agents.create: invalid input (type: type is required)')
  })

  test('null where required reads the same; each missing field gets its own issue', async ({ db }) => {
    const err = await expectValidation(db.agents.create({ name: null, type: 't' } as never), 'name')
    expect(err.issues).toEqual([
      { field: 'name', messages: ['name is required'] },
      { field: 'model', messages: ['model is required'] },
    ])
    const s = await db.sessions.create({})
    const msg = await expectValidation(db.messages.create({ sessionId: s.id } as never), 'role')
    expect(msg.issues).toEqual([{ field: 'role', messages: ['role is required'] }])
    const mem = await expectValidation(db.memories.insert({ agentId: 1 } as never), 'name')
    expect(mem.issues).toEqual([{ field: 'name', messages: ['name is required'] }])
  })

  test('invalid values keep their specific messages; null on an optional-when-absent field is not "required"', async ({ db }) => {
    const empty = await expectValidation(db.agents.create({ name: 'a', type: '', model: 'm' }), 'type')
    expect(empty.issues[0]!.messages).toEqual(['type must be longer than or equal to 1 characters'])
    const config = await expectValidation(db.agents.create({ name: 'a', type: 't', model: 'm', config: null } as never), 'config')
    expect(config.issues[0]!.messages).toEqual(['config must be a plain JSON object'])
    const role = await expectValidation(db.messages.update('00000000-0000-4000-8000-000000000000', { role: null } as never), 'role')
    expect(role.issues[0]!.messages[0]).not.toMatch(/required/)
    expect(role).toBeInstanceOf(ValidationError)
  })
})
