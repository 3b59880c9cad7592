import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ValidationError, type Agent, type Db, type Memory, type Message, type Session, type User } from '../../src/index.js'
import { openTestDb } from '../support/test-db.js'
import { recordingLogger } from './support/logger.js'
import { BAD_IDS, BAD_UUIDS, NOT_STRINGS, ONE_MB, UNSTORABLE_TEXT, unstorableJson } from './support/hostile.js'

// Issue 5, item 8 (second half): every hostile value that can't be stored exactly, or isn't
// what the parameter means (ids, UUIDs, enums, limits, cursors, options, sort order), is refused
// with ValidationError BEFORE any SQL is sent — checked by counting the statements the Db logs —
// and afterwards the tables are intact. Runs on both backends.

type Call = () => Promise<unknown>
type Case = readonly [label: string, call: Call]

const BAD_LIMITS: readonly unknown[] = ['10', -1, 0, 1.5, 1001, Number.NaN, null, {}, [10]]
const b64 = (json: string) => Buffer.from(json, 'utf8').toString('base64url')
const BAD_CURSORS: readonly unknown[] = [
  "'; DROP TABLE agents; --",
  'not base64 at all!',
  b64('{"k": "1; DROP TABLE agents"}'),
  b64('{"k": 1.5}'),
  b64('{"k": {"$gt": 0}}'),
  b64('{"k": [1]}'),
  b64('{"k": null}'),
  b64('[]'),
  b64(`{"k": "${'9'.repeat(60)}"}`),
  42,
  {},
  ONE_MB,
]
const BAD_BOOLEANS: readonly unknown[] = ['true', 1, 0, null, {}, 'false']
const BAD_DATES: readonly unknown[] = ['2024-01-01T00:00:00Z', 1_700_000_000_000, new Date(Number.NaN), {}]
const INPUT_NOT_OBJECTS: readonly unknown[] = [null, 'name', 42, [], [{ name: 'x' }], new Map(), true]

