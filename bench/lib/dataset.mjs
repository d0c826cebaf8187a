// A synthetic lab history for the analyzer benchmarks, generated as a stream in time order with
// constant memory (so the generator never inflates the memory being measured): 28 days; each day a
// lab session and 4 workcell sessions (one after the other), each with its 4 nodes starting and
// stopping, 6 experiments back to back, 4 workflows per experiment (5 authors, user ids), node
// actions (running → completed) in every workflow, and log noise. `total` sets the density only:
// the same days, sessions, nodes, experiments and workflows, with more actions per workflow and
// more noise, so the reports' output stays the same size and only the number of events read
// grows (2 688 workflows and 672 experiments whatever the total). Deterministic for a seed.

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const DAY_US = 86_400_000_000

function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function makeUlid(rand, ms) {
  let time = ''
  let m = ms
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[m % 32] + time
    m = Math.floor(m / 32)
  }
  let r = ''
  for (let i = 0; i < 16; i++) r += CROCKFORD[Math.floor(rand() * 32)]
  return time + r
}

const pad = (n, w = 2) => String(n).padStart(w, '0')
function naive(us) {
  const d = new Date(Math.floor(us / 1000))
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(us % 1_000_000, 6)}`
}

export const DATASET_DEFAULTS = { days: 28, workcells: 4, nodes: 4, experimentsPerSession: 6, workflowsPerExperiment: 4, startMs: Date.UTC(2025, 0, 6) }

/** The analysis window covering the whole dataset (naive UTC strings). */
export function datasetWindow(options = {}) {
  const o = { ...DATASET_DEFAULTS, ...options }
  return { startTime: naive(o.startMs * 1000).slice(0, 19), endTime: naive(o.startMs * 1000 + o.days * DAY_US - 1).slice(0, 19) }
}

/** A function returning a fresh iterator of exactly `total` events (plain Event objects, oldest first). */
export function datasetEvents(total, options = {}) {
  const o = { ...DATASET_DEFAULTS, ...options }
  const seed = options.seed ?? 42
  return function* generate() {
    const rand = prng(seed)
    const ids = (n) => Array.from({ length: n }, (_, i) => makeUlid(rand, o.startMs - 86_400_000 + i))
    const workcells = ids(o.workcells)
    const nodes = workcells.map(() => ids(o.nodes))
    const lab = makeUlid(rand, o.startMs - 86_400_000)
    const authors = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Katherine Johnson', 'Edsger Dijkstra']
    const users = ids(authors.length)
    const sessions = o.days * o.workcells
    const fixedPerSession = 2 + 2 * o.nodes
    const experiments = o.experimentsPerSession
    const labEvents = 2 * o.days
    const budget = (total - labEvents) / sessions
    const workflows = experiments * o.workflowsPerExperiment
    // 90 % of the session's budget for the experiments (2 events each), workflows (2) and their actions (2 per step).
    const stepsPerWorkflow = Math.floor(((budget - fixedPerSession) * 0.9 - 2 * experiments - 2 * workflows) / (2 * workflows))
    if (stepsPerWorkflow < 1) throw new Error(`datasetEvents: ${total} events are too few for ${sessions} sessions; use at least ${labEvents + Math.ceil(sessions * (fixedPerSession + 2 * experiments + 4 * workflows) / 0.9)}`)
    const perExperiment = 2 + o.workflowsPerExperiment * (2 + 2 * stepsPerWorkflow)
    let emitted = 0
    let seq = 0
    let wfSeq = 0
    let t = 0
    const ev = (event_type, log_level, source, event_data) => {
      emitted++
      return {
        event_id: makeUlid(rand, Math.floor(t / 1000)),
        event_type,
        log_level,
        alert: false,
        event_timestamp: naive(t),
        source,
        event_data,
        trace_id: null,
        span_id: null,
        archived: false,
        archived_at: null,
      }
    }
    for (let day = 0; day < o.days; day++) {
      const day0 = o.startMs * 1000 + day * DAY_US
      t = day0 + 60_000_000
      yield ev('lab_start', 20, { manager_id: lab }, { name: 'Main lab', lab_name: 'Main lab' })
      for (let w = 0; w < o.workcells; w++) {
        const session = day * o.workcells + w
        // Events of this session: the budget, with the rounding remainder on the last session.
        const target = session === sessions - 1 ? total - labEvents - Math.round(budget * (sessions - 1)) : Math.round(budget * (session + 1)) - Math.round(budget * session)
        const noise = target - fixedPerSession - experiments * perExperiment
        const window = DAY_US / o.workcells - 20 * 60_000_000
        const step = Math.floor(window / (target + 1))
        t = day0 + w * (DAY_US / o.workcells) + 10 * 60_000_000
        const wc = workcells[w]
        let noiseLeft = noise
        const slots = target - fixedPerSession
        const tick = () => {
          t += step
        }
        const maybeNoise = function* () {
          // Noise spread evenly over the session.
          while (noiseLeft > 0 && rand() < noise / Math.max(1, slots)) {
            tick()
            noiseLeft--
            const node = nodes[w][Math.floor(rand() * o.nodes)]
            const level = [20, 20, 20, 30, 40][Math.floor(rand() * 5)]
            yield ev(level === 20 ? 'log_info' : level === 30 ? 'log_warning' : 'log_error', level, { node_id: node, workcell_id: wc }, { message: `reading ${seq++}`, value: Math.round(rand() * 1000) / 10 })
          }
        }
        tick()
        yield ev('workcell_start', 20, { workcell_id: wc }, { name: `Synthesis line ${w + 1}`, workcell_name: `Workcell ${wc.slice(-8)}` })
        for (const node of nodes[w]) {
          tick()
          yield ev('node_start', 20, { node_id: node, workcell_id: wc }, { node_id: node, node_name: `node_${w}_${node.slice(-4)}` })
        }
        for (let e = 0; e < experiments; e++) {
          const exp = makeUlid(rand, Math.floor(t / 1000))
          tick()
          yield ev('experiment_start', 20, { experiment_id: exp, workcell_id: wc }, { experiment: { experiment_id: exp, experiment_design: { experiment_name: `Campaign ${e % 7}` }, run_name: `run ${e}` } })
          yield* maybeNoise()
          for (let f = 0; f < o.workflowsPerExperiment; f++) {
            const wf = makeUlid(rand, Math.floor(t / 1000))
            const a = wfSeq++ % authors.length
            const source = { workflow_id: wf, experiment_id: exp, workcell_id: wc, user_id: users[a] }
            const started = t
            tick()
            yield ev('workflow_start', 20, source, { workflow_id: wf, name: `wf_${wfSeq % 11}`, author: authors[a] })
            for (let s = 0; s < stepsPerWorkflow; s++) {
              const node = nodes[w][(f + s) % o.nodes]
              const action = makeUlid(rand, Math.floor(t / 1000))
              tick()
              yield ev('action_status_change', 20, { node_id: node, workcell_id: wc }, { action_id: action, status: 'running' })
              yield* maybeNoise()
              tick()
              yield ev('action_status_change', 20, { node_id: node, workcell_id: wc }, { action_id: action, status: rand() < 0.95 ? 'completed' : 'failed' })
            }
            tick()
            yield ev('workflow_complete', 20, source, { workflow_id: wf, name: `wf_${wfSeq % 11}`, author: authors[a], status: rand() < 0.9 ? 'completed' : 'failed', duration_seconds: Math.round((t - started) / 10_000) / 100 })
            yield* maybeNoise()
          }
          tick()
          yield ev('experiment_complete', 20, { experiment_id: exp, workcell_id: wc }, { status: 'completed' })
        }
        while (noiseLeft > 0) {
          tick()
          noiseLeft--
          yield ev('log_info', 20, { workcell_id: wc }, { message: `reading ${seq++}` })
        }
        for (const node of nodes[w]) {
          tick()
          yield ev('node_stop', 20, { node_id: node, workcell_id: wc }, { node_id: node })
        }
        tick()
        yield ev('workcell_stop', 20, { workcell_id: wc }, { reason: 'shift end' })
      }
      t = day0 + DAY_US - 60_000_000
      yield ev('lab_stop', 20, { manager_id: lab }, {})
    }
    if (emitted !== total) throw new Error(`datasetEvents made ${emitted} events, not ${total} (a bug in the generator)`)
  }
}
