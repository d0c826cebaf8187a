/**
 * MADSci's CSV layouts of the utilization reports (SPEC §6.2–6.4), row for row, as the Python
 * exporter writes them: excel dialect, CRLF, numbers as Python prints them. Text cells that look
 * like spreadsheet formulas are neutralised (a leading `'`) unless `neutralizeFormulas: false`;
 * upstream does not do this, so such cells are the one intended byte difference. The layout's own
 * section titles (`=== NODE SUMMARY ===`) are constants, not data, and are written as upstream does.
 */
import { stringify } from 'csv-stringify/sync'
import { EXCEL_DIALECT, pyCell, UTF8_BOM, type NumberKind } from './cells.js'

export type ReportKind = 'sessions' | 'periods' | 'user'

export interface ReportCsvOptions {
  /** Prefix formula-looking text cells with `'` (default true). */
  neutralizeFormulas?: boolean
  /** `detailed` (default; what `/utilization/user` serves) or upstream's unused `summary` layout. */
  userVariant?: 'detailed' | 'summary'
  /** Start with a UTF-8 byte-order mark, so Excel reads the file as UTF-8 (`°C`, `µL` intact). Default false: other readers do not need it. */
  bom?: boolean
}

/** The file names the routes use in `Content-Disposition`. */
export const CSV_DOWNLOAD_NAMES: Record<ReportKind, string> = {
  sessions: 'session_utilization_report.csv',
  periods: 'utilization_periods_report.csv',
  user: 'user_utilization_report.csv',
}

/** Raised for a report that cannot be exported; the message is upstream's (§2.10, D13). */
export class ReportCsvError extends Error {
  override name = 'ReportCsvError'
}

type Row = unknown[]
type Obj = Record<string, unknown>

function obj(v: unknown): Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {}
}

function get(o: Obj, key: string, fallback: unknown = ''): unknown {
  return Object.prototype.hasOwnProperty.call(o, key) ? o[key] : fallback
}

class Sheet {
  readonly rows: string[][] = []
  constructor(readonly neutralize: boolean) {}
  row(cells: Row, kinds: Array<NumberKind | undefined> = []): void {
    this.rows.push(cells.map((c, i) => pyCell(c, kinds[i], { neutralize: this.neutralize })))
  }
  /** A fixed title of the layout (`=== NODE SUMMARY ===`): written as upstream writes it, never neutralised. */
  title(t: string): void {
    this.rows.push([t])
  }
  blank(): void {
    this.rows.push([])
  }
  text(): string {
    return stringify(this.rows, EXCEL_DIALECT)
  }
}

// ------------------------------------------------------------------ periods (§6.2)

