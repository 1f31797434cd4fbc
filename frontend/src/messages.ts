// The messages and synced values between the kernel (kfp_notebook/view/panel.py) and the panel's front end.
import { NodeState } from './states';

/** What the front end sends the kernel (PipelinePanel._on_message). */
export type PanelAction =
  | { action: 'compile'; values: Record<string, string> }
  | { action: 'run'; values: Record<string, string> }
  | { action: 'submit'; values: Record<string, string> }
  | { action: 'stop'; values: Record<string, string> }
  | { action: 'retry'; values: Record<string, string> }
  | { action: 'select'; node: string }
  | { action: 'download'; task: string; output: string; name?: string }
  | { action: 'log'; task: string }
  | { action: 'runs' }
  | { action: 'compare'; runs: string[] };

/** The buttons whose action the kernel acknowledges ('handled'); until then the buttons stay disabled. */
export type ButtonAction = 'compile' | 'run' | 'submit' | 'stop' | 'retry';

/** What the kernel sends the front end outside the synced traits. */
export type KernelEvent =
  | { event: 'handled'; action: ButtonAction }
  | { event: 'compiled'; path: string; yaml: string }
  | { event: 'download'; task: string; output: string; name: string; mime: string; size?: number; cut: boolean; data: string }
  | { event: 'log'; task: string; log_user: string; log_executor: string }
  | ({ event: 'runs' } & RunsList)
  | ({ event: 'compare' } & Comparison);

/** The action still pending once the kernel acknowledged `acked`: an ack clears only its own action. */
export function pendingAfterAck(pending: string, acked: string): string {
  return acked === pending ? '' : pending;
}

export interface Parameter {
  name: string;
  type: string;
  default: string;
  required: boolean;
}

export interface Message {
  kind?: 'error' | 'info' | 'warning';
  text?: string;
  details?: string;
}

/** One node state as the legend explains it (tracking/states.py LOOKS). */
export interface Look {
  state: NodeState;
  label: string;
  icon: string;
  meaning: string;
}

/** A run as the panel shows it (view/states.py run_view). */
export interface RunView {
  state?: NodeState;
  started?: number;
  finished?: number | null;
  /** What the kernel says of the tasks and iterations ('3/22 tasks · 14/20 iterations · 1 failed'). */
  counts?: string;
  states?: Record<string, NodeState>;
  loops?: Record<string, Record<string, number>>;
  failure?: { node?: string; task?: string; text?: string };
  notices?: string[];
}

export interface Metrics {
  columns?: string[];
  rows?: [string, string[]][];
}

/** One run of a task (or one iteration of a loop) in the details pane (view/details.py). */
export interface TaskRun {
  id: string;
  state: NodeState;
  item?: string;
  duration?: string;
  inputs?: Record<string, string>;
  outputs?: Record<string, string>;
  artifacts?: Record<string, string[]>;
  metrics?: Record<string, string>;
  log?: string;
  log_user?: string;
  log_executor?: string;
  message?: string;
  traceback?: string;
  /** `%kfp debug TASK --run RUN [--item N]`: the task called again in the kernel (panel.py debug_command) */
  debug?: string;
  /** visual artifacts drawn by the kernel (view/artifacts.py): sanitised HTML, shown inline in the pane */
  previews?: Preview[];
  /** the whole log was read (the `log` event), not only its last lines */
  whole_log?: boolean;
  /** the task's message as information ('outputs reused from run …') or an error (view/details.py note) */
  note?: { kind?: 'info' | 'error'; text?: string };
}

/** One visual artifact as the kernel drew it: Markdown escaped, HTML in an empty-sandbox iframe, plots as SVG. */
export interface Preview {
  output?: string;
  title: string;
  kind: string;
  html: string;
  text?: string;
  /** too large to draw here: the html says which command shows it */
  cut?: boolean;
}

/** Which run the panel shows and with which parameters (view/recorded.py run_info). */
export interface RunInfo {
  run_id?: string;
  where?: string;
  state?: string;
  started?: number;
  finished?: number | null;
  parameters?: Record<string, unknown>;
  defaults?: Record<string, string>;
  differs?: string[];
  /** read back from the runs folder (a new kernel), not started in this one */
  reloaded?: boolean;
}

/** The pipeline's runs, newest first (view/history.py RunHistory.table): the first column is the run id. */
export interface RunsList {
  pipeline?: string;
  columns: string[];
  rows: unknown[][];
  notes?: string[];
}

/** Runs side by side (view/compare.py compare_data). */
export interface Comparison {
  runs: { run_id: string; pipeline?: string; state?: string }[];
  notice?: string;
  parameters: { name: string; values: unknown[]; differs: boolean }[];
  metrics: { task: string; name: string; values: (number | null)[]; goal: string; best: number[] }[];
  plots?: { task: string; name: string; svg: string }[];
}

export interface Details {
  id?: string;
  kind?: 'task' | 'loop';
  label?: string;
  component?: string;
  image?: string;
  badges?: string[];
  source?: string;
  runs?: TaskRun[];
}
