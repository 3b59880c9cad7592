/**
 * The data set of the recall workloads (12–15), generated in JavaScript from a seeded PRNG (see
 * recall-text.ts) and loaded in chunks of one multi-row statement each (`unnest` of one array per
 * column; COPY on a server). Every id is deterministic (`md5(text)::uuid`), so the two PGlite
 * instances hold the same rows and every contender can be checked against the others.
 *
 * - `users` users (ids from 900001), each with `sessionsPerUser` sessions of `messagesPerSession`
 *   alternating user/assistant messages with explicit `seq` (the numbering trigger is skipped).
 *   A user's sessions talk to one of the first 20 seeded agents.
 * - Memories: per user 90% of `memories` / users, scoped (agent, user); 10% agent-global.
 * - Context sessions: the first session of the first `contextUsers` users belongs to a dedicated
 *   agent (id 900000) and has exactly 10 memories that apply to it (6 of the (agent, user), 4 of
 *   the session, all `system_prompt`: context.load's default read mode), so `context.load`
 *   assembles 50 messages and 10 memories.
 */
import type pg from 'pg'
import type { ScaleConfig } from './options.js'
import { copyFrom, copyText } from './copy-in.js'
import { chatMessage, memoryName, memoryText, prng, searchText, VOCAB } from './recall-text.js'
import { md5Uuid } from './seed.js'

/** Runs one statement with parameters (automagik-db's db.query or a pg pool). */
export type Exec = (text: string, params?: unknown[]) => Promise<unknown>

export interface RecallInfo {
  users: number
  sessionsPerUser: number
  messagesPerSession: number
  messages: number
  /** Recall users talk to the seeded agents 1 … agents. */
  agents: number
  contextAgent: number
  contextUsers: number
  userMemories: number
  agentMemories: number
  /** All memories, the context ones included. */
  memories: number
  vectors: number
  dimension: number
  model: string
  userId(u: number): number
  agentOf(u: number): number
  session(u: number, j: number): string
  memoryId(k: number): string
}

const USER_BASE = 900_000
const CONTEXT_MEMORIES = { user: 6, session: 4 }

export function recallInfo(scale: ScaleConfig, seededAgents: number): RecallInfo {
  const r = scale.recall
  const agents = Math.min(20, seededAgents)
  const userMemories = Math.floor((0.9 * r.memories) / r.users)
  const agentMemories = Math.floor((0.1 * r.memories) / agents)
  const contextUsers = Math.min(100, r.users)
  const memories = userMemories * r.users + agentMemories * agents + contextUsers * (CONTEXT_MEMORIES.user + CONTEXT_MEMORIES.session)
  return {
    users: r.users,
    sessionsPerUser: r.sessionsPerUser,
    messagesPerSession: r.messagesPerSession,
    messages: r.users * r.sessionsPerUser * r.messagesPerSession,
    agents,
    contextAgent: USER_BASE,
    contextUsers,
    userMemories,
    agentMemories,
    memories,
    vectors: Math.min(r.vectors, memories),
    dimension: 384,
    model: 'bench-minilm-384',
    userId: (u) => USER_BASE + 1 + u,
    agentOf: (u) => (u % agents) + 1,
    session: (u, j) => md5Uuid(`recall-session-${u}-${j}`),
    memoryId: (k) => md5Uuid(`recall-memory-${k}`),
  }
}

/** Agent of session j of user u: the context agent for the context sessions. */
const sessionAgent = (info: RecallInfo, u: number, j: number) => (j === 0 && u < info.contextUsers ? info.contextAgent : info.agentOf(u))

const T0 = Date.UTC(2026, 0, 1)

