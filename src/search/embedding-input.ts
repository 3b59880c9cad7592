import { registerDecorator, type ValidationOptions } from 'class-validator'

/** What an embedding model's name may be (the CHECK of `embedding_models.name`). */
export const MODEL_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$/
/** Most dimensions a vector may have (pgvector's `vector` type). */
export const MAX_DIMENSION = 16_000

/**
 * An embedding of a message or memory: the model that made it and its vector. A model has one
 * dimension, set by the first vector stored for it.
 *
 * @example
 * ```ts
 * await db.messages.create({ sessionId, role: 'user', textContent: 'hi', embedding: { model: 'minilm', vector } })
 * ```
 */
export class EmbeddingInput {
  /** The model's name, e.g. `text-embedding-3-small` (letters, digits, `._:/@+-`, at most 128). */
  model!: string
  /** The vector: 1 to 16 000 finite numbers, not all zero; stored as `real` (float4). */
  vector!: number[]
}

/**
 * Why `model` is not a model name, or undefined when it is.
 *
 * @example
 * ```ts
 * modelReason('text-embedding-3-small') // undefined
 * ```
 */
export function modelReason(model: unknown): string | undefined {
  if (typeof model !== 'string') return 'must be a string'
  return MODEL_NAME_RE.test(model) ? undefined : 'must be 1 to 128 characters: letters, digits and ._:/@+- (starting with a letter or digit)'
}

/** The largest real (float4). */
const MAX_REAL = 3.4028234663852886e38

/**
 * Why `vector` is not a vector we can store and compare, or undefined when it is: an array of 1
 * to 16 000 finite numbers that fit a `real`, not all zero (cosine similarity needs a length).
 *
 * @example
 * ```ts
 * vectorReason([0.1, NaN]) // 'must contain only finite numbers (index 1 is not)'
 * ```
 */
export function vectorReason(vector: unknown): string | undefined {
  if (!Array.isArray(vector)) return 'must be an array of numbers'
  if (vector.length === 0) return 'must not be empty'
  if (vector.length > MAX_DIMENSION) return `must have at most ${MAX_DIMENSION} dimensions`
  // As stored (real, float4): numbers too small for a real become 0, and a squared norm past the
  // largest real overflows pgvector's cosine (every score 0).
  let norm = 0
  for (let i = 0; i < vector.length; i++) {
    const x: unknown = vector[i]
    if (typeof x !== 'number' || !Number.isFinite(x)) return `must contain only finite numbers (index ${i} is not)`
    const r = Math.fround(x)
    if (!Number.isFinite(r)) return `must contain only numbers a real (float4) holds (index ${i} overflows)`
    norm += r * r
  }
  if (norm === 0) return 'must not be all zeros as a real (float4): its cosine similarity is undefined'
  return norm > MAX_REAL ? 'is too long: its squared length overflows a real (float4); normalise it' : undefined
}

/**
 * Why `value` is not an {@link EmbeddingInput}, naming the part, or undefined when it is.
 *
 * @example
 * ```ts
 * embeddingReason({ model: 'm', vector: [] }) // 'vector must not be empty'
 * ```
 */
export function embeddingReason(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be an object { model, vector }'
  const extra = Object.keys(value).filter((k) => k !== 'model' && k !== 'vector')
  if (extra.length > 0) return `has unknown keys (${extra.join(', ')}): expected model and vector`
  const { model, vector } = value as Record<string, unknown>
  const m = modelReason(model)
  if (m !== undefined) return `model ${m}`
  const v = vectorReason(vector)
  return v === undefined ? undefined : `vector ${v}`
}

/**
 * An optional `embedding` property: an object `{ model, vector }` ({@link embeddingReason}).
 * Its name is one of validation.ts's trusted rules, so inputs carrying it keep the fast path.
 *
 * @example
 * ```ts
 * class Input { @ValidateIf((_, v) => v !== undefined) @IsEmbedding() embedding?: EmbeddingInput }
 * ```
 */
export const IsEmbedding = (options?: ValidationOptions) => (target: object, propertyName: string) => {
  registerDecorator({
    name: 'isEmbedding',
    target: target.constructor,
    propertyName,
    options: options ?? {},
    validator: {
      validate: (value: unknown) => embeddingReason(value) === undefined,
      defaultMessage: (args) => `${args?.property} ${embeddingReason(args?.value) ?? 'is invalid'}`,
    },
  })
}

/**
 * A vector as PostgreSQL array text (`{0.1,0.2}`), each number rounded to `real` first (a value
 * below real's range is 0, which the server would refuse as underflow). `brackets` gives
 * pgvector's text form (`[0.1,0.2]`).
 *
 * @example
 * ```ts
 * vectorText([0.5, 1]) // '{0.5,1}'
 * ```
 */
export function vectorText(vector: readonly number[], brackets = false): string {
  const body = vector.map((x) => String(Math.fround(x) || 0)).join(',')
  return brackets ? `[${body}]` : `{${body}}`
}
