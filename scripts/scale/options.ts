/** Command-line options of `npm run scale` (scripts/scale.ts). */

export interface ScaleOptions {
  /** Messages to load (default 10 000 000). */
  messages: number
  /** Sessions they are spread over (default 100 000). */
  sessions: number
  /** Users and agents the sessions belong to. */
  users: number
  agents: number
  /** Server URL of an existing database; the scratch database `amdb_scale` is created next to it. */
  url: string
  /** Keep `amdb_scale` at the end (default: dropped). */
  keep: boolean
  /** Reuse a kept `amdb_scale` as it is: skip the load (the prune then runs on what is left). */
  reuse: boolean
  /** `drop` (default): drop the messages' plain secondary indexes around the load and rebuild them; `keep`: load with them in place. */
  indexes: 'drop' | 'keep'
  /** Rows per INSERT statement of the load. */
  chunk: number
  /** INSERT statements of the load run at once, each on its own connection (default 2). */
  parallel: number
  /** `off` (default): the messages' foreign-key triggers do not fire during the load (session_replication_role = replica; the data is consistent by construction), which halves its time; `on`: checked row by row. */
  fk: 'on' | 'off'
  /** Fraction of the messages the prune removes (oldest first). */
  pruneFraction: number
  /** Seconds of the writers' baseline, before the prune. */
  baselineSeconds: number
  /** Markdown file whose `<!-- scale:begin -->…<!-- scale:end -->` block gets the figures ('' = none). */
  doc: string
}

const USAGE = `usage: npm run scale -- [--messages 10000000] [--sessions 100000] [--url postgres://postgres@127.0.0.1:5432/postgres]
                        [--keep] [--reuse] [--indexes drop|keep] [--chunk 500000] [--parallel 2] [--fk off|on] [--prune 0.1] [--baseline 20] [--doc docs/scaling.md]`

export function parseOptions(argv: readonly string[]): ScaleOptions {
  const o: ScaleOptions = {
    messages: 10_000_000,
    sessions: 100_000,
    users: 0,
    agents: 10,
    url: process.env.SCALE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    keep: false,
    reuse: false,
    indexes: 'drop',
    chunk: 500_000,
    parallel: 2,
    fk: 'off',
    pruneFraction: 0.1,
    baselineSeconds: 20,
    doc: 'docs/scaling.md',
  }
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < min) fail(`${flag} needs an integer >= ${min}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const value = () => argv[++i]
    switch (flag) {
      case '--messages': o.messages = int(flag, value(), 1); break
      case '--sessions': o.sessions = int(flag, value(), 1); break
      case '--users': o.users = int(flag, value(), 1); break
      case '--agents': o.agents = int(flag, value(), 1); break
      case '--url': o.url = value() ?? fail('--url needs a value'); break
      case '--keep': o.keep = true; break
      case '--reuse': o.reuse = true; o.keep = true; break
      case '--indexes': {
        const v = value()
        if (v !== 'drop' && v !== 'keep') fail('--indexes is drop or keep')
        o.indexes = v
        break
      }
      case '--chunk': o.chunk = int(flag, value(), 1000); break
      case '--parallel': o.parallel = int(flag, value(), 1); break
      case '--fk': {
        const v = value()
        if (v !== 'on' && v !== 'off') fail('--fk is on or off')
        o.fk = v
        break
      }
      case '--prune': {
        const f = Number(value())
        if (!(f > 0 && f < 1)) fail('--prune is a fraction between 0 and 1')
        o.pruneFraction = f
        break
      }
      case '--baseline': o.baselineSeconds = int(flag, value(), 1); break
      case '--doc': o.doc = value() ?? ''; break
      case '--help': case '-h': console.log(USAGE); process.exit(0)
      default: fail(`unknown option ${flag}`)
    }
  }
  if (o.users === 0) o.users = Math.max(1, Math.round(o.sessions / 10))
  if (o.sessions > o.messages) fail('--sessions must not exceed --messages')
  return o
}

function fail(message: string): never {
  console.error(`scale: ${message}\n${USAGE}`)
  process.exit(2)
}
