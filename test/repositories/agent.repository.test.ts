import { describe, expect } from 'vitest'
import { Agent, ConflictError, type Db } from '../../src/index.js'
import {
  describeRepositoryConformance,
  expectValidation,
  unique,
  useTestDb,
} from '../conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { test } = ctx
const MISSING_ID = 2_147_483_647

const agent = (db: Db, name: string, extra: object = {}) =>
  db.agents.create({ name, type: 'simple', model: 'gpt-4', ...extra })

describeRepositoryConformance<Agent, number, null>({
  name: 'agents',
  ctx,
  repo: (db) => db.agents,
  entity: Agent,
  fromPlain: (plain) => Agent.fromPlain(plain),
  parents: async () => null,
  input: (_, i) => ({ name: unique(`conf-agent-${i}`), type: 'simple', model: 'gpt-4' }),
  jsonFields: ['config'],
  patch: { description: 'patched', config: { temperature: 0.2 } },
  pageKey: 'int',
  missingId: () => MISSING_ID,
})

describe('agents.create (create_agent)', () => {
  test('creates an agent with the seed defaults', async ({ db }) => {
    const a = await db.agents.create({ name: 'helper', type: 'simple', model: 'gpt-4', description: 'A helper' })
    expect(a).toMatchObject({
      name: 'helper', type: 'simple', model: 'gpt-4', description: 'A helper',
      version: null, systemPrompt: null, config: {}, active: true, runId: 0,
    })
    expect(Number.isInteger(a.id) && a.id > 0).toBe(true)
  })

  test('stores every field given', async ({ db }) => {
    const a = await agent(db, 'full', {
      description: 'd', version: '1.2.3', systemPrompt: 'be nice', config: { t: 0.7, tools: ['a'] },
      active: false, runId: 5,
    })
    expect(await db.agents.get(a.id)).toMatchObject({
      description: 'd', version: '1.2.3', systemPrompt: 'be nice', config: { t: 0.7, tools: ['a'] },
      active: false, runId: 5,
    })
  })

  test('with an existing name updates that agent and keeps the fields not given', async ({ db }) => {
    const first = await agent(db, 'same', { version: '1.0', description: 'old', config: { a: 1 } })
    await db.agents.incrementRunId(first.id)
    await db.agents.update(first.id, { active: false })
    const again = await db.agents.create({ name: 'same', type: 'react', model: 'gpt-5', description: 'new' })
    expect(again.id).toBe(first.id)
    expect(again).toMatchObject({
      type: 'react', model: 'gpt-5', description: 'new', version: '1.0', config: { a: 1 }, active: false, runId: 1,
    })
    expect(await db.agents.count()).toBe(1)
  })

  test('rejects invalid input before any SQL', async ({ db }) => {
    await expectValidation(db.agents.create({ name: '', type: 't', model: 'm' }), 'name')
    await expectValidation(db.agents.create({ name: 'x'.repeat(256), type: 't', model: 'm' }), 'name')
    await expectValidation(db.agents.create({ name: 'a', model: 'm' } as never), 'type')
    await expectValidation(agent(db, 'a', { config: [] }), 'config')
    await expectValidation(agent(db, 'a', { config: null }), 'config')
    await expectValidation(agent(db, 'a', { active: 'yes' }), 'active')
    await expectValidation(agent(db, 'a', { runId: -1 }), 'runId')
    await expectValidation(agent(db, 'a', { system_prompt: 'x' }), 'system_prompt')
    expect(await db.agents.count()).toBe(0)
  })
})

describe('agents.get / getByName (get_agent, get_agent_by_name)', () => {
  test('getByName finds the agent by its exact, case-sensitive name', async ({ db }) => {
    const a = await agent(db, 'Helper')
    expect(await db.agents.getByName('Helper')).toEqual(a)
    expect(await db.agents.getByName('helper')).toBeNull()
    expect(await db.agents.getByName('nobody')).toBeNull()
  })

  test('getByName rejects a non-string or empty name', async ({ db }) => {
    await expectValidation(db.agents.getByName(''), 'name')
    await expectValidation(db.agents.getByName(42 as never), 'name')
  })
})

