import { toKyselyResult } from './kysely-glue.js'
import { runTransaction } from './transaction.js'
import type { Scope } from './scope.js'

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
