// The pipeline panel's front end: draws the DOT with Graphviz (WebAssembly), colours task states in place.
import { DOMWidgetModel, DOMWidgetView, ISerializers } from '@jupyter-widgets/base';
import { instance, Viz } from '@viz-js/viz';

export const MODULE_NAME = 'kfp-notebook';
export const MODULE_VERSION = '0.1.0';

const STATE_COLORS: Record<string, string> = {
  PENDING: '#ffffff',
  RUNNING: '#cfe2ff',
  SUCCEEDED: '#c8f0c8',
  CACHED: '#d9f2e6',
  FAILED: '#f8c6c6',
  SKIPPED: '#eeeeee',
  CANCELED: '#ffe0b2',
  LOST: '#d7ccc8'
};

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
      needs_svg: false
    };
  }

  static serializers: ISerializers = { ...DOMWidgetModel.serializers };
}

interface Parameter {
  name: string;
  type: string;
  default: string;
  required: boolean;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text) {
    node.textContent = text;
  }
  return node;
}

export class PipelinePanelView extends DOMWidgetView {
  private buttons: Record<string, HTMLButtonElement> = {};
  private progressLine = element('span', 'kfp-progress');
  private runLink = element('a', 'kfp-run-link');
  private form = element('div', 'kfp-params');
  private messageBox = element('div', 'kfp-message');
  private compiledBox = element('div', 'kfp-compiled');
  private dag = element('div', 'kfp-dag');
  private detailsBox = element('div', 'kfp-details');
  private metricsBox = element('div', 'kfp-metrics');
  private svg: SVGSVGElement | null = null;
  private pending = '';
  private downloadUrl = '';

  render(): void {
    this.el.classList.add('kfp-panel');
    const header = element('div', 'kfp-header');
    header.appendChild(element('span', 'kfp-title', this.model.get('title')));
    header.appendChild(this.progressLine);
    header.appendChild(this.runLink);
    this.renderRunLink();
    this.el.append(header, this.toolbar(), this.form, this.messageBox, this.compiledBox, this.dag, this.detailsBox, this.metricsBox);
    this.renderForm();
    this.updateButtons();
    this.renderMessage();
    this.renderMetrics();
    this.renderDetails();
    this.progressLine.textContent = this.model.get('progress');
    void this.drawDag();
    this.listenTo(this.model, 'change:dot', () => void this.drawDag());
    this.listenTo(this.model, 'change:node_states', () => this.colourNodes());
    this.listenTo(this.model, 'change:busy change:submit_enabled change:submit_reason', () => this.updateButtons());
    this.listenTo(this.model, 'change:progress', () => (this.progressLine.textContent = this.model.get('progress')));
    this.listenTo(this.model, 'change:field_errors change:parameters', () => this.renderForm());
    this.listenTo(this.model, 'change:message', () => this.renderMessage());
    this.listenTo(this.model, 'change:run_link', () => this.renderRunLink());
    this.listenTo(this.model, 'change:metrics', () => this.renderMetrics());
    this.listenTo(this.model, 'change:details', () => this.renderDetails());
    this.listenTo(this.model, 'msg:custom', (content: any) => this.onCustom(content));
  }

  remove(): void {
    if (this.downloadUrl) {
      URL.revokeObjectURL(this.downloadUrl);
    }
    super.remove();
  }

  private toolbar(): HTMLElement {
    const bar = element('div', 'kfp-toolbar');
    const actions: [string, string][] = [
      ['compile', 'Compile'],
      ['run', 'Run locally'],
      ['submit', 'Submit to Kubeflow'],
      ['stop', 'Stop']
    ];
    for (const [action, label] of actions) {
      const button = element('button', `kfp-button kfp-${action}`, label);
      button.addEventListener('click', () => this.act(action));
      this.buttons[action] = button;
      bar.appendChild(button);
    }
    return bar;
  }

