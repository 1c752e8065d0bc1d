// @ssmbench/report: results CSVs and model cards -> results/leaderboard.csv and docs/*.md.
export { LEADERBOARD_CSV, formatResultsCsv, loadResults, mergeLeaderboard, parseResultsCsv, rowKey, writeLeaderboard } from "./results.ts";
export { loadCards } from "./cards.ts";
export { BEGIN, END, spliceGenerated } from "./markers.ts";
export { accuracyTables, anchorFor, headline, renderLeaderboard, showMetric, speedAnchor, type AccuracyTable } from "./leaderboard.ts";
export { awesomeJson, loadAwesome, renderAwesome, statusCell, type AwesomeData, type AwesomeEntry } from "./awesome.ts";
export { renderFamily } from "./families.ts";
export { published } from "./published.ts";
export { checkDocs, generateDocs, runReport, writeDocs, type DocsPaths, type GeneratedPage, type ReportOptions, type ReportOutcome, type StaleFile } from "./docs.ts";
export { PLAN_SUFFIX, checkPlans, describePlans, loadPlans, planPath, readPlan, writePlan, type PlanStatus, type PlannedCell, type ShardPlan } from "./shards.ts";
export { TORCH_EP, isSuiteRow, renderSpeedPage, speedRuns, scalingExponent, type SpeedPage } from "./speed.ts";
export { logLogChart, type ChartSpec, type Series } from "./svg.ts";