describe('agents.list (list_agents)', () => {
  test('orders by name and lists only active agents by default', async ({ db }) => {
    await agent(db, 'charlie')
    await agent(db, 'alpha')
    await agent(db, 'bravo', { active: false })
    await agent(db, 'delta')
    expect((await db.agents.list()).map((a) => a.name)).toEqual(['alpha', 'charlie', 'delta'])
    expect((await db.agents.list({ activeOnly: true })).map((a) => a.name)).toEqual(['alpha', 'charlie', 'delta'])
    const all = (await db.agents.list({ activeOnly: false })).map((a) => a.name)
    expect(all).toEqual(['alpha', 'bravo', 'charlie', 'delta'])
  })

  test('limit caps the result; bad options are rejected', async ({ db }) => {
    for (const n of ['a', 'b', 'c']) await agent(db, n)
    expect((await db.agents.list({ limit: 2 })).map((a) => a.name)).toEqual(['a', 'b'])
    await expectValidation(db.agents.list({ limit: 0 }), 'limit')
    await expectValidation(db.agents.list({ limit: 1001 }), 'limit')
    await expectValidation(db.agents.list({ activeOnly: 'no' } as never), 'activeOnly')
    await expectValidation(db.agents.list({ active_only: true } as never), 'active_only')
  })

  test('count counts all agents, or only active ones with activeOnly', async ({ db }) => {
    await agent(db, 'on')
    await agent(db, 'off', { active: false })
    expect(await db.agents.count()).toBe(2)
    expect(await db.agents.count({ activeOnly: true })).toBe(1)
    expect(await db.agents.count({ activeOnly: false })).toBe(2)
    await expectValidation(db.agents.count({ userId: 1 } as never), 'userId')
  })
})

describe('agents.update / delete (update_agent, delete_agent)', () => {
  test('update changes only the given fields', async ({ db }) => {
    const a = await agent(db, 'u', { version: '1', config: { k: 1 }, runId: 3 })
    const b = await db.agents.update(a.id, { active: false })
    expect(b).toEqual({ ...a, active: false, updatedAt: b!.updatedAt })
    const c = await db.agents.update(a.id, { description: null, config: {} })
    expect(c).toMatchObject({ description: null, config: {}, version: '1', runId: 3, active: false })
  })

  test('renaming onto another agent name is a ConflictError (23505, agents_name_key)', async ({ db }) => {
    await agent(db, 'taken')
    const a = await agent(db, 'mine')
    const err = await db.transaction((tx) => tx.agents.update(a.id, { name: 'taken' })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConflictError)
    expect(err).toMatchObject({ code: '23505', constraint: 'agents_name_key' })
    expect((await db.agents.get(a.id))!.name).toBe('mine')
  })

  test('delete removes the agent with its sessions, messages and memories', async ({ db }) => {
    const a = await agent(db, 'doomed')
    const s = await db.sessions.create({ agentId: a.id })
    await db.messages.create({ sessionId: s.id, agentId: a.id, role: 'assistant', textContent: 'hi' })
    await db.memories.create({ name: 'm', agentId: a.id })
    expect(await db.agents.delete(a.id)).toBe(true)
    expect(await db.sessions.get(s.id)).toBeNull()
    expect(await db.messages.count(s.id)).toBe(0)
    expect(await db.memories.count({ agentId: a.id })).toBe(0)
    expect(await db.agents.delete(a.id)).toBe(false)
  })
})

describe('agents.incrementRunId (increment_agent_run_id)', () => {
  test('returns the new value each time, and null for a missing agent', async ({ db }) => {
    const a = await agent(db, 'runner')
    expect(await db.agents.incrementRunId(a.id)).toBe(1)
    expect(await db.agents.incrementRunId(a.id)).toBe(2)
    expect((await db.agents.get(a.id))!.runId).toBe(2)
    expect(await db.agents.incrementRunId(MISSING_ID)).toBeNull()
    await expectValidation(db.agents.incrementRunId(0), 'id')
  })

  test('is atomic: concurrent increments each get a distinct value', async () => {
    const root = ctx.root()
    const a = await agent(root, unique('concurrent-runner'))
    try {
      const values = await Promise.all(Array.from({ length: 25 }, () => root.agents.incrementRunId(a.id)))
      expect([...values].sort((x, y) => x! - y!)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1))
      expect((await root.agents.get(a.id))!.runId).toBe(25)
    } finally {
      await root.agents.delete(a.id)
    }
  })
})

describe('names as long as create allows', () => {
  test('a 255-character name of emoji (surrogate pairs) is stored and found by getByName', async ({ db }) => {
    const name = '😀'.repeat(255)
    const created = await agent(db, name)
    expect((await db.agents.getByName(name))?.id).toBe(created.id)
    await expectValidation(agent(db, '😀'.repeat(256)), 'name')
  })
})
