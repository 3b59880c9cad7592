import { toKyselyResult } from './kysely-glue.js'
import { runTransaction } from './transaction.js'
import type { Scope } from './scope.js'
import { ValidationError } from '../errors.js'
import { checkSql } from '../validation.js'

/**
 * `db.query`: one parameterised statement in `scope` (the primary, or the scope's transaction),
 * its input checked before any SQL; returns its rows.
 *
 * @example
 * ```ts
 * const rows = await runQuery<{ n: number }>(scope, 'SELECT $1::int AS n', [1])
 * ```
 */
export async function runQuery<R>(scope: Scope, text: string, params: readonly unknown[]): Promise<R[]> {
  checkSql(text, 'db.query')
  if (!Array.isArray(params)) {
    throw new ValidationError([{ field: 'params', messages: ['must be an array'] }], 'db.query')
  }
  const result = await scope.execute(text, params, true)
  return (result.rows ?? []) as R[]
}

/**
 * Runs `text` once per row of parameters in one transaction (a savepoint inside one) and returns
 * the rows affected in all: all rows or none.
 *
 * @example
 * ```ts
 * const n = await runBatch(scope, 'INSERT INTO t (a) VALUES ($1)', [[1], [2]])
 * ```
 */
export async function runBatch(scope: Scope, text: string, rows: readonly (readonly unknown[])[]): Promise<number> {
  checkSql(text, 'db.batch')
  if (!Array.isArray(rows) || rows.some((r) => !Array.isArray(r))) {
    throw new ValidationError([{ field: 'rows', messages: ['must be an array of parameter arrays'] }], 'db.batch')
  }
  if (rows.length === 0) return 0
  return runTransaction(
    scope,
    async (tx) => {
      let affected = 0
      for (const params of rows) {
        affected += Number(toKyselyResult(await tx.execute(text, params, true)).numAffectedRows ?? 0n)
      }
      return affected
    },
    {},
    { sql: text, size: rows.length },
  )
}
