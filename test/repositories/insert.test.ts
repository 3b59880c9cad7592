// Issue 9 §4: create-only inserts. `create` is the seed's upsert (a sign-up that checks, then
// creates, lost 20 of 20 races to a silent overwrite of userData); `insert` creates the row or
// throws ConflictError, never overwriting.
import { describe, expect } from 'vitest'
import { Agent, ConflictError, Memory, User, type Db } from '../../src/index.js'
import { backend } from '../support/test-db.js'
import { expectValidation, unique, useTestDb } from '../conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { test, log } = ctx

/** Awaits `promise`, expects a ConflictError (23505) naming `constraint` on `table`. */
async function expectConflict(promise: Promise<unknown>, constraint: string, table: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, 'expected a ConflictError').toBeInstanceOf(ConflictError)
  expect(err).toMatchObject({ code: '23505', constraint, table })
}

/** Expects `run` to throw ValidationError naming `field` with no SQL sent. */
async function rejectsBeforeSql(run: () => Promise<unknown>, field: string): Promise<void> {
  log.clear()
  await expectValidation(run(), field)
  expect(log.queries, 'no SQL is sent for invalid input').toEqual([])
}

describe('users.insert', () => {
  test('creates the user and returns it', async ({ db }) => {
    const u = await db.users.insert({ email: 'ada@example.com', phoneNumber: '1', userData: { plan: 'pro' } })
    expect(u).toBeInstanceOf(User)
    expect(u).toMatchObject({ email: 'ada@example.com', phoneNumber: '1', userData: { plan: 'pro' } })
    expect(await db.users.get(u.id)).toEqual(u)
  })

  test('an email that exists in any letter case is a ConflictError and nothing is overwritten', async ({ db }) => {
    const first = await db.users.insert({ email: 'Grace@Navy.mil', userData: { name: 'Grace' } })
    for (const email of ['Grace@Navy.mil', 'grace@navy.mil', 'GRACE@NAVY.MIL']) {
      await expectConflict(db.users.insert({ email, phoneNumber: '9', userData: { name: 'Mallory' } }), 'users_email_lower_key', 'users')
    }
    expect(await db.users.get(first.id)).toEqual(first)
    expect(await db.users.count()).toBe(1)
    // create keeps the seed's upsert: it updates the existing user.
    const upserted = await db.users.create({ email: 'grace@navy.mil', phoneNumber: '5' })
    expect(upserted).toMatchObject({ id: first.id, phoneNumber: '5', userData: { name: 'Grace' } })
  })

  test('the transaction goes on after a conflict: it can be caught and the work continued', async ({ db }) => {
    await db.users.insert({ email: 'taken@example.com' })
    const chosen = await db.transaction(async (tx) => {
      const taken = await tx.users.insert({ email: 'TAKEN@example.com' }).catch((e: unknown) => e)
      expect(taken).toBeInstanceOf(ConflictError)
      return tx.users.insert({ email: 'taken+1@example.com' })
    })
    expect(await db.users.getByEmail('taken+1@example.com')).toEqual(chosen)
  })

  test('without an email always creates a new user', async ({ db }) => {
    const a = await db.users.insert({})
    const b = await db.users.insert({ phoneNumber: '1' })
    expect(a.id).not.toBe(b.id)
    expect(await db.users.count()).toBe(2)
  })

  test('validates as create does, before any SQL', async ({ db }) => {
    await rejectsBeforeSql(() => db.users.insert({ email: 'not-an-email' }), 'email')
    await rejectsBeforeSql(() => db.users.insert({ userData: [1] } as never), 'userData')
    await rejectsBeforeSql(() => db.users.insert({ email_address: 'a@b.co' } as never), 'email_address')
    await rejectsBeforeSql(() => db.users.insert(null as never), 'input')
    expect(await db.users.count()).toBe(0)
  })

  test('20 concurrent sign-ups with one email (different letter case): exactly one wins, its userData intact', async () => {
    const root = ctx.root()
    const local = unique('race')
    const variants = Array.from({ length: 20 }, (_, i) =>
      `${local}@Example.com`.replace(/./g, (ch, j: number) => ((i >> j % 5) & 1 ? ch.toUpperCase() : ch.toLowerCase())),
    )
    const signUp = (email: string, i: number) => root.users.insert({ email, userData: { attempt: i } })
    try {
      // The server runs the 20 on 20 connections at once; PGlite has one connection: in turn.
      const outcomes =
        backend === 'postgres'
          ? await Promise.allSettled(variants.map(signUp))
          : await variants.reduce<Promise<PromiseSettledResult<User>[]>>(
              async (done, email, i) => [...(await done), ...(await Promise.allSettled([signUp(email, i)]))],
              Promise.resolve([]),
            )
      const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [[o.value, i] as const] : []))
      const lost = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []))
      expect(won).toHaveLength(1)
      expect(lost).toHaveLength(19)
      for (const err of lost) expect(err).toBeInstanceOf(ConflictError)
      const [winner, index] = won[0]!
      const stored = await root.users.getByEmail(`${local}@example.com`)
      expect(stored).toEqual(winner)
      expect(stored!.userData).toEqual({ attempt: index })
      expect(stored!.email).toBe(variants[index])
    } finally {
      const stored = await root.users.getByEmail(`${local}@example.com`)
      if (stored) await root.users.delete(stored.id)
    }
  })
})