describe('hostile input that is rejected before any SQL', () => {
  const logger = recordingLogger()
  let db: Db
  let f: { agent: Agent; user: User; session: Session; message: Message; memory: Memory }
  let before: Record<string, number>

  const statements = () => logger.lines.filter((l) => l.msg?.startsWith('automagik-db: query')).length

  async function counts(): Promise<Record<string, number>> {
    const rows = await db.query<{ t: string; n: number }>(`
      SELECT 'agents' AS t, count(*)::int AS n FROM agents UNION ALL
      SELECT 'users', count(*)::int FROM users UNION ALL
      SELECT 'sessions', count(*)::int FROM sessions UNION ALL
      SELECT 'messages', count(*)::int FROM messages UNION ALL
      SELECT 'memories', count(*)::int FROM memories`)
    return Object.fromEntries(rows.map((r) => [r.t, r.n]))
  }

  /** Runs every case; returns a line per case that was not refused with ValidationError before SQL. */
  async function misses(cases: readonly Case[]): Promise<string[]> {
    const out: string[] = []
    for (const [label, call] of cases) {
      const sent = statements()
      let error: unknown
      try {
        await call()
      } catch (err) {
        error = err
      }
      if (!(error instanceof ValidationError)) {
        out.push(`${label}: ${error === undefined ? 'accepted' : `${(error as Error).name}: ${(error as Error).message}`.slice(0, 160)}`)
      } else if (statements() !== sent) {
        out.push(`${label}: ValidationError, but only after SQL was sent`)
      }
    }
    return out
  }

  const show = (v: unknown): string => {
    if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
    if (typeof v === 'bigint') return `${v}n`
    if (typeof v === 'function') return 'function'
    if (v instanceof Date) return `Date(${v.getTime()})`
    try {
      return JSON.stringify(v) ?? String(v)
    } catch {
      return Object.prototype.toString.call(v)
    }
  }

  beforeAll(async () => {
    db = await openTestDb({ logger })
    const agent = await db.agents.create({ name: 'fixture', type: 't', model: 'm' })
    const user = await db.users.create({ email: 'fixture@example.com' })
    const session = await db.sessions.create({ userId: user.id, agentId: agent.id })
    const message = await db.messages.create({ sessionId: session.id, role: 'user', textContent: 'hi' })
    const memory = await db.memories.create({ name: 'fixture', agentId: agent.id })
    f = { agent, user, session, message, memory }
    before = await counts()
  })
  afterAll(async () => {
    await db?.close()
  })

  /** Each writing method, the valid input it starts from, and its text and JSON fields. */
  function writers() {
    const msg = () => ({ sessionId: f.session.id, role: 'user' as const })
    const messageText = ['textContent', 'mediaUrl', 'mimeType', 'messageType', 'systemPrompt', 'userFeedback', 'flagged']
    const messageJson = ['rawPayload', 'toolCalls', 'toolOutputs', 'context', 'channelPayload']
    return [
      { name: 'agents.create', base: () => ({ name: 'a', type: 't', model: 'm' }), call: (i: any) => db.agents.create(i),
        text: ['name', 'type', 'model', 'description', 'version', 'systemPrompt'], json: ['config'] },
      { name: 'agents.update', base: () => ({}), call: (i: any) => db.agents.update(f.agent.id, i),
        text: ['name', 'type', 'model', 'description', 'version', 'systemPrompt'], json: ['config'] },
      { name: 'users.create', base: () => ({}), call: (i: any) => db.users.create(i), text: ['email', 'phoneNumber'], json: ['userData'] },
      { name: 'users.update', base: () => ({}), call: (i: any) => db.users.update(f.user.id, i), text: ['email', 'phoneNumber'], json: ['userData'] },
      { name: 'sessions.create', base: () => ({}), call: (i: any) => db.sessions.create(i), text: ['name', 'platform'], json: ['metadata'] },
      { name: 'sessions.update', base: () => ({}), call: (i: any) => db.sessions.update(f.session.id, i), text: ['name', 'platform'], json: ['metadata'] },
      { name: 'messages.create', base: msg, call: (i: any) => db.messages.create(i), text: messageText, json: messageJson },
      { name: 'messages.createMany', base: msg, call: (i: any) => db.messages.createMany([msg(), i]), text: messageText, json: messageJson },
      { name: 'messages.update', base: () => ({}), call: (i: any) => db.messages.update(f.message.id, i), text: messageText, json: messageJson },
      { name: 'memories.create', base: () => ({ name: 'm', agentId: f.agent.id }), call: (i: any) => db.memories.create(i),
        text: ['name', 'description', 'content'], json: ['metadata'] },
      { name: 'memories.update', base: () => ({}), call: (i: any) => db.memories.update(f.memory.id, i),
        text: ['name', 'description', 'content'], json: ['metadata'] },
    ]
  }

  test('text fields: NUL, lone surrogates, and non-strings (numbers, objects, arrays, …)', async () => {
    const cases: Case[] = []
    for (const w of writers()) {
      for (const field of w.text) {
        for (const [label, value] of [...UNSTORABLE_TEXT, ...NOT_STRINGS]) {
          cases.push([`${w.name} ${field} = ${label}`, () => w.call({ ...w.base(), [field]: value })])
        }
      }
    }
    expect(await misses(cases)).toEqual([])
  })

  test('bounded and required text: empty names, over-long values, invalid emails', async () => {
    const cases: Case[] = []
    for (const w of writers()) {
      for (const field of ['name', 'type', 'model', 'version', 'mimeType', 'messageType', 'platform']) {
        if (!w.text.includes(field)) continue
        cases.push([`${w.name} ${field} = 256 chars`, () => w.call({ ...w.base(), [field]: 'x'.repeat(256) })])
        cases.push([`${w.name} ${field} = 1 MB`, () => w.call({ ...w.base(), [field]: ONE_MB })])
      }
      if (['agents.create', 'agents.update', 'memories.create', 'memories.update'].includes(w.name)) {
        cases.push([`${w.name} name = ''`, () => w.call({ ...w.base(), name: '' })])
      }
    }
    for (const email of ['not-an-email', "x'; DROP TABLE users; --@example.com", 'a@b', '@example.com', `${'a'.repeat(320)}@example.com`]) {
      cases.push([`users.create email = ${show(email)}`, () => db.users.create({ email })])
      cases.push([`users.update email = ${show(email)}`, () => db.users.update(f.user.id, { email })])
    }
    cases.push(['users.create phoneNumber = 51 chars', () => db.users.create({ phoneNumber: '1'.repeat(51) })])
    for (const name of ['', 'x'.repeat(256), '\u0000', '\uD800', ...NOT_STRINGS.map(([, v]) => v)]) {
      cases.push([`agents.getByName(${show(name)})`, () => db.agents.getByName(name as string)])
      cases.push([`memories.getByName(${show(name)})`, () => db.memories.getByName(name as string, { agentId: f.agent.id })])
    }
    for (const email of ['', 'x'.repeat(321), 'a\u0000@x.io', 42, {}, ['a@x.io']]) {
      cases.push([`users.getByEmail(${show(email)})`, () => db.users.getByEmail(email as string)])
    }
    expect(await misses(cases)).toEqual([])
  })

  test('JSON fields: non-objects, NUL, surrogates, NaN, undefined, functions, class instances, prototypes, depth, cycles', async () => {
    const cases: Case[] = []
    for (const w of writers()) {
      for (const field of w.json) {
        for (const [label, value] of unstorableJson()) {
          if (label === 'array' && (field === 'toolCalls' || field === 'toolOutputs')) continue // arrays are valid there (issue 9)
          cases.push([`${w.name} ${field} = ${label}`, () => w.call({ ...w.base(), [field]: value })])
        }
      }
    }
    expect(await misses(cases)).toEqual([])
    expect(({} as Record<string, unknown>).admin).toBeUndefined()
  })

  test('inputs that are not plain objects, unknown keys, and __proto__ / constructor keys', async () => {
    const cases: Case[] = []
    for (const w of writers()) {
      for (const input of INPUT_NOT_OBJECTS) cases.push([`${w.name}(${show(input)})`, () => w.call(input)])
      for (const key of ['user_id', 'name; DROP TABLE agents; --', 'id"', '__proto__', 'constructor', 'prototype']) {
        const hostile = JSON.parse(`{"${key.replaceAll('"', '\\"')}": {"admin": true}}`) as object
        cases.push([`${w.name} with key ${show(key)}`, () => w.call({ ...w.base(), ...hostile })])
      }
    }
    expect(await misses(cases)).toEqual([])
    expect(({} as Record<string, unknown>).admin).toBeUndefined()
  })

  test('ids: zero, negative, fractional, NaN, overflow, numbers as strings, injections — every method and filter', async () => {
    const cases: Case[] = []
    for (const [label, id] of BAD_IDS) {
      const bad = id as number
      for (const [name, call] of [
        ['agents.get', () => db.agents.get(bad)],
        ['agents.exists', () => db.agents.exists(bad)],
        ['agents.update', () => db.agents.update(bad, { description: 'x' })],
        ['agents.delete', () => db.agents.delete(bad)],
        ['agents.incrementRunId', () => db.agents.incrementRunId(bad)],
        ['users.get', () => db.users.get(bad)],
        ['users.exists', () => db.users.exists(bad)],
        ['users.update', () => db.users.update(bad, { phoneNumber: '1' })],
        ['users.delete', () => db.users.delete(bad)],
        ['sessions.create userId', () => db.sessions.create({ userId: bad })],
        ['sessions.create agentId', () => db.sessions.create({ agentId: bad })],
        ['sessions.update userId', () => db.sessions.update(f.session.id, { userId: bad })],
        ['sessions.list userId', () => db.sessions.list({ userId: bad })],
        ['sessions.list agentId', () => db.sessions.list({ agentId: bad })],
        ['sessions.count userId', () => db.sessions.count({ userId: bad })],
        ['messages.create userId', () => db.messages.create({ sessionId: f.session.id, role: 'user', userId: bad })],
        ['messages.create agentId', () => db.messages.create({ sessionId: f.session.id, role: 'user', agentId: bad })],
        ['messages.createMany agentId', () => db.messages.createMany([{ sessionId: f.session.id, role: 'user', agentId: bad }])],
        ['memories.create agentId', () => db.memories.create({ name: 'x', agentId: bad })],
        ['memories.create userId', () => db.memories.create({ name: 'x', userId: bad })],
        ['memories.getByName agentId', () => db.memories.getByName('x', { agentId: bad })],
        ['memories.list userId', () => db.memories.list({ userId: bad })],
        ['memories.count agentId', () => db.memories.count({ agentId: bad })],
        ['agents.create runId', () => db.agents.create({ name: 'r', type: 't', model: 'm', runId: bad })],
      ] as const) {
        // runId 0 is a valid counter value; everything else here is not.
        if (name === 'agents.create runId' && id === 0) continue
        cases.push([`${name}(${label})`, call])
      }
    }
    expect(await misses(cases)).toEqual([])
  })

  test('UUIDs: malformed, injections, forms PostgreSQL would accept, non-strings — every method and filter', async () => {
    const cases: Case[] = []
    for (const [label, uuid] of BAD_UUIDS) {
      const bad = uuid as string
      for (const [name, call] of [
        ['sessions.get', () => db.sessions.get(bad)],
        ['sessions.exists', () => db.sessions.exists(bad)],
        ['sessions.update', () => db.sessions.update(bad, { name: 'x' })],
        ['sessions.finish', () => db.sessions.finish(bad)],
        ['sessions.delete', () => db.sessions.delete(bad)],
        ['sessions.create id', () => db.sessions.create({ id: bad })],
        ['messages.get', () => db.messages.get(bad)],
        ['messages.exists', () => db.messages.exists(bad)],
        ['messages.update', () => db.messages.update(bad, { textContent: 'x' })],
        ['messages.delete', () => db.messages.delete(bad)],
        ['messages.create sessionId', () => db.messages.create({ sessionId: bad, role: 'user' })],
        ['messages.create id', () => db.messages.create({ id: bad, sessionId: f.session.id, role: 'user' })],
        ['messages.createMany sessionId', () => db.messages.createMany([{ sessionId: bad, role: 'user' }])],
        ['messages.listBySession', () => db.messages.listBySession(bad)],
        ['messages.count', () => db.messages.count(bad)],
        ['messages.deleteBySession', () => db.messages.deleteBySession(bad)],
        ['memories.get', () => db.memories.get(bad)],
        ['memories.exists', () => db.memories.exists(bad)],
        ['memories.update', () => db.memories.update(bad, { content: 'x' })],
        ['memories.delete', () => db.memories.delete(bad)],
        ['memories.create id', () => db.memories.create({ id: bad, name: 'x', agentId: f.agent.id })],
        ['memories.create sessionId', () => db.memories.create({ name: 'x', agentId: f.agent.id, sessionId: bad })],
        ['memories.getByName sessionId', () => db.memories.getByName('x', { agentId: f.agent.id, sessionId: bad })],
        ['memories.list sessionId', () => db.memories.list({ sessionId: bad })],
        ['memories.count sessionId', () => db.memories.count({ sessionId: bad })],
      ] as const) {
        cases.push([`${name}(${label})`, call])
      }
    }
    expect(await misses(cases)).toEqual([])
  })

  test('enums, sort order, limits, cursors, booleans, dates and option objects accept only their whitelist', async () => {
    const cases: Case[] = []
    const sid = () => f.session.id
    for (const role of ['admin', "user'; --", 'USER', '', ' user', 42, null]) {
      cases.push([`messages.create role=${show(role)}`, () => db.messages.create({ sessionId: sid(), role: role as 'user' })])
      cases.push([`messages.update role=${show(role)}`, () => db.messages.update(f.message.id, { role: role as 'user' })])
    }
    for (const order of ['ASC', 'desc; DROP TABLE messages; --', 'random()', 'seq', 'created_at DESC', 1, true]) {
      cases.push([`messages.listBySession order=${show(order)}`, () => db.messages.listBySession(sid(), { order: order as 'asc' })])
    }
    for (const readMode of ['admin', "tool' OR '1'='1", 'TOOL', 42]) {
      cases.push([`memories.create readMode=${show(readMode)}`, () => db.memories.create({ name: 'x', agentId: f.agent.id, readMode: readMode as 'tool' })])
      cases.push([`memories.list readMode=${show(readMode)}`, () => db.memories.list({ readMode: readMode as 'tool' })])
    }
    for (const access of ['all', 'READ', "read' --", 7]) {
      cases.push([`memories.update access=${show(access)}`, () => db.memories.update(f.memory.id, { access: access as 'read' })])
      cases.push([`memories.count access=${show(access)}`, () => db.memories.count({ access: access as 'read' })])
    }
    cases.push(['memories.create with neither agentId nor userId', () => db.memories.create({ name: 'orphan' })])
    for (const limit of BAD_LIMITS) {
      const l = limit as number
      for (const [name, call] of [
        ['agents.list', () => db.agents.list({ limit: l })],
        ['users.list', () => db.users.list({ limit: l })],
        ['sessions.list', () => db.sessions.list({ limit: l })],
        ['memories.list', () => db.memories.list({ limit: l })],
        ['messages.listBySession', () => db.messages.listBySession(sid(), { limit: l })],
        ['agents.page', () => db.agents.page({ limit: l })],
        ['messages.page', () => db.messages.page({ limit: l })],
      ] as const) {
        cases.push([`${name} limit=${show(limit)}`, call])
      }
    }
    for (const cursor of BAD_CURSORS) {
      const c = cursor as string
      for (const [name, call] of [
        ['agents.page', () => db.agents.page({ cursor: c })],
        ['users.page', () => db.users.page({ cursor: c })],
        ['sessions.page', () => db.sessions.page({ cursor: c })],
        ['memories.page', () => db.memories.page({ cursor: c })],
        ['messages.page', () => db.messages.page({ cursor: c })],
        ['messages.listBySession', () => db.messages.listBySession(sid(), { cursor: c })],
      ] as const) {
        cases.push([`${name} cursor=${show(cursor)}`, call])
      }
    }
    for (const value of BAD_BOOLEANS) {
      cases.push([`agents.list activeOnly=${show(value)}`, () => db.agents.list({ activeOnly: value as boolean })])
      cases.push([`agents.count activeOnly=${show(value)}`, () => db.agents.count({ activeOnly: value as boolean })])
      cases.push([`agents.update active=${show(value)}`, () => db.agents.update(f.agent.id, { active: value as boolean })])
    }
    for (const value of BAD_DATES) {
      cases.push([`messages.create createdAt=${show(value)}`, () => db.messages.create({ sessionId: sid(), role: 'user', createdAt: value as Date })])
      cases.push([`sessions.update runFinishedAt=${show(value)}`, () => db.sessions.update(f.session.id, { runFinishedAt: value as Date })])
    }
    for (const [name, call] of [
      ['agents.list(string)', () => db.agents.list('name' as never)],
      ['agents.list orderBy', () => db.agents.list({ orderBy: 'name; DROP TABLE agents' } as never)],
      ['users.list sort', () => db.users.list({ sort: 'email' } as never)],
      ['sessions.list order', () => db.sessions.list({ order: 'id' } as never)],
      ['sessions.count limit (not a count filter)', () => db.sessions.count({ where: '1=1' } as never)],
      ['memories.list orderBy', () => db.memories.list({ orderBy: 'content' } as never)],
      ['memories.getByName unknown scope key', () => db.memories.getByName('x', { tenant: 1 } as never)],
      ['messages.listBySession(array options)', () => db.messages.listBySession(sid(), [] as never)],
      ['agents.page unknown option', () => db.agents.page({ after: 5 } as never)],
      ['db.query(non-string SQL)', () => db.query(42 as never)],
      ['db.query(empty SQL)', () => db.query('  ')],
      ['db.query(params not an array)', () => db.query('SELECT $1', 'x' as never)],
      ['db.batch(rows not arrays)', () => db.batch('SELECT $1', ['x'] as never)],
      ['messages.createMany(not an array)', () => db.messages.createMany('x' as never)],
      ['messages.createMany one bad row among good ones', () =>
        db.messages.createMany([{ sessionId: sid(), role: 'user' }, { sessionId: sid(), role: 'nobody' as 'user' }])],
      ['transaction isolationLevel', () => db.transaction(async () => 1, { isolationLevel: 'chaos' as never })],
    ] as const) {
      cases.push([name, call])
    }
    expect(await misses(cases)).toEqual([])
  })

  test('dates the server cannot take: createdAt null, a Date before 4714 BC', async () => {
    const ancient = new Date(-8.64e15)
    expect(
      await misses([
        ['messages.create createdAt=null', () => db.messages.create({ sessionId: f.session.id, role: 'user', createdAt: null as never })],
        ['messages.create createdAt=271821 BC', () => db.messages.create({ sessionId: f.session.id, role: 'user', createdAt: ancient })],
        ['sessions.update runFinishedAt=271821 BC', () => db.sessions.update(f.session.id, { runFinishedAt: ancient })],
      ]),
    ).toEqual([])
  })

  test('afterwards every table exists and nothing was written', async () => {
    expect(await counts()).toEqual(before)
    expect(await db.agents.get(f.agent.id)).toMatchObject({ name: 'fixture', description: null, active: true, runId: 0 })
    expect((await db.messages.listBySession(f.session.id)).map((m) => m.textContent)).toEqual(['hi'])
  })
})
