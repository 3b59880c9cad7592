import { createHash } from 'node:crypto'
import { ValidationError } from '../errors.js'
import { assertUuid } from '../validation.js'

/** Default and largest `limit` of list methods and pages. */
export const DEFAULT_LIMIT = 100
export const MAX_LIMIT = 1000
/** Longest cursor a method returns or accepts. */
export const MAX_CURSOR_LENGTH = 200

/** One page of a keyset pagination. */
export interface Page<T> {
  items: T[]
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null
}

/**
 * What a list method returns: an array of the rows, carrying the cursor of the next page
 * (`nextCursor`, null on the last page; not enumerable, so the array compares as its rows).
 */
export type ListPage<T> = T[] & { nextCursor: string | null }

/**
 * A page as a list method's array, carrying `nextCursor` (not enumerable).
 *
 * @example
 * ```ts
 * return asListPage(this.toPage(rows, limit, cursorOf))
 * ```
 */
export function asListPage<T>(page: Page<T>): ListPage<T> {
  return Object.defineProperty(page.items, 'nextCursor', { value: page.nextCursor, writable: true, configurable: true }) as ListPage<T>
}

/** Where a keyset page starts, and the extra select expressions its cursor is made of. */
export interface Keyset {
  /** The `orderBy` values of the last row seen: rows strictly after it come next. */
  after?: readonly unknown[]
  /** alias → SQL over the table's columns, selected with the row (e.g. an exact timestamp). */
  keys?: Readonly<Record<string, string>>
}

/** A part of a cursor's key: the sort values of the last row of a page. */
export type CursorKeyPart = string | number | boolean

/**
 * What a cursor is valid for: the method that returned it and a digest of the filters of that
 * call (not its limit). A cursor is accepted only by the same method with the same filters.
 */
export interface CursorScope {
  readonly method: string
  readonly digest: string
}

/**
 * The scope of a call: `method` (e.g. `sessions.list`) and its filter values, in a fixed order.
 * A filter left out (undefined) and a filter set to null digest differently.
 *
 * @example
 * ```ts
 * const scope = cursorScope('sessions.list', [filter.userId, filter.agentId])
 * ```
 */
export function cursorScope(method: string, filters: readonly unknown[] = []): CursorScope {
  const canonical = filters.map((v) => (v === undefined ? '~' : JSON.stringify(v))).join('\u0001')
  return { method, digest: createHash('sha256').update(canonical).digest('base64url').slice(0, 8) }
}

/**
 * An opaque cursor (base64url) naming its scope and the key of the last row returned.
 *
 * @example
 * ```ts
 * const nextCursor = encodeCursor(cursorScope('users.page'), [lastUser.id])
 * ```
 */
export function encodeCursor(scope: CursorScope, key: readonly CursorKeyPart[]): string {
  return Buffer.from(JSON.stringify([scope.method, scope.digest, ...key]), 'utf8').toString('base64url')
}

/** Whether a cursor for this scope and key fits in {@link MAX_CURSOR_LENGTH} characters. */
export function cursorFits(scope: CursorScope, key: readonly CursorKeyPart[]): boolean {
  return encodeCursor(scope, key).length <= MAX_CURSOR_LENGTH
}

/** The ValidationError (field `cursor`) of a cursor this call can't use, saying why. */
export function badCursor(context: string, why = 'is not a cursor this method returned'): ValidationError {
  return new ValidationError([{ field: 'cursor', messages: [`cursor ${why}`] }], context)
}

/**
 * The key parts a cursor of `scope` holds (their types unchecked: the caller checks them), or
 * ValidationError (field `cursor`) when it is not a cursor, was returned by another method, or
 * by the same method with other filters.
 *
 * @example
 * ```ts
 * const [id] = decodeCursor(options.cursor, cursorScope('users.page'), 'users.page')
 * ```
 */
export function decodeCursor(cursor: unknown, scope: CursorScope, context: string): readonly unknown[] {
  if (typeof cursor !== 'string' || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw badCursor(context)
  }
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw badCursor(context)
  }
  if (!Array.isArray(value) || value.length < 3 || typeof value[0] !== 'string' || typeof value[1] !== 'string') {
    throw badCursor(context)
  }
  const [method, digest, ...key] = value as [string, string, ...unknown[]]
  if (method !== scope.method) {
    // Named only when it looks like a method name: the cursor is the caller's text.
    const from = /^[a-z][A-Za-z]{0,30}\.[a-z][A-Za-z]{0,30}$/.test(method) ? method : 'another method'
    throw badCursor(context, `was returned by ${from}: pass it to that method, or start without a cursor`)
  }
  if (digest !== scope.digest) {
    throw badCursor(context, 'was returned for other filters: keep the filters of the first call, or start without a cursor')
  }
  return key
}

