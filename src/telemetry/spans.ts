import type { Attributes, Span } from '@opentelemetry/api'
import { redactSecrets } from '../redact.js'
import { withoutParameters } from '../query-log.js'

/** The `@opentelemetry/api` module, as loaded by `Db.connect` (see {@link loadTelemetry}). */
export type OtelApi = typeof import('@opentelemetry/api')

/** A SQLSTATE: five digits or upper-case letters, at least one a digit (`23505`, `42P01`, `XX000`). */
const SQLSTATE = /^(?=.*\d)[0-9A-Z]{5}$/

/**
 * What a failure adds to a span and to the duration metric: `error.type` is the SQLSTATE when
 * the database answered with one (also `db.response.status_code`), else our error's class name
 * (`ConnectionError`, `TimeoutError`, `DbClosedError`, …), else `_OTHER`.
 *
 * @example
 * ```ts
 * failureAttributes(uniqueViolation) // { 'error.type': '23505', 'db.response.status_code': '23505' }
 * ```
 */
export function failureAttributes(err: unknown): Attributes {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; name?: unknown }
  if (typeof e.code === 'string' && SQLSTATE.test(e.code)) return { 'error.type': e.code, 'db.response.status_code': e.code }
  return { 'error.type': typeof e.name === 'string' && e.name !== '' && e.name !== 'Error' ? e.name : '_OTHER' }
}

/**
 * A failure's message for a span status: without parameter values (PostgreSQL quotes bad input)
 * and without secrets (the password), though errors are redacted before they get here already.
 *
 * @example
 * ```ts
 * statusMessage(err, ['abc'], [password]) // 'invalid input syntax for type integer: "[parameter]"'
 * ```
 */
export function statusMessage(err: unknown, params: readonly unknown[], secrets: readonly string[]): string {
  const holder = { message: err instanceof Error ? err.message : String(err) }
  redactSecrets(holder, secrets)
  return withoutParameters(holder.message, params)
}

/** Removes every secret from a string (attribute values). */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  for (const secret of secrets) if (text.includes(secret)) text = text.split(secret).join('****')
  return text
}

/**
 * The span of a transaction, a savepoint or a batch: statements run through its Db are its
 * children. Ended once, by the commit or rollback that ends the transaction.
 *
 * @example
 * ```ts
 * const tx = telemetry.transaction(undefined, false, scope)
 * await tx?.within(() => callback())
 * tx?.end()
 * ```
 */
export class TransactionSpan {
  readonly span: Span
  readonly #api: OtelApi
  readonly #secrets: readonly string[]
  #ended = false
  #failed = false

  constructor(api: OtelApi, span: Span, secrets: readonly string[]) {
    this.#api = api
    this.span = span
    this.#secrets = secrets
  }

  /** Runs `fn` with this span as the active one: spans started inside are its children. */
  within<T>(fn: () => Promise<T>): Promise<T> {
    const api = this.#api
    return api.context.with(api.trace.setSpan(api.context.active(), this.span), fn)
  }

  /** Marks the span failed (the first failure wins): `error.type` and status ERROR. */
  fail(err: unknown): void {
    if (this.#failed || this.#ended) return
    this.#failed = true
    this.span.setAttributes(failureAttributes(err))
    this.span.setStatus({ code: this.#api.SpanStatusCode.ERROR, message: statusMessage(err, [], this.#secrets) })
  }

  /** Ends the span (once), failed with `err` when given. */
  end(err?: unknown): void {
    if (this.#ended) return
    if (err !== undefined) this.fail(err)
    this.#ended = true
    this.span.end()
  }
}
