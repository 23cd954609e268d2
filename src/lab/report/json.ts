/** The report as readable JSON (for people and archives; signatures cover `canonicalReportBytes`). */
import type { LabReport } from './model.js';

export function renderJson(report: LabReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
