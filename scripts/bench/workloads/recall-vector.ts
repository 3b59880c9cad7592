/**
 * Workload 14: vector search, `db.memories.search({ vector, model, limit: 10 })` over the
 * memories' 384-dimension embeddings (HNSW, cosine), where pgvector is installed (PGlite always).
 *
 * Before timing: recall@10 of automagik-db's answers against an exact scan (the same statement
 * in a transaction with `SET LOCAL enable_indexscan = off`: a sequential scan and a sort, checked
 * with EXPLAIN) over `vectorQueries` queries; when it is below 0.95 with automagik-db's settings,
 * the recall of the same statement by hand under each `SET LOCAL hnsw.ef_search` of a list, up
 * to the first that reaches it.
 */
import { asc, eq, getTableColumns, sql as dsql } from 'drizzle-orm'
import type pg from 'pg'
import { memoryColumns } from '../../../src/models/memory.model.js'
import { hnswIndexName } from '../../../src/search/model-registry.js'
import { memories, memoryEmbeddings } from '../drizzle-schema.js'
import type { Exec } from '../recall-data.js'
import { ClusterModel, loadMemoryEmbeddings, recallAt, VECTOR_SHAPE, vectorLiteral } from '../recall-vectors.js'
import type { BenchContext, Contender, Target } from '../types.js'
import { check, LABELS, pick } from './common.js'
import type { RecallEnv } from './recall-search.js'

const ph = dsql.placeholder
const EF_SEARCH = [40, 64, 100, 200, 400] as const

export interface VectorSetup {
  queries: number[][]
  recall: number
  /** When `recall` < 0.95: ef_search → recall@10 of the same statement by hand, for each value tried. */
  recallByEf: [number, number][]
  pgvector: string
  exactPlan: string
  annPlan: string
  loadSec: number
}

/** The statement automagik-db's vector search sends (src/search/vector.ts), by hand. */
export function vectorSql(env: RecallEnv): string {
  const v = env.vector!
  const type = `${v}.vector(${env.info.dimension})`
  const d = `(e.embedding::${type} OPERATOR(${v}.<=>) $1::${type})`
  return (
    `SELECT ${memoryColumns.map((c) => `t.${c}`).join(', ')}, (1 - ${d})::float8 AS score, ${d}::float8 AS distance ` +
    `FROM memory_embeddings e JOIN memories t ON t.id = e.memory_id WHERE e.model = '${env.info.model}' ` +
    `ORDER BY ${d}, e.memory_id LIMIT $2`
  )
}

/**
 * Registers the model and loads the embeddings on every target: the model's row, the vectors
 * (2,000 per statement), then the model's partial HNSW indexes, created by hand with exactly
 * the name and definition `setEmbedding`'s first use gives them (src/search/model-registry.ts):
 * building the index once is far faster than inserting 20k rows into a live one.
 */