/** The context agent, the users and their sessions (each already numbered to its last message). */
export async function loadRecallScaffold(exec: Exec, info: RecallInfo): Promise<void> {
  const { users: U, sessionsPerUser: P, messagesPerSession: N, agents: A } = info
  await exec(
    `INSERT INTO agents (id, name, type, model, description, system_prompt)
     VALUES (${info.contextAgent}, 'recall-context-agent', 'simple', 'gpt-4o', 'context.load benchmark agent', 'You are a helpful assistant.')`,
  )
  await exec(
    `INSERT INTO users (id, email, user_data)
     SELECT ${USER_BASE + 1} + u, 'recall' || u || '@example.com', jsonb_build_object('name', 'Recall user ' || u)
     FROM generate_series(0, ${U - 1}) u`,
  )
  await exec(
    `INSERT INTO sessions (id, user_id, agent_id, name, platform, last_seq, created_at, updated_at)
     SELECT md5('recall-session-' || u || '-' || j)::uuid, ${USER_BASE + 1} + u,
            CASE WHEN j = 0 AND u < ${info.contextUsers} THEN ${info.contextAgent} ELSE u % ${A} + 1 END,
            'chat ' || j, 'web', ${N}, $1::timestamptz + (u * ${P} + j) * interval '1 hour', $1::timestamptz + (u * ${P} + j) * interval '1 hour'
     FROM generate_series(0, ${U - 1}) u, generate_series(0, ${P - 1}) j`,
    [new Date(T0).toISOString()],
  )
}

interface MessageColumns {
  id: string[]
  seq: number[]
  session: string[]
  user: number[]
  agent: number[]
  role: string[]
  text: string[]
  createdAt: string[]
}

/** The messages of users [from, to), every session, one PRNG per session. */
export function messageChunk(info: RecallInfo, from: number, to: number): MessageColumns {
  const c: MessageColumns = { id: [], seq: [], session: [], user: [], agent: [], role: [], text: [], createdAt: [] }
  for (let u = from; u < to; u++) {
    for (let j = 0; j < info.sessionsPerUser; j++) {
      const rand = prng(u * 1009 + j + 1)
      const session = info.session(u, j)
      const start = T0 + (u * info.sessionsPerUser + j) * 3_600_000
      for (let k = 1; k <= info.messagesPerSession; k++) {
        const role = k % 2 === 1 ? 'user' : 'assistant'
        c.id.push(md5Uuid(`recall-message-${u}-${j}-${k}`))
        c.seq.push(k)
        c.session.push(session)
        c.user.push(info.userId(u))
        c.agent.push(sessionAgent(info, u, j))
        c.role.push(role)
        c.text.push(chatMessage(rand, role))
        c.createdAt.push(new Date(start + k * 30_000).toISOString())
      }
    }
  }
  return c
}

const MESSAGE_UNNEST =
  'INSERT INTO messages (id, seq, session_id, user_id, agent_id, role, text_content, created_at, updated_at) ' +
  'SELECT i, q, s, u, a, r, x, t, t FROM unnest($1::uuid[], $2::int8[], $3::uuid[], $4::int4[], $5::int4[], $6::text[], $7::text[], $8::timestamptz[]) AS m(i, q, s, u, a, r, x, t)'

/**
 * Loads every message, `usersPerChunk` users per statement: on a server with COPY available
 * through `copyPool`, COPY FROM STDIN; otherwise one unnest INSERT per chunk on every target.
 */
export async function loadRecallMessages(targets: readonly Exec[], info: RecallInfo, copyPool?: pg.Pool): Promise<void> {
  const usersPerChunk = Math.max(1, Math.floor(10_000 / (info.sessionsPerUser * info.messagesPerSession)))
  for (let u = 0; u < info.users; u += usersPerChunk) {
    const c = messageChunk(info, u, Math.min(info.users, u + usersPerChunk))
    if (copyPool) {
      const lines: string[] = []
      for (let r = 0; r < c.id.length; r++) {
        lines.push(`${c.id[r]}\t${c.seq[r]}\t${c.session[r]}\t${c.user[r]}\t${c.agent[r]}\t${c.role[r]}\t${copyText(c.text[r])}\t${c.createdAt[r]}\t${c.createdAt[r]}\n`)
      }
      const client = await copyPool.connect()
      try {
        await copyFrom(client, 'COPY messages (id, seq, session_id, user_id, agent_id, role, text_content, created_at, updated_at) FROM STDIN', lines.join(''))
      } finally {
        client.release()
      }
    } else {
      const params = [c.id, c.seq, c.session, c.user, c.agent, c.role, c.text, c.createdAt]
      for (const exec of targets) await exec(MESSAGE_UNNEST, params)
    }
  }
}

