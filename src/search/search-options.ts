import { ValidationError } from '../errors.js'
import { assertOptions, assertId, assertUuid, unsafeTextReason } from '../validation.js'
import { badCursor, cursorScope, readCursor, uuidKey, type CursorScope } from '../repositories/cursor.js'
import { modelReason, vectorReason } from './embedding-input.js'
import type { SearchMode, SearchTarget } from './search-target.js'

/** Default and largest `limit` of a search. */
export const SEARCH_DEFAULT_LIMIT = 20
export const SEARCH_MAX_LIMIT = 1000
/** Longest query text. */
export const MAX_QUERY_TEXT = 10_000
/** Hybrid search fuses each side's best `max(4 × limit, 100)` candidates. */
export const MIN_CANDIDATES = 100

/** Options of `messages.search` and `memories.search`. */
export interface SearchOptionsBase {
  /** The query text: web-search syntax in full text (`"exact phrase"`, `-not`, `or`). */
  text?: string
  /** The query vector (with `model`): cosine similarity to the rows' vectors of that model. */
  vector?: readonly number[]
  /** The embedding model `vector` comes from; required with `vector`. */
  model?: string
  /** At most this many hits (default 20, at most 1000). */
  limit?: number
  /** `nextCursor` of the previous call, with the same query and filters: continue after its last hit. */
  cursor?: string | null
}

/** Where the next page starts: the last hit's score and id, and a mode-specific number. */
export interface SearchAfter {
  score: number
  id: string
  /** Vector: the last hit's cosine distance. Hybrid: the candidate count of the first call. */
  extra: number
}

/** A search call, checked: everything the SQL needs. */
export interface SearchRequest {
  readonly method: string
  readonly mode: SearchMode
  readonly text?: string
  readonly vector?: readonly number[]
  readonly model?: string
  /** [column, value]: undefined = any, null = IS NULL. */
  readonly filters: readonly (readonly [column: string, value: unknown])[]
  readonly limit: number
  /** Hybrid: the candidates taken from each side. */
  readonly candidates: number
  readonly after?: SearchAfter
  readonly scope: CursorScope
}

const issue = (field: string, message: string, context: string) => new ValidationError([{ field, messages: [`${field} ${message}`] }], context)

/**
 * Checks a search call's options (before any SQL) and works out its mode: `fulltext` when only
 * `text` is given, `vector` when only `vector`, `hybrid` when both.
 *
 * @example
 * ```ts
 * const request = readSearchOptions(messageTarget, options)
 * ```
 */
export function readSearchOptions(target: SearchTarget<unknown>, options: unknown): SearchRequest {
  const method = `${target.table}.search`
  const keys = ['text', 'vector', 'model', 'mode', 'limit', 'cursor', ...target.filters.map(([key]) => key)]
  if (options === undefined) throw issue('text', 'or vector is required', method)
  const opts = assertOptions(options, keys, method)
  const text = readText(opts.text, method)
  const { vector, model } = readVector(opts.vector, opts.model, method)
  const mode = readMode(target, opts.mode, text, vector, method)
  const filters = target.filters.map(([key, column, kind]) => [column, readFilter(key, kind, opts[key], method)] as const)
  const limit = readSearchLimit(opts.limit, method)
  const scope = cursorScope(method, [mode, text, model, vector === undefined ? undefined : vector.map((x) => Math.fround(x)), ...filters.map(([, v]) => v)])
  const after = readCursor(opts.cursor, scope, method, (key) => readAfter(key, mode, method))
  const first = Math.max(4 * limit, MIN_CANDIDATES)
  const candidates = mode === 'hybrid' && after !== undefined ? (after[2] as number) : first
  const request: SearchRequest = {
    method, mode, filters, limit, candidates, scope,
    ...(text === undefined ? {} : { text }),
    ...(vector === undefined ? {} : { vector, model }),
    ...(after === undefined ? {} : { after: { score: after[0] as number, id: after[1] as string, extra: after[2] as number } }),
  }
  return request
}

