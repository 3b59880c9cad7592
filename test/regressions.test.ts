// One test per defect of the original Python layer (issue 2 §6, original-python-layer.md §5).
import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { ConflictError, type Db } from '../src/index.js'
import { unique, useTestDb } from './conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { test } = ctx
const MISSING_INT = 2_147_483_647

const one = async <R>(db: Db, text: string, params: unknown[] = []): Promise<R> => {
  const rows = await db.query<R>(text, params)
  expect(rows).toHaveLength(1)
  return rows[0]!
}

describe('regression: racing upserts create duplicate agents', () => {
  test('50 concurrent agents.create with one name → one row, no error', async () => {
    const root = ctx.root()
    const name = unique('race-agent')
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => root.agents.create({ name, type: 'simple', model: `m${i}` })),
      )
      expect(results.filter((r) => r.status === 'rejected')).toEqual([])
      const ids = new Set(results.map((r) => (r as PromiseFulfilledResult<{ id: number }>).value.id))
      expect(ids.size).toBe(1)
      const { n } = await one<{ n: number }>(root, 'SELECT count(*)::int AS n FROM agents WHERE name = $1', [name])
      expect(n).toBe(1)
    } finally {
      await root.query('DELETE FROM agents WHERE name = $1', [name])
    }
  })
})

describe('regression: racing upserts create duplicate users (email in mixed case)', () => {
  test('50 concurrent users.create with one email in different cases → one row, no error', async () => {
    const root = ctx.root()
    const email = `${unique('Race')}@Example.IO`
    const variant = (i: number) =>
      [...email].map((c, j) => ((i >> j % 6) & 1 ? c.toUpperCase() : c.toLowerCase())).join('')
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => root.users.create({ email: variant(i), phoneNumber: `${i}` })),
      )
      expect(results.filter((r) => r.status === 'rejected')).toEqual([])
      const ids = new Set(results.map((r) => (r as PromiseFulfilledResult<{ id: number }>).value.id))
      expect(ids.size).toBe(1)
      const { n } = await one<{ n: number }>(root, 'SELECT count(*)::int AS n FROM users WHERE lower(email) = lower($1)', [email])
      expect(n).toBe(1)
      expect((await root.users.getByEmail(email.toUpperCase()))!.id).toBe([...ids][0])
    } finally {
      await root.query('DELETE FROM users WHERE lower(email) = lower($1)', [email])
    }
  })
})

describe('regression: full-row overwrite on update and upsert', () => {
  test('re-creating an agent does not reset run_id, active, version or config', async ({ db }) => {
    const a = await db.agents.create({ name: 'keep', type: 't', model: 'm', version: '2.0', config: { k: 1 }, systemPrompt: 'sp' })
    await db.agents.incrementRunId(a.id)
    await db.agents.incrementRunId(a.id)
    await db.agents.update(a.id, { active: false })
    const again = await db.agents.create({ name: 'keep', type: 't', model: 'm2' })
    expect(again).toMatchObject({ id: a.id, model: 'm2', runId: 2, active: false, version: '2.0', config: { k: 1 }, systemPrompt: 'sp' })
  })

  test('a partial update leaves every other column as it was, for every repository', async ({ db }) => {
    const u = await db.users.create({ email: 'full@example.com', phoneNumber: '1', userData: { a: 1 } })
    expect(await db.users.update(u.id, { phoneNumber: '2' })).toMatchObject({ email: 'full@example.com', userData: { a: 1 } })
    expect(await db.users.create({ email: 'FULL@example.com' })).toMatchObject({ id: u.id, phoneNumber: '2', userData: { a: 1 } })
    const a = await db.agents.create({ name: 'a', type: 't', model: 'm' })
    const s = await db.sessions.create({ userId: u.id, agentId: a.id, name: 'n', platform: 'web', metadata: { m: 1 } })
    expect(await db.sessions.update(s.id, { platform: 'cli' })).toMatchObject({ userId: u.id, agentId: a.id, name: 'n', metadata: { m: 1 } })
    const mem = await db.memories.create({ name: 'm', agentId: a.id, content: 'c', readMode: 'tool', access: 'read', description: 'd' })
    expect(await db.memories.update(mem.id, { content: 'c2' })).toMatchObject({ readMode: 'tool', access: 'read', description: 'd' })
    expect(await db.memories.create({ name: 'm', agentId: a.id, content: 'c3' })).toMatchObject({ id: mem.id, readMode: 'tool', description: 'd' })
    const msg = await db.messages.create({ sessionId: s.id, role: 'user', textContent: 't', context: { c: 1 } })
    expect(await db.messages.update(msg.id, { flagged: 'y' })).toMatchObject({ textContent: 't', context: { c: 1 }, role: 'user' })
  })
})

