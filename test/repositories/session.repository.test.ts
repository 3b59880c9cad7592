import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import { ConflictError, ForeignKeyError, Session, type Db } from '../../src/index.js'
import {
  describeRepositoryConformance,
  expectValidation,
  unique,
  useTestDb,
} from '../conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { test } = ctx

describeRepositoryConformance<Session, string, null>({
  name: 'sessions',
  ctx,
  repo: (db) => db.sessions,
  entity: Session,
  fromPlain: (plain) => Session.fromPlain(plain),
  parents: async () => null,
  input: (_, i) => ({ name: `conf-session-${i}`, platform: 'web' }),
  jsonFields: ['metadata'],
  patch: { name: 'renamed', metadata: { channel: 'whatsapp' } },
  pageKey: 'uuid',
  missingId: () => randomUUID(),
})

/** A user and two agents to hang sessions on. */
async function owners(db: Db) {
  const user = await db.users.create({ email: `${unique('s')}@example.com` })
  const other = await db.users.create({ email: `${unique('o')}@example.com` })
  const agent = await db.agents.create({ name: unique('agent'), type: 't', model: 'm' })
  const agent2 = await db.agents.create({ name: unique('agent2'), type: 't', model: 'm' })
  return { user, other, agent, agent2 }
}

describe('sessions.create (create_session)', () => {
  test('creates a session with a generated uuid and defaults', async ({ db }) => {
    const { user, agent } = await owners(db)
    const s = await db.sessions.create({ userId: user.id, agentId: agent.id, name: 'chat', platform: 'web' })
    expect(s.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(s).toMatchObject({ userId: user.id, agentId: agent.id, name: 'chat', platform: 'web', metadata: {} })
    expect(s.runFinishedAt).toBeNull()
  })

  test('an empty input is a valid anonymous session', async ({ db }) => {
    const s = await db.sessions.create({})
    expect(s).toMatchObject({ userId: null, agentId: null, name: null, platform: null, metadata: {} })
  })

  test('keeps a caller-supplied id; a duplicate id is a ConflictError (23505, sessions_pkey)', async ({ db }) => {
    const id = randomUUID()
    const s = await db.sessions.create({ id, metadata: { a: [1, 2] } })
    expect(s.id).toBe(id)
    expect(s.metadata).toEqual({ a: [1, 2] })
    const err = await db.transaction((tx) => tx.sessions.create({ id })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConflictError)
    expect(err).toMatchObject({ code: '23505', constraint: 'sessions_pkey', table: 'sessions' })
    expect(await db.sessions.count()).toBe(1)
  })

  test('a user or agent that does not exist is a ForeignKeyError (23503) naming the constraint', async ({ db }) => {
    const noUser = await db.transaction((tx) => tx.sessions.create({ userId: 2_147_483_647 })).catch((e: unknown) => e)
    expect(noUser).toBeInstanceOf(ForeignKeyError)
    expect(noUser).toMatchObject({ code: '23503', constraint: 'sessions_user_id_fkey' })
    const noAgent = await db.transaction((tx) => tx.sessions.create({ agentId: 2_147_483_647 })).catch((e: unknown) => e)
    expect(noAgent).toMatchObject({ code: '23503', constraint: 'sessions_agent_id_fkey' })
    expect(await db.sessions.count()).toBe(0)
  })

  test('rejects invalid input before any SQL', async ({ db }) => {
    await expectValidation(db.sessions.create({ id: 'nope' }), 'id')
    await expectValidation(db.sessions.create({ userId: 0 }), 'userId')
    await expectValidation(db.sessions.create({ agentId: '1' } as never), 'agentId')
    await expectValidation(db.sessions.create({ metadata: null } as never), 'metadata')
    await expectValidation(db.sessions.create({ runFinishedAt: '2024-01-01' } as never), 'runFinishedAt')
    await expectValidation(db.sessions.create({ agent_id: 1 } as never), 'agent_id')
    expect(await db.sessions.count()).toBe(0)
  })
})

describe('sessions.list / count (list_sessions)', () => {
  test('filters: a key left out means any, null means IS NULL', async ({ db }) => {
    const { user, other, agent, agent2 } = await owners(db)
    const ua = await db.sessions.create({ userId: user.id, agentId: agent.id })
    const ua2 = await db.sessions.create({ userId: user.id, agentId: agent2.id })
    const oa = await db.sessions.create({ userId: other.id, agentId: agent.id })
    const anonA = await db.sessions.create({ agentId: agent.id })
    const bare = await db.sessions.create({})
    const ids = async (f: object) => (await db.sessions.list(f)).map((s) => s.id).sort()
    const sorted = (...s: Session[]) => s.map((x) => x.id).sort()
    expect(await ids({})).toEqual(sorted(ua, ua2, oa, anonA, bare))
    expect(await ids({ userId: user.id })).toEqual(sorted(ua, ua2))
    expect(await ids({ agentId: agent.id })).toEqual(sorted(ua, oa, anonA))
    expect(await ids({ userId: user.id, agentId: agent.id })).toEqual(sorted(ua))
    expect(await ids({ userId: null })).toEqual(sorted(anonA, bare))
    expect(await ids({ userId: null, agentId: agent.id })).toEqual(sorted(anonA))
    expect(await ids({ userId: null, agentId: null })).toEqual(sorted(bare))
    expect(await ids({ userId: user.id, agentId: undefined })).toEqual(sorted(ua, ua2))
    expect(await db.sessions.count({ agentId: agent.id })).toBe(3)
    expect(await db.sessions.count({ userId: null })).toBe(2)
    expect(await db.sessions.count({ userId: user.id, agentId: agent2.id })).toBe(1)
    expect(await db.sessions.count()).toBe(5)
  })

  test('orders by latest activity first: an update or finish moves a session to the top', async ({ db }) => {
    const { user } = await owners(db)
    const [a, b, c] = [
      await db.sessions.create({ userId: user.id, name: 'a' }),
      await db.sessions.create({ userId: user.id, name: 'b' }),
      await db.sessions.create({ userId: user.id, name: 'c' }),
    ]
    // PGlite's clock can give two statements in one millisecond the same timestamp: space them.
    const tick = () => new Promise((resolve) => setTimeout(resolve, 3))
    await tick()
    await db.sessions.update(b!.id, { platform: 'web' })
    expect((await db.sessions.list({ userId: user.id }))[0]!.id).toBe(b!.id)
    await tick()
    await db.sessions.update(a!.id, { name: 'a2' })
    await tick()
    await db.sessions.finish(c!.id)
    const order = (await db.sessions.list({ userId: user.id })).map((s) => s.id)
    expect(order).toEqual([c!.id, a!.id, b!.id])
    const times = (await db.sessions.list({ userId: user.id })).map((s) => s.updatedAt.getTime())
    expect(times).toEqual([...times].sort((x, y) => y - x))
  })

  test('limit caps the result; bad filters are rejected before any SQL', async ({ db }) => {
    for (let i = 0; i < 3; i++) await db.sessions.create({})
    expect(await db.sessions.list({ limit: 2 })).toHaveLength(2)
    await expectValidation(db.sessions.list({ limit: 0 }), 'limit')
    await expectValidation(db.sessions.list({ userId: 0 }), 'userId')
    await expectValidation(db.sessions.list({ agentId: 'x' } as never), 'agentId')
    await expectValidation(db.sessions.list({ user_id: 1 } as never), 'user_id')
    await expectValidation(db.sessions.count({ userId: -1 }), 'userId')
    await expectValidation(db.sessions.count({ limit: 1 } as never), 'limit')
  })
})

describe('sessions.update / finish / delete (update_session, finish_session, delete_session)', () => {
  test('update changes only the given fields and can clear one with null', async ({ db }) => {
    const { user, agent } = await owners(db)
    const s = await db.sessions.create({ userId: user.id, agentId: agent.id, name: 'n', platform: 'web', metadata: { k: 1 } })
    const t = await db.sessions.update(s.id, { name: null })
    expect(t).toEqual({ ...s, name: null, updatedAt: t!.updatedAt })
    const when = new Date('2024-05-06T07:08:09.123Z')
    const u = await db.sessions.update(s.id, { userId: null, runFinishedAt: when })
    expect(u).toMatchObject({ userId: null, agentId: agent.id, platform: 'web', metadata: { k: 1 } })
    expect(u!.runFinishedAt!.getTime()).toBe(when.getTime())
  })

  test('finish sets runFinishedAt to now(), true only when the session exists', async ({ db }) => {
    const s = await db.sessions.create({ name: 'run' })
    expect(await db.sessions.finish(s.id)).toBe(true)
    const [{ now }] = (await db.query<{ now: Date }>('SELECT now() AS now')) as [{ now: Date }]
    const finished = await db.sessions.get(s.id)
    expect(finished!.runFinishedAt).toBeInstanceOf(Date)
    expect(finished!.runFinishedAt!.getTime()).toBe(now.getTime())
    expect(finished!.name).toBe('run')
    expect(await db.sessions.finish(randomUUID())).toBe(false)
    await expectValidation(db.sessions.finish('nope'), 'id')
  })

  test('delete removes the session with its messages and session memories', async ({ db }) => {
    const { user, agent } = await owners(db)
    const s = await db.sessions.create({ userId: user.id, agentId: agent.id })
    const keep = await db.sessions.create({ userId: user.id, agentId: agent.id })
    await db.messages.createMany([
      { sessionId: s.id, role: 'user', textContent: 'a' },
      { sessionId: keep.id, role: 'user', textContent: 'b' },
    ])
    await db.memories.create({ name: 'ctx', agentId: agent.id, sessionId: s.id })
    const global = await db.memories.create({ name: 'ctx', agentId: agent.id })
    expect(await db.sessions.delete(s.id)).toBe(true)
    expect(await db.messages.count(s.id)).toBe(0)
    expect(await db.messages.count(keep.id)).toBe(1)
    expect(await db.memories.list({ agentId: agent.id })).toEqual([global])
    expect(await db.users.get(user.id)).not.toBeNull()
    expect(await db.sessions.delete(s.id)).toBe(false)
  })
})
