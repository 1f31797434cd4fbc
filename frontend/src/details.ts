// The details side pane of a clicked node: tabs Overview, Inputs, Outputs, Logs, Source, and a close button.
import { Details, Look, TaskRun } from './messages';

export const TABS = ['Overview', 'Inputs', 'Outputs', 'Logs', 'Source'] as const;
/** The lines of each log the details carry (view/details.py LOG_LINES): a log that long may have more. */
const LOG_LINES = 200;
export type Tab = (typeof TABS)[number];

export function element<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text) {
    node.textContent = text;
  }
  return node;
}

export class DetailsPane {
  readonly node = element('aside', 'kfp-side');
  private tab: Tab = 'Overview';
  private showExecutor = false;
  private details: Details = {};
  private looks: Record<string, Look> = {};
  onClose: () => void = () => undefined;
  onOpenRun: (run: TaskRun) => void = () => undefined;
  /** An artifact's link was clicked: the kernel sends the file (every host, no file server assumed). */
  onArtifact: (task: string, output: string) => void = () => undefined;
  /** The whole log of a task run was asked for (the pane gets the last lines only). */
  onWholeLog: (task: string) => void = () => undefined;

  constructor() {
    this.node.setAttribute('role', 'complementary');
    this.node.setAttribute('aria-label', 'task details');
    this.node.hidden = true;
  }

  setLegend(legend: Look[]): void {
    this.looks = Object.fromEntries(legend.map(look => [look.state, look]));
  }

  /** Show a tab (the failure marker opens its task on Overview, where the traceback is). */
  showTab(tab: Tab): void {
    this.tab = tab;
    this.render();
  }

  /** A line of information at the top of the pane (an artifact that could not be sent). */
  notice(text: string): void {
    this.node.querySelector('.kfp-pane-notice')?.remove();
    this.node.prepend(element('div', 'kfp-pane-notice', text));
  }

  /** The whole log of one run arrived (the `log` event): shown in place of its last lines. */
  wholeLog(task: string, user: string, executor: string): void {
    const run = this.details.runs?.find(r => r.id === task);
    if (run) {
      run.log_user = user;
      run.log_executor = executor;
      run.whole_log = true;
      this.render();
    }
  }

  get activeTab(): Tab {
    return this.tab;
  }

  show(details: Details): void {
    this.details = details;
    this.node.hidden = !details.id;
    this.render();
  }

  private render(): void {
    this.node.textContent = '';
    if (!this.details.id) {
      return;
    }
    this.node.append(this.header(), this.tabBar(), this.body());
  }

  private header(): HTMLElement {
    const header = element('div', 'kfp-side-header');
    const title = element('span', 'kfp-side-title', this.details.label ?? this.details.id);
    title.title = this.details.id ?? '';
    const close = element('button', 'kfp-button kfp-minimal kfp-side-close', '✕');
    close.title = 'Close the details (Escape)';
    close.setAttribute('aria-label', 'close details');
    close.addEventListener('click', () => this.onClose());
    header.append(title, close);
    return header;
  }

  private tabBar(): HTMLElement {
    const bar = element('div', 'kfp-tabs');
    bar.setAttribute('role', 'tablist');
    for (const tab of TABS) {
      const button = element('button', `kfp-tab${tab === this.tab ? ' kfp-tab-active' : ''}`, tab);
      button.setAttribute('role', 'tab');
      button.setAttribute('aria-selected', String(tab === this.tab));
      button.dataset.tab = tab;
      button.addEventListener('click', () => {
        this.tab = tab;
        this.render();
      });
      bar.appendChild(button);
    }
    return bar;
  }