describe('regression: agent-global and user memories with one name collide', () => {
  test('an agent-global memory and a user memory of one name are separate; upserts touch only their own', async ({ db }) => {
    const a = await db.agents.create({ name: 'agent', type: 't', model: 'm' })
    const u = await db.users.create({ email: 'collide@example.com' })
    const mine = await db.memories.create({ name: 'tone', agentId: a.id, userId: u.id, content: 'casual' })
    const global = await db.memories.create({ name: 'tone', agentId: a.id, content: 'formal' })
    expect(global.id).not.toBe(mine.id)
    await db.memories.create({ name: 'tone', agentId: a.id, content: 'neutral' })
    expect(await db.memories.get(mine.id)).toMatchObject({ userId: u.id, content: 'casual' })
    expect(await db.memories.getByName('tone', { agentId: a.id })).toMatchObject({ id: global.id, userId: null, content: 'neutral' })
    expect((await db.memories.list({ agentId: a.id, userId: null })).map((m) => m.id)).toEqual([global.id])
    expect((await db.memories.list({ agentId: a.id, userId: u.id })).map((m) => m.id)).toEqual([mine.id])
  })
})

describe('regression: update reports success for a missing id', () => {
  test('update of a missing id returns null in every repository', async ({ db }) => {
    expect(await db.agents.update(MISSING_INT, { description: 'x' })).toBeNull()
    expect(await db.users.update(MISSING_INT, { phoneNumber: '1' })).toBeNull()
    expect(await db.sessions.update(randomUUID(), { name: 'x' })).toBeNull()
    expect(await db.messages.update(randomUUID(), { textContent: 'x' })).toBeNull()
    expect(await db.memories.update(randomUUID(), { content: 'x' })).toBeNull()
    expect(await db.agents.incrementRunId(MISSING_INT)).toBeNull()
    expect(await db.sessions.finish(randomUUID())).toBe(false)
  })
})

describe('regression: delete reports true when nothing was deleted', () => {
  test('delete of a missing id returns false in every repository', async ({ db }) => {
    expect(await db.agents.delete(MISSING_INT)).toBe(false)
    expect(await db.users.delete(MISSING_INT)).toBe(false)
    expect(await db.sessions.delete(randomUUID())).toBe(false)
    expect(await db.messages.delete(randomUUID())).toBe(false)
    expect(await db.memories.delete(randomUUID())).toBe(false)
    expect(await db.messages.deleteBySession(randomUUID())).toBe(0)
  })
})

describe('regression: {} is stored as NULL', () => {
  test('an empty object stays an empty object in every JSON column, on create and on update', async ({ db }) => {
    const a = await db.agents.create({ name: 'empty', type: 't', model: 'm', config: {} })
    const u = await db.users.create({ userData: {} })
    const s = await db.sessions.create({ metadata: {} })
    const m = await db.messages.create({ sessionId: s.id, role: 'user', rawPayload: {}, toolCalls: {}, context: {} })
    const mem = await db.memories.create({ name: 'x', agentId: a.id, metadata: {} })
    const checks: [string, string, unknown][] = [
      ['agents', 'config', a.id],
      ['users', 'user_data', u.id],
      ['sessions', 'metadata', s.id],
      ['memories', 'metadata', mem.id],
      ...['raw_payload', 'tool_calls', 'tool_outputs', 'context', 'channel_payload'].map((c) => ['messages', c, m.id] as [string, string, unknown]),
    ]
    const expectEmpty = async () => {
      for (const [table, column, id] of checks) {
        const row = await one<{ is_null: boolean; is_empty: boolean }>(
          db,
          `SELECT ${column} IS NULL AS is_null, ${column} = '{}'::jsonb AS is_empty FROM ${table} WHERE id = $1`,
          [id],
        )
        expect(row, `${table}.${column}`).toEqual({ is_null: false, is_empty: true })
      }
    }
    await expectEmpty()
    await db.agents.update(a.id, { config: { k: 1 } })
    await db.agents.update(a.id, { config: {} })
    await db.users.update(u.id, { userData: {} })
    await db.sessions.update(s.id, { metadata: {} })
    await db.messages.update(m.id, { context: {} })
    await db.memories.update(mem.id, { metadata: {} })
    await expectEmpty()
    expect((await db.agents.get(a.id))!.config).toEqual({})
  })
})

