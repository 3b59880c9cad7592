import { ValidationError } from '../errors.js'

/**
 * Puts query parameters into the text PostgreSQL reads, before the driver sees them, so that a
 * value the driver cannot serialise fails here — typed, before anything is sent — instead of in
 * the middle of the wire protocol (where it used to leave a named statement half-prepared).
 *
 * - `Date` → UTC text (`2026-12-02T10:00:00.000+00:00`, `0044-03-15T… BC`): never the process's
 *   local time zone, whose historic offsets (local mean time before ~1900) have seconds the
 *   driver's local formatting drops.
 * - plain objects → JSON text; a circular or otherwise unserialisable value is a ValidationError.
 * - arrays: their Date and object elements the same way (PostgreSQL array parameters).
 *
 * Returns the input array itself when nothing needed converting (the common case).
 *
 * @example
 * ```ts
 * client.query({ text, values: prepareParameters(params) })
 * ```
 */
export function prepareParameters(params: readonly unknown[]): unknown[] {
  let out: unknown[] | undefined
  for (let i = 0; i < params.length; i++) {
    const value = params[i]
    if (typeof value !== 'object' || value === null) continue
    const prepared = prepareValue(value, i)
    if (prepared !== value) (out ??= [...params])[i] = prepared
  }
  return out ?? (params as unknown[])
}

function prepareValue(value: object, index: number): unknown {
  if (value instanceof Date) return dateToUtcText(value, index)
  if (ArrayBuffer.isView(value)) return value
  if (Array.isArray(value)) {
    let out: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      if (typeof item !== 'object' || item === null) continue
      const prepared = prepareValue(item, index)
      if (prepared !== item) (out ??= [...value])[i] = prepared
    }
    return out ?? value
  }
  if (typeof (value as { toPostgres?: unknown }).toPostgres === 'function') return value
  try {
    return JSON.stringify(value)
  } catch (err) {
    throw new ValidationError(
      [{ field: `$${index + 1}`, messages: [`cannot be sent as JSON: ${err instanceof Error ? err.message : String(err)}`] }],
      'query parameters',
    )
  }
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

/** A Date as PostgreSQL timestamptz text in UTC, BC years included. */
export function dateToUtcText(date: Date, index = 0): string {
  const ms = date.getTime()
  if (Number.isNaN(ms)) {
    throw new ValidationError([{ field: `$${index + 1}`, messages: ['is an invalid Date'] }], 'query parameters')
  }
  let year = date.getUTCFullYear()
  const bc = year <= 0
  if (bc) year = 1 - year
  const text =
    `${pad(year, 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}T` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.` +
    `${pad(date.getUTCMilliseconds(), 3)}+00:00`
  return bc ? `${text} BC` : text
}