/**
 * The keyset position of a `cursor` option: undefined when there is none (null or left out),
 * else `read`'s values from the cursor's key, or ValidationError (field `cursor`) when the cursor
 * is not one of `scope` or `read` returns undefined (a key of the wrong shape).
 *
 * @example
 * ```ts
 * const after = readCursor(opts.cursor, scope, context, ([id, ...rest]) => (rest.length ? undefined : [intKey(id, context)]))
 * ```
 */
export function readCursor(
  cursor: unknown,
  scope: CursorScope,
  context: string,
  read: (key: readonly unknown[]) => readonly unknown[] | undefined,
): readonly unknown[] | undefined {
  if (cursor === undefined || cursor === null) return undefined
  const after = read(decodeCursor(cursor, scope, context))
  if (after === undefined) throw badCursor(context)
  return after
}

/** Reads and checks a `limit` option. */
export function readLimit(limit: unknown, context: string): number {
  if (limit === undefined) return DEFAULT_LIMIT
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_LIMIT) {
    throw new ValidationError([{ field: 'limit', messages: [`limit must be an integer from 1 to ${MAX_LIMIT}`] }], context)
  }
  return limit as number
}

/** A positive safe integer key part (an id, a seq), or ValidationError. */
export function intKey(part: unknown, context: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(part) || (part as number) < 1 || (part as number) > max) throw badCursor(context)
  return part as number
}

/** A UUID key part, or ValidationError. */
export function uuidKey(part: unknown, context: string): string {
  try {
    assertUuid(part, 'cursor', context)
  } catch {
    throw badCursor(context)
  }
  return part
}

/** An exact `timestamptz` key part (ISO 8601 UTC with microseconds, see {@link TIMESTAMP_KEY_SQL}), or ValidationError. */
export function timestampKey(part: unknown, context: string): string {
  if (typeof part !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(part)) throw badCursor(context)
  return part
}

/**
 * A `timestamptz` column as exact ISO 8601 UTC text with microseconds: a JS Date keeps only
 * milliseconds, and a keyset on a rounded value would skip or repeat rows.
 */
export const TIMESTAMP_KEY_SQL = (column: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

/**
 * The key of a row sorted on a text column then its id: `[text, id]`, or, when the text is too
 * long for a cursor, `[prefix, id, 1]`, where the reader looks the text up again by id.
 *
 * @example
 * ```ts
 * encodeCursor(scope, textKey(scope, agent.name, agent.id))
 * ```
 */
export function textKey(scope: CursorScope, text: string, id: number | string): CursorKeyPart[] {
  if (cursorFits(scope, [text, id])) return [text, id]
  const chars = [...text]
  let n = chars.length
  while (n > 0 && !cursorFits(scope, [chars.slice(0, n).join(''), id, 1])) n = Math.floor(n * 0.9)
  return [chars.slice(0, n).join(''), id, 1]
}

/** A {@link textKey} read back: `[text, id, truncated]` (the text is a prefix when truncated), or undefined. */
export function readTextKey<Id>(key: readonly unknown[], readId: (part: unknown) => Id): [string, Id, boolean] | undefined {
  const [text, id, truncated, ...rest] = key
  if (typeof text !== 'string' || rest.length > 0 || (truncated !== undefined && truncated !== 1)) return undefined
  return [text, readId(id), truncated === 1]
}

/**
 * The keyset position `[text, id]` of a {@link readTextKey} key. When the cursor holds only a
 * prefix of the text, the text is the row's current one (`current(id)`), or, when the row is
 * gone, the prefix: the walk then repeats the rows between the two, and never skips one.
 */
export async function textKeyAfter<Id>(
  key: readonly unknown[] | undefined,
  current: (id: Id) => Promise<string | undefined>,
): Promise<readonly unknown[] | undefined> {
  if (key === undefined) return undefined
  const [text, id, truncated] = key as [string, Id, boolean]
  return [truncated ? ((await current(id)) ?? text) : text, id]
}