interface MemoryColumns {
  id: string[]
  name: string[]
  description: string[]
  content: string[]
  agent: (number | null)[]
  user: (number | null)[]
  session: (string | null)[]
  readMode: string[]
}

/** Every memory, in id order k = 0, 1, …: user-scoped, agent-global, then the context ones. */
export function memoryRows(info: RecallInfo): MemoryColumns {
  const c: MemoryColumns = { id: [], name: [], description: [], content: [], agent: [], user: [], session: [], readMode: [] }
  const rand = prng(7)
  const push = (name: string, agent: number | null, user: number | null, session: string | null, readMode?: string) => {
    const { description, content } = memoryText(rand)
    c.id.push(info.memoryId(c.id.length))
    c.name.push(name)
    c.description.push(description)
    c.content.push(content)
    c.agent.push(agent)
    c.user.push(user)
    c.session.push(session)
    c.readMode.push(readMode ?? (c.id.length % 2 === 0 ? 'tool' : 'system_prompt'))
  }
  for (let u = 0; u < info.users; u++) {
    for (let k = 0; k < info.userMemories; k++) push(memoryName(rand, k), info.agentOf(u), info.userId(u), null)
  }
  for (let a = 1; a <= info.agents; a++) {
    for (let k = 0; k < info.agentMemories; k++) push(memoryName(rand, k), a, null, null)
  }
  for (let u = 0; u < info.contextUsers; u++) {
    for (let k = 0; k < CONTEXT_MEMORIES.user; k++) push(`context-${k}`, info.contextAgent, info.userId(u), null, 'system_prompt')
    for (let k = 0; k < CONTEXT_MEMORIES.session; k++) push(`context-session-${k}`, info.contextAgent, info.userId(u), info.session(u, 0), 'system_prompt')
  }
  return c
}

const MEMORY_UNNEST =
  'INSERT INTO memories (id, name, description, content, agent_id, user_id, session_id, read_mode, access) ' +
  "SELECT i, n, d, c, a, u, s, r, 'read_write' FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::int4[], $7::uuid[], $8::text[]) AS m(i, n, d, c, a, u, s, r)"

export async function loadRecallMemories(targets: readonly Exec[], info: RecallInfo): Promise<MemoryColumns> {
  const m = memoryRows(info)
  const CHUNK = 5_000
  for (let at = 0; at < m.id.length; at += CHUNK) {
    const cut = <T>(a: T[]) => a.slice(at, at + CHUNK)
    const params = [cut(m.id), cut(m.name), cut(m.description), cut(m.content), cut(m.agent), cut(m.user), cut(m.session), cut(m.readMode)]
    for (const exec of targets) await exec(MEMORY_UNNEST, params)
  }
  return m
}

/** Words worth searching for: the vocabulary's content words (no verbs, fillers, numbers). */
const CONTENT_WORDS: ReadonlySet<string> = new Set(
  [...VOCAB.noun, ...VOCAB.tech, ...VOCAB.place, ...VOCAB.topic, ...VOCAB.name, ...VOCAB.adj].map((w) => w.toLowerCase()),
)

/**
 * `n` searches of `messages.search`, each for one user (index u): three in four are one or two
 * content words of one of that user's own messages (what someone looking for an old conversation
 * types: at least one hit), one in four a one- or two-word vocabulary search (often no hit).
 */
export function messageQueries(info: RecallInfo, n: number, seed: number): { u: number; text: string }[] {
  const rand = prng(seed)
  const out: { u: number; text: string }[] = []
  for (let k = 0; k < n; k++) {
    const u = Math.floor(rand() * info.users)
    if (rand() < 0.25) {
      out.push({ u, text: searchText(rand) })
      continue
    }
    const texts = messageChunk(info, u, u + 1).text
    const words = texts[Math.floor(rand() * texts.length)]!
      .toLowerCase()
      .split(/[^a-z]+/)
      .filter((w) => CONTENT_WORDS.has(w))
    if (words.length === 0) {
      out.push({ u, text: searchText(rand) })
      continue
    }
    const a = words[Math.floor(rand() * words.length)]!
    const b = words[Math.floor(rand() * words.length)]!
    out.push({ u, text: rand() < 0.5 || a === b ? a : `${a} ${b}` })
  }
  return out
}
