// Issue 9 §5: filtered lists page. agents.list, users.list, sessions.list and memories.list take
// `cursor` and return an array carrying `nextCursor`, keyset-paged in each list's own order: a
// walk over every page returns every row exactly once, also when rows tie on the sort column.
import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import type { Db } from '../../src/index.js'
import type { ListPage } from '../../src/repositories/base.repository.js'
import { expectValidation, unique, useTestDb } from '../conformance/base-repository.conformance.js'

const { test } = useTestDb()

/** Every page of a list, `limit` rows at a time: the rows in order, and how many calls it took. */
async function walk<T>(list: (cursor: string | null) => Promise<ListPage<T>>): Promise<{ rows: T[]; calls: number }> {
  const rows: T[] = []
  let cursor: string | null = null
  let calls = 0
  do {
    const page: ListPage<T> = await list(cursor)
    expect(Array.isArray(page)).toBe(true)
    rows.push(...page)
    cursor = page.nextCursor
    if (cursor !== null) {
      expect(cursor.length, 'a cursor is at most 200 characters').toBeLessThanOrEqual(200)
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/)
    }
    calls++
  } while (cursor !== null && calls < 50)
  expect(cursor, 'the walk ends').toBeNull()
  return { rows, calls }
}

const ids = (rows: readonly { id: number | string }[]) => rows.map((r) => r.id)

describe('users.list pages', () => {
  test('in id order, every user once, nextCursor null on the last page', async ({ db }) => {
    for (let i = 0; i < 7; i++) await db.users.create({ email: `p${i}@example.com` })
    const all = await db.users.list()
    expect(all.nextCursor).toBeNull()
    const { rows, calls } = await walk((cursor) => db.users.list({ limit: 3, cursor }))
    expect(calls).toBe(3)
    expect(ids(rows)).toEqual(ids(all))
    expect(ids(all)).toEqual([...ids(all)].sort((a, b) => (a as number) - (b as number)))
    const exact = await db.users.list({ limit: 7 })
    expect([exact.length, exact.nextCursor]).toEqual([7, null])
  })

  test('the array still compares as its rows (nextCursor is not enumerable)', async ({ db }) => {
    const u = await db.users.create({ email: 'one@example.com' })
    const list = await db.users.list()
    expect(list).toEqual([u])
    expect(Object.keys(list)).toEqual(['0'])
    expect(JSON.parse(JSON.stringify(list))).toHaveLength(1)
  })
})

describe('agents.list pages', () => {
  test('by name, with activeOnly, every agent once', async ({ db }) => {
    const names = ['kilo', 'alpha', 'echo', 'bravo', 'india', 'delta', 'golf', 'charlie']
    for (const [i, name] of names.entries()) await db.agents.create({ name, type: 't', model: 'm', active: i % 4 !== 0 })
    for (const activeOnly of [true, false]) {
      const all = await db.agents.list({ activeOnly })
      const { rows } = await walk((cursor) => db.agents.list({ activeOnly, limit: 2, cursor }))
      expect(rows.map((a) => a.name)).toEqual(all.map((a) => a.name))
      expect(rows).toHaveLength(activeOnly ? 6 : 8)
    }
  })

  test('names of 255 emoji: cursors stay short and the walk is exact', async ({ db }) => {
    const names = ['a', 'b', 'c', 'd'].flatMap((c) => [`${c}${'😀'.repeat(254)}`, `${c}${'😀'.repeat(200)}x`, c])
    for (const name of names) await db.agents.create({ name, type: 't', model: 'm' })
    const all = await db.agents.list()
    expect(all).toHaveLength(12)
    for (const limit of [1, 2, 5]) {
      const { rows } = await walk((cursor) => db.agents.list({ limit, cursor }))
      expect(rows.map((a) => a.name)).toEqual(all.map((a) => a.name))
    }
  })

  test('a cursor whose long name was deleted meanwhile skips no row', async ({ db }) => {
    const long = (c: string) => `${c}${'ü'.repeat(250)}`
    for (const c of ['a', 'b', 'c', 'd']) await db.agents.create({ name: long(c), type: 't', model: 'm' })
    const first = await db.agents.list({ limit: 2 })
    expect(first.map((a) => a.name)).toEqual([long('a'), long('b')])
    await db.agents.delete(first[1]!.id)
    const rest = await walk((cursor) => db.agents.list({ limit: 2, cursor: cursor ?? first.nextCursor }))
    const seen = rest.rows.map((a) => a.name)
    expect(seen).toContain(long('c'))
    expect(seen).toContain(long('d'))
  })
})

