/**
 * The recall workloads of issue 10: 12 `messages.search`, 13 `memories.search` (full text, fuzzy),
 * 14 vector search with its recall@10, 15 `context.load`. Their data (recall-data.ts) is loaded
 * once, before the first of them that runs, into users and sessions of their own.
 */
import { loadRecallMemories, loadRecallMessages, loadRecallScaffold, recallInfo, type Exec } from '../recall-data.js'
import type { BenchContext, Workload } from '../types.js'
import { standard } from './common.js'
import { contextContenders, contextTargets } from './recall-context.js'
import { crossCheck, memorySearchImpls, messageSearchImpls, recallEnv, type RecallEnv } from './recall-search.js'
import { loadVectors, vectorContenders, vectorTargets } from './recall-vector.js'

const short = (n: number) => (n >= 1000 ? `${Math.round(n / 1000)}k` : String(n))
const ms = (us: number | undefined) => (us === undefined ? '–' : `${(us / 1000).toFixed(2)} ms`)

/** The databases to load: the server's one, or both PGlite instances. */
function loadTargets(ctx: BenchContext): Exec[] {
  const raw: Exec = (text, params) => ctx.raw.query(text, params)
  return ctx.backend === 'server' ? [raw] : [(text, params) => ctx.amdb.db.query(text, params ?? []), raw]
}

