/**
 * Synthetic embeddings for workload 14: clustered like a real embedding model's output, seeded.
 *
 * 50 clusters with random unit centers. A point is its cluster's center plus Gaussian noise in
 * a cluster-specific low-dimensional subspace (`rank` random directions: real embeddings vary
 * along few directions) plus a little isotropic noise in all 384 dimensions, normalized to unit
 * length. Queries are new points drawn the same way (never rows of the table).
 */
import { prng } from './recall-text.js'
import type { Exec, RecallInfo } from './recall-data.js'

export interface VectorShape {
  clusters: number
  /** Directions of a cluster's own variation. */
  rank: number
  /** Size of the in-cluster variation relative to the unit center. */
  spread: number
  /** Per-dimension standard deviation of the isotropic noise. */
  noise: number
}

export const VECTOR_SHAPE: VectorShape = { clusters: 50, rank: 16, spread: 0.6, noise: 0.02 }

/** Standard normal samples from a uniform PRNG (Box–Muller). */
function gaussian(rand: () => number): () => number {
  let spare: number | undefined
  return () => {
    if (spare !== undefined) {
      const s = spare
      spare = undefined
      return s
    }
    const u = Math.max(rand(), 1e-12)
    const v = rand()
    const r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
}

function normalize(v: Float64Array): Float64Array {
  let n = 0
  for (const x of v) n += x * x
  n = Math.sqrt(n)
  for (let i = 0; i < v.length; i++) v[i]! /= n
  return v
}

/** The cluster model: centers and each cluster's directions, from a fixed seed. */
export class ClusterModel {
  readonly centers: Float64Array[] = []
  readonly bases: Float64Array[][] = []
  constructor(
    readonly dimension: number,
    readonly shape: VectorShape = VECTOR_SHAPE,
  ) {
    const g = gaussian(prng(0x5eed))
    const randomUnit = () => normalize(Float64Array.from({ length: dimension }, g))
    for (let c = 0; c < shape.clusters; c++) {
      this.centers.push(randomUnit())
      this.bases.push(Array.from({ length: shape.rank }, randomUnit))
    }
  }

  /** `count` unit vectors (as number[]), cluster `k % clusters` for the k-th, from `seed`. */
  points(count: number, seed: number): number[][] {
    const g = gaussian(prng(seed))
    const { clusters, rank, spread, noise } = this.shape
    const scale = spread / Math.sqrt(rank)
    const out: number[][] = []
    for (let k = 0; k < count; k++) {
      const c = k % clusters
      const v = Float64Array.from(this.centers[c]!)
      for (const dir of this.bases[c]!) {
        const z = g() * scale
        for (let i = 0; i < v.length; i++) v[i]! += z * dir[i]!
      }
      for (let i = 0; i < v.length; i++) v[i]! += g() * noise
      out.push(Array.from(normalize(v), (x) => Math.fround(x)))
    }
    return out
  }
}

/** Array text of a vector (`{…}`), as a `real[]` parameter. */
export const arrayText = (v: readonly number[]) => `{${v.join(',')}}`
/** pgvector text of a vector (`[…]`). */
export const vectorLiteral = (v: readonly number[]) => `[${v.join(',')}]`

/**
 * Stores the embeddings of memories 0 … vectors.length-1 on every target, 2,000 per statement,
 * straight into memory_embeddings (the model must be registered first: its row in
 * embedding_models and, with pgvector, its HNSW index, which every row is then inserted into).
 */
export async function loadMemoryEmbeddings(targets: readonly Exec[], info: RecallInfo, vectors: readonly number[][], from = 0): Promise<void> {
  const CHUNK = 2_000
  const text =
    'INSERT INTO memory_embeddings (memory_id, model, dimension, embedding) ' +
    'SELECT i, $3, $4, e::real[] FROM unnest($1::uuid[], $2::text[]) AS x(i, e)'
  for (let at = from; at < vectors.length; at += CHUNK) {
    const end = Math.min(vectors.length, at + CHUNK)
    const ids: string[] = []
    const embeddings: string[] = []
    for (let k = at; k < end; k++) {
      ids.push(info.memoryId(k))
      embeddings.push(arrayText(vectors[k]!))
    }
    for (const exec of targets) await exec(text, [ids, embeddings, info.model, info.dimension])
  }
}

/** |a ∩ b| / |b|: the share of the exact top-k an approximate answer found. */
export function recallAt(found: readonly string[], exact: readonly string[]): number {
  const set = new Set(found)
  let hit = 0
  for (const id of exact) if (set.has(id)) hit++
  return exact.length === 0 ? 1 : hit / exact.length
}
