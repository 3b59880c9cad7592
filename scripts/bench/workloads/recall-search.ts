/**
 * Workloads 12 (`messages.search` full text, top 20 of one user) and 13 (`memories.search` full
 * text and fuzzy, top 10 of one agent). Raw pg, Kysely and Drizzle run the statement
 * automagik-db's search builds (src/search/fulltext.ts, fuzzy.ts), written by hand; Drizzle has
 * no builder for `@@`, `ts_rank_cd` or pg_trgm's operators, so those parts are its `sql`
 * template inside an otherwise ordinary select.
 */
import { sql } from 'kysely'
import { and, asc, desc, eq, getTableColumns, sql as dsql } from 'drizzle-orm'
import { memoryColumns } from '../../../src/models/memory.model.js'
import { messageColumns } from '../../../src/models/message.model.js'
import { memories, messages } from '../drizzle-schema.js'
import { prng, searchText, typo } from '../recall-text.js'
import { messageQueries, type RecallInfo } from '../recall-data.js'
import type { BenchContext } from '../types.js'
import { check, pick, type Impls } from './common.js'

const ph = dsql.placeholder

/** Where the extensions live (quoted), read from the raw contenders' database. */
export interface RecallEnv {
  info: RecallInfo
  trgm: string
  vector: string | undefined
}

export async function recallEnv(ctx: BenchContext, info: RecallInfo): Promise<RecallEnv> {
  const { rows } = await ctx.raw.query(
    "SELECT e.extname AS name, quote_ident(n.nspname) AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname IN ('vector', 'pg_trgm')",
  )
  const schema = (name: string) => rows.find((r) => r.name === name)?.schema as string | undefined
  const trgm = schema('pg_trgm')
  if (trgm === undefined) throw new Error('pg_trgm is not installed (migration 0003)')
  return { info, trgm, vector: schema('vector') }
}

const TS = (p: string) => `websearch_to_tsquery('english'::regconfig, ${p}::text)`
const cols = (columns: readonly string[]) => columns.map((c) => `t.${c}`).join(', ')

/** Scope of a memory search: every memory, one agent's (its users' and its own), or one user's with one agent. */
export type MemoryScope = 'all' | 'agent' | 'user'

export function searchSql(env: RecallEnv) {
  const s = env.trgm
  const scope = (scoped: MemoryScope) => ({ all: '', agent: ' AND t.agent_id = $2', user: ' AND t.agent_id = $2 AND t.user_id = $3' })[scoped]
  const limit = (scoped: MemoryScope) => ({ all: '$2', agent: '$3', user: '$4' })[scoped]
  return {
    messages:
      `SELECT ${cols(messageColumns)}, ts_rank_cd(t.search_vector, ${TS('$1')})::float8 AS score FROM messages t ` +
      `WHERE t.search_vector @@ ${TS('$1')} AND t.user_id = $2 ORDER BY score DESC, t.id LIMIT $3`,
    memoriesFulltext: (scoped: MemoryScope) =>
      `SELECT ${cols(memoryColumns)}, ts_rank_cd(t.search_vector, ${TS('$1')})::float8 AS score FROM memories t ` +
      `WHERE t.search_vector @@ ${TS('$1')}${scope(scoped)} ORDER BY score DESC, t.id LIMIT ${limit(scoped)}`,
    memoriesFuzzy: (scoped: MemoryScope) =>
      `SELECT ${cols(memoryColumns)}, greatest(${s}.similarity(t.name, $1::text), ${s}.word_similarity($1::text, coalesce(t.content, '')))::float8 AS score ` +
      `FROM memories t WHERE (t.name OPERATOR(${s}.%) $1::text OR $1::text OPERATOR(${s}.<%) t.content)${scope(scoped)} ` +
      `ORDER BY score DESC, t.id LIMIT ${limit(scoped)}`,
  }
}

/** Results of one search: at most `max` rows, all in scope, best first. */
function checkHits(rows: readonly { score: number }[], max: number, inScope: (r: any) => boolean): void {
  check(rows.length <= max, `at most ${max} hits, got ${rows.length}`)
  for (let k = 0; k < rows.length; k++) {
    check(inScope(rows[k]), 'a hit outside the filter')
    if (k > 0) check(rows[k - 1]!.score >= rows[k]!.score, 'best first')
  }
}

/** The queries of a workload: `n` texts from a seeded generator. */
const queries = (seed: number, n: number, gen: (rand: () => number) => string) => {
  const rand = prng(seed)
  return Array.from({ length: n }, () => gen(rand))
}

