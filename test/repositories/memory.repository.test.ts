import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { CheckViolationError, ConflictError, ForeignKeyError, Memory, type Db } from '../../src/index.js'
import {
  describeRepositoryConformance,
  expectValidation,
  unique,
  useTestDb,
} from '../conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { test } = ctx

describeRepositoryConformance<Memory, string, number>({
  name: 'memories',
  ctx,
  repo: (db) => db.memories,
  entity: Memory,
  fromPlain: (plain) => Memory.fromPlain(plain),
  parents: async (db) => (await db.agents.create({ name: unique('mem-agent'), type: 't', model: 'm' })).id,
  input: (agentId, i) => ({ name: `conf-memory-${i}`, agentId, content: 'c' }),
  jsonFields: ['metadata'],
  patch: { content: 'new content', readMode: 'tool', metadata: { source: 'test' } },
  pageKey: 'uuid',
  missingId: () => randomUUID(),
})

/** An agent, a user and a session of theirs, to scope memories to. */
async function scope(db: Db) {
  const agent = await db.agents.create({ name: unique('agent'), type: 't', model: 'm' })
  const agent2 = await db.agents.create({ name: unique('agent2'), type: 't', model: 'm' })
  const user = await db.users.create({ email: `${unique('m')}@example.com` })
  const session = await db.sessions.create({ userId: user.id, agentId: agent.id })
  return { agent, agent2, user, session }
}

describe('memories.create (create_memory)', () => {
  test('creates a memory with every field', async ({ db }) => {
    const { agent, user, session } = await scope(db)
    const m = await db.memories.create({
      name: 'prefs', description: 'd', content: 'likes tea', agentId: agent.id, userId: user.id,
      sessionId: session.id, readMode: 'system_prompt', access: 'read_write', metadata: { v: 1 },
    })
    expect(m).toMatchObject({
      name: 'prefs', description: 'd', content: 'likes tea', agentId: agent.id, userId: user.id,
      sessionId: session.id, readMode: 'system_prompt', access: 'read_write', metadata: { v: 1 },
    })
    expect(await db.memories.get(m.id)).toEqual(m)
  })

  test('upserts on name + exact scope, overwriting only the fields given', async ({ db }) => {
    const { agent, user } = await scope(db)
    const first = await db.memories.create({
      name: 'tone', agentId: agent.id, userId: user.id, content: 'formal', readMode: 'tool', access: 'read', description: 'd',
    })
    const again = await db.memories.create({ name: 'tone', agentId: agent.id, userId: user.id, content: 'casual' })
    expect(again.id).toBe(first.id)
    expect(again).toMatchObject({ content: 'casual', readMode: 'tool', access: 'read', description: 'd' })
    const bare = await db.memories.create({ name: 'tone', agentId: agent.id, userId: user.id })
    expect(bare).toMatchObject({ id: first.id, content: 'casual' })
    expect(await db.memories.count()).toBe(1)
  })

  test('one name in different scopes gives different memories', async ({ db }) => {
    const { agent, agent2, user, session } = await scope(db)
    const scopes = [
      { agentId: agent.id },
      { agentId: agent.id, userId: user.id },
      { agentId: agent.id, userId: user.id, sessionId: session.id },
      { userId: user.id },
      { agentId: agent2.id },
      { agentId: agent2.id, userId: user.id },
    ]
    const ids = []
    for (const s of scopes) ids.push((await db.memories.create({ name: 'tone', content: JSON.stringify(s), ...s })).id)
    expect(new Set(ids).size).toBe(scopes.length)
    for (const [i, s] of scopes.entries()) {
      expect((await db.memories.getByName('tone', s))!.id).toBe(ids[i])
      expect((await db.memories.create({ name: 'tone', ...s })).id).toBe(ids[i])
    }
    expect(await db.memories.count()).toBe(scopes.length)
  })

  test('a memory needs an agent or a user; validation happens before any SQL', async ({ db }) => {
    const { agent } = await scope(db)
    await expectValidation(db.memories.create({ name: 'orphan' }), 'agentId')
    await expectValidation(db.memories.create({ name: 'orphan', agentId: null, userId: null }), 'agentId')
    await expectValidation(db.memories.create({ name: '', agentId: agent.id }), 'name')
    await expectValidation(db.memories.create({ name: 'm', agentId: agent.id, readMode: 'always' as never }), 'readMode')
    await expectValidation(db.memories.create({ name: 'm', agentId: agent.id, access: 'admin' as never }), 'access')
    await expectValidation(db.memories.create({ name: 'm', agentId: agent.id, sessionId: 'nope' }), 'sessionId')
    await expectValidation(db.memories.create({ name: 'm', agent_id: agent.id } as never), 'agent_id')
    expect(await db.memories.count()).toBe(0)
  })

  test('a missing agent is a ForeignKeyError (23503, memories_agent_id_fkey)', async ({ db }) => {
    const err = await db
      .transaction((tx) => tx.memories.create({ name: 'm', agentId: 2_147_483_647 }))
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ForeignKeyError)
    expect(err).toMatchObject({ code: '23503', constraint: 'memories_agent_id_fkey' })
  })
})

