/**
 * A WAL position (`pg_lsn`, printed `16/B374D848`) as a number that compares: high and low
 * 32-bit halves, in hexadecimal.
 *
 * @example
 * ```ts
 * parseLsn('16/B374D848') > parseLsn('16/B374D800') // true
 * ```
 */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text)
  if (match === null) throw new Error(`not a WAL position: ${JSON.stringify(text)}`)
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}
