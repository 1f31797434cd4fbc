// The messages and synced values between the kernel (kfp_notebook/view/panel.py) and the panel's front end.
import { NodeState } from './states';

/** What the front end sends the kernel (PipelinePanel._on_message). */
export type PanelAction =
  | { action: 'compile'; values: Record<string, string> }
  | { action: 'run'; values: Record<string, string> }
  | { action: 'submit'; values: Record<string, string> }
  | { action: 'stop'; values: Record<string, string> }
  | { action: 'select'; node: string }
  | { action: 'svg'; svg: string };

/** The buttons whose action the kernel acknowledges ('handled'); until then the buttons stay disabled. */
export type ButtonAction = 'compile' | 'run' | 'submit' | 'stop';

/** What the kernel sends the front end outside the synced traits. */
export type KernelEvent = { event: 'handled'; action: ButtonAction } | { event: 'compiled'; path: string; yaml: string };

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
  kind?: 'error' | 'info';
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