  private body(): HTMLElement {
    const body = element('div', `kfp-tab-body kfp-tab-${this.tab.toLowerCase()}`);
    body.setAttribute('role', 'tabpanel');
    const runs = this.details.runs ?? [];
    const render: Record<Tab, () => void> = {
      Overview: () => this.overview(body, runs),
      Inputs: () => runs.forEach(run => body.appendChild(table(run.inputs, prefix(run, runs)))),
      Outputs: () => runs.forEach(run => body.appendChild(this.outputs(run, prefix(run, runs)))),
      Logs: () => this.logs(body, runs),
      Source: () => body.appendChild(element('pre', 'kfp-source', this.details.source || 'no Python source (a container component)'))
    };
    render[this.tab]();
    if (!body.childNodes.length) {
      body.appendChild(element('div', 'kfp-empty', this.details.runs ? 'nothing here' : 'not run yet'));
    }
    return body;
  }

  private overview(body: HTMLElement, runs: TaskRun[]): void {
    const facts = element('dl', 'kfp-facts');
    const add = (name: string, value?: string) => value && facts.append(element('dt', '', name), element('dd', '', value));
    add(this.details.kind === 'loop' ? 'loop' : 'component', this.details.component);
    add('image', this.details.image);
    add('settings', (this.details.badges ?? []).join(' · '));
    body.appendChild(facts);
    if (this.details.kind === 'loop') {
      body.appendChild(this.iterations(runs));
      return;
    }
    for (const run of runs) {
      const block = element('div', 'kfp-run-block');
      block.appendChild(this.stateLine(run, prefix(run, runs)));
      const failed = run.note ? run.note.kind === 'error' : run.state === 'FAILED' || run.state === 'LOST';
      const text = run.note?.text ?? run.message;
      if (failed && (run.traceback || text)) {
        block.appendChild(element('pre', 'kfp-traceback', run.traceback || text));
      } else if (text) {
        block.appendChild(element('div', 'kfp-note', text)); // e.g. 'outputs reused from run …': information
      }
      if (run.debug) {
        block.appendChild(debugLine(run.debug));
      }
      body.appendChild(block);
    }
  }

  private outputs(run: TaskRun, caption: string): HTMLElement {
    const box = element('div', 'kfp-outputs');
    const values = table({ ...(run.outputs ?? {}), ...(run.metrics ?? {}) }, caption);
    for (const [name, paths] of Object.entries(run.artifacts ?? {})) {
      const row = values.insertRow();
      row.appendChild(element('th', '', name));
      const cell = row.insertCell();
      for (const path of paths) {
        cell.appendChild(this.artifactLink(path, run.id, name));
      }
    }
    box.appendChild(values);
    for (const preview of run.previews ?? []) {
      const figure = element('figure', 'kfp-preview');
      figure.dataset.kind = preview.kind;
      figure.setAttribute('aria-label', preview.title); // the kernel's drawing has its title in it
      const content = element('div', 'kfp-preview-body');
      content.innerHTML = preview.html; // the kernel's own HTML: text escaped, HTML artifacts in a sandboxed iframe
      figure.appendChild(content);
      box.appendChild(figure);
    }
    return box;
  }

  /** A link that asks the kernel for the file: remote URIs open as they are; local paths download. */
  private artifactLink(path: string, task: string, output: string): HTMLAnchorElement {
    const link = element('a', 'kfp-artifact', path);
    if (/^https?:\/\//.test(path)) {
      link.href = path;
      link.target = '_blank';
      link.rel = 'noopener';
      return link;
    }
    link.href = '#';
    link.title = 'Download this file (the kernel sends it)';
    link.addEventListener('click', event => {
      event.preventDefault();
      this.onArtifact(task, output);
    });
    return link;
  }

  private stateLine(run: TaskRun, label: string): HTMLElement {
    const look = this.looks[run.state];
    const line = element('div', 'kfp-state-line');
    line.dataset.state = run.state;
    line.append(element('span', 'kfp-chip', `${look?.icon ?? ''} ${look?.label ?? run.state.toLowerCase()}`));
    line.append(element('span', '', [label, run.duration].filter(Boolean).join(' · ')));
    return line;
  }

