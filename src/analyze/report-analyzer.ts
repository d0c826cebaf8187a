/**
 * MADSci's utilization reports as a batch analyzer (`builtin:utilization`), so a host configured
 * from plain data can run them over stored events: `analyze(source, range)` builds the report,
 * `result()` returns the last one built.
 */
import { ConfigError } from '../errors.js'
import type { Analyzer, AnalyzerContext, AnalysisRange } from './analyzer.js'
import { booleanOption, stringOption } from './detectors/options.js'
import { utilizationPeriodsReport } from './periods-report.js'
import type { ReportJson } from './session-report.js'
import { sessionUtilizationReport } from './session-report.js'
import type { ReportSource } from './source.js'
import { userUtilizationReport } from './user-report.js'

export const UTILIZATION_ANALYZER_DEFAULTS = {
  /** Which report: `sessions`, `periods` or `user`. */
  report: 'sessions',
  /** For `periods`: as the route's defaults. */
  analysisType: 'daily',
  userTimezone: 'America/Chicago',
  includeUsers: true,
} as const

export class UtilizationAnalyzer implements Analyzer {
  readonly name: string
  readonly #report: string
  readonly #analysisType: string
  readonly #userTimezone: string
  readonly #includeUsers: boolean
  readonly #now: () => number
  #last: ReportJson | null = null

  constructor(options: Record<string, unknown>, context: AnalyzerContext) {
    const p = 'analyzers.utilization.'
    this.#report = stringOption(options, 'report', UTILIZATION_ANALYZER_DEFAULTS.report, p)
    if (!['sessions', 'periods', 'user'].includes(this.#report)) {
      throw new ConfigError(`${p}report`, `expected sessions, periods or user, got ${JSON.stringify(this.#report)}`)
    }
    this.name = typeof options.name === 'string' && options.name ? options.name : `utilization-${this.#report}`
    this.#analysisType = stringOption(options, 'analysisType', UTILIZATION_ANALYZER_DEFAULTS.analysisType, p)
    this.#userTimezone = stringOption(options, 'userTimezone', UTILIZATION_ANALYZER_DEFAULTS.userTimezone, p)
    this.#includeUsers = booleanOption(options, 'includeUsers', UTILIZATION_ANALYZER_DEFAULTS.includeUsers, p)
    this.#now = () => context.now() * 1000
  }

  async analyze(source: ReportSource, range: AnalysisRange): Promise<ReportJson> {
    const common = { startTime: range.startTime, endTime: range.endTime, now: this.#now }
    if (this.#report === 'sessions') this.#last = await sessionUtilizationReport(source, common)
    else if (this.#report === 'user') this.#last = await userUtilizationReport(source, common)
    else {
      this.#last = await utilizationPeriodsReport(source, {
        ...common,
        analysisType: this.#analysisType,
        userTimezone: this.#userTimezone,
        includeUsers: this.#includeUsers,
        naiveTimeZone: 'UTC',
      })
    }
    return this.#last
  }

  result(): ReportJson | null {
    return this.#last
  }
}

export function create(options: Record<string, unknown>, context: AnalyzerContext): UtilizationAnalyzer {
  return new UtilizationAnalyzer(options, context)
}