export async function loadVectors(ctx: BenchContext, env: RecallEnv, targets: readonly Exec[], log: (s: string) => void): Promise<VectorSetup> {
  const { info } = env
  const v = env.vector!
  const t0 = Date.now()
  const model = new ClusterModel(info.dimension)
  const vectors = model.points(info.vectors, 1)
  const queries = model.points(ctx.scale.recall.vectorQueries, 2)
  for (const exec of targets) await exec('INSERT INTO embedding_models (name, dimension) VALUES ($1, $2)', [info.model, info.dimension])
  await loadMemoryEmbeddings(targets, info, vectors)
  for (const table of ['message_embeddings', 'memory_embeddings']) {
    const index =
      `CREATE INDEX ${hnswIndexName(table, info.model)} ON ${table} USING hnsw ((embedding::${v}.vector(${info.dimension})) ${v}.vector_cosine_ops) ` +
      `WHERE model = '${info.model}'`
    for (const exec of targets) await exec(index)
  }
  for (const exec of targets) await exec('ANALYZE memory_embeddings')
  // The API's own write path, once: replaces memory 0's vector with the same one.
  await ctx.amdb.db.memories.setEmbedding(info.memoryId(0), { model: info.model, vector: vectors[0]! })
  const loadSec = (Date.now() - t0) / 1000
  log(`  loaded ${info.vectors} vectors of ${info.dimension} dimensions (${VECTOR_SHAPE.clusters} clusters) and built the HNSW index in ${loadSec.toFixed(1)} s`)

  const db = ctx.amdb.db
  const SQL = vectorSql(env)
  const plan = async (setting: string) =>
    db.transaction(async (tx) => {
      await tx.query(setting)
      const rows = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${SQL}`, [vectorLiteral(queries[0]!), 11])
      return rows.map((r) => r['QUERY PLAN']).join('\n')
    })
  const exactPlan = await plan('SET LOCAL enable_indexscan = off')
  const annPlan = await plan('SET LOCAL enable_seqscan = on')
  check(!exactPlan.includes('hnsw'), 'the exact scan must not use the HNSW index')
  check(annPlan.includes(hnswIndexName('memory_embeddings', info.model)), `the search must use the HNSW index:\n${annPlan}`)

  const exact: string[][] = []
  for (const q of queries) {
    exact.push(
      await db.transaction(async (tx) => {
        await tx.query('SET LOCAL enable_indexscan = off')
        return (await tx.query<{ id: string }>(SQL, [vectorLiteral(q), 10])).map((r) => r.id)
      }),
    )
  }
  /** automagik-db's API with its settings; with `ef`, the same statement by hand under SET LOCAL hnsw.ef_search. */
  const recallWith = async (ef: number | undefined) => {
    let sum = 0
    for (let k = 0; k < queries.length; k++) {
      const ids =
        ef === undefined
          ? (await db.memories.search({ vector: queries[k]!, model: info.model, limit: 10 })).map((h) => h.item.id)
          : await db.transaction(async (tx) => {
              await tx.query(`SET LOCAL hnsw.ef_search = ${ef}`)
              return (await tx.query<{ id: string }>(SQL, [vectorLiteral(queries[k]!), 10])).map((r) => r.id)
            })
      sum += recallAt(ids, exact[k]!)
    }
    return sum / queries.length
  }
  const recall = await recallWith(undefined)
  const recallByEf: [number, number][] = []
  if (recall < 0.95) {
    for (const ef of EF_SEARCH) {
      const r = await recallWith(ef)
      recallByEf.push([ef, r])
      if (r >= 0.95) break
    }
  }
  const version = (await db.query<{ v: string }>("SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'"))[0]?.v ?? '?'
  log(
    `  recall@10 over ${queries.length} queries (pgvector ${version}): automagik-db ${recall.toFixed(3)}` +
      recallByEf.map(([ef, r]) => `; by hand, ef_search ${ef}: ${r.toFixed(3)}`).join(''),
  )
  return { queries, recall, recallByEf, exactPlan, annPlan, loadSec, pgvector: version }
}

/** The contenders: raw pg (baseline), Drizzle, automagik-db, and the exact scan. */
export function vectorContenders(ctx: BenchContext, env: RecallEnv, setup: VectorSetup): Contender[] {
  const { raw, drizzle: d } = ctx
  const { info } = env
  const SQL = vectorSql(env)
  const q = (i: number) => setup.queries[pick(i, setup.queries.length)]!
  const verify = (rows: readonly { score: number }[], n: number) => {
    check(rows.length === n, `${n} nearest, got ${rows.length}`)
    for (let k = 1; k < rows.length; k++) check(rows[k - 1]!.score >= rows[k]!.score, 'nearest first')
  }
  const v = env.vector!
  const type = dsql.raw(`${v}.vector(${info.dimension})`)
  const distance = dsql`(${memoryEmbeddings.embedding}::${type} OPERATOR(${dsql.raw(v)}.<=>) ${ph('q')}::${type})`
  const dSearch = d
    .select({ ...getTableColumns(memories), score: dsql<number>`(1 - ${distance})::float8`.as('score'), distance: dsql<number>`${distance}::float8`.as('distance') })
    .from(memoryEmbeddings)
    .innerJoin(memories, eq(memories.id, memoryEmbeddings.memoryId))
    .where(dsql`${memoryEmbeddings.model} = ${dsql.raw(`'${info.model}'`)}`)
    .orderBy(distance, asc(memoryEmbeddings.memoryId))
    .limit(11)
    .prepare('drz_memory_vector_search')
  const exactScan = async (client: pg.Pool, vector: string) => {
    const c = await client.connect()
    try {
      await c.query('BEGIN')
      await c.query('SET LOCAL enable_indexscan = off')
      const { rows } = await c.query(SQL, [vector, 11])
      await c.query('COMMIT')
      return rows
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined)
      throw err
    } finally {
      c.release()
    }
  }
  return [
    { id: 'pg', label: `${LABELS.pg} (the HNSW index)`, run: async (i) => verify((await raw.query(SQL, [vectorLiteral(q(i)), 11])).rows, 11) },
    {
      id: 'drizzle',
      label: `${LABELS.drizzle}: a select with the distance as a sql template (no builder for pgvector's <=> on a cast)`,
      run: async (i) => verify(await dSearch.execute({ q: vectorLiteral(q(i)) }), 11),
    },
    {
      id: 'automagik-db',
      label: 'db.memories.search({ vector, model, limit: 10 })',
      run: async (i) => verify(await ctx.amdb.db.memories.search({ vector: q(i), model: info.model, limit: 10 }), 10),
    },
    {
      id: 'exact',
      label: 'exact scan: the same statement in a transaction with SET LOCAL enable_indexscan = off (seq scan + sort)',
      run: async (i) => verify(await exactScan(raw, vectorLiteral(q(i))), 11),
    },
  ]
}

/** The recall target (it is measured before the timing, not by the runner). */
export function vectorTargets(setup: VectorSetup): Target[] {
  const best = setup.recallByEf.find(([, r]) => r >= 0.95)
  return [
    {
      name: '14: recall@10 ≥ 0.95 against an exact scan, automagik-db as it is',
      met: setup.recall >= 0.95,
      detail:
        `recall@10 ${setup.recall.toFixed(3)} over ${setup.queries.length} queries (pgvector ${setup.pgvector}, HNSW m 16, ef_construction 64)` +
        (setup.recall < 0.95 ? `; ${best ? `ef_search ${best[0]} reaches ${best[1].toFixed(3)}` : 'no ef_search tried reaches it'}` : ''),
    },
  ]
}
