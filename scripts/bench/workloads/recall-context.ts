/**
 * Workload 15: `db.context.load(sessionId, { maxMessages: 50 })` on a session of 100 messages with
 * 10 effective memories, against (baseline) one `messages.listBySession(sessionId, { limit: 50,
 * order: 'desc' })` of the same 50 messages, and against the same context assembled from the
 * repository calls a service would otherwise make: sessions.get, then agents.get, users.get,
 * memories.effective and messages.listBySession, one after another or the last four at once.
 */
import type { Db } from '../../../src/index.js'
import type { RecallInfo } from '../recall-data.js'
import type { BenchContext, Contender, Target } from '../types.js'
import { check, pick } from './common.js'

const MESSAGES = 50
const MEMORIES = 10

export function contextContenders(ctx: BenchContext, info: RecallInfo): Contender[] {
  const db = ctx.amdb.db
  const u = (i: number) => pick(i, info.contextUsers)
  const session = (i: number) => info.session(u(i), 0)
  const verifyMessages = (messages: readonly { sessionId: string; seq: number }[], s: string) => {
    check(messages.length === MESSAGES, `${MESSAGES} messages, got ${messages.length}`)
    check(messages.every((m) => m.sessionId === s), 'messages of the session')
  }
  const verify = (c: { session: { id: string }; agent: { id: number } | null; user: { id: number } | null; memories: unknown[]; messages: { sessionId: string; seq: number }[] }, i: number) => {
    const s = session(i)
    check(c.session.id === s, 'the session')
    check(c.agent?.id === info.contextAgent, 'the session agent')
    check(c.user?.id === info.userId(u(i)), 'the session user')
    check(c.memories.length === MEMORIES, `${MEMORIES} memories, got ${c.memories.length}`)
    verifyMessages(c.messages, s)
    check(c.messages[0]!.seq < c.messages[MESSAGES - 1]!.seq, 'oldest first')
  }
  /** What a service does without context.load: the session first (it names the agent and user). */
  const separate = (parallel: boolean) => async (i: number) => {
    const s = session(i)
    const found = await db.sessions.get(s)
    check(found !== null, 'the session exists')
    const calls = [
      () => (found.agentId === null ? null : db.agents.get(found.agentId)),
      () => (found.userId === null ? null : db.users.get(found.userId)),
      () => db.memories.effective({ agentId: found.agentId, userId: found.userId, sessionId: s, readMode: 'system_prompt' }),
      () => db.messages.listBySession(s, { limit: MESSAGES, order: 'desc' }),
    ] as const
    let results: unknown[]
    if (parallel) results = await Promise.all(calls.map((f) => f()))
    else {
      results = []
      for (const f of calls) results.push(await f())
    }
    const [agent, user, memories, newest] = results as [Awaited<ReturnType<Db['agents']['get']>>, Awaited<ReturnType<Db['users']['get']>>, unknown[], Awaited<ReturnType<Db['messages']['listBySession']>>]
    verify({ session: found, agent, user, memories, messages: [...newest].reverse() }, i)
  }
  return [
    {
      id: 'listBySession',
      label: "db.messages.listBySession(sessionId, { limit: 50, order: 'desc' }): the same 50 messages alone",
      run: async (i) => verifyMessages(await db.messages.listBySession(session(i), { limit: MESSAGES, order: 'desc' }), session(i)),
    },
    {
      id: 'automagik-db',
      label: 'db.context.load(sessionId, { maxMessages: 50 }): session, agent, user, 10 memories, 50 messages in one statement',
      run: async (i) => {
        const c = await db.context.load(session(i), { maxMessages: MESSAGES })
        check(c !== null, 'a context')
        verify(c, i)
      },
    },
    {
      id: 'separate calls',
      label: 'sessions.get, then agents.get, users.get, memories.effective, messages.listBySession one after another (5 round trips)',
      run: separate(false),
    },
    {
      id: 'separate, parallel',
      label: 'sessions.get, then the other four at once with Promise.all (server: 4 pooled connections; PGlite: queued on its one)',
      run: separate(true),
    },
  ]
}

export function contextTargets(get: (id: string) => { medianUs: number } | undefined): Target[] {
  const load = get('automagik-db')
  const list = get('listBySession')
  const seq = get('separate calls')
  const par = get('separate, parallel')
  const r = (a: { medianUs: number } | undefined, b: { medianUs: number } | undefined) => (a && b ? a.medianUs / b.medianUs : null)
  const vsList = r(load, list)
  const f = (x: number | null) => (x === null ? '–' : `${x.toFixed(2)}×`)
  return [
    {
      name: '15: context.load ≤ 1.5× one listBySession of the same 50 messages',
      met: vsList === null ? null : vsList <= 1.5,
      detail: `${f(vsList)} listBySession; ${f(r(load, seq))} the five calls in sequence, ${f(r(load, par))} with the last four in parallel`,
    },
  ]
}
