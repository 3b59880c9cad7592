import { describe, expect } from 'vitest'
import { Message, type Db } from '../../src/index.js'
import { expectValidation, unique, useTestDb } from '../conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { test, log } = ctx

async function session(db: Db) {
  const agent = await db.agents.create({ name: unique('agent'), type: 't', model: 'm' })
  return db.sessions.create({ agentId: agent.id })
}

describe('messages.tokenCount', () => {
  test('given at create: stored as given', async ({ db }) => {
    const s = await session(db)
    const m = await db.messages.create({ sessionId: s.id, role: 'user', textContent: 'a'.repeat(400), tokenCount: 7 })
    expect(m.tokenCount).toBe(7)
    expect((await db.messages.get(m.id))?.tokenCount).toBe(7)
    const zero = await db.messages.create({ sessionId: s.id, role: 'user', textContent: 'abc', tokenCount: 0 })
    expect(zero.tokenCount).toBe(0)
  })

  test('estimated at write time: ceil(characters / 4) over text and non-empty tool calls/outputs', async ({ db }) => {
    const s = await session(db)
    const cases: [Parameters<Db['messages']['create']>[0], number][] = [
      [{ sessionId: s.id, role: 'user', textContent: 'Hello world!' }, 3], // 12 characters
      [{ sessionId: s.id, role: 'user', textContent: 'Hello world!!' }, 4], // 13
      [{ sessionId: s.id, role: 'user', textContent: 'a' }, 1],
      [{ sessionId: s.id, role: 'user', textContent: '' }, 0],
      [{ sessionId: s.id, role: 'user' }, 0],
      [{ sessionId: s.id, role: 'user', textContent: 'héllo👍👍' }, 2], // 7 characters (9 UTF-16 units)
      // '{"a": 1}' is 8 characters: 4 + 8 = 12 → 3
      [{ sessionId: s.id, role: 'assistant', textContent: 'abcd', toolCalls: { a: 1 } }, 3],
      // '[1, 2]' is 6 characters: 6 + 6 → 3
      [{ sessionId: s.id, role: 'tool', toolCalls: [1, 2], toolOutputs: [1, 2] }, 3],
      // '{}' counts nothing; '[]' counts 2 characters
      [{ sessionId: s.id, role: 'tool', textContent: 'abcd', toolCalls: {}, toolOutputs: {} }, 1],
      [{ sessionId: s.id, role: 'tool', textContent: 'abcd', toolOutputs: [] }, 2],
      [{ sessionId: s.id, role: 'user', textContent: 'x'.repeat(4001), tokenCount: null }, 1001],
    ]
    for (const [input, expected] of cases) {
      const m = await db.messages.create(input)
      expect(m.tokenCount, JSON.stringify(input)).toBe(expected)
    }
  })

  test('re-estimated when the text or tool calls change, unless the update sets it', async ({ db }) => {
    const s = await session(db)
    const m = await db.messages.create({ sessionId: s.id, role: 'user', textContent: 'abcd', tokenCount: 50 })
    expect(m.tokenCount).toBe(50)
    // Other fields: the count stays.
    expect((await db.messages.update(m.id, { flagged: 'yes' }))?.tokenCount).toBe(50)
    // The same text: nothing changed, the count stays.
    expect((await db.messages.update(m.id, { textContent: 'abcd' }))?.tokenCount).toBe(50)
    expect((await db.messages.update(m.id, { textContent: 'a'.repeat(40) }))?.tokenCount).toBe(10)
    expect((await db.messages.update(m.id, { toolCalls: { a: 1 } }))?.tokenCount).toBe(12) // 40 + 8
    expect((await db.messages.update(m.id, { textContent: 'a'.repeat(40), tokenCount: 99 }))?.tokenCount).toBe(99)
    // Regression (review of issue 10): a count given with new text is kept even when it equals the old one.
    expect((await db.messages.update(m.id, { textContent: 'b'.repeat(400), tokenCount: 99 }))?.tokenCount).toBe(99)
    expect((await db.messages.update(m.id, { textContent: 'a'.repeat(40) }))?.tokenCount).toBe(12) // 40 + 8 again
    expect((await db.messages.update(m.id, { tokenCount: 5 }))?.tokenCount).toBe(5)
    expect((await db.messages.update(m.id, { textContent: null }))?.tokenCount).toBe(2) // '{"a": 1}'
    expect((await db.messages.get(m.id))?.tokenCount).toBe(2)
  })

  test('createMany and insertMany: given counts kept, the others estimated', async ({ db }) => {
    const s = await session(db)
    const created = await db.messages.createMany([
      { sessionId: s.id, role: 'user', textContent: 'a'.repeat(10) },
      { sessionId: s.id, role: 'assistant', textContent: 'b'.repeat(10), tokenCount: 42 },
      { sessionId: s.id, role: 'tool', toolOutputs: { a: 1 } },
    ])
    expect(created.map((m) => m.tokenCount)).toEqual([3, 42, 2])
    // No row gives a count: the column is still estimated.
    const plain = await db.messages.createMany([{ sessionId: s.id, role: 'user', textContent: 'c'.repeat(9) }])
    expect(plain[0]?.tokenCount).toBe(3)
    const written = await db.messages.insertMany([
      { sessionId: s.id, role: 'user', textContent: 'd'.repeat(17) },
      { sessionId: s.id, role: 'user', textContent: 'e', tokenCount: 1000 },
    ])
    expect(written).toBe(2)
    const all = await db.messages.listBySession(s.id)
    expect(all.map((m) => m.tokenCount)).toEqual([3, 42, 2, 3, 5, 1000])
  })

  test('is part of the entity: toPlain / fromPlain keep it', async ({ db }) => {
    const s = await session(db)
    const m = await db.messages.create({ sessionId: s.id, role: 'user', textContent: 'abcdefgh' })
    expect(m.toPlain()).toMatchObject({ tokenCount: 2 })
    const copy = Message.fromPlain(JSON.parse(JSON.stringify(m.toPlain())))
    expect(copy).toEqual(m)
    expect(copy.tokenCount).toBe(2)
  })

  test.for([-1, 1.5, '3', 2 ** 31, Number.NaN, true])('a bad tokenCount (%s) is a ValidationError before any SQL', async (bad, { db }) => {
    const s = await session(db)
    log.clear()
    await expectValidation(db.messages.create({ sessionId: s.id, role: 'user', tokenCount: bad as never }), 'tokenCount')
    await expectValidation(db.messages.createMany([{ sessionId: s.id, role: 'user', tokenCount: bad as never }]), 'tokenCount')
    await expectValidation(db.messages.insertMany([{ sessionId: s.id, role: 'user', tokenCount: bad as never }]), 'tokenCount')
    await expectValidation(db.messages.update(s.id, { tokenCount: bad as never }), 'tokenCount')
    expect(log.queries).toEqual([])
  })

  test('update takes no null tokenCount (the column always has a count)', async ({ db }) => {
    const s = await session(db)
    const m = await db.messages.create({ sessionId: s.id, role: 'user', textContent: 'abcd' })
    log.clear()
    await expectValidation(db.messages.update(m.id, { tokenCount: null as never }), 'tokenCount')
    expect(log.queries).toEqual([])
  })
})
