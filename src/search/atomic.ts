import { kyselyContext, type QueryContext } from '../execution/query-context.js'
import { Scope } from '../execution/scope.js'
import { runTransaction } from '../execution/transaction.js'
import { translateError } from '../pg-errors.js'

/**
 * True when `context` runs inside a transaction already (a Db's, or a Kysely one).
 *
 * @example
 * ```ts
 * if (!isInTransaction(context)) await atomically(context, work)
 * ```
 */
export function isInTransaction(context: QueryContext<any>): boolean {
  return context instanceof Scope ? context.binding?.inTransaction === true : context.kysely.isTransaction
}

/**
 * Runs `fn` atomically, with a context bound to that transaction: a transaction of the Db's scope
 * (a savepoint inside yours), or for a bare Kysely its own transaction (inline when it already is
 * one). Database errors come out typed.
 *
 * @example
 * ```ts
 * await atomically(context, async (tx) => { await tx.runCompiled(…); await tx.runCompiled(…) })
 * ```
 */
export async function atomically<R>(context: QueryContext<any>, fn: (context: QueryContext<any>) => Promise<R>): Promise<R> {
  try {
    if (context instanceof Scope) return await runTransaction(context, (scope) => fn(scope), {})
    const kysely = context.kysely
    return await (kysely.isTransaction ? fn(context) : kysely.transaction().execute((trx) => fn(kyselyContext(trx))))
  } catch (err) {
    throw translateError(err)
  }
}
