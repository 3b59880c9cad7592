import { sql, type SelectQueryBuilder } from 'kysely'
import { ValidationError } from '../errors.js'
import { isPlainObject } from '../validation.js'

/**
 * Adds `column = value` for a filter key: left out (undefined) means any, null means IS NULL.
 *
 * @example
 * ```ts
 * query = whereEq(query, 'user_id', filter.userId)
 * ```
 */
export function whereEq<Q extends SelectQueryBuilder<any, any, any>>(query: Q, column: string, value: unknown): Q {
  if (value === undefined) return query
  return (value === null ? query.where(column, 'is', null) : query.where(column, '=', value)) as Q
}

/**
 * `SET col = excluded.col` for each column of an upsert; with no column, `SET <first> = <first>`
 * is not needed by callers: they pass a no-op assignment themselves.
 *
 * @example
 * ```ts
 * q.onConflict((oc) => oc.column('name').doUpdateSet(excludedOf(['type', 'model'])))
 * ```
 */
export function excludedOf(columns: readonly string[]): any {
  return Object.fromEntries(columns.map((c) => [c, sql.ref(`excluded.${c}`)]))
}

/**
 * A patch with no validator class: a plain object whose keys are all known fields.
 *
 * @example
 * ```ts
 * const input = knownFields(patch, { name: 'name' }, 'feedback.update')
 * ```
 */
export function knownFields(patch: unknown, fields: Readonly<Record<string, string>>, context: string): object {
  if (!isPlainObject(patch)) throw new ValidationError([{ field: 'input', messages: ['must be an object'] }], context)
  const unknown = Object.keys(patch).filter((k) => !Object.hasOwn(fields, k))
  if (unknown.length > 0) throw new ValidationError(unknown.map((k) => ({ field: k, messages: [`${k} is not a known field`] })), context)
  return patch
}
