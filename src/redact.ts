/**
 * Removes every occurrence of each secret from an error: its message, stack, every string
 * property (detail, hint, …), and the same for each error in its `cause` chain (and `errors`
 * of an AggregateError). Mutates `value` in place.
 *
 * @example
 * ```ts
 * redactSecrets(err, [password])
 * ```
 */
export function redactSecrets(value: unknown, secrets: readonly string[], seen = new Set<object>()): void {
  if (secrets.length === 0 || typeof value !== 'object' || value === null || seen.has(value)) return
  seen.add(value)
  const target = value as Record<string, unknown>
  for (const key of Object.getOwnPropertyNames(target)) {
    let descriptor: PropertyDescriptor | undefined
    try {
      descriptor = Object.getOwnPropertyDescriptor(target, key)
    } catch {
      continue
    }
    if (descriptor === undefined || !('value' in descriptor)) continue
    const v = descriptor.value
    if (typeof v === 'string') {
      let clean = v
      for (const secret of secrets) if (clean.includes(secret)) clean = clean.split(secret).join('****')
      if (clean !== v && descriptor.writable) target[key] = clean
      else if (clean !== v && descriptor.configurable) Object.defineProperty(target, key, { ...descriptor, value: clean })
    } else if (v instanceof Error || (key === 'errors' && Array.isArray(v))) {
      if (Array.isArray(v)) for (const item of v) redactSecrets(item, secrets, seen)
      else redactSecrets(v, secrets, seen)
    }
  }
  if (value instanceof Error && value.cause !== undefined) redactSecrets(value.cause, secrets, seen)
}