/** Loads users, sessions, messages and memories, then ANALYZE; the indexes exist already (migrations). */
export async function loadRecall(ctx: BenchContext, log: (s: string) => void): Promise<RecallEnv> {
  const info = recallInfo(ctx.scale, ctx.seed.agents)
  const targets = loadTargets(ctx)
  const t0 = Date.now()
  for (const exec of targets) await loadRecallScaffold(exec, info)
  await loadRecallMessages(targets, info, ctx.copyAvailable ? ctx.raw : undefined)
  const t1 = Date.now()
  await loadRecallMemories(targets, info)
  for (const exec of targets) await exec('ANALYZE')
  log(
    `  recall data: ${short(info.messages)} messages (${info.users} users × ${info.sessionsPerUser} sessions × ${info.messagesPerSession}) ` +
      `in ${((t1 - t0) / 1000).toFixed(1)} s${ctx.copyAvailable ? ' (COPY)' : targets.length > 1 ? ' (unnest, both instances)' : ' (unnest)'}, ` +
      `${short(info.memories)} memories, ANALYZE: ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  )
  return recallEnv(ctx, info)
}

export async function* recallWorkloads(ctx: BenchContext, group: '12' | '13' | '14' | '15', env: RecallEnv, log: (s: string) => void): AsyncGenerator<Workload> {
  const { info } = env
  // Calls compared between raw pg and automagik-db before timing (fewer in the CI smoke run).
  const checks = ctx.scale.name === 'small' ? 5 : 20
  switch (group) {
    case '12': {
      const impls = messageSearchImpls(ctx, env)
      const hits = await crossCheck('12', checks, impls)
      yield {
        id: `12@${short(info.messages)}`,
        group,
        title: `messages.search({ text, userId, limit: 20 }): full text, ${short(info.messages)} messages, ${info.users} users`,
        baseline: 'pg',
        mode: 'sequential',
        contenders: standard(ctx, impls),
        notes: [
          `Queries: 256 (user, text) pairs, websearch_to_tsquery (two words are AND): 3 in 4 are one or two content words of one of the user's own messages, 1 in 4 vocabulary words (often no hit). ${hits.toFixed(1)} hits per call on average over the first ${checks} calls, which gave the same rows in the same order through raw pg and automagik-db.`,
          'Raw pg, Kysely and Drizzle send the statement automagik-db builds (ts_rank_cd over the GIN-indexed search_vector, LIMIT 21: one more row than asked says whether a next page exists); Drizzle with its sql template for @@ and ts_rank_cd.',
        ],
        targets: (get) => [
          { name: '12: messages.search p50 ≤ 20 ms (server)', met: ctx.backend === 'server' ? (get('automagik-db')?.medianUs ?? Infinity) <= 20_000 : null, detail: `p50 ${ms(get('automagik-db')?.medianUs)}` },
        ],
      }
      return
    }
    case '13': {
      const ours = new Set(Array.from({ length: info.memories }, (_, k) => info.memoryId(k)))
      const scopes = [['fulltext', 'all'], ['fuzzy', 'all'], ['fulltext', 'agent'], ['fuzzy', 'agent'], ['fulltext', 'user'], ['fuzzy', 'user']] as const
      // The smoke run skips the agent scope (its plans are the full run's concern).
      for (const [mode, scoped] of scopes.filter(([, sc]) => ctx.scale.name !== 'small' || sc !== 'agent')) {
        const impls = memorySearchImpls(ctx, env, mode, scoped)
        const id = `13 ${mode}${scoped === 'all' ? '' : ` ${scoped}`}`
        const hits = await crossCheck(id, checks, impls, ctx.backend === 'pglite' ? (m) => ours.has(m) : undefined)
        const perScope = { all: info.memories, agent: Math.round(info.memories / info.agents), user: info.userMemories }[scoped]
        const what = {
          all: `all ${short(info.memories)} memories`,
          agent: `one agent's ~${perScope} memories (its users' and its global ones), of ${short(info.memories)}`,
          user: `one user's ${perScope} memories with one agent, of ${short(info.memories)}`,
        }[scoped]
        const keys = { all: '', agent: ', agentId', user: ', agentId, userId' }[scoped]
        yield {
          id,
          group,
          title: `memories.search({ text, mode: '${mode}'${keys}, limit: 10 }): ${what}`,
          baseline: 'pg',
          mode: 'sequential',
          contenders: standard(ctx, impls),
          notes: [
            `${hits.toFixed(1)} hits per call on average over the first ${checks} calls (raw pg and automagik-db gave the same rows in the same order${ctx.backend === 'pglite' ? " among this data set's memories; each PGlite instance also holds what workloads 1–11 wrote on it" : ''}).`,
            mode === 'fulltext'
              ? 'Queries: 256 one- or two-word searches; name (weight A), description (B) and content (C) in one GIN-indexed tsvector.'
              : "Queries: 256 vocabulary words with a typo (a letter dropped or two swapped); `name % q OR q <% content` (pg_trgm's default thresholds; the trigram GIN indexes when the planner picks them), scored greatest(similarity, word_similarity).",
          ],
          targets: (get) => [
            {
              name: `${id}: memories.search p50 ≤ 10 ms (server)`,
              met: ctx.backend === 'server' ? (get('automagik-db')?.medianUs ?? Infinity) <= 10_000 : null,
              detail: `p50 ${ms(get('automagik-db')?.medianUs)}`,
            },
          ],
        }
      }
      return
    }
    case '14': {
      if (!ctx.amdb.db.features.vector || env.vector === undefined) {
        log('  14: skipped: pgvector is not installed on this database (db.features.vector === false)')
        return
      }
      const setup = await loadVectors(ctx, env, loadTargets(ctx), log)
      yield {
        id: `14@${short(info.vectors)}`,
        group,
        title: `memories.search({ vector, model, limit: 10 }): HNSW over ${short(info.vectors)} vectors of ${info.dimension} dimensions`,
        baseline: 'pg',
        mode: 'sequential',
        contenders: vectorContenders(ctx, env, setup),
        notes: [
          `recall@10 of automagik-db against the exact scan over ${setup.queries.length} queries: ${setup.recall.toFixed(3)}` +
            setup.recallByEf.map(([ef, r]) => `; the same statement by hand with hnsw.ef_search ${ef}: ${r.toFixed(3)}`).join('') +
            `. Index: pgvector ${setup.pgvector} HNSW defaults (m 16, ef_construction 64), cosine.`,
          'Data: 50 clusters of unit vectors (a random center plus variation along 16 directions of its own and a little noise in every dimension); queries are new points drawn the same way.',
          `Loaded in ${setup.loadSec.toFixed(1)} s: the vectors into memory_embeddings, then the model's HNSW index built once (same name and definition as setEmbedding's registration).`,
        ],
        targets: () => vectorTargets(setup),
      }
      return
    }
    case '15':
      yield {
        id: '15',
        group,
        title: `context.load(sessionId, { maxMessages: 50 }): 50 of the session's ${info.messagesPerSession} messages and 10 memories`,
        baseline: 'listBySession',
        mode: 'sequential',
        contenders: contextContenders(ctx, info),
        notes: [
          `${info.contextUsers} sessions of a dedicated agent, each with 6 memories of (agent, user) and 4 of the session (all system_prompt); the ratio is to listBySession of the same 50 messages.`,
        ],
        targets: contextTargets,
      }
      return
  }
}