function periodsCsv(report: Obj, s: Sheet): void {
  const meta = obj(report.summary_metadata)
  const km = obj(report.key_metrics)
  const analysisType = get(meta, 'analysis_type')
  s.title('=== UTILIZATION PERIODS REPORT ===')
  s.blank()
  s.row(['Metadata'])
  s.row(['Analysis Type', get(meta, 'analysis_type')])
  s.row(['Generated At', get(meta, 'generated_at')])
  s.row(['Period Start', get(meta, 'period_start')])
  s.row(['Period End', get(meta, 'period_end')])
  s.row(['User Timezone', get(meta, 'user_timezone')])
  s.row(['Total Periods', get(meta, 'total_periods')], [undefined, 'int'])
  s.blank()
  // Upstream coerces zero utilizations and runtimes to the int 0 (`x or 0`) before aggregating,
  // so an exact zero prints as `0`; the monthly average is a true division and stays a float.
  const monthlyAvgFloat = analysisType === 'monthly' && ((km.total_runtime_hours as number) ?? 0) > 0
  s.row(['Key Metrics'])
  s.row(['Average Utilization (%)', get(km, 'average_utilization')], [undefined, monthlyAvgFloat ? 'float' : 'float-or-int-zero'])
  s.row(['Peak Utilization (%)', get(km, 'peak_utilization')], [undefined, 'float-or-int-zero'])
  s.row(['Peak Period', get(km, 'peak_period')])
  s.row(['Total Experiments', get(km, 'total_experiments')], [undefined, 'int'])
  s.row(['Total Runtime (hours)', get(km, 'total_runtime_hours')], [undefined, 'float-or-int-zero'])
  s.row(['Total Active Time (hours)', get(km, 'total_active_time_hours')], [undefined, 'float-or-int-zero'])
  s.row(['Active Periods', get(km, 'active_periods')], [undefined, 'int'])
  s.row(['Total Periods', get(km, 'total_periods')], [undefined, 'int'])
  s.blank()
  s.title('=== TIME SERIES DATA ===')
  s.row(['Period Number', 'Period Type', 'Period Display', 'Date', 'Start Time', 'Utilization (%)', 'Experiments', 'Runtime (hours)'])
  const series = obj(report.time_series)
  for (const p of (Array.isArray(series.system) ? series.system : []).map(obj)) {
    s.row(
      [get(p, 'period_number'), get(p, 'period_type'), get(p, 'period_display'), get(p, 'date'), get(p, 'start_time'), get(p, 'utilization'), get(p, 'experiments'), get(p, 'runtime_hours')],
      ['int', undefined, undefined, undefined, undefined, 'float-or-int-zero', 'int', 'float-or-int-zero'],
    )
  }
  s.blank()
  s.title('=== NODE SUMMARY ===')
  const nodes = obj(report.node_summary)
  if (Object.keys(nodes).length) {
    s.row(['Node ID', 'Node Name', 'Display Name', 'Average Utilization (%)', 'Peak Utilization (%)', 'Peak Period', 'Total Busy (hours)'])
    for (const [id, raw] of Object.entries(nodes)) {
      const n = obj(raw)
      s.row(
        [get(n, 'node_id', id), get(n, 'node_name'), get(n, 'display_name', `Node ${id.slice(-8)}`), get(n, 'average_utilization'), get(n, 'peak_utilization'), get(n, 'peak_period'), get(n, 'total_busy_hours')],
        [undefined, undefined, undefined, 'float-or-int-zero', 'float-or-int-zero', undefined, 'float-or-int-zero'],
      )
    }
  } else if (analysisType === 'daily') s.row(['No node activity detected during this daily analysis period'])
  else s.row(['No node data available for this time period'])
  s.blank()
  const workcells = obj(report.workcell_summary)
  if (Object.keys(workcells).length) {
    s.title('=== WORKCELL SUMMARY ===')
    s.row(['Workcell ID', 'Workcell Name', 'Display Name', 'Average Utilization (%)', 'Peak Utilization (%)', 'Peak Period', 'Total Experiments', 'Total Runtime (hours)', 'Total Active Time (hours)'])
    for (const [id, raw] of Object.entries(workcells)) {
      const w = obj(raw)
      s.row(
        [
          get(w, 'workcell_id', id),
          get(w, 'workcell_name'),
          get(w, 'display_name', `Workcell ${id.slice(-8)}`),
          get(w, 'average_utilization'),
          get(w, 'peak_utilization'),
          get(w, 'peak_period'),
          get(w, 'total_experiments'),
          get(w, 'total_runtime_hours'),
          get(w, 'total_active_time_hours'),
        ],
        [undefined, undefined, undefined, 'float-or-int-zero', 'float-or-int-zero', undefined, 'int', 'float-or-int-zero', 'float-or-int-zero'],
      )
    }
    s.blank()
  }
  const users = obj(report.user_utilization)
  if (Object.keys(users).length) {
    s.title('=== USER UTILIZATION ===')
    s.row(['Author', 'Total Workflows', 'Total Runtime (hours)', 'Completion Rate (%)', 'Average Workflow Duration (hours)'])
    const list = 'top_users' in users ? (Array.isArray(users.top_users) ? users.top_users : []) : Object.values(users).filter((u) => typeof u === 'object' && u !== null)
    for (const u of list.map(obj)) {
      s.row(
        [get(u, 'author'), get(u, 'total_workflows'), get(u, 'total_runtime_hours'), get(u, 'completion_rate_percent'), get(u, 'average_workflow_duration_hours')],
        [undefined, 'int', 'float-or-int-zero', 'float', 'float-or-int-zero'],
      )
    }
    s.blank()
  }
  const ed = obj(report.experiment_details)
  const experiments = Array.isArray(ed.experiments) ? ed.experiments.map(obj) : []
  if (experiments.length) {
    s.title('=== EXPERIMENT DETAILS ===')
    s.row(['Experiment ID', 'Experiment Name', 'Start Time', 'End Time', 'Status', 'Duration (hours)', 'Duration Display'])
    for (const e of experiments) {
      s.row(
        [get(e, 'experiment_id'), get(e, 'experiment_name', 'Unknown Experiment'), get(e, 'start_time'), get(e, 'end_time'), get(e, 'status'), get(e, 'duration_hours'), get(e, 'duration_display')],
        [undefined, undefined, undefined, undefined, undefined, 'float'],
      )
    }
    const total = typeof ed.total_experiments === 'number' ? ed.total_experiments : experiments.length
    if (experiments.length < total) s.row([`... and ${total - experiments.length} more experiments`])
    s.blank()
  }
}

