/**
 * Export: events as a flat CSV or NDJSON (streaming, constant memory, backpressure respected),
 * MADSci's CSV layouts of the utilization reports, saving them inside one allowed directory,
 * SVG charts of the reports, and a terminal progress line for the CLI.
 */
export {
  exportEventsCsv,
  exportEventsNdjson,
  eventCsvRow,
  EVENT_CSV_COLUMNS,
  type EventCsvOptions,
  type ExportOptions,
  type ExportResult,
} from './events.js'
export { reportToCsv, ReportCsvError, CSV_DOWNLOAD_NAMES, type ReportKind, type ReportCsvOptions } from './reports.js'
export { neutralizeFormula, pyCell, pyRepr, EXCEL_DIALECT, UTF8_BOM, type NumberKind } from './cells.js'
export { fileInDirectory, reportCsvAnswer, saveCsvFile, resolveOutputDirectory, SAVED_REPORT_NAMES, type CsvAnswer, type CsvRequest } from './save.js'
export { periodsChartSvg, nodeUtilizationChartSvg, CHART_COLORS, type ChartOptions } from './charts.js'
export { escapeXml } from './svg.js'
export { ProgressBar, type ProgressOptions } from './progress.js'