/** Workload 12: `messages.search({ text, userId, limit: 20 })`. */
export function messageSearchImpls(ctx: BenchContext, env: RecallEnv): Impls & Probe {
  const { raw, prepared, kysely, drizzle: d } = ctx
  const { info } = env
  const searches = messageQueries(info, 256, 12)
  const text = (i: number) => searches[pick(i, searches.length)]!.text
  const user = (i: number) => info.userId(searches[pick(i, searches.length)]!.u)
  const SQL = searchSql(env).messages
  const LIMIT = 21 // automagik-db reads limit + 1 (the extra row says whether a next page exists)
  const verify = (rows: any[], u: number, userOf: (r: any) => number) => checkHits(rows, LIMIT, (r) => userOf(r) === u)
  const dSearch = d
    .select({ ...getTableColumns(messages), score: dsql<number>`ts_rank_cd(search_vector, websearch_to_tsquery('english'::regconfig, ${ph('q')}::text))::float8`.as('score') })
    .from(messages)
    .where(and(dsql`search_vector @@ websearch_to_tsquery('english'::regconfig, ${ph('q')}::text)`, eq(messages.userId, ph('userId'))))
    .orderBy(desc(dsql`score`), asc(messages.id))
    .limit(LIMIT)
    .prepare('drz_message_search')
  return {
    probe: {
      pg: async (i) => (await raw.query(SQL, [text(i), user(i), LIMIT])).rows.slice(0, 20).map((r) => r.id),
      amdb: async (i) => (await ctx.amdb.db.messages.search({ text: text(i), userId: user(i), limit: 20 })).map((h) => h.item.id),
    },
    pg: async (i) => {
      const u = user(i)
      verify((await raw.query(SQL, [text(i), u, LIMIT])).rows, u, (r) => r.user_id)
    },
    prepared: async (i) => {
      const u = user(i)
      verify((await prepared.query({ name: 'bench_message_search', text: SQL, values: [text(i), u, LIMIT] })).rows, u, (r) => r.user_id)
    },
    kysely: async (i) => {
      const u = user(i)
      const q = sql`websearch_to_tsquery('english'::regconfig, ${text(i)}::text)`
      const rows = await kysely
        .selectFrom('messages as t')
        .select(messageColumns.map((c) => `t.${c}` as const))
        .select(sql<number>`ts_rank_cd(t.search_vector, ${q})::float8`.as('score'))
        .where(sql<boolean>`t.search_vector @@ ${q}`)
        .where('t.user_id', '=', u)
        .orderBy(sql`score`, 'desc')
        .orderBy('t.id')
        .limit(LIMIT)
        .execute()
      verify(rows, u, (r) => r.user_id)
    },
    drizzle: async (i) => {
      const u = user(i)
      verify(await dSearch.execute({ q: text(i), userId: u }), u, (r) => r.userId)
    },
    amdb: (db) => async (i) => {
      const u = user(i)
      const hits = await db.messages.search({ text: text(i), userId: u, limit: 20 })
      checkHits(hits, 20, (h) => h.item.userId === u)
    },
  }
}

/**
 * Workload 13: `memories.search({ text, mode, limit: 10 })` over every memory, with `{ agentId }`
 * (about 1,000 memories: its users' and its global ones), or with `{ agentId, userId }`: one
 * user's memories with one agent (the call an agent makes for its user).
 */