  /** A loop's iterations, failed first: item, state, duration; each opens that iteration's task. */
  private iterations(runs: TaskRun[]): HTMLElement {
    const list = element('ol', 'kfp-iterations');
    for (const run of runs) {
      const row = element('li', 'kfp-iteration');
      row.dataset.state = run.state;
      const look = this.looks[run.state];
      row.append(
        element('span', 'kfp-chip', look?.icon ?? ''),
        element('span', 'kfp-iteration-item', run.item ?? run.id),
        element('span', 'kfp-iteration-state', look?.label ?? run.state.toLowerCase()),
        element('span', 'kfp-iteration-time', run.duration ?? '')
      );
      if (run.message) {
        row.appendChild(element('div', 'kfp-iteration-message', run.message));
      }
      row.tabIndex = 0;
      row.addEventListener('click', () => this.onOpenRun(run));
      row.addEventListener('keydown', event => event.key === 'Enter' && this.onOpenRun(run));
      list.appendChild(row);
    }
    return list;
  }

  private logs(body: HTMLElement, runs: TaskRun[]): void {
    const toggle = element('label', 'kfp-executor-toggle');
    const box = element('input');
    box.type = 'checkbox';
    box.checked = this.showExecutor;
    box.addEventListener('change', () => {
      this.showExecutor = box.checked;
      this.render();
    });
    toggle.append(box, document.createTextNode(' show executor lines'));
    body.appendChild(toggle);
    for (const run of runs) {
      const user = run.log_user ?? run.log ?? '';
      const text = this.showExecutor ? [user, run.log_executor ?? ''].filter(Boolean).join('\n') : user;
      if (text || runs.length > 1) {
        body.appendChild(element('div', 'kfp-log-title', prefix(run, runs)));
        body.appendChild(element('pre', 'kfp-log', text || '(no output of its own)'));
      }
      if (!run.whole_log && lineCount(user) >= LOG_LINES || (!run.whole_log && lineCount(run.log_executor ?? '') >= LOG_LINES)) {
        const more = element('button', 'kfp-button kfp-minimal kfp-whole-log', 'the whole log');
        more.title = 'The pane shows the last lines: read the rest from the kernel';
        more.addEventListener('click', () => this.onWholeLog(run.id));
        body.appendChild(more);
      }
    }
  }
}

function lineCount(text: string): number {
  return text ? text.split('\n').length : 0;
}

function prefix(run: TaskRun, runs: TaskRun[]): string {
  return runs.length > 1 ? run.item ?? run.id : '';
}

function table(values: Record<string, string> | undefined, caption: string): HTMLTableElement {
  const box = element('table', 'kfp-values');
  if (caption) {
    box.createCaption().textContent = caption;
  }
  for (const [name, value] of Object.entries(values ?? {})) {
    const row = box.insertRow();
    row.appendChild(element('th', '', name));
    const cell = row.insertCell();
    cell.appendChild(valueNode(value));
  }
  return box;
}

/** A value: JSON longer than a line folds away in a <details>; short text shows as is. */
function valueNode(value: string): Node {
  if (value.length > 80 && (value.startsWith('{') || value.startsWith('['))) {
    const fold = element('details', 'kfp-json');
    fold.append(element('summary', '', `${value.slice(0, 60)}…`), element('pre', '', value));
    return fold;
  }
  return document.createTextNode(value);
}

/** `%kfp debug …` with a copy button: run it in a cell to call the task in the kernel with its inputs. */
function debugLine(command: string): HTMLElement {
  const line = element('div', 'kfp-debug');
  line.appendChild(element('span', 'kfp-debug-label', 'Debug in the kernel:'));
  line.appendChild(element('code', 'kfp-debug-command', command));
  const copy = element('button', 'kfp-button kfp-minimal kfp-debug-copy', 'copy');
  copy.title = 'Copy the command, then run it in a cell';
  copy.addEventListener('click', () => {
    void copyText(command).then(done => (copy.textContent = done ? 'copied' : 'select and copy'));
  });
  line.appendChild(copy);
  return line;
}

/** The clipboard where the host allows it (a sandboxed output frame may not): true when copied. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