// ------------------------------------------------------------------ user (§6.3)

function userCsv(report: Obj, s: Sheet, variant: 'detailed' | 'summary'): void {
  if (variant === 'summary') {
    const totals = obj(report.system_totals)
    s.title('=== USER UTILIZATION SUMMARY ===')
    s.blank()
    s.row(['Summary Statistics'])
    s.row(['Total Users', get(report, 'total_users')], [undefined, 'int'])
    s.row(['Author Attribution Rate (%)', get(report, 'author_attribution_rate_percent')], [undefined, 'float-or-int-zero'])
    s.blank()
    s.row(['System Totals'])
    s.row(['Total Workflows', get(totals, 'total_workflows')], [undefined, 'int'])
    s.row(['Total Runtime (hours)', get(totals, 'total_runtime_hours')], [undefined, 'float'])
    s.row(['Completion Rate (%)', get(totals, 'completion_rate_percent')], [undefined, 'float-or-int-zero'])
    s.blank()
    s.title('=== TOP USERS ===')
    s.row(['Author', 'Total Workflows', 'Total Runtime (hours)', 'Completion Rate (%)', 'Avg Duration (hours)'])
    for (const u of (Array.isArray(report.top_users) ? report.top_users : []).map(obj)) {
      s.row(
        [get(u, 'author'), get(u, 'total_workflows'), get(u, 'total_runtime_hours'), get(u, 'completion_rate_percent'), get(u, 'average_workflow_duration_hours')],
        [undefined, 'int', 'float-or-int-zero', 'float', 'float-or-int-zero'],
      )
    }
    return
  }
  const meta = obj(report.report_metadata)
  const sys = obj(report.system_summary)
  const totalWorkflows = (sys.total_workflows as number) ?? 0
  // Upstream's int fallbacks: no workflows → completion/attribution are the int 0; no durations →
  // the average is the int 0 (its total runtime is a float either way).
  const zeroIfNone = totalWorkflows > 0 ? 'float' : 'float-or-int-zero'
  s.title('=== DETAILED USER UTILIZATION REPORT ===')
  s.blank()
  s.row(['Report Metadata'])
  s.row(['Generated At', get(meta, 'generated_at')])
  s.row(['Analysis Start', get(meta, 'analysis_start')])
  s.row(['Analysis End', get(meta, 'analysis_end')])
  s.row(['Total Users', get(meta, 'total_users')], [undefined, 'int'])
  s.row(['Total Workflows', get(meta, 'total_workflows')], [undefined, 'int'])
  s.blank()
  s.row(['System Summary'])
  s.row(['Total Workflows', get(sys, 'total_workflows')], [undefined, 'int'])
  s.row(['Total Runtime (hours)', get(sys, 'total_runtime_hours')], [undefined, 'float'])
  s.row(['Average Workflow Duration (hours)', get(sys, 'average_workflow_duration_hours')], [undefined, 'float-or-int-zero'])
  s.row(['Completion Rate (%)', get(sys, 'completion_rate_percent')], [undefined, zeroIfNone])
  s.row(['Author Attribution Rate (%)', get(sys, 'author_attribution_rate_percent')], [undefined, zeroIfNone])
  s.blank()
  s.title('=== USER DETAILS ===')
  s.row(['Author', 'Total Workflows', 'Completed', 'Failed', 'Cancelled', 'Total Runtime (hours)', 'Avg Duration (hours)', 'Completion Rate (%)', 'Shortest (hours)', 'Longest (hours)'])
  for (const u of Object.values(obj(report.user_utilization)).map(obj)) {
    const timed = u.shortest_workflow_hours !== null && u.shortest_workflow_hours !== undefined
    const hours: NumberKind = timed ? 'float' : 'float-or-int-zero'
    s.row(
      [
        get(u, 'author'),
        get(u, 'total_workflows'),
        get(u, 'completed_workflows'),
        get(u, 'failed_workflows'),
        get(u, 'cancelled_workflows'),
        get(u, 'total_runtime_hours'),
        get(u, 'average_workflow_duration_hours'),
        get(u, 'completion_rate_percent'),
        get(u, 'shortest_workflow_hours'),
        get(u, 'longest_workflow_hours'),
      ],
      [undefined, 'int', 'int', 'int', 'int', hours, hours, 'float', 'float', 'float'],
    )
  }
}

