import { Binding } from './binding.js'
import { Scope } from './scope.js'

/**
 * Runs `fn` with a scope pinned to one connection of `scope`'s pool (same schema). When `fn`
 * settles the connection is reset (`DISCARD ALL`; a transaction left open is rolled back) and
 * goes back to the pool; it counts as a write for read-your-writes.
 *
 * @example
 * ```ts
 * await withPinnedConnection(scope, (pinned) => pinned.readRows('SELECT pg_advisory_lock(42)'))
 * ```
 */
export async function withPinnedConnection<T>(scope: Scope, fn: (pinned: Scope) => Promise<T>): Promise<T> {
  const root = scope.root
  const conn = await root.acquireConnection()
  const binding = new Binding('pinned', conn)
  try {
    return await fn(new Scope(root, binding, scope.schema))
  } finally {
    binding.end('released')
    await root.runner.release(conn, 'reset')
    root.router?.noteWrite()
  }
}
