import { describe, expect, it } from 'vitest'
import { eventsReader, sessionUtilizationReport, userUtilizationReport, utilizationPeriodsReport } from '../../src/analyze/index.js'
import { ReportCsvError, reportToCsv } from '../../src/export/index.js'
import { ev, id, sessionHistory } from '../analyze/build.js'

const now = () => Date.UTC(2025, 0, 7) * 1000
const lines = (csv: string) => csv.split('\r\n')

describe("MADSci's CSV layouts of the reports", () => {
  it('writes the sessions layout (§6.4) with Python float rendering', async () => {
    const report = await sessionUtilizationReport(eventsReader(sessionHistory()), { startTime: '2025-01-06T07:00:00', endTime: '2025-01-06T13:00:00', now })
    expect(lines(reportToCsv('sessions', report))).toEqual([
      '=== UTILIZATION REPORT ===',
      '',
      'Report Metadata',
      'Generated At,2025-01-07T00:00:00+00:00',
      'Analysis Start,2025-01-06T07:00:00',
      'Analysis End,2025-01-06T13:00:00',
      'Total Sessions,2',
      'Analysis Duration (hours),6.0',
      '',
      'Overall Summary',
      'Total Sessions,2',
      'Total System Runtime (hours),4.0',
      'Total Active Time (hours),2.5',
      'Average System Utilization (%),62.5',
      'Total Experiments,2',
      'Nodes Tracked,2',
      '',
      '=== SESSION DETAILS ===',
      'Session Type,Session Name,Start Time,End Time,Duration (hours),System Utilization (%),Total Experiments,Nodes Active',
      'workcell,Line A,2025-01-06T08:00:00,2025-01-06T10:00:00,2.0,50.0,1,2',
      `workcell,Workcell ${id('WC1').slice(-8)},2025-01-06T11:00:00,2025-01-06T13:00:00,2.0,75.0,1,0`,
      '',
      '=== NODE SUMMARY ===',
      'Node ID,Average Utilization (%),Total Busy Time (hours),Sessions Active',
      `${id('NODE1')},25.0,0.5,1`,
      `${id('NODE2')},25.0,0.5,1`,
      '',
    ])
  })

  it('writes the detailed user layout (§6.3), int zeros where upstream has them, formulas neutralised', async () => {
    const events = [
      ev('workflow_complete', '2025-01-06T10:00:00', {}, { workflow_id: 'a', author: 'Ada', duration_seconds: 1800 }),
      ev('workflow_complete', '2025-01-06T10:10:00', {}, { workflow_id: 'b', author: 'Ada', status: 'failed', duration_seconds: 5400 }),
      ev('workflow_start', '2025-01-06T10:20:00', {}, { workflow_id: 'c', author: '=HYPERLINK("x")' }),
    ]
    const report = await userUtilizationReport(eventsReader(events), { startTime: '2025-01-06T09:00:00', endTime: '2025-01-06T11:00:00', now })
    expect(lines(reportToCsv('user', report))).toEqual([
      '=== DETAILED USER UTILIZATION REPORT ===',
      '',
      'Report Metadata',
      'Generated At,2025-01-07T00:00:00+00:00',
      'Analysis Start,2025-01-06T09:00:00',
      'Analysis End,2025-01-06T11:00:00',
      'Total Users,2',
      'Total Workflows,3',
      '',
      'System Summary',
      'Total Workflows,3',
      'Total Runtime (hours),2.0',
      'Average Workflow Duration (hours),1.0',
      'Completion Rate (%),33.33',
      'Author Attribution Rate (%),100.0',
      '',
      '=== USER DETAILS ===',
      'Author,Total Workflows,Completed,Failed,Cancelled,Total Runtime (hours),Avg Duration (hours),Completion Rate (%),Shortest (hours),Longest (hours)',
      'Ada,2,1,1,0,2.0,1.0,50.0,0.5,1.5',
      // No durations: upstream's int 0 fallbacks; the author cell cannot run as a formula.
      `"'=HYPERLINK(""x"")",1,0,0,0,0,0,0.0,,`,
      '',
    ])
    expect(reportToCsv('user', report, { neutralizeFormulas: false })).toContain('"=HYPERLINK(""x"")",1,0,0,0,0,0,0.0,,\r\n')
  })

  it('writes the periods layout (§6.2): sections, int zeros, node fallback lines, the 50-experiment cut', async () => {
    const events = []
    for (let i = 0; i < 55; i++) {
      const minute = String(i).padStart(2, '0')
      events.push(ev('experiment_start', `2025-01-06T10:${minute}:00`, { experiment_id: id(`EXP${i}`) }))
    }
    events.push(ev('workflow_complete', '2025-01-06T12:00:00', {}, { workflow_id: 'w', author: 'Ada', duration_seconds: 60 }))
    const report = await utilizationPeriodsReport(eventsReader(events), { startTime: '2025-01-06T00:00:00Z', endTime: '2025-01-08T00:00:00Z', userTimezone: 'UTC', now })
    const csv = lines(reportToCsv('periods', report))
    expect(csv.slice(0, 21)).toEqual([
      '=== UTILIZATION PERIODS REPORT ===',
      '',
      'Metadata',
      'Analysis Type,daily',
      'Generated At,2025-01-07T00:00:00+00:00',
      'Period Start,2025-01-06T00:00:00',
      'Period End,2025-01-08T00:00:00',
      'User Timezone,UTC',
      'Total Periods,2',
      '',
      'Key Metrics',
      'Average Utilization (%),0',
      'Peak Utilization (%),0',
      'Peak Period,',
      'Total Experiments,55',
      'Total Runtime (hours),0',
      'Total Active Time (hours),0',
      'Active Periods,1',
      'Total Periods,2',
      '',
      '=== TIME SERIES DATA ===',
    ])
    expect(csv.slice(21, 26)).toEqual([
      'Period Number,Period Type,Period Display,Date,Start Time,Utilization (%),Experiments,Runtime (hours)',
      '1,day,2025-01-06,2025-01-06,2025-01-06T00:00:00,0,55,0',
      '2,day,2025-01-07,2025-01-07,2025-01-07T00:00:00,0,0,0',
      '',
      '=== NODE SUMMARY ===',
    ])
    expect(csv[26]).toBe('No node activity detected during this daily analysis period')
    expect(csv.slice(28, 32)).toEqual(['=== USER UTILIZATION ===', 'Author,Total Workflows,Total Runtime (hours),Completion Rate (%),Average Workflow Duration (hours)', 'Ada,1,0.02,100.0,0.017', ''])
    expect(csv[32]).toBe('=== EXPERIMENT DETAILS ===')
    // No session overlaps the experiments, so the details are not filtered: all 55, 50 listed.
    expect(csv[34]).toBe(`${id('EXP0')},Unknown Experiment,2025-01-06T10:00:00,,in_progress,,Ongoing`)
    expect(csv.slice(-3)).toEqual(['... and 5 more experiments', '', ''])
    const weekly = await utilizationPeriodsReport(eventsReader(events), { startTime: '2025-01-06T00:00:00Z', endTime: '2025-01-08T00:00:00Z', analysisType: 'weekly', userTimezone: 'UTC', now })
    expect(reportToCsv('periods', weekly)).toContain('\r\n=== NODE SUMMARY ===\r\nNo node data available for this time period\r\n')
  })

  it('refuses error reports with upstream\'s messages', () => {
    expect(() => reportToCsv('sessions', { error: 'Failed to generate report: x' })).toThrow(new ReportCsvError('Invalid report data provided'))
    expect(() => reportToCsv('user', { error: 'x' })).toThrow('Invalid report data provided')
    expect(() => reportToCsv('periods', { error: 'nope' })).toThrow('Report contains only error: nope')
    expect(() => reportToCsv('periods', {})).toThrow('Report data is None or empty')
  })
})
