// The pipeline panel's front end: draws the DOT with Graphviz (WebAssembly), shows run states in place.
import { DOMWidgetModel, DOMWidgetView, ISerializers } from '@jupyter-widgets/base';
import { instance, Viz } from '@viz-js/viz';

import { DetailsPane, element } from './details';
import { BADGES_CLASS, badgeLine, DOT_CLASS } from './dot';
import {
  ButtonAction,
  Details,
  KernelEvent,
  Look,
  Message,
  Metrics,
  PanelAction,
  Parameter,
  pendingAfterAck,
  RunView
} from './messages';
import { canPopOut, popOut } from './popout';
import { NODE_STATES } from './states';
import { Viewport } from './viewport';

// The one place the version is written is package.json; the kernel reads the built copy of it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const packageJson = require('../package.json') as { name: string; version: string };

export const MODULE_NAME = packageJson.name;
export const MODULE_VERSION = packageJson.version;
const SVG_NS = 'http://www.w3.org/2000/svg';

const TYPE_NAMES: Record<string, string> = {
  NUMBER_INTEGER: 'int',
  NUMBER_DOUBLE: 'float',
  STRING: 'str',
  BOOLEAN: 'bool',
  LIST: 'list, JSON',
  STRUCT: 'dict, JSON'
};

let vizPromise: Promise<Viz> | null = null;

/** One Graphviz instance per page: the WebAssembly module is compiled once. */
export function graphviz(): Promise<Viz> {
  if (vizPromise === null) {
    vizPromise = instance();
  }
  return vizPromise;
}

export class PipelinePanelModel extends DOMWidgetModel {
  defaults() {
    return {
      ...super.defaults(),
      _model_name: 'PipelinePanelModel',
      _view_name: 'PipelinePanelView',
      _model_module: MODULE_NAME,
      _view_module: MODULE_NAME,
      _model_module_version: MODULE_VERSION,
      _view_module_version: MODULE_VERSION,
      title: '',
      description: '',
      dot: '',
      node_states: {},
      progress: '',
      run_id: '',
      run_link: '',
      parameters: [],
      values: {},
      field_errors: {},
      busy: '',
      submit_enabled: false,
      submit_reason: '',
      compiled_path: '',
      message: {},
      details: {},
      metrics: {},
      needs_svg: false,
      legend: [],
      run_view: {}
    };
  }

  static serializers: ISerializers = { ...DOMWidgetModel.serializers };
}