describe('sessions.list pages (latest activity first)', () => {
  test('sessions tied on updatedAt (one transaction) come once each, by id within the tie', async ({ db }) => {
    const user = await db.users.create({ email: `${unique('s')}@example.com` })
    const made = []
    for (let i = 0; i < 7; i++) made.push(await db.sessions.create({ userId: user.id, name: `s${i}` }))
    expect(new Set(made.map((s) => s.updatedAt.getTime())).size, 'now() is the same in one transaction').toBe(1)
    const all = await db.sessions.list({ userId: user.id })
    expect(ids(all)).toEqual(ids(made).sort().reverse())
    for (const limit of [1, 2, 3]) {
      const { rows } = await walk((cursor) => db.sessions.list({ userId: user.id, limit, cursor }))
      expect(ids(rows)).toEqual(ids(all))
    }
  })

  test('timestamps a microsecond apart (one JS millisecond) page exactly', async ({ db }) => {
    const agent = await db.agents.create({ name: unique('micro'), type: 't', model: 'm' })
    const made: string[] = []
    for (const us of ['100', '100', '200', '300', '999', '999']) {
      const id = randomUUID()
      made.push(id)
      await db.query(`INSERT INTO sessions (id, agent_id, updated_at) VALUES ($1, $2, $3::timestamptz)`, [
        id, agent.id, `2026-01-01T00:00:00.001${us}Z`,
      ])
    }
    const all = await db.sessions.list({ agentId: agent.id })
    expect(all).toHaveLength(6)
    expect(new Set(all.map((s) => s.updatedAt.getTime())).size).toBe(1)
    const { rows } = await walk((cursor) => db.sessions.list({ agentId: agent.id, limit: 1, cursor }))
    expect(ids(rows)).toEqual(ids(all))
    expect(new Set(ids(rows)).size).toBe(6)
  })

  test('an update moves a session to the front of the next walk', async ({ db }) => {
    const user = await db.users.create({ email: `${unique('m')}@example.com` })
    const [a, b, c] = [await db.sessions.create({ userId: user.id }), await db.sessions.create({ userId: user.id }), await db.sessions.create({ userId: user.id })]
    await db.sessions.update(a!.id, { name: 'active' })
    const { rows } = await walk((cursor) => db.sessions.list({ userId: user.id, limit: 1, cursor }))
    expect(ids(rows)[0]).toBe(a!.id)
    expect(new Set(ids(rows))).toEqual(new Set([a!.id, b!.id, c!.id]))
  })
})

describe('memories.list pages', () => {
  async function scoped(db: Db) {
    const agent = await db.agents.create({ name: unique('ma'), type: 't', model: 'm' })
    const users = [await db.users.create({}), await db.users.create({}), await db.users.create({})]
    return { agent, users }
  }

  test('memories tied on name (one per scope) come once each, by id within the tie', async ({ db }) => {
    const { agent, users } = await scoped(db)
    for (const name of ['tone', 'prefs', 'tone']) {
      await db.memories.create({ name, agentId: agent.id }).catch(() => undefined)
    }
    for (const u of users) {
      for (const name of ['tone', 'prefs', 'zeta']) await db.memories.create({ name, agentId: agent.id, userId: u.id })
    }
    const all = await db.memories.list({ agentId: agent.id })
    expect(all).toHaveLength(11)
    expect(all.filter((m) => m.name === 'tone')).toHaveLength(4)
    for (const limit of [1, 2, 4]) {
      const { rows } = await walk((cursor) => db.memories.list({ agentId: agent.id, limit, cursor }))
      expect(ids(rows)).toEqual(ids(all))
    }
    const globals = await walk((cursor) => db.memories.list({ agentId: agent.id, userId: null, limit: 1, cursor }))
    expect(globals.rows.map((m) => m.name)).toEqual(['prefs', 'tone'])
  })

  test('a cursor works only with the filters it was made for', async ({ db }) => {
    const { agent, users } = await scoped(db)
    for (const u of users) await db.memories.create({ name: 'n', agentId: agent.id, userId: u.id })
    await db.memories.create({ name: 'n', agentId: agent.id })
    const page = await db.memories.list({ agentId: agent.id, limit: 1 })
    expect(page.nextCursor).not.toBeNull()
    const cursor = page.nextCursor!
    expect(await db.memories.list({ agentId: agent.id, limit: 1, cursor })).toHaveLength(1)
    const err = await expectValidation(db.memories.list({ agentId: agent.id, userId: null, cursor }), 'cursor')
    expect(err.issues[0]!.messages[0]).toMatch(/other filters/)
    await expectValidation(db.memories.list({ agentId: agent.id, userId: users[0]!.id, cursor }), 'cursor')
    await expectValidation(db.memories.list({ cursor }), 'cursor')
    await expectValidation(db.memories.list({ agentId: agent.id, readMode: 'tool', cursor }), 'cursor')
  })
})