describe('memories.getByName (get_memory_by_name)', () => {
  test('matches the exact scope: a key left out means NULL, never another scope', async ({ db }) => {
    const { agent, user } = await scope(db)
    const mine = await db.memories.create({ name: 'tone', agentId: agent.id, userId: user.id })
    expect(await db.memories.getByName('tone', { agentId: agent.id })).toBeNull()
    expect(await db.memories.getByName('tone', { userId: user.id })).toBeNull()
    expect(await db.memories.getByName('tone', { agentId: agent.id, userId: user.id })).toEqual(mine)
    expect(await db.memories.getByName('Tone', { agentId: agent.id, userId: user.id })).toBeNull()
    const global = await db.memories.create({ name: 'tone', agentId: agent.id })
    expect(await db.memories.getByName('tone', { agentId: agent.id })).toEqual(global)
    expect(await db.memories.getByName('tone', { agentId: agent.id, userId: null })).toEqual(global)
  })

  test('rejects bad names and scopes', async ({ db }) => {
    await expectValidation(db.memories.getByName(''), 'name')
    await expectValidation(db.memories.getByName('x', { agentId: 0 }), 'agentId')
    await expectValidation(db.memories.getByName('x', { sessionId: 'nope' }), 'sessionId')
    await expectValidation(db.memories.getByName('x', { readMode: 'tool' } as never), 'readMode')
  })
})

describe('memories.list / count (list_memories)', () => {
  test('filters: a key left out means any, null means IS NULL', async ({ db }) => {
    const { agent, agent2, user, session } = await scope(db)
    const global = await db.memories.create({ name: 'g', agentId: agent.id, readMode: 'system_prompt', access: 'read' })
    const perUser = await db.memories.create({ name: 'u', agentId: agent.id, userId: user.id, readMode: 'tool' })
    const perSession = await db.memories.create({ name: 's', agentId: agent.id, userId: user.id, sessionId: session.id })
    const userOnly = await db.memories.create({ name: 'x', userId: user.id, access: 'write' })
    const other = await db.memories.create({ name: 'o', agentId: agent2.id, readMode: 'tool' })
    const ids = async (f: object) => (await db.memories.list(f)).map((m) => m.id).sort()
    const of = (...m: Memory[]) => m.map((x) => x.id).sort()
    expect(await ids({})).toEqual(of(global, perUser, perSession, userOnly, other))
    expect(await ids({ agentId: agent.id })).toEqual(of(global, perUser, perSession))
    expect(await ids({ agentId: agent.id, userId: null })).toEqual(of(global))
    expect(await ids({ agentId: agent.id, userId: user.id })).toEqual(of(perUser, perSession))
    expect(await ids({ agentId: agent.id, userId: user.id, sessionId: null })).toEqual(of(perUser))
    expect(await ids({ sessionId: session.id })).toEqual(of(perSession))
    expect(await ids({ userId: user.id, agentId: null })).toEqual(of(userOnly))
    expect(await ids({ readMode: 'tool' })).toEqual(of(perUser, other))
    expect(await ids({ agentId: agent.id, readMode: 'tool' })).toEqual(of(perUser))
    expect(await ids({ readMode: null })).toEqual(of(perSession, userOnly))
    expect(await ids({ access: 'write' })).toEqual(of(userOnly))
    expect(await ids({ access: null, agentId: agent.id })).toEqual(of(perUser, perSession))
    expect(await db.memories.count({ agentId: agent.id })).toBe(3)
    expect(await db.memories.count({ agentId: agent.id, userId: null })).toBe(1)
    expect(await db.memories.count({ readMode: 'tool' })).toBe(2)
    expect(await db.memories.count()).toBe(5)
  })

  test('orders by name, and limit caps the result', async ({ db }) => {
    const { agent } = await scope(db)
    for (const name of ['delta', 'alpha', 'charlie', 'bravo']) await db.memories.create({ name, agentId: agent.id })
    expect((await db.memories.list({ agentId: agent.id })).map((m) => m.name)).toEqual(['alpha', 'bravo', 'charlie', 'delta'])
    expect((await db.memories.list({ agentId: agent.id, limit: 2 })).map((m) => m.name)).toEqual(['alpha', 'bravo'])
  })

  test('bad filters are rejected before any SQL', async ({ db }) => {
    await expectValidation(db.memories.list({ agentId: -1 }), 'agentId')
    await expectValidation(db.memories.list({ userId: '2' } as never), 'userId')
    await expectValidation(db.memories.list({ readMode: 'x' } as never), 'readMode')
    await expectValidation(db.memories.list({ access: 'x' } as never), 'access')
    await expectValidation(db.memories.list({ limit: 5000 }), 'limit')
    await expectValidation(db.memories.list({ name_pattern: 'x' } as never), 'name_pattern')
    await expectValidation(db.memories.count({ limit: 1 } as never), 'limit')
  })
})