/** Elapsed seconds as the progress line shows them: '8.4 s', '2 min 05 s'. */
export function elapsedText(seconds: number): string {
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${String(Math.floor(seconds % 60)).padStart(2, '0')} s`;
}

/** A loop's iterations by state: '✓13 ⟳2 ✗1 / 20'. */
export function loopText(counts: Record<string, number>, looks: Record<string, Look>): string {
  const order = Object.keys(looks); // the legend's order: waiting, running, succeeded, …, failed
  const parts = Object.entries(counts)
    .filter(([state, count]) => state !== 'total' && count > 0)
    .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))
    .map(([state, count]) => `${looks[state]?.icon ?? state}${count}`);
  return `${parts.join(' ')} / ${counts.total ?? '?'}`;
}

export class PipelinePanelView extends DOMWidgetView {
  private buttons: Record<string, HTMLButtonElement> = {};
  private progressLine = element('span', 'kfp-progress');
  private runLink = element('a', 'kfp-run-link');
  private failureLine = element('div', 'kfp-failure');
  private form = element('div', 'kfp-params');
  private messageBox = element('div', 'kfp-message');
  private noticeBox = element('div', 'kfp-notices');
  private compiledBox = element('div', 'kfp-compiled');
  private dag = element('div', 'kfp-dag kfp-viewport');
  private viewport = new Viewport(this.dag);
  private zoomLabel = element('span', 'kfp-zoom-level');
  private pane = new DetailsPane();
  private legendBox = element('div', 'kfp-legend');
  private metricsBox = element('div', 'kfp-metrics');
  private svg: SVGSVGElement | null = null;
  private selected = '';
  private pending = '';
  private downloadUrl = '';
  private ticker = 0;

  render(): void {
    this.el.classList.add('kfp-panel');
    const header = element('div', 'kfp-header');
    header.append(element('span', 'kfp-title', this.model.get('title')), this.progressLine, this.runLink);
    const description = element('div', 'kfp-description', this.model.get('description'));
    const body = element('div', 'kfp-body');
    body.append(this.dag, this.pane.node);
    this.el.append(header, description, this.failureLine, this.toolbar(), this.form, this.messageBox, this.noticeBox, this.compiledBox);
    this.el.append(body, this.legendBox, this.metricsBox);
    this.pane.onClose = () => this.select('');
    this.pane.onOpenRun = run => this.send({ action: 'select', node: run.id } as PanelAction);
    this.viewport.onChange = scale => (this.zoomLabel.textContent = `${Math.round(scale * 100)}%`);
    this.dag.tabIndex = -1;
    // keys on the DAG and in the pane are ours (arrows, Enter, Escape), not the notebook's shortcuts
    this.dag.setAttribute('data-lm-suppress-shortcuts', 'true');
    this.pane.node.setAttribute('data-lm-suppress-shortcuts', 'true');
    this.dag.addEventListener('keydown', event => this.onKey(event));
    this.renderAll();
    void this.drawDag();
    this.listenTo(this.model, 'change:dot', () => void this.drawDag());
    this.listenTo(this.model, 'change:node_states change:run_view', () => this.showRun());
    this.listenTo(this.model, 'change:busy change:submit_enabled change:submit_reason', () => this.updateButtons());
    this.listenTo(this.model, 'change:progress', () => this.renderProgress());
    this.listenTo(this.model, 'change:field_errors change:parameters', () => this.renderForm());
    this.listenTo(this.model, 'change:message change:run_view', () => this.renderMessage());
    this.listenTo(this.model, 'change:run_link', () => this.renderRunLink());
    this.listenTo(this.model, 'change:metrics', () => this.renderMetrics());
    this.listenTo(this.model, 'change:details', () => this.pane.show(this.model.get('details') as Details));
    this.listenTo(this.model, 'change:legend', () => {
      this.pane.setLegend(this.model.get('legend'));
      this.renderLegend();
    });
    this.listenTo(this.model, 'msg:custom', (content: KernelEvent) => this.onCustom(content));
    this.ticker = window.setInterval(() => this.renderProgress(), 1000);
  }

  remove(): void {
    window.clearInterval(this.ticker);
    if (this.downloadUrl) {
      URL.revokeObjectURL(this.downloadUrl);
    }
    super.remove();
  }

  send(content: PanelAction): void {
    super.send(content);
  }

  private renderAll(): void {
    this.pane.setLegend(this.model.get('legend'));
    this.renderRunLink();
    this.renderForm();
    this.updateButtons();
    this.renderMessage();
    this.renderMetrics();
    this.renderLegend();
    this.renderProgress();
    this.pane.show(this.model.get('details') as Details);
  }

  private looks(): Record<string, Look> {
    return Object.fromEntries((this.model.get('legend') as Look[]).map(look => [look.state, look]));
  }

  private toolbar(): HTMLElement {
    const bar = element('div', 'kfp-toolbar');
    const actions: [string, string, string][] = [
      ['compile', 'Compile', ''],
      ['run', 'Run locally', 'jp-mod-accept'],
      ['submit', 'Submit to Kubeflow', ''],
      ['stop', 'Stop', 'jp-mod-warn']
    ];
    for (const [action, label, look] of actions) {
      const button = element('button', `jp-Button jp-mod-styled ${look} kfp-button kfp-${action}`, label);
      button.addEventListener('click', () => this.act(action as ButtonAction));
      this.buttons[action] = button;
      bar.appendChild(button);
    }
    bar.appendChild(element('span', 'kfp-spacer'));
    const zoom: [string, string, string, () => unknown][] = [
      ['zoom-out', '−', 'Zoom out (Ctrl/Cmd + wheel)', () => this.viewport.zoomOut()],
      ['zoom-in', '+', 'Zoom in (Ctrl/Cmd + wheel)', () => this.viewport.zoomIn()],
      ['fit', 'Fit', 'Fit the width', () => this.viewport.fit()],
      ['actual', '1:1', 'Actual size', () => this.viewport.chooseScale(1)],
      ['popout', '⤢', 'Open the panel in a main-area tab', () => void popOut(this)]
    ];
    for (const [name, label, title, action] of zoom) {
      const button = element('button', `jp-Button jp-mod-styled jp-mod-minimal kfp-${name}`, label);
      button.title = title;
      button.setAttribute('aria-label', title);
      button.addEventListener('click', () => {
        const started = performance.now();
        action();
        this.dag.getBoundingClientRect(); // the resized SVG laid out: what the user waits for
        this.el.dataset.zoomMs = (performance.now() - started).toFixed(2);
      });
      button.hidden = name === 'popout' && !canPopOut();
      bar.appendChild(button);
      if (name === 'zoom-in') {
        bar.appendChild(this.zoomLabel);
      }
    }
    return bar;
  }

  private act(action: ButtonAction): void {
    if (this.buttons[action].disabled) {
      return;
    }
    // disabled at once, until the kernel says it handled the action: a double click sends one message
    this.pending = action === 'stop' ? this.pending : action;
    this.updateButtons();
    this.send({ action, values: this.currentValues() });
  }

  private updateButtons(): void {
    const busy: string = this.model.get('busy') || this.pending;
    this.buttons.compile.disabled = busy !== '';
    this.buttons.run.disabled = busy !== '';
    this.buttons.stop.disabled = busy !== 'run';
    const submitEnabled: boolean = this.model.get('submit_enabled');
    this.buttons.submit.disabled = busy !== '' || !submitEnabled;
    this.buttons.submit.title = submitEnabled ? 'Submit a run to Kubeflow Pipelines' : this.model.get('submit_reason');
  }

  private currentValues(): Record<string, string> {
    const values: Record<string, string> = {};
    this.form.querySelectorAll('input').forEach(input => (values[input.name] = input.value));
    return values;
  }

  private renderForm(): void {
    const parameters: Parameter[] = this.model.get('parameters');
    const values: Record<string, string> = { ...this.model.get('values'), ...this.currentValues() };
    const errors: Record<string, string> = this.model.get('field_errors');
    this.form.textContent = '';
    for (const parameter of parameters) {
      const row = element('label', 'kfp-field');
      row.appendChild(element('span', 'kfp-field-name', `${parameter.name} (${TYPE_NAMES[parameter.type] ?? parameter.type})`));
      const input = element('input', 'jp-mod-styled kfp-field-input');
      input.name = parameter.name;
      input.value = values[parameter.name] ?? parameter.default;
      input.placeholder = parameter.required ? 'required' : parameter.default;
      row.appendChild(input);
      if (errors[parameter.name]) {
        row.classList.add('kfp-invalid');
        input.setAttribute('aria-invalid', 'true');
        row.appendChild(element('span', 'kfp-field-error', errors[parameter.name]));
      }
      this.form.appendChild(row);
    }
  }

  private renderRunLink(): void {
    const link: string = this.model.get('run_link');
    this.runLink.textContent = link ? 'open in the Kubeflow Pipelines UI' : '';
    this.runLink.href = link || '#';
    this.runLink.target = '_blank';
    this.runLink.rel = 'noopener';
    this.runLink.style.display = link ? '' : 'none';
  }

  /** 'running · 3/22 tasks · 14/20 iterations · 1 failed · 12.3 s': elapsed time ticks here, not in the kernel. */
  private renderProgress(): void {
    const view = this.model.get('run_view') as RunView;
    if (!view.state || !view.counts || view.started === undefined) {
      this.progressLine.textContent = this.model.get('progress');
      return;
    }
    const parts = [view.state.toLowerCase(), view.counts];
    const end = view.finished ?? Date.now() / 1000;
    parts.push(elapsedText(Math.max(0, end - view.started)));
    this.progressLine.textContent = parts.join(' · ');
    this.progressLine.dataset.state = view.state;
  }

  private renderMessage(): void {
    const message = this.model.get('message') as Message;
    this.messageBox.textContent = '';
    this.messageBox.className = `kfp-message kfp-${message.kind ?? 'none'}`;
    if (!message.text) {
      return;
    }
    if (message.text !== (this.model.get('run_view') as RunView).failure?.text) {
      this.messageBox.appendChild(element('span', 'kfp-message-text', message.text)); // the failure line says it already
    }
    if (message.details) {
      const details = element('details', 'kfp-message-details');
      details.appendChild(element('summary', '', 'details'));
      details.appendChild(element('pre', '', message.details));
      this.messageBox.appendChild(details);
    }
  }

  /** Failures first: the failed task in the user's words, with a marker that shows it in the DAG. */
  private renderFailure(view: RunView): void {
    this.failureLine.textContent = '';
    const failure = view.failure ?? {};
    if (!failure.text) {
      return;
    }
    const marker = element('button', 'jp-Button jp-mod-minimal kfp-failure-marker', '✗');
    marker.title = 'Show the failed task';
    marker.addEventListener('click', () => failure.node && this.select(failure.node));
    this.failureLine.append(marker, element('span', 'kfp-failure-text', failure.text));
  }

  private renderNotices(view: RunView): void {
    this.noticeBox.textContent = '';
    for (const notice of view.notices ?? []) {
      this.noticeBox.appendChild(element('div', 'kfp-notice', notice));
    }
  }

  private renderLegend(): void {
    this.legendBox.textContent = '';
    for (const look of this.model.get('legend') as Look[]) {
      const chip = element('span', 'kfp-legend-item');
      chip.dataset.state = look.state;
      chip.title = look.meaning;
      const swatch = document.createElementNS(SVG_NS, 'svg');
      swatch.setAttribute('class', 'kfp-swatch');
      swatch.setAttribute('width', '22');
      swatch.setAttribute('height', '14');
      swatch.innerHTML = `<rect x="1" y="1" width="20" height="12" rx="3"/><text x="11" y="11" text-anchor="middle">${look.icon}</text>`;
      chip.append(swatch, document.createTextNode(look.label));
      this.legendBox.appendChild(chip);
    }
  }

  private onCustom(content: KernelEvent): void {
    if (content.event === 'handled') {
      this.pending = pendingAfterAck(this.pending, content.action);
      this.updateButtons();
      return;
    }
    if (this.downloadUrl) {
      URL.revokeObjectURL(this.downloadUrl);
    }
    this.downloadUrl = URL.createObjectURL(new Blob([content.yaml], { type: 'application/yaml' }));
    this.compiledBox.textContent = '';
    this.compiledBox.appendChild(element('span', 'kfp-compiled-path', `compiled: ${content.path}`));
    const link = element('a', 'kfp-download', 'download');
    link.href = this.downloadUrl;
    link.download = String(content.path).split('/').pop() ?? 'pipeline.yaml';
    this.compiledBox.appendChild(link);
  }

  private async drawDag(): Promise<void> {
    const dot: string = this.model.get('dot');
    if (!dot) {
      return;
    }
    const started = performance.now();
    try {
      const viz = await graphviz();
      const svg = viz.renderSVGElement(dot);
      svg.classList.add('kfp-dag-svg');
      this.dag.textContent = '';
      this.dag.appendChild(svg);
      this.svg = svg;
      this.prepareNodes(svg);
      this.viewport.show(svg);
      this.showRun();
      this.el.dataset.renderMs = (performance.now() - started).toFixed(1);
      if (this.model.get('needs_svg')) {
        this.send({ action: 'svg', svg: svg.outerHTML });
      }
    } catch (error) {
      this.dag.textContent = `could not draw the pipeline: ${error}`;
    }
  }

  /** Once per drawing: nodes become keyboard-reachable buttons with an icon slot; loops get a progress slot. */
  private prepareNodes(svg: SVGSVGElement): void {
    svg.querySelectorAll('title').forEach(title => title.remove());
    svg.querySelectorAll('g.node').forEach(node => {
      node.setAttribute('tabindex', '0');
      node.setAttribute('role', 'button');
      node.setAttribute('aria-label', (node.querySelector('text')?.textContent ?? node.id).trim());
      node.addEventListener('click', () => this.select(node.id));
      badgeLine(node)?.classList.add(BADGES_CLASS);
      const box = shapeBox(node.querySelector('path, polygon'));
      if (box) {
        node.appendChild(svgText('kfp-icon', box.x + 9, box.y + 12, ''));
      }
    });
    svg.querySelectorAll('g.cluster').forEach(cluster => {
      const box = shapeBox(cluster.querySelector('path, polygon'));
      const label = cluster.querySelector('text');
      if (box && label && cluster.classList.contains(DOT_CLASS.loop)) {
        // the DOT reserves a second label line for it (view/dag.py LOOP_PROGRESS_SPACE)
        const x = Number(label.getAttribute('x'));
        const text = svgText('kfp-loop-progress', x, Number(label.getAttribute('y')) + 13, '');
        text.setAttribute('text-anchor', 'middle');
        cluster.appendChild(text);
      }
      cluster.addEventListener('click', event => {
        if ((event.target as Element).closest('g.node') === null) {
          this.select(cluster.id);
        }
      });
    });
  }

  private select(id: string): void {
    this.selected = id;
    this.svg?.querySelectorAll('.kfp-selected').forEach(node => node.classList.remove('kfp-selected'));
    if (!id) {
      this.pane.show({});
      this.send({ action: 'select', node: '' }); // the kernel forgets it too: selecting it again shows it again
      return;
    }
    const node = this.svg?.querySelector(`[id="${CSS.escape(id)}"]`);
    node?.classList.add('kfp-selected');
    if (node) {
      this.viewport.reveal(node);
    }
    this.send({ action: 'select', node: id });
  }

  /** Arrow keys move between nodes, Enter opens one, Escape closes the details. */
  private onKey(event: KeyboardEvent): void {
    const nodes = [...(this.svg?.querySelectorAll<SVGGElement>('g.node') ?? [])];
    const index = nodes.findIndex(node => node === document.activeElement);
    const moves: Record<string, number> = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (event.key in moves && nodes.length) {
      event.preventDefault();
      nodes[(index + moves[event.key] + nodes.length) % nodes.length].focus();
    } else if ((event.key === 'Enter' || event.key === ' ') && index >= 0) {
      event.preventDefault();
      this.select(nodes[index].id);
    } else if (event.key === 'Escape') {
      this.select('');
    }
  }

  /** States, icons and loop progress in place: attributes and text change, the layout does not. */
  private showRun(): void {
    const view = this.model.get('run_view') as RunView;
    this.renderProgress();
    this.renderFailure(view);
    this.renderNotices(view);
    if (this.svg === null) {
      return;
    }
    const started = performance.now();
    const looks = this.looks();
    const states: Record<string, string> = { ...this.model.get('node_states'), ...(view.states ?? {}) };
    this.svg.querySelectorAll('g.node').forEach(node => {
      const state = states[node.id] ?? NODE_STATES[0];
      node.setAttribute('data-state', state);
      const icon = node.querySelector('.kfp-icon');
      if (icon) {
        icon.textContent = looks[state]?.icon ?? '';
      }
    });
    this.svg.querySelectorAll('g.cluster').forEach(cluster => {
      const state = states[cluster.id];
      state ? cluster.setAttribute('data-state', state) : cluster.removeAttribute('data-state');
      const progress = cluster.querySelector(':scope > .kfp-loop-progress');
      const counts = view.loops?.[cluster.id];
      if (progress) {
        progress.textContent = counts ? loopText(counts, looks) : '';
      }
    });
    if (this.selected && (states[this.selected] ?? '') !== (this.el.dataset.selectedState ?? '')) {
      this.send({ action: 'select', node: this.selected }); // the details follow the run
    }
    this.el.dataset.selectedState = states[this.selected] ?? '';
    this.el.dataset.paintMs = (performance.now() - started).toFixed(2);
  }

  private renderMetrics(): void {
    const metrics = this.model.get('metrics') as Metrics;
    this.metricsBox.textContent = '';
    if (!metrics.columns || !metrics.rows || metrics.rows.length === 0) {
      return;
    }
    const table = element('table', 'kfp-metrics-table');
    const head = table.createTHead().insertRow();
    head.appendChild(element('th', ''));
    metrics.columns.forEach(column => head.appendChild(element('th', '', column)));
    const body = table.createTBody();
    for (const [name, values] of metrics.rows) {
      const row = body.insertRow();
      row.appendChild(element('th', '', name));
      values.forEach(value => (row.insertCell().textContent = value));
    }
    this.metricsBox.appendChild(table);
  }
}

/** A shape's box from its own coordinates (getBBox needs layout, which a notebook cell out of view lacks). */
export function shapeBox(shape: Element | null): { x: number; y: number; width: number; height: number } | null {
  const numbers = (shape?.getAttribute('points') ?? shape?.getAttribute('d') ?? '').match(/-?\d+(\.\d+)?/g)?.map(Number);
  if (!numbers || numbers.length < 4) {
    return null;
  }
  const xs = numbers.filter((_, i) => i % 2 === 0);
  const ys = numbers.filter((_, i) => i % 2 === 1);
  const [x, y] = [Math.min(...xs), Math.min(...ys)];
  return { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y };
}

function svgText(className: string, x: number, y: number, text: string): SVGTextElement {
  const node = document.createElementNS(SVG_NS, 'text');
  node.setAttribute('class', className);
  node.setAttribute('x', String(x));
  node.setAttribute('y', String(y));
  node.textContent = text;
  return node;
}
