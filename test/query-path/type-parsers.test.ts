import pg from 'pg'
import { expect, test } from 'vitest'
import { parseTimestamptz } from '../../src/execution/type-parsers.js'

// The fast timestamptz parser must give exactly what the driver's parser gives, for every text
// PostgreSQL can send: whole and fractional seconds, any offset (with minutes, with seconds for
// local mean time), years below 1000, BC, infinity.
const driver = pg.types.getTypeParser(1184, 'text') as (text: string) => Date | number
const value = (v: Date | number) => (v instanceof Date ? v.getTime() : v)

test('parseTimestamptz agrees with the driver on every shape of timestamptz text', () => {
  const fixed = [
    '2026-12-02 05:26:15.050123+00',
    '2026-12-02 05:26:15+00',
    '2026-06-01 00:00:00.5+09:30',
    '2026-06-01 00:00:00-07',
    '1850-06-15 12:34:56.789+00:19:32',
    '1900-01-01 00:00:00-04:56:02',
    '0044-03-15 10:00:00+00 BC',
    '4714-11-24 00:00:00+00 BC',
    '0001-01-01 00:00:00+00',
    '0999-12-31 23:59:59.999+00',
    '1000-01-01 00:00:00+00',
    '9999-12-31 23:59:59.999999+00',
    'infinity',
    '-infinity',
  ]
  for (const text of fixed) expect([text, value(parseTimestamptz(text))]).toEqual([text, value(driver(text))])
  let seed = 42
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n)
  const pad = (n: number, w = 2) => String(n).padStart(w, '0')
  for (let i = 0; i < 2000; i++) {
    const offset = rand(3) === 0 ? '+00' : `${rand(2) ? '+' : '-'}${pad(rand(15))}${rand(2) ? `:${pad(rand(4) * 15)}` : ''}`
    const frac = rand(2) ? `.${pad(rand(1_000_000), rand(6) + 1).slice(0, rand(6) + 1)}` : ''
    const text = `${pad(rand(9999) + 1, 4)}-${pad(rand(12) + 1)}-${pad(rand(28) + 1)} ${pad(rand(24))}:${pad(rand(60))}:${pad(rand(60))}${frac}${offset}`
    expect([text, value(parseTimestamptz(text))]).toEqual([text, value(driver(text))])
  }
})