  private act(action: string): void {
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
      const input = element('input', 'kfp-field-input');
      input.name = parameter.name;
      input.value = values[parameter.name] ?? parameter.default;
      input.placeholder = parameter.required ? 'required' : parameter.default;
      row.appendChild(input);
      if (errors[parameter.name]) {
        row.classList.add('kfp-invalid');
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

  private renderMessage(): void {
    const message = this.model.get('message') as { kind?: string; text?: string; details?: string };
    this.messageBox.textContent = '';
    this.messageBox.className = `kfp-message kfp-${message.kind ?? 'none'}`;
    if (!message.text) {
      return;
    }
    this.messageBox.appendChild(element('span', 'kfp-message-text', message.text));
    if (message.details) {
      const details = element('details', 'kfp-message-details');
      details.appendChild(element('summary', '', 'details'));
      details.appendChild(element('pre', '', message.details));
      this.messageBox.appendChild(details);
    }
  }

  private onCustom(content: any): void {
    if (content.event === 'handled') {
      this.pending = '';
      this.updateButtons();
      return;
    }
    if (content.event !== 'compiled') {
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
      svg.querySelectorAll('g.node').forEach(node => node.addEventListener('click', () => this.send({ action: 'select', node: node.id })));
      this.colourNodes();
      this.el.dataset.renderMs = (performance.now() - started).toFixed(1);
      if (this.model.get('needs_svg')) {
        this.send({ action: 'svg', svg: svg.outerHTML });
      }
    } catch (error) {
      this.dag.textContent = `could not draw the pipeline: ${error}`;
    }
  }

  /** Recolour nodes from node_states: attributes change, the layout does not. */
  private colourNodes(): void {
    if (this.svg === null) {
      return;
    }
    const started = performance.now();
    const states: Record<string, string> = this.model.get('node_states');
    this.svg.querySelectorAll('g.node').forEach(node => {
      const state = states[node.id] ?? 'PENDING';
      node.setAttribute('data-state', state);
      node.querySelectorAll('path, polygon, ellipse').forEach(shape => shape.setAttribute('fill', STATE_COLORS[state] ?? '#ffffff'));
    });
    this.svg.querySelectorAll('g.cluster').forEach(cluster => {
      const state = states[cluster.id];
      if (state) {
        cluster.setAttribute('data-state', state);
      }
    });
    this.el.dataset.paintMs = (performance.now() - started).toFixed(2);
  }

  private renderMetrics(): void {
    const metrics = this.model.get('metrics') as { columns?: string[]; rows?: [string, string[]][] };
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

  private renderDetails(): void {
    const details = this.model.get('details') as Record<string, any>;
    this.detailsBox.textContent = '';
    if (!details.id) {
      return;
    }
    this.detailsBox.appendChild(element('h4', '', `${details.label} (${details.component})`));
    this.detailsBox.appendChild(element('div', 'kfp-detail-image', `image: ${details.image}`));
    if (details.badges?.length) {
      this.detailsBox.appendChild(element('div', 'kfp-detail-badges', details.badges.join(' · ')));
    }
    for (const run of details.runs ?? []) {
      const block = element('div', 'kfp-detail-run');
      block.appendChild(element('div', 'kfp-detail-state', `${run.id}: ${run.state}`));
      if (run.inputs && Object.keys(run.inputs).length) {
        block.appendChild(element('pre', 'kfp-detail-inputs', `inputs ${JSON.stringify(run.inputs, null, 2)}`));
      }
      if (run.outputs && Object.keys(run.outputs).length) {
        block.appendChild(element('pre', 'kfp-detail-outputs', `outputs ${JSON.stringify(run.outputs, null, 2)}`));
      }
      if (run.metrics && Object.keys(run.metrics).length) {
        block.appendChild(element('pre', 'kfp-detail-metrics', `metrics ${JSON.stringify(run.metrics, null, 2)}`));
      }
      if (run.log) {
        block.appendChild(element('pre', 'kfp-detail-log', run.log));
      }
      this.detailsBox.appendChild(block);
    }
    if (details.source) {
      const source = element('details', 'kfp-detail-source');
      source.appendChild(element('summary', '', 'component source'));
      source.appendChild(element('pre', '', details.source));
      this.detailsBox.appendChild(source);
    }
  }
}
