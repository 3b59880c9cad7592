import { describe, expect } from 'vitest'
import { ConflictError, User } from '../../src/index.js'
import {
  describeRepositoryConformance,
  expectValidation,
  unique,
  useTestDb,
} from '../conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { test } = ctx
const MISSING_ID = 2_147_483_647

describeRepositoryConformance<User, number, null>({
  name: 'users',
  ctx,
  repo: (db) => db.users,
  entity: User,
  fromPlain: (plain) => User.fromPlain(plain),
  parents: async () => null,
  input: (_, i) => ({ email: `${unique(`conf-user-${i}`)}@example.com` }),
  jsonFields: ['userData'],
  patch: { phoneNumber: '+55 11 5555-0000', userData: { name: 'Ada' } },
  pageKey: 'int',
  missingId: () => MISSING_ID,
})

describe('users.create (create_user)', () => {
  test('creates a user with every field', async ({ db }) => {
    const u = await db.users.create({ email: 'ada@example.com', phoneNumber: '123', userData: { name: 'Ada' } })
    expect(u).toMatchObject({ email: 'ada@example.com', phoneNumber: '123', userData: { name: 'Ada' } })
    expect(await db.users.get(u.id)).toEqual(u)
  })

  test('without an email always creates a new user', async ({ db }) => {
    const a = await db.users.create({})
    const b = await db.users.create({ phoneNumber: '1' })
    const c = await db.users.create({ email: null, phoneNumber: '1' })
    expect(new Set([a.id, b.id, c.id]).size).toBe(3)
    expect(a).toMatchObject({ email: null, phoneNumber: null, userData: {} })
    expect(await db.users.count()).toBe(3)
  })

  test('with an existing email (any case) updates that user, keeping its spelling and other fields', async ({ db }) => {
    const first = await db.users.create({ email: 'Ada@Example.com', userData: { name: 'Ada' } })
    const again = await db.users.create({ email: 'ada@EXAMPLE.com', phoneNumber: '555' })
    expect(again.id).toBe(first.id)
    expect(again).toMatchObject({ email: 'Ada@Example.com', phoneNumber: '555', userData: { name: 'Ada' } })
    const same = await db.users.create({ email: 'ADA@example.COM' })
    expect(same).toMatchObject({ id: first.id, phoneNumber: '555', userData: { name: 'Ada' } })
    expect(await db.users.count()).toBe(1)
  })

  test('rejects invalid input before any SQL', async ({ db }) => {
    await expectValidation(db.users.create({ email: 'not-an-email' }), 'email')
    await expectValidation(db.users.create({ email: 42 } as never), 'email')
    await expectValidation(db.users.create({ userData: 'x' } as never), 'userData')
    await expectValidation(db.users.create({ userData: { d: new Date() } } as never), 'userData')
    await expectValidation(db.users.create({ phoneNumber: '1'.repeat(51) }), 'phoneNumber')
    await expectValidation(db.users.create({ phone_number: '1' } as never), 'phone_number')
    await expectValidation(db.users.create(null as never), 'input')
    expect(await db.users.count()).toBe(0)
  })
})

describe('users.get / getByEmail (get_user, get_user_by_email)', () => {
  test('getByEmail is case-insensitive and null when nobody has the email', async ({ db }) => {
    const u = await db.users.create({ email: 'Grace@Navy.mil' })
    expect(await db.users.getByEmail('Grace@Navy.mil')).toEqual(u)
    expect(await db.users.getByEmail('grace@navy.mil')).toEqual(u)
    expect(await db.users.getByEmail('GRACE@NAVY.MIL')).toEqual(u)
    expect(await db.users.getByEmail('grace@navy.org')).toBeNull()
  })

  test('getByEmail treats its argument as data, not a pattern', async ({ db }) => {
    await db.users.create({ email: 'abc@example.com' })
    expect(await db.users.getByEmail('a%@example.com')).toBeNull()
    expect(await db.users.getByEmail("' OR 1=1 --")).toBeNull()
  })

  test('getByEmail rejects an empty or non-string email', async ({ db }) => {
    await expectValidation(db.users.getByEmail(''), 'email')
    await expectValidation(db.users.getByEmail(null as never), 'email')
    await expectValidation(db.users.getByEmail('x'.repeat(321)), 'email')
  })
})

describe('users.list (list_users)', () => {
  test('lists users oldest first (id order), with a limit', async ({ db }) => {
    const created = []
    for (let i = 0; i < 4; i++) created.push(await db.users.create({ email: `u${i}@example.com` }))
    const ids = created.map((u) => u.id)
    expect((await db.users.list()).map((u) => u.id)).toEqual([...ids].sort((a, b) => a - b))
    expect(await db.users.list({ limit: 2 })).toHaveLength(2)
    await expectValidation(db.users.list({ limit: 0 }), 'limit')
    await expectValidation(db.users.list({ page: 1 } as never), 'page')
  })
})

describe('users.update / delete (update_user, delete_user)', () => {
  test('update changes only the given fields; null clears one', async ({ db }) => {
    const u = await db.users.create({ email: 'a@example.com', phoneNumber: '1', userData: { x: 1 } })
    const v = await db.users.update(u.id, { userData: { y: 2 } })
    expect(v).toEqual({ ...u, userData: { y: 2 }, updatedAt: v!.updatedAt })
    const w = await db.users.update(u.id, { phoneNumber: null })
    expect(w).toMatchObject({ email: 'a@example.com', phoneNumber: null, userData: { y: 2 } })
  })

  test('changing the email to another user\'s (any case) is a ConflictError (23505)', async ({ db }) => {
    await db.users.create({ email: 'taken@example.com' })
    const u = await db.users.create({ email: 'mine@example.com' })
    const err = await db
      .transaction((tx) => tx.users.update(u.id, { email: 'TAKEN@example.com' }))
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConflictError)
    expect(err).toMatchObject({ code: '23505', constraint: 'users_email_lower_key' })
    expect((await db.users.get(u.id))!.email).toBe('mine@example.com')
  })

  test('update rejects an invalid email before any SQL', async ({ db }) => {
    const u = await db.users.create({ email: 'ok@example.com' })
    await expectValidation(db.users.update(u.id, { email: 'nope' }), 'email')
    expect((await db.users.get(u.id))!.email).toBe('ok@example.com')
  })

  test('delete removes the user with their sessions, messages and memories', async ({ db }) => {
    const u = await db.users.create({ email: 'gone@example.com' })
    const a = await db.agents.create({ name: 'keeper', type: 't', model: 'm' })
    const s = await db.sessions.create({ userId: u.id, agentId: a.id })
    await db.messages.create({ sessionId: s.id, userId: u.id, role: 'user', textContent: 'bye' })
    await db.memories.create({ name: 'pref', userId: u.id })
    await db.memories.create({ name: 'pref', userId: u.id, agentId: a.id })
    expect(await db.users.delete(u.id)).toBe(true)
    expect(await db.sessions.get(s.id)).toBeNull()
    expect(await db.messages.count(s.id)).toBe(0)
    expect(await db.memories.count({ userId: u.id })).toBe(0)
    expect(await db.agents.get(a.id)).not.toBeNull()
    expect(await db.users.getByEmail('gone@example.com')).toBeNull()
  })
})
