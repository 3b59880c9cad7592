import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { CheckViolationError, ForeignKeyError, Message, ValidationError, type Db } from '../../src/index.js'
import type { CreateMessageInput } from '../../src/index.js'
import {
  describeRepositoryConformance,
  expectValidation,
  useTestDb,
} from '../conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { test } = ctx

const newSession = (db: Db) => db.sessions.create({ name: 'history' })
const texts = (list: readonly Message[]) => list.map((m) => m.textContent)

describeRepositoryConformance<Message, string, string>({
  name: 'messages',
  ctx,
  repo: (db) => db.messages,
  entity: Message,
  fromPlain: (plain) => Message.fromPlain(plain),
  parents: async (db) => (await newSession(db)).id,
  input: (sessionId, i) => ({ sessionId, role: 'user', textContent: `conf-${i}` }),
  jsonFields: ['rawPayload', 'toolCalls', 'toolOutputs', 'context', 'channelPayload'],
  // tokenCount given: a text change without it re-estimates the count (test/repositories/token-count.test.ts).
  patch: { textContent: 'edited', flagged: 'spam', toolCalls: { search: { q: 'x' } }, tokenCount: 9 },
  pageKey: 'uuid', // seq is unique only within a session: page() walks messages by id
  missingId: () => randomUUID(),
})

describe('messages.create / get', () => {
  test('writes every field, including the ones the original dropped', async ({ db }) => {
    const s = await newSession(db)
    const u = await db.users.create({})
    const a = await db.agents.create({ name: 'bot', type: 't', model: 'm' })
    const id = randomUUID()
    const input: CreateMessageInput = {
      id, sessionId: s.id, userId: u.id, agentId: a.id, role: 'assistant', textContent: 'hello',
      mediaUrl: 'https://x/y.png', mimeType: 'image/png', messageType: 'image', systemPrompt: 'sp',
      userFeedback: 'good', flagged: 'no', rawPayload: { r: 1 }, toolCalls: { c: [1] }, toolOutputs: { o: 'x' },
      context: { n: null }, channelPayload: { ch: { deep: true } },
    }
    const m = await db.messages.create(input)
    expect(m).toMatchObject(input)
    expect(Number.isSafeInteger(m.seq)).toBe(true)
    expect(await db.messages.get(id)).toEqual(m)
  })

  test('a client-supplied createdAt is stored as that instant', async ({ db }) => {
    const s = await newSession(db)
    const createdAt = new Date('2024-02-29T23:59:59.999Z')
    const m = await db.messages.create({ sessionId: s.id, role: 'user', createdAt })
    expect(m.createdAt.getTime()).toBe(createdAt.getTime())
  })

  test('a session that does not exist is a ForeignKeyError (23503, messages_session_id_fkey)', async ({ db }) => {
    const err = await db
      .transaction((tx) => tx.messages.create({ sessionId: randomUUID(), role: 'user' }))
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ForeignKeyError)
    expect(err).toMatchObject({ code: '23503', constraint: 'messages_session_id_fkey' })
  })

  test('role is validated before SQL; the CHECK constraint backs it (23514)', async ({ db }) => {
    const s = await newSession(db)
    await expectValidation(db.messages.create({ sessionId: s.id, role: 'robot' as never }), 'role')
    await expectValidation(db.messages.create({ sessionId: s.id } as never), 'role')
    await expectValidation(db.messages.create({ role: 'user' } as never), 'sessionId')
    await expectValidation(db.messages.create({ sessionId: s.id, role: 'user', createdAt: 'now' } as never), 'createdAt')
    await expectValidation(db.messages.create({ sessionId: s.id, role: 'user', text_content: 'x' } as never), 'text_content')
    const err = await db
      .transaction((tx) => tx.query("INSERT INTO messages (session_id, role) VALUES ($1, 'robot')", [s.id]))
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CheckViolationError)
    expect(err).toMatchObject({ code: '23514', constraint: 'messages_role_check' })
    expect(await db.messages.count(s.id)).toBe(0)
  })
})