describe('agents.insert', () => {
  const input = (name: string, extra: object = {}) => ({ name, type: 'simple', model: 'gpt-4', ...extra })

  test('creates the agent with its defaults', async ({ db }) => {
    const a = await db.agents.insert(input('helper', { config: { t: 1 } }))
    expect(a).toBeInstanceOf(Agent)
    expect(a).toMatchObject({ name: 'helper', config: { t: 1 }, active: true, runId: 0 })
    expect(await db.agents.getByName('helper')).toEqual(a)
  })

  test('an existing name is a ConflictError; the agent keeps every field', async ({ db }) => {
    const first = await db.agents.insert(input('same', { description: 'old', config: { a: 1 } }))
    await expectConflict(db.agents.insert(input('same', { model: 'gpt-5', description: 'new' })), 'agents_name_key', 'agents')
    expect(await db.agents.get(first.id)).toEqual(first)
    // Names are case-sensitive, as in getByName: another spelling is another agent.
    expect((await db.agents.insert(input('Same'))).id).not.toBe(first.id)
    // create keeps the upsert.
    expect(await db.agents.create(input('same', { description: 'new' }))).toMatchObject({ id: first.id, description: 'new' })
  })

  test('validates as create does, before any SQL', async ({ db }) => {
    await rejectsBeforeSql(() => db.agents.insert({ name: 'a', model: 'm' } as never), 'type')
    await rejectsBeforeSql(() => db.agents.insert(input('', {})), 'name')
    await rejectsBeforeSql(() => db.agents.insert(input('a', { config: [] })), 'config')
    expect(await db.agents.count()).toBe(0)
  })
})

describe('memories.insert', () => {
  async function owners(db: Db) {
    const agent = await db.agents.create({ name: unique('mem-agent'), type: 't', model: 'm' })
    const user = await db.users.create({ email: `${unique('mem')}@example.com` })
    const session = await db.sessions.create({ userId: user.id, agentId: agent.id })
    return { agent, user, session }
  }

  test('creates the memory; the same name in another scope is another memory', async ({ db }) => {
    const { agent, user, session } = await owners(db)
    const global = await db.memories.insert({ name: 'tone', content: 'formal', agentId: agent.id })
    expect(global).toBeInstanceOf(Memory)
    const mine = await db.memories.insert({ name: 'tone', content: 'casual', agentId: agent.id, userId: user.id })
    const inSession = await db.memories.insert({ name: 'tone', content: 'brief', agentId: agent.id, userId: user.id, sessionId: session.id })
    expect(new Set([global.id, mine.id, inSession.id]).size).toBe(3)
  })

  test('the same name and exact scope (NULLs equal) is a ConflictError; nothing is overwritten', async ({ db }) => {
    const { agent, user } = await owners(db)
    const global = await db.memories.insert({ name: 'tone', content: 'formal', agentId: agent.id })
    const mine = await db.memories.insert({ name: 'tone', content: 'casual', userId: user.id, agentId: agent.id })
    await expectConflict(db.memories.insert({ name: 'tone', content: 'x', agentId: agent.id }), 'memories_scope_key', 'memories')
    await expectConflict(
      db.memories.insert({ name: 'tone', content: 'x', agentId: agent.id, userId: user.id, sessionId: null }),
      'memories_scope_key',
      'memories',
    )
    expect(await db.memories.get(global.id)).toEqual(global)
    expect(await db.memories.get(mine.id)).toEqual(mine)
    expect(await db.memories.create({ name: 'tone', content: 'stern', agentId: agent.id })).toMatchObject({ id: global.id, content: 'stern' })
  })

  test('validates as create does, before any SQL', async ({ db }) => {
    const { agent } = await owners(db)
    await rejectsBeforeSql(() => db.memories.insert({ name: 'orphan' }), 'agentId')
    await rejectsBeforeSql(() => db.memories.insert({ agentId: agent.id } as never), 'name')
    await rejectsBeforeSql(() => db.memories.insert({ name: 'm', agentId: agent.id, readMode: 'x' as never }), 'readMode')
    expect(await db.memories.count()).toBe(0)
  })
})
