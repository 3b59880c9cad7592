/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Polls `probe` every `every` ms until it returns a value other than undefined/false, at most
 * `timeout` ms; throws with `what` when time runs out. Bounded in count and time.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeout = 10_000, every = 25 } = {},
): Promise<T> {
  const deadline = Date.now() + timeout
  for (let i = 0; i < Math.ceil(timeout / every) + 1; i++) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) break
    await sleep(every)
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}`)
}

/** Runs `fn` and returns what it threw (fails when it did not throw), with how long it took. */
export async function failure(fn: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now()
  try {
    await fn()
  } catch (error) {
    return { error, ms: performance.now() - started }
  }
  throw new Error('expected the call to fail, but it succeeded')
}