// ------------------------------------------------------------------ sessions (§6.4)

function sessionsCsv(report: Obj, s: Sheet): void {
  const meta = obj(report.report_metadata)
  const overall = obj(report.overall_summary)
  s.title('=== UTILIZATION REPORT ===')
  s.blank()
  s.row(['Report Metadata'])
  s.row(['Generated At', get(meta, 'generated_at')])
  s.row(['Analysis Start', get(meta, 'analysis_start')])
  s.row(['Analysis End', get(meta, 'analysis_end')])
  s.row(['Total Sessions', get(meta, 'total_sessions')], [undefined, 'int'])
  s.row(['Analysis Duration (hours)', get(meta, 'analysis_duration_hours')], [undefined, 'float'])
  s.blank()
  s.row(['Overall Summary'])
  s.row(['Total Sessions', get(overall, 'total_sessions')], [undefined, 'int'])
  s.row(['Total System Runtime (hours)', get(overall, 'total_system_runtime_hours')], [undefined, 'float'])
  s.row(['Total Active Time (hours)', get(overall, 'total_active_time_hours')], [undefined, 'float'])
  s.row(['Average System Utilization (%)', get(overall, 'average_system_utilization_percent')], [undefined, 'float'])
  s.row(['Total Experiments', get(overall, 'total_experiments')], [undefined, 'int'])
  s.row(['Nodes Tracked', get(overall, 'nodes_tracked')], [undefined, 'int'])
  s.blank()
  const sessions = Array.isArray(report.session_details) ? report.session_details.map(obj) : []
  if (sessions.length) {
    s.title('=== SESSION DETAILS ===')
    s.row(['Session Type', 'Session Name', 'Start Time', 'End Time', 'Duration (hours)', 'System Utilization (%)', 'Total Experiments', 'Nodes Active'])
    for (const x of sessions) {
      if ('error' in x) continue
      s.row(
        [get(x, 'session_type'), get(x, 'session_name'), get(x, 'start_time'), get(x, 'end_time'), get(x, 'duration_hours'), get(x, 'system_utilization_percent'), get(x, 'total_experiments'), get(x, 'nodes_active')],
        [undefined, undefined, undefined, undefined, 'float', 'float', 'int', 'int'],
      )
    }
    s.blank()
  }
  const nodes = obj(overall.node_summary)
  if (Object.keys(nodes).length) {
    s.title('=== NODE SUMMARY ===')
    s.row(['Node ID', 'Average Utilization (%)', 'Total Busy Time (hours)', 'Sessions Active'])
    for (const [id, raw] of Object.entries(nodes)) {
      const n = obj(raw)
      s.row([id, get(n, 'average_utilization_percent'), get(n, 'total_busy_time_hours'), get(n, 'sessions_active')], [undefined, 'float', 'float', 'int'])
    }
  }
}

/**
 * A report as MADSci's CSV. Throws `ReportCsvError` with upstream's message for a report that is
 * an error answer (`Invalid report data provided`, or `Report contains only error: …` for periods).
 */
export function reportToCsv(kind: ReportKind, report: Record<string, unknown>, options: ReportCsvOptions = {}): string {
  if (!report || typeof report !== 'object' || Object.keys(report).length === 0) {
    throw new ReportCsvError(kind === 'periods' ? 'Report data is None or empty' : 'Invalid report data provided')
  }
  if ('error' in report) {
    if (kind !== 'periods') throw new ReportCsvError('Invalid report data provided')
    if (Object.keys(report).length === 1) throw new ReportCsvError(`Report contains only error: ${String(report.error)}`)
  }
  const sheet = new Sheet(options.neutralizeFormulas ?? true)
  if (kind === 'periods') periodsCsv(report, sheet)
  else if (kind === 'user') userCsv(report, sheet, options.userVariant ?? 'detailed')
  else sessionsCsv(report, sheet)
  return (options.bom ? UTF8_BOM : '') + sheet.text()
}
