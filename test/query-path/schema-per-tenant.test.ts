import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { AgentRepository, Db, ValidationError } from '../../src/index.js'
import { openTestDb } from '../support/test-db.js'

// Issue 8, item 2: compiled queries were cached in one module-global map keyed by a shape string,
// so a repository on `kysely.withSchema('tenant_b')` ran SQL compiled for `public`: a
// cross-tenant read. Now nothing compiled for one executor is reused by another, and
// `db.withSchema(name)` is a Db addressing one schema.

let db: Db
beforeAll(async () => {
  db = await openTestDb()
  await db.query('CREATE SCHEMA manual_b')
  await db.query('CREATE TABLE manual_b.agents (LIKE public.agents INCLUDING ALL)')
  await db.query(`INSERT INTO public.agents (id, name, type, model) VALUES (900001, 'public-agent', 't', 'm')`)
  await db.query(`INSERT INTO manual_b.agents (id, name, type, model) VALUES (900001, 'tenant-b-agent', 't', 'm')`)
})
afterAll(() => db?.close())

describe('repositories on a Kysely with another schema', () => {
  test('regression: a repository on kysely.withSchema() reads its own schema, not public (global query cache)', async () => {
    const pub = new AgentRepository(db.kysely.withSchema('public'))
    const tenant = new AgentRepository(db.kysely.withSchema('manual_b'))
    // Warm the public shape first: the old global cache then served its SQL to the tenant.
    expect((await db.agents.get(900001))?.name).toBe('public-agent')
    expect((await pub.get(900001))?.name).toBe('public-agent')
    expect((await tenant.get(900001))?.name).toBe('tenant-b-agent')
    expect((await tenant.getByName('tenant-b-agent'))?.id).toBe(900001)
    expect(await tenant.getByName('public-agent')).toBeNull()
  })
})

describe('db.withSchema(name)', () => {
  let a: Db
  let b: Db
  beforeAll(async () => {
    a = db.withSchema('tenant_a')
    b = db.withSchema('tenant_b')
    expect(await a.migrate()).toContain('0001-initial-schema')
    expect(await b.migrate()).toContain('0001-initial-schema')
    expect(await b.migrate()).toEqual([])
  })

  test('each tenant has its own tables, created by migrate() in its schema', async () => {
    const rows = await db.query<{ schema: string; n: number }>(
      `SELECT table_schema AS schema, count(*)::int AS n FROM information_schema.tables
        WHERE table_schema IN ('tenant_a', 'tenant_b') AND table_name IN ('agents', 'users', 'sessions', 'messages', 'memories')
        GROUP BY table_schema ORDER BY table_schema`,
    )
    expect(rows).toEqual([
      { schema: 'tenant_a', n: 5 },
      { schema: 'tenant_b', n: 5 },
    ])
    expect(a.schema).toBe('tenant_a')
    expect(String(b)).toContain('schema tenant_b')
  })

  test('the same repository call reads and writes each tenant separately, transactions included', async () => {
    const inA = await a.agents.create({ name: 'shared-name', type: 'a', model: 'm' })
    await b.transaction(async (tx) => {
      expect(tx.schema).toBe('tenant_b')
      const user = await tx.users.create({ email: 'b@example.com' })
      const agent = await tx.agents.create({ name: 'shared-name', type: 'b', model: 'm' })
      const session = await tx.sessions.create({ userId: user.id, agentId: agent.id })
      await tx.messages.createMany([
        { sessionId: session.id, role: 'user', textContent: 'hi' },
        { sessionId: session.id, role: 'assistant', textContent: 'hello' },
      ])
      await tx.transaction(async (inner) => {
        await inner.memories.create({ name: 'pref', content: 'tea', agentId: agent.id })
      })
    })
    expect((await a.agents.getByName('shared-name'))?.type).toBe('a')
    expect((await b.agents.getByName('shared-name'))?.type).toBe('b')
    expect((await a.agents.get(inA.id))?.type).toBe('a')
    expect(await a.users.getByEmail('b@example.com')).toBeNull()
    expect(await b.users.getByEmail('b@example.com')).not.toBeNull()
    expect(await a.messages.count()).toBe(0)
    expect(await b.messages.count()).toBe(2)
    expect(await b.memories.list({ agentId: (await b.agents.getByName('shared-name'))!.id })).toHaveLength(1)
    // Nothing reached public.
    expect(await db.agents.getByName('shared-name')).toBeNull()
    // Kysely of a tenant Db addresses its schema too.
    const viaKysely = await b.kysely.selectFrom('agents').select('type').where('name', '=', 'shared-name').executeTakeFirst()
    expect(viaKysely?.type).toBe('b')
  })

  test('a rolled-back tenant transaction leaves that tenant untouched', async () => {
    await expect(
      a.transaction(async (tx) => {
        await tx.agents.create({ name: 'rolled-back', type: 't', model: 'm' })
        throw new Error('undo')
      }),
    ).rejects.toThrow('undo')
    expect(await a.agents.getByName('rolled-back')).toBeNull()
  })

  test('a schema name that is not a plain identifier is rejected before any SQL', () => {
    expect(() => db.withSchema('x"; DROP TABLE agents; --')).toThrow(ValidationError)
    expect(() => db.withSchema('')).toThrow(ValidationError)
  })
})