describe('messages.createMany', () => {
  test('writes all rows in one statement and returns them in input order', async ({ db }) => {
    const s = await newSession(db)
    const inputs = Array.from({ length: 30 }, (_, i) => ({ sessionId: s.id, role: 'user' as const, textContent: `m${i}` }))
    const created = await db.messages.createMany(inputs)
    expect(texts(created)).toEqual(inputs.map((i) => i.textContent))
    const seqs = created.map((m) => m.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect(new Set(created.map((m) => m.createdAt.getTime())).size).toBe(1)
    expect(texts(await db.messages.listBySession(s.id))).toEqual(inputs.map((i) => i.textContent))
    created.forEach((m) => expect(m.context).toEqual({}))
  })

  test('an empty list writes nothing; a non-array is rejected', async ({ db }) => {
    expect(await db.messages.createMany([])).toEqual([])
    await expectValidation(db.messages.createMany({} as never), 'inputs')
  })

  test('one invalid row rejects the whole batch, naming its [index], before any SQL', async ({ db }) => {
    const s = await newSession(db)
    const err = await expectValidation(
      db.messages.createMany([
        { sessionId: s.id, role: 'user', textContent: 'ok' },
        { sessionId: s.id, role: 'user', textContent: 'ok' },
        { sessionId: s.id, role: 'robot' as never, textContent: 'bad' },
      ]),
      'role',
    )
    expect(err.message).toContain('messages.createMany[2]')
    expect(await db.messages.count(s.id)).toBe(0)
  })

  test('a foreign key failure in one row writes nothing (ForeignKeyError)', async ({ db }) => {
    const s = await newSession(db)
    const err = await db
      .transaction((tx) =>
        tx.messages.createMany([
          { sessionId: s.id, role: 'user', textContent: 'ok' },
          { sessionId: randomUUID(), role: 'user', textContent: 'orphan' },
        ]),
      )
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ForeignKeyError)
    expect(err).toMatchObject({ code: '23503', constraint: 'messages_session_id_fkey' })
    expect(await db.messages.count(s.id)).toBe(0)
  })
})

