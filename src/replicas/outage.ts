import { ConnectionError, DeadlockError, SerializationError, TimeoutError } from '../errors.js'

/**
 * True when `err` says the server could not be reached or did not answer (down, refusing
 * connections, frozen past the client timeout): not a busy pool, a closed Db or a misuse.
 *
 * @example
 * ```ts
 * if (isOutage(err)) replica.unreachable(err)
 * ```
 */
export function isOutage(err: unknown): boolean {
  if (err instanceof ConnectionError) return err.code !== 'POOL_TIMEOUT'
  return err instanceof TimeoutError && err.code === 'CLIENT_TIMEOUT'
}

/**
 * True when a read on a replica may be run again on the primary: the replica is out (see
 * {@link isOutage}), its pool is busy, or the standby cancelled the query in a conflict with
 * recovery (it was replaying a change the query's snapshot needed).
 *
 * @example
 * ```ts
 * if (!retryOnPrimary(err)) throw err
 * ```
 */
export function retryOnPrimary(err: unknown): boolean {
  if (err instanceof ConnectionError || isOutage(err)) return true
  const recovery = err instanceof SerializationError || err instanceof DeadlockError
  return recovery && /conflict with recovery/i.test(err.message)
}
