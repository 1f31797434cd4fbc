// The synced model as anywidget gives it to a view, typed by the traits PipelinePanel declares (traits.ts, generated).
import { PanelTraits } from './traits';

export interface Model<T = PanelTraits> {
  get<K extends keyof T>(name: K): T[K];
  set<K extends keyof T>(name: K, value: T[K]): void;
  save_changes(): void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, callback: (...args: any[]) => void): void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event?: string | null, callback?: ((...args: any[]) => void) | null): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[]): void;
}

/** `model.on('change:a change:b', f)` for each name, undone by the returned function. */
export function listen(model: Model, names: (keyof PanelTraits)[], callback: () => void): () => void {
  const events = names.map(name => `change:${String(name)}`);
  events.forEach(event => model.on(event, callback));
  return () => events.forEach(event => model.off(event, callback));
}