describe('memories.update / delete (update_memory, delete_memory)', () => {
  test('update changes only the given fields', async ({ db }) => {
    const { agent, user } = await scope(db)
    const m = await db.memories.create({ name: 'n', agentId: agent.id, userId: user.id, content: 'c', access: 'read' })
    const u = await db.memories.update(m.id, { content: 'c2', readMode: 'tool' })
    expect(u).toEqual({ ...m, content: 'c2', readMode: 'tool', updatedAt: u!.updatedAt })
    const v = await db.memories.update(m.id, { userId: null })
    expect(v).toMatchObject({ agentId: agent.id, userId: null, content: 'c2', access: 'read' })
  })

  test('moving onto an existing name + scope is a ConflictError (23505, memories_scope_key)', async ({ db }) => {
    const { agent } = await scope(db)
    await db.memories.create({ name: 'taken', agentId: agent.id })
    const m = await db.memories.create({ name: 'mine', agentId: agent.id })
    const err = await db.transaction((tx) => tx.memories.update(m.id, { name: 'taken' })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConflictError)
    expect(err).toMatchObject({ code: '23505', constraint: 'memories_scope_key' })
  })

  test('removing both owners is a CheckViolationError (23514, memories_owner_check)', async ({ db }) => {
    const { agent } = await scope(db)
    const m = await db.memories.create({ name: 'n', agentId: agent.id })
    const err = await db.transaction((tx) => tx.memories.update(m.id, { agentId: null })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CheckViolationError)
    expect(err).toMatchObject({ code: '23514', constraint: 'memories_owner_check' })
    const raw = await db
      .transaction((tx) => tx.query("UPDATE memories SET read_mode = 'always' WHERE id = $1", [m.id]))
      .catch((e: unknown) => e)
    expect(raw).toMatchObject({ code: '23514', constraint: 'memories_read_mode_check' })
    expect(await db.memories.get(m.id)).toEqual(m)
  })

  test('update validates before any SQL', async ({ db }) => {
    const { agent } = await scope(db)
    const m = await db.memories.create({ name: 'n', agentId: agent.id })
    await expectValidation(db.memories.update(m.id, { access: 'all' as never }), 'access')
    await expectValidation(db.memories.update(m.id, { name: '' }), 'name')
    await expectValidation(db.memories.update(m.id, { id: randomUUID() } as never), 'id')
    expect(await db.memories.get(m.id)).toEqual(m)
  })

  test('delete is true once, then false; a new create with that name is a new memory', async ({ db }) => {
    const { agent } = await scope(db)
    const m = await db.memories.create({ name: 'n', agentId: agent.id })
    expect(await db.memories.delete(m.id)).toBe(true)
    expect(await db.memories.delete(m.id)).toBe(false)
    expect(await db.memories.getByName('n', { agentId: agent.id })).toBeNull()
    expect((await db.memories.create({ name: 'n', agentId: agent.id })).id).not.toBe(m.id)
  })
})