export function memorySearchImpls(ctx: BenchContext, env: RecallEnv, mode: 'fulltext' | 'fuzzy', scoped: MemoryScope): Impls & Probe {
  const { raw, prepared, kysely, drizzle: d } = ctx
  const { info, trgm: s } = env
  const texts = mode === 'fulltext' ? queries(13, 256, searchText) : queries(14, 256, typo)
  const text = (i: number) => texts[pick(i, texts.length)]!
  const user = (i: number) => pick(i + 5, info.users)
  const scope = (i: number): { agentId?: number; userId?: number } =>
    scoped === 'user' ? { agentId: info.agentOf(user(i)), userId: info.userId(user(i)) } : scoped === 'agent' ? { agentId: info.agentOf(user(i)) } : {}
  const params = (i: number): unknown[] => [text(i), ...Object.values(scope(i)), LIMIT]
  const SQL = mode === 'fulltext' ? searchSql(env).memoriesFulltext(scoped) : searchSql(env).memoriesFuzzy(scoped)
  const name = `${mode}_${scoped}`
  const LIMIT = 11
  const verify = (rows: any[], i: number, agentOf: (r: any) => number, userOf: (r: any) => number) => {
    const want = scope(i)
    checkHits(rows, LIMIT, (r) => (want.agentId === undefined || agentOf(r) === want.agentId) && (want.userId === undefined || userOf(r) === want.userId))
  }
  const op = (o: string) => sql.raw(`OPERATOR(${s}.${o})`)
  const dScore =
    mode === 'fulltext'
      ? dsql<number>`ts_rank_cd(search_vector, websearch_to_tsquery('english'::regconfig, ${ph('q')}::text))::float8`
      : dsql<number>`greatest(${dsql.raw(s)}.similarity(${memories.name}, ${ph('q')}::text), ${dsql.raw(s)}.word_similarity(${ph('q')}::text, coalesce(${memories.content}, '')))::float8`
  const dMatch =
    mode === 'fulltext'
      ? dsql`search_vector @@ websearch_to_tsquery('english'::regconfig, ${ph('q')}::text)`
      : dsql`(${memories.name} OPERATOR(${dsql.raw(s)}.%) ${ph('q')}::text OR ${ph('q')}::text OPERATOR(${dsql.raw(s)}.<%) ${memories.content})`
  const dSearch = d
    .select({ ...getTableColumns(memories), score: dScore.as('score') })
    .from(memories)
    .where(
      scoped === 'user'
        ? and(dMatch, eq(memories.agentId, ph('agentId')), eq(memories.userId, ph('userId')))
        : scoped === 'agent'
          ? and(dMatch, eq(memories.agentId, ph('agentId')))
          : dMatch,
    )
    .orderBy(desc(dsql`score`), asc(memories.id))
    .limit(LIMIT)
    .prepare(`drz_memory_search_${name}`)
  return {
    probe: {
      pg: async (i) => (await raw.query(SQL, params(i))).rows.slice(0, 10).map((r) => r.id),
      amdb: async (i) => (await ctx.amdb.db.memories.search({ text: text(i), mode, ...scope(i), limit: 10 })).map((h) => h.item.id),
    },
    pg: async (i) => verify((await raw.query(SQL, params(i))).rows, i, (r) => r.agent_id, (r) => r.user_id),
    prepared: async (i) =>
      verify((await prepared.query({ name: `bench_memory_search_${name}`, text: SQL, values: params(i) })).rows, i, (r) => r.agent_id, (r) => r.user_id),
    kysely: async (i) => {
      const q = sql`${text(i)}::text`
      const ts = sql`websearch_to_tsquery('english'::regconfig, ${q})`
      const score =
        mode === 'fulltext'
          ? sql<number>`ts_rank_cd(t.search_vector, ${ts})::float8`
          : sql<number>`greatest(${sql.raw(s)}.similarity(t.name, ${q}), ${sql.raw(s)}.word_similarity(${q}, coalesce(t.content, '')))::float8`
      const match = mode === 'fulltext' ? sql<boolean>`t.search_vector @@ ${ts}` : sql<boolean>`(t.name ${op('%')} ${q} OR ${q} ${op('<%')} t.content)`
      let query = kysely
        .selectFrom('memories as t')
        .select(memoryColumns.map((c) => `t.${c}` as const))
        .select(score.as('score'))
        .where(match)
      const sc = scope(i)
      if (sc.agentId !== undefined) query = query.where('t.agent_id', '=', sc.agentId)
      if (sc.userId !== undefined) query = query.where('t.user_id', '=', sc.userId)
      verify(await query.orderBy(sql`score`, 'desc').orderBy('t.id').limit(LIMIT).execute(), i, (r) => r.agent_id, (r) => r.user_id)
    },
    drizzle: async (i) => verify(await dSearch.execute({ q: text(i), ...scope(i) }), i, (r) => r.agentId, (r) => r.userId),
    amdb: (db) => async (i) => {
      const hits = await db.memories.search({ text: text(i), mode, ...scope(i), limit: 10 })
      const want = scope(i)
      checkHits(hits, 10, (h) => (want.agentId === undefined || h.item.agentId === want.agentId) && (want.userId === undefined || h.item.userId === want.userId))
    },
  }
}

/** Ids of the hits of call i, by raw pg and by automagik-db (for {@link crossCheck}). */
export interface Probe {
  probe: { pg(i: number): Promise<string[]>; amdb(i: number): Promise<string[]> }
}

/**
 * Before timing: the hand-written SQL and automagik-db return the same rows, in the same order,
 * for the first `n` calls. Returns the mean hits. On PGlite the two instances also hold the rows
 * the earlier workloads wrote (different on each): with `keep` (this data set's rows) the
 * comparison is of this data set's hits, up to the shorter list (another row only pushes them down).
 */
export async function crossCheck(name: string, n: number, { probe }: Probe, keep?: (id: string) => boolean): Promise<number> {
  let hits = 0
  for (let i = 0; i < n; i++) {
    let [a, b] = [await probe.pg(i), await probe.amdb(i)]
    hits += b.length
    if (keep) {
      ;[a, b] = [a.filter(keep), b.filter(keep)]
      const m = Math.min(a.length, b.length)
      ;[a, b] = [a.slice(0, m), b.slice(0, m)]
    }
    check(a.join() === b.join(), `${name}: call ${i}: raw pg and automagik-db disagree (${a.length} vs ${b.length} hits)`)
  }
  return hits / n
}
