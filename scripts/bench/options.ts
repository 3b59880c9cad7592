/** Command-line options of `npm run bench` and the sizes behind each `--scale`. */

export type Scale = 'small' | 'full'
export type BackendName = 'server' | 'pglite'

export interface ScaleConfig {
  name: Scale
  agents: number
  users: number
  /** Sessions per user (workload 8 lists 20 of them). */
  sessionsPerUser: number
  /** Sessions with a long history (workload 6 reads their last 50 messages). */
  hotSessions: number
  /** (agent, user) pairs with 100 memories each (workload 7). */
  memoryPairs: number
  /** Total messages in the table at each step of workload 6. */
  messageSteps: number[]
  /** Rows per createMany call (workload 9), one measurement per size. */
  bulkSizes: number[]
  /** Rows read by the hydration workload (H). */
  hydrateRows: number
  /** Interleaved rounds; in each, every contender runs one batch. */
  rounds: number
  /** Length of one contender's batch in a round (sequential workloads), ms. */
  batchMs: number
  /** Warm-up per contender before the first round, ms. */
  warmupMs: number
  /** Rounds and batch length of workload 11 (throughput). */
  throughputRounds: number
  throughputMs: number
  /** Rounds of the bulk workloads (each contender runs one call per round). */
  bulkRounds: number
  /** Sizes of the recall workloads 12–15 (search, vectors, context.load). */
  recall: RecallScale
}

export interface RecallScale {
  users: number
  sessionsPerUser: number
  messagesPerSession: number
  /** Memories besides the 10 of each context session. */
  memories: number
  /** Memory embeddings (384 dimensions) of workload 14, at most one per memory. */
  vectors: number
  /** Queries of the recall@10 measurement. */
  vectorQueries: number
}

export const SCALES: Record<Scale, ScaleConfig> = {
  small: {
    name: 'small',
    agents: 200,
    users: 200,
    sessionsPerUser: 25,
    hotSessions: 100,
    memoryPairs: 20,
    messageSteps: [10_000],
    bulkSizes: [2_000],
    hydrateRows: 2_000,
    rounds: 3,
    batchMs: 40,
    warmupMs: 30,
    throughputRounds: 2,
    throughputMs: 200,
    bulkRounds: 2,
    recall: { users: 20, sessionsPerUser: 1, messagesPerSession: 100, memories: 500, vectors: 1_000, vectorQueries: 20 },
  },
  full: {
    name: 'full',
    agents: 1_000,
    users: 4_000,
    sessionsPerUser: 25,
    hotSessions: 100,
    memoryPairs: 100,
    messageSteps: [10_000, 100_000, 1_000_000],
    bulkSizes: [10_000, 100_000],
    hydrateRows: 10_000,
    rounds: 10,
    batchMs: 250,
    warmupMs: 300,
    throughputRounds: 5,
    throughputMs: 1_500,
    bulkRounds: 3,
    recall: { users: 500, sessionsPerUser: 4, messagesPerSession: 100, memories: 20_000, vectors: 20_000, vectorQueries: 100 },
  },
}

/**
 * Workload groups, in the order they run (6 before the writes that grow `messages`; the recall
 * workloads 12–15 after everything else, on their own users and sessions).
 */
export const WORKLOAD_ORDER = ['1', '2', '3', '4', '5', '7', '8', '6', 'H', '10', '11', '9', '12', '13', '14', '15'] as const
export type WorkloadGroup = (typeof WORKLOAD_ORDER)[number]

export interface BenchOptions {
  scale: ScaleConfig
  backends: BackendName[]
  only: Set<WorkloadGroup>
  /** Add automagik-db variants (unnamed statements; no client-side timeout) to workloads 1–8. */
  variants: boolean
  serverUrl: string
  outDir: string
}

const USAGE = `usage: npm run bench -- [--scale small|full] [--backend server|pglite|both] [--only 1,2,6,9,H,12] [--variants]

  --scale     small: a few seconds per backend (CI smoke test); full: the README numbers (default small)
  --backend   which database(s) to run against (default both)
  --only      workload ids, comma-separated: 1-15 and H (hydration of 10k rows); 12-15: search,
              vectors (recall@10) and context.load
  --variants  also run automagik-db with preparedStatements: false and with statementTimeout: 0
  --out       directory for bench-<backend>.md/.json (default bench-results)

  BENCH_DATABASE_URL  server to create the scratch database on
                      (default postgres://postgres@127.0.0.1:5432/postgres)`

export function parseOptions(argv: readonly string[]): BenchOptions {
  let scale: Scale = 'small'
  let backend = 'both'
  let only: string | undefined
  let variants = false
  let outDir = 'bench-results'
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined]
    const value = (): string => {
      const v = inline ?? argv[++i]
      if (v === undefined) fail(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case '--scale': {
        const v = value()
        if (v !== 'small' && v !== 'full') fail(`--scale must be small or full, not ${v}`)
        scale = v
        break
      }
      case '--backend':
        backend = value()
        if (!['server', 'pglite', 'both'].includes(backend)) fail(`--backend must be server, pglite or both`)
        break
      case '--only':
        only = value()
        break
      case '--variants':
        variants = true
        break
      case '--out':
        outDir = value()
        break
      case '--help':
      case '-h':
        console.log(USAGE)
        process.exit(0)
      default:
        fail(`unknown option ${arg}`)
    }
  }
  const all = new Set<WorkloadGroup>(WORKLOAD_ORDER)
  let selected = all
  if (only !== undefined) {
    selected = new Set()
    for (const id of only.split(',').map((s) => s.trim().toUpperCase())) {
      if (!all.has(id as WorkloadGroup)) fail(`--only: unknown workload ${id} (expected 1-15 or H)`)
      selected.add(id as WorkloadGroup)
    }
  }
  return {
    scale: SCALES[scale],
    backends: backend === 'both' ? ['server', 'pglite'] : [backend as BackendName],
    only: selected,
    variants,
    serverUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    outDir,
  }
}

function fail(message: string): never {
  console.error(`bench: ${message}\n\n${USAGE}`)
  process.exit(2)
}
