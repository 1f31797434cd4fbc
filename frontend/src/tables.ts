// The panel's Runs and Compare views: the kernel reads the pipeline's runs and compares the checked ones
// (view/on_demand.py `runs` and `compare`, off its event loop); these draw what it sends.
import { element } from './details';
import { Comparison, RunsList } from './messages';

const VIEWS: [string, string][] = [
  ['pipeline', 'Pipeline'],
  ['runs', 'Runs'],
  ['compare', 'Compare']
];
/** The newest runs checked for Compare when the list arrives. */
const COMPARED = 5;

export class Tables {
  readonly bar = element('div', 'kfp-views');
  readonly node = element('div', 'kfp-table-view');
  pipelineNode: HTMLElement | null = null;
  private readonly ask: (content: { action: 'runs' } | { action: 'compare'; runs: string[] }) => void;
  private shown = 'pipeline';
  private runs: RunsList | null = null;
  private checked = new Set<string>();
  private compareWhenListed = false;

  constructor(ask: Tables['ask']) {
    this.ask = ask;
    this.bar.setAttribute('role', 'tablist');
    for (const [view, label] of VIEWS) {
      const button = element('button', 'kfp-view-tab', label);
      button.dataset.view = view;
      button.setAttribute('role', 'tab');
      button.addEventListener('click', () => this.open(view));
      this.bar.appendChild(button);
    }
    this.show('pipeline');
  }

  /** A view's tab clicked: Runs and Compare are read anew each time (runs of other kernels and the CLI too). */
  private open(view: string): void {
    this.show(view);
    if (view === 'runs' || (view === 'compare' && this.checked.size === 0)) {
      this.node.textContent = 'reading the runs…';
      this.compareWhenListed = view === 'compare';
      this.ask({ action: 'runs' });
    } else if (view === 'compare') {
      this.compare();
    }
  }

  private compare(): void {
    const runs = (this.runs?.rows ?? []).map(row => String(row[0])).filter(id => this.checked.has(id));
    this.node.textContent = runs.length ? 'comparing…' : 'no runs of this pipeline yet: run it, then compare';
    if (runs.length) {
      this.ask({ action: 'compare', runs });
    }
  }

  /** The kernel's list of runs (newest first; the first column is the run id). */
  listed(runs: RunsList): void {
    this.runs = runs;
    const ids = runs.rows.map(row => String(row[0]));
    this.checked = new Set(ids.filter(id => this.checked.has(id)));
    if (this.checked.size === 0) {
      ids.slice(0, COMPARED).forEach(id => this.checked.add(id));
    }
    if (this.compareWhenListed) {
      this.compareWhenListed = false;
      this.compare();
    } else if (this.shown === 'runs') {
      this.node.replaceChildren(...this.runsNodes(runs));
    }
  }

  /** The kernel could not read or compare the runs (its message): said here, where the user is looking. */
  failed(text: string): void {
    if (this.shown !== 'pipeline' && this.node.querySelector('table') === null) {
      this.node.replaceChildren(element('div', 'kfp-message kfp-error', text));
    }
  }

  compared(comparison: Comparison): void {
    if (this.shown === 'compare') {
      this.node.replaceChildren(...comparisonNodes(comparison));
    }
  }

  private show(view: string): void {
    this.shown = view;
    this.bar.querySelectorAll<HTMLElement>('.kfp-view-tab').forEach(tab => {
      tab.classList.toggle('kfp-view-active', tab.dataset.view === view);
      tab.setAttribute('aria-selected', String(tab.dataset.view === view));
    });
    if (this.pipelineNode) {
      this.pipelineNode.hidden = view !== 'pipeline';
    }
    this.node.hidden = view === 'pipeline';
  }

  /** The runs as a table, a box per run to choose what Compare shows, and the Compare button. */
  private runsNodes(runs: RunsList): HTMLElement[] {
    if (runs.rows.length === 0) {
      return [element('div', 'kfp-empty', 'no runs of this pipeline yet'), ...notes(runs.notes)];
    }
    const table = element('table', 'kfp-runs-table');
    const head = table.createTHead().insertRow();
    head.appendChild(element('th', '', 'compare'));
    runs.columns.forEach(column => head.appendChild(element('th', '', column)));
    const body = table.createTBody();
    for (const row of runs.rows) {
      const id = String(row[0]);
      const line = body.insertRow();
      const box = element('input');
      box.type = 'checkbox';
      box.checked = this.checked.has(id);
      box.setAttribute('aria-label', `compare ${id}`);
      box.addEventListener('change', () => (box.checked ? this.checked.add(id) : this.checked.delete(id)));
      line.insertCell().appendChild(box);
      row.forEach((value, index) => (line.insertCell().textContent = cellText(value, runs.columns[index])));
    }
    const button = element('button', 'kfp-button kfp-compare-checked', 'Compare the checked runs');
    button.addEventListener('click', () => this.open('compare'));
    return [button, table, ...notes(runs.notes)];
  }
}

/** Parameters (those that differ marked) and metrics (the best value marked ★) side by side, then plots. */
export function comparisonNodes(comparison: Comparison): HTMLElement[] {
  const table = element('table', 'kfp-compare-table');
  const head = table.createTHead().insertRow();
  head.append(element('th', ''), ...comparison.runs.map(run => element('th', '', run.run_id)));
  const body = table.createTBody();
  for (const parameter of comparison.parameters) {
    const row = body.insertRow();
    row.className = parameter.differs ? 'kfp-differs' : '';
    row.appendChild(element('th', '', parameter.name));
    parameter.values.forEach(value => (row.insertCell().textContent = cellText(value)));
  }
  for (const metric of comparison.metrics) {
    const row = body.insertRow();
    row.appendChild(element('th', '', `${metric.task}.${metric.name} (${metric.goal === 'min' ? 'lower' : 'higher'} is better)`));
    metric.values.forEach((value, index) => {
      const cell = row.insertCell();
      const best = metric.best.includes(index);
      cell.textContent = cellText(value) + (best ? ' ★' : '');
      cell.className = best ? 'kfp-best' : '';
    });
  }
  const plots = element('div', 'kfp-compare-plots');
  for (const plot of comparison.plots ?? []) {
    const figure = element('div', 'kfp-compare-plot');
    figure.innerHTML = plot.svg; // the kernel's own SVG (view/plots.py), every text escaped there
    plots.appendChild(figure);
  }
  return [...(comparison.notice ? [element('div', 'kfp-note', comparison.notice)] : []), table, plots];
}

function notes(texts: string[] | undefined): HTMLElement[] {
  return (texts ?? []).map(text => element('div', 'kfp-note', text));
}

function cellText(value: unknown, column = ''): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (column === 'started' && typeof value === 'number') {
    return new Date(value * 1000).toLocaleString();
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}
