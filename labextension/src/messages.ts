// The messages and synced values between the kernel (kfp_notebook/view/panel.py) and the panel's front end.

/** What the front end sends the kernel (PipelinePanel._on_message). */
export type PanelAction =
  | { action: 'compile'; values: Record<string, string> }
  | { action: 'run'; values: Record<string, string> }
  | { action: 'submit'; values: Record<string, string> }
  | { action: 'stop'; values: Record<string, string> }
  | { action: 'select'; node: string }
  | { action: 'svg'; svg: string };

/** What the kernel sends the front end outside the synced traits. */
export type KernelEvent = { event: 'handled'; action: string } | { event: 'compiled'; path: string; yaml: string };

export interface Parameter {
  name: string;
  type: string;
  default: string;
  required: boolean;
}

export interface Message {
  kind?: 'error' | 'info';
  text?: string;
  details?: string;
}

/** One node state as the legend explains it (view/states.py LEGEND). */
export interface Look {
  state: string;
  label: string;
  icon: string;
  meaning: string;
}

export interface Totals {
  done: number;
  total: number;
  failed?: number;
  canceled?: number;
}

/** A run as the panel shows it (view/states.py run_view). */
export interface RunView {
  state?: string;
  started?: number;
  finished?: number | null;
  tasks?: Totals;
  iterations?: Totals;
  states?: Record<string, string>;
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
  state: string;
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