describe('regression: execute_batch does not work as documented', () => {
  test('db.batch runs `VALUES ($1, $2)` once per row and returns the rows affected', async ({ db }) => {
    const rows = Array.from({ length: 25 }, (_, i) => [`batch-${i}`, `type-${i}`])
    expect(await db.batch("INSERT INTO agents (name, type, model) VALUES ($1, $2, 'gpt-4')", rows)).toBe(25)
    const names = (await db.agents.list({ activeOnly: false })).map((a) => a.name).sort()
    expect(names).toEqual(rows.map((r) => r[0]).sort())
    expect((await db.agents.getByName('batch-7'))!.type).toBe('type-7')
  })

  test('db.batch is atomic: one failing row leaves nothing written', async () => {
    const root = ctx.root()
    const prefix = unique('atomic')
    const rows = [[`${prefix}-1`], [`${prefix}-2`], [`${prefix}-1`], [`${prefix}-3`]]
    try {
      const err = await root
        .batch("INSERT INTO agents (name, type, model) VALUES ($1, 't', 'm')", rows)
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConflictError)
      expect(err).toMatchObject({ code: '23505', constraint: 'agents_name_key' })
      const { n } = await one<{ n: number }>(root, 'SELECT count(*)::int AS n FROM agents WHERE name LIKE $1', [`${prefix}%`])
      expect(n).toBe(0)
    } finally {
      await root.query('DELETE FROM agents WHERE name LIKE $1', [`${prefix}%`])
    }
  })
})

describe('regression: message timestamps are written in local time', () => {
  test('created_at is the server now() of its transaction, the same instant in any session time zone', async ({ db }) => {
    await db.query("SET LOCAL TIME ZONE 'America/Sao_Paulo'")
    expect((await one<{ tz: string }>(db, "SELECT current_setting('TimeZone') AS tz")).tz).toBe('America/Sao_Paulo')
    const s = await db.sessions.create({})
    const m = await db.messages.create({ sessionId: s.id, role: 'user', textContent: 'hi' })
    const row = await one<{ same: boolean; now: Date; text: string }>(
      db,
      'SELECT created_at = now() AS same, now() AS now, created_at::text AS text FROM messages WHERE id = $1',
      [m.id],
    )
    expect(row.same).toBe(true)
    expect(m.createdAt.getTime()).toBe(row.now.getTime())
    expect(row.text).toMatch(/-0[23]$/) // rendered in São Paulo time…
    expect(Date.parse(row.text.replace(' ', 'T') + ':00')).toBe(m.createdAt.getTime()) // …but the same instant
    expect(Math.abs(m.createdAt.getTime() - Date.now())).toBeLessThan(10 * 60_000)
    const given = new Date('2024-07-01T12:00:00.000Z')
    const g = await db.messages.create({ sessionId: s.id, role: 'user', createdAt: given })
    expect(g.createdAt.toISOString()).toBe(given.toISOString())
    const stored = await one<{ utc: string }>(
      db,
      "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS utc FROM messages WHERE id = $1",
      [g.id],
    )
    expect(stored.utc).toBe('2024-07-01 12:00:00')
  })
})

describe('regression: deleting an agent, user or session fails on foreign keys', () => {
  test('deletes succeed and cascade to sessions, messages and memories', async ({ db }) => {
    const build = async (tag: string) => {
      const a = await db.agents.create({ name: `fk-${tag}`, type: 't', model: 'm' })
      const u = await db.users.create({ email: `fk-${tag}@example.com` })
      const s = await db.sessions.create({ userId: u.id, agentId: a.id })
      await db.messages.createMany([
        { sessionId: s.id, userId: u.id, role: 'user', textContent: 'q' },
        { sessionId: s.id, agentId: a.id, role: 'assistant', textContent: 'a' },
      ])
      const mem = await db.memories.create({ name: 'm', agentId: a.id, userId: u.id, sessionId: s.id })
      return { a, u, s, mem }
    }
    const gone = async (x: Awaited<ReturnType<typeof build>>) => {
      expect(await db.sessions.get(x.s.id)).toBeNull()
      expect(await db.messages.count(x.s.id)).toBe(0)
      expect(await db.memories.get(x.mem.id)).toBeNull()
    }
    const viaAgent = await build('agent')
    expect(await db.agents.delete(viaAgent.a.id)).toBe(true)
    await gone(viaAgent)
    const viaUser = await build('user')
    expect(await db.users.delete(viaUser.u.id)).toBe(true)
    await gone(viaUser)
    const viaSession = await build('session')
    expect(await db.sessions.delete(viaSession.s.id)).toBe(true)
    await gone(viaSession)
    expect(await db.agents.get(viaSession.a.id)).not.toBeNull()
    expect(await db.users.get(viaSession.u.id)).not.toBeNull()
  })
})

describe('regression: a session created without an id gets NULL and violates the primary key', () => {
  test('sessions.create without id gets a generated uuid', async ({ db }) => {
    const s = await db.sessions.create({ name: 'no id' })
    expect(s.id).toMatch(/^[0-9a-f-]{36}$/)
  })
})