describe('messages.insertMany', () => {
  test('writes the rows in input order and returns only the count', async ({ db }) => {
    const s = await newSession(db)
    const ids = Array.from({ length: 5 }, () => randomUUID())
    const inputs = ids.map((id, i) => ({ id, sessionId: s.id, role: 'user' as const, textContent: `bulk${i}`, context: i % 2 ? { i } : undefined }))
    expect(await db.messages.insertMany(inputs)).toBe(5)
    const history = await db.messages.listBySession(s.id)
    expect(history.map((m) => m.id)).toEqual(ids)
    expect(history.map((m) => m.context)).toEqual([{}, { i: 1 }, {}, { i: 3 }, {}])
  })

  test('mixes rows with and without an id, createdAt or JSON: defaults fill the gaps', async ({ db }) => {
    const s = await newSession(db)
    const at = new Date('2024-01-02T03:04:05.678Z')
    const id = randomUUID()
    await db.messages.insertMany([
      { sessionId: s.id, role: 'user', textContent: 'a' },
      { id, sessionId: s.id, role: 'assistant', textContent: 'b', createdAt: at, toolCalls: { t: 1 } },
    ])
    const [a, b] = await db.messages.listBySession(s.id)
    expect(a!.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(a!.toolCalls).toEqual({})
    expect(b).toMatchObject({ id, createdAt: at, toolCalls: { t: 1 } })
  })

  test('one invalid row rejects the whole batch before any SQL', async ({ db }) => {
    const s = await newSession(db)
    const err = await expectValidation(
      db.messages.insertMany([{ sessionId: s.id, role: 'user' }, { sessionId: 'nope', role: 'user' }]),
      'sessionId',
    )
    expect(err.message).toContain('messages.insertMany[1]')
    expect(await db.messages.count(s.id)).toBe(0)
  })
})

describe('messages.listBySession / count', () => {
  test('history in written order, also for several creates in one transaction (equal now())', async ({ db }) => {
    const s = await newSession(db)
    const other = await newSession(db)
    const order = ['first', 'second', 'third', 'fourth', 'fifth']
    for (const [i, text] of order.entries()) {
      await db.messages.create({ sessionId: i % 2 ? other.id : s.id, role: 'user', textContent: `other-${text}` })
      await db.messages.create({ sessionId: s.id, role: i % 2 ? 'assistant' : 'user', textContent: text })
    }
    const history = await db.messages.listBySession(s.id)
    const mine = texts(history).filter((t) => !t!.startsWith('other-'))
    expect(mine).toEqual(order)
    expect(history.every((m) => m.sessionId === s.id)).toBe(true)
    expect(new Set(history.map((m) => m.createdAt.getTime())).size).toBe(1)
    const desc = await db.messages.listBySession(s.id, { order: 'desc' })
    expect(texts(desc)).toEqual([...texts(history)].reverse())
    expect(history.nextCursor).toBeNull()
  })

  test('cursor paging visits every message once, ascending and descending', async ({ db }) => {
    const s = await newSession(db)
    const written = texts(
      await db.messages.createMany(Array.from({ length: 7 }, (_, i) => ({ sessionId: s.id, role: 'user' as const, textContent: `${i}` }))),
    )
    for (const order of ['asc', 'desc'] as const) {
      const seen: (string | null)[] = []
      let cursor: string | null = null
      let calls = 0
      do {
        const page = await db.messages.listBySession(s.id, { limit: 3, cursor, order })
        expect(page.length).toBeLessThanOrEqual(3)
        seen.push(...texts(page))
        cursor = page.nextCursor
        calls++
      } while (cursor !== null && calls < 10)
      expect(calls).toBe(3)
      expect(seen).toEqual(order === 'asc' ? written : [...written].reverse())
    }
    const exact = await db.messages.listBySession(s.id, { limit: 7 })
    expect(exact).toHaveLength(7)
    expect(exact.nextCursor).toBeNull()
  })

  test('the latest N, oldest first: desc with a limit, reversed', async ({ db }) => {
    const s = await newSession(db)
    await db.messages.createMany(['a', 'b', 'c', 'd'].map((t) => ({ sessionId: s.id, role: 'user' as const, textContent: t })))
    const last2 = await db.messages.listBySession(s.id, { limit: 2, order: 'desc' })
    expect(texts(last2)).toEqual(['d', 'c'])
    expect(last2.nextCursor).not.toBeNull()
    expect(texts(await db.messages.listBySession(s.id, { order: 'desc', cursor: last2.nextCursor }))).toEqual(['b', 'a'])
  })

  test('endCursor: the position reached, set at the end too, so a reader resumes there', async ({ db }) => {
    const s = await newSession(db)
    const empty = await db.messages.listBySession(s.id)
    expect([empty.nextCursor, empty.endCursor]).toEqual([null, null])
    await db.messages.createMany(['a', 'b', 'c'].map((t) => ({ sessionId: s.id, role: 'user' as const, textContent: t })))
    const first = await db.messages.listBySession(s.id, { limit: 2 })
    expect(first.endCursor).toBe(first.nextCursor)
    const rest = await db.messages.listBySession(s.id, { limit: 2, cursor: first.nextCursor })
    expect(texts(rest)).toEqual(['c'])
    expect(rest.nextCursor).toBeNull()
    expect(rest.endCursor).not.toBeNull()
    const none = await db.messages.listBySession(s.id, { cursor: rest.endCursor })
    expect(none).toHaveLength(0)
    expect(none.endCursor).toBe(rest.endCursor) // nothing new: the same position
    await db.messages.create({ sessionId: s.id, role: 'assistant', textContent: 'd' })
    expect(texts(await db.messages.listBySession(s.id, { cursor: none.endCursor }))).toEqual(['d'])
    // Cursors hold a message's seq: a cursor of another kind (a page() cursor, an id) is refused.
    const page = await db.messages.page({ limit: 1 })
    await expectValidation(db.messages.listBySession(s.id, { cursor: page.nextCursor }), 'cursor')
  })

  test('an unknown session has no messages', async ({ db }) => {
    const list = await db.messages.listBySession(randomUUID())
    expect(list).toHaveLength(0)
    expect(list.nextCursor).toBeNull()
  })

  test('bad arguments are rejected before any SQL', async ({ db }) => {
    const s = await newSession(db)
    await expectValidation(db.messages.listBySession('nope'), 'sessionId')
    await expectValidation(db.messages.listBySession(s.id, { order: 'newest' as never }), 'order')
    await expectValidation(db.messages.listBySession(s.id, { limit: 0 }), 'limit')
    await expectValidation(db.messages.listBySession(s.id, { cursor: 'junk' }), 'cursor')
    await expectValidation(db.messages.listBySession(s.id, { offset: 1 } as never), 'offset')
    await expectValidation(db.messages.count('nope'), 'sessionId')
  })

  test('count(sessionId) counts one session; count() counts all', async ({ db }) => {
    const a = await newSession(db)
    const b = await newSession(db)
    const all = await db.messages.count()
    await db.messages.createMany([
      { sessionId: a.id, role: 'user' },
      { sessionId: a.id, role: 'assistant' },
      { sessionId: b.id, role: 'user' },
    ])
    expect(await db.messages.count(a.id)).toBe(2)
    expect(await db.messages.count(b.id)).toBe(1)
    expect(await db.messages.count(randomUUID())).toBe(0)
    expect(await db.messages.count()).toBe(all + 3)
  })
})

describe('messages.update / delete / deleteBySession', () => {
  test('update changes only the given fields and keeps the message in place', async ({ db }) => {
    const s = await newSession(db)
    const [m1, m2] = await db.messages.createMany([
      { sessionId: s.id, role: 'user', textContent: 'one', context: { k: 1 } },
      { sessionId: s.id, role: 'assistant', textContent: 'two' },
    ])
    const edited = await db.messages.update(m1!.id, { userFeedback: 'thumbs up', role: 'system' })
    expect(edited).toEqual({ ...m1, userFeedback: 'thumbs up', role: 'system', updatedAt: edited!.updatedAt })
    expect((await db.messages.listBySession(s.id)).map((m) => m.id)).toEqual([m1!.id, m2!.id])
    await expectValidation(db.messages.update(m1!.id, { role: 'robot' as never }), 'role')
    await expectValidation(db.messages.update(m1!.id, { sessionId: randomUUID() } as never), 'sessionId')
  })

  test('deleteBySession deletes one session\'s messages and returns how many', async ({ db }) => {
    const a = await newSession(db)
    const b = await newSession(db)
    await db.messages.createMany([
      { sessionId: a.id, role: 'user' },
      { sessionId: a.id, role: 'user' },
      { sessionId: b.id, role: 'user' },
    ])
    expect(await db.messages.deleteBySession(a.id)).toBe(2)
    expect(await db.messages.count(a.id)).toBe(0)
    expect(await db.messages.count(b.id)).toBe(1)
    expect(await db.messages.deleteBySession(a.id)).toBe(0)
    expect(await db.sessions.exists(a.id)).toBe(true)
    const err = await db.messages.deleteBySession('nope').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
  })

  test('delete is true once, then false', async ({ db }) => {
    const s = await newSession(db)
    const m = await db.messages.create({ sessionId: s.id, role: 'tool', toolOutputs: { r: 1 } })
    expect(await db.messages.delete(m.id)).toBe(true)
    expect(await db.messages.delete(m.id)).toBe(false)
    expect(await db.messages.get(m.id)).toBeNull()
  })
})