function readText(text: unknown, context: string): string | undefined {
  if (text === undefined) return undefined
  if (typeof text !== 'string') throw issue('text', 'must be a string', context)
  if (text.trim() === '') throw issue('text', 'must not be empty or blank', context)
  if (text.length > MAX_QUERY_TEXT) throw issue('text', `must be at most ${MAX_QUERY_TEXT} characters`, context)
  const reason = unsafeTextReason(text)
  if (reason !== undefined) throw issue('text', reason, context)
  return text
}

function readVector(vector: unknown, model: unknown, context: string): { vector?: readonly number[]; model?: string } {
  if (vector === undefined) {
    if (model !== undefined) throw issue('model', 'is only used with vector', context)
    return {}
  }
  const v = vectorReason(vector)
  if (v !== undefined) throw issue('vector', v, context)
  if (model === undefined) throw issue('model', 'is required with vector (a query never mixes models)', context)
  const m = modelReason(model)
  if (m !== undefined) throw issue('model', m, context)
  return { vector: vector as number[], model: model as string }
}

function readMode(target: SearchTarget<unknown>, mode: unknown, text: unknown, vector: unknown, context: string): SearchMode {
  if (mode === undefined) {
    if (text !== undefined) return vector !== undefined ? 'hybrid' : 'fulltext'
    if (vector !== undefined) return 'vector'
    throw issue('text', 'or vector is required', context)
  }
  if (typeof mode !== 'string' || !(target.modes as readonly string[]).includes(mode)) {
    throw issue('mode', `must be one of ${target.modes.join(', ')}`, context)
  }
  const m = mode as SearchMode
  if (m !== 'vector' && text === undefined) throw issue('text', `is required in ${m} mode`, context)
  if ((m === 'vector' || m === 'hybrid') && vector === undefined) throw issue('vector', `is required in ${m} mode`, context)
  if ((m === 'fulltext' || m === 'fuzzy') && vector !== undefined) throw issue('vector', `is not used in ${m} mode (use hybrid)`, context)
  if (m === 'vector' && text !== undefined) throw issue('text', 'is not used in vector mode (use hybrid)', context)
  return m
}

function readFilter(key: string, kind: SearchTarget<unknown>['filters'][number][2], value: unknown, context: string): unknown {
  if (value == null) return value
  if (kind === 'id') assertId(value, key, context)
  else if (kind === 'uuid') assertUuid(value, key, context)
  else if (!kind.includes(value as string)) throw issue(key, `must be one of ${kind.join(', ')}`, context)
  return value
}

/**
 * Reads and checks a search `limit`: default {@link SEARCH_DEFAULT_LIMIT}, at most
 * {@link SEARCH_MAX_LIMIT}.
 *
 * @example
 * ```ts
 * const limit = readSearchLimit(options.limit, 'messages.search') // 20 when left out
 * ```
 */
export function readSearchLimit(limit: unknown, context: string): number {
  if (limit === undefined) return SEARCH_DEFAULT_LIMIT
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > SEARCH_MAX_LIMIT) {
    throw issue('limit', `must be an integer from 1 to ${SEARCH_MAX_LIMIT}`, context)
  }
  return limit as number
}

/** A search cursor's key: `[score, id]`, plus the distance (vector) or candidate count (hybrid). */
function readAfter(key: readonly unknown[], mode: SearchMode, context: string): readonly unknown[] | undefined {
  const [score, id, extra, ...rest] = key
  if (rest.length > 0 || typeof score !== 'number' || !Number.isFinite(score)) return undefined
  const withExtra = mode === 'vector' || mode === 'hybrid'
  if (withExtra !== (extra !== undefined)) return undefined
  if (mode === 'vector' && (typeof extra !== 'number' || !Number.isFinite(extra))) return undefined
  if (mode === 'hybrid' && (!Number.isInteger(extra) || (extra as number) < MIN_CANDIDATES || (extra as number) > 4 * SEARCH_MAX_LIMIT)) {
    throw badCursor(context)
  }
  return [score, uuidKey(id, context), extra ?? 0]
}
