// The pipeline panel's view: the DAG as the kernel drew it (SVG), run states coloured in place, the side pane.
import { DetailsPane, element } from './details';
import { paintStates, parseSvg, prepareDag } from './dag';
import { ButtonAction, KernelEvent, Look, Message, PanelAction, pendingAfterAck, RunView } from './messages';
import { listen, Model } from './model';
import { Files } from './files';
import { PopOut } from './popout';
import { elapsedText, formRows, legendChip, metricsTable, runInfoNodes } from './sections';
import { Tables } from './tables';
import { toolbar, ViewAction } from './toolbar';
import { Viewport } from './viewport';

/** How long a button waits for the kernel's acknowledgement before saying that no kernel answers. */
const NO_ANSWER_MS = 15000;

export class PanelView {
  readonly root = element('div', 'kfp-panel');
  private readonly model: Model;
  private buttons: Record<string, HTMLButtonElement> = {};
  private progressLine = element('span', 'kfp-progress');
  private runLink = element('a', 'kfp-run-link');
  private runInfoLine = element('div', 'kfp-run-info');
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
  private popOut = new PopOut(this.root);
  private tables: Tables;
  private svg: SVGSVGElement | null = null;
  private selected = '';
  private pending = '';
  private files = new Files();
  private ticker = 0;
  private unanswered = 0;
  private localNotice = element('div', 'kfp-local-notice');
  private undo: (() => void)[] = [];

  constructor(model: Model, el: HTMLElement) {
    this.model = model;
    this.tables = new Tables(content => this.send(content));
    el.appendChild(this.root);
    this.build();
    this.renderAll();
    this.drawDag();
    this.listen();
    this.ticker = window.setInterval(() => this.renderProgress(), 1000);
  }

  remove(): void {
    window.clearInterval(this.ticker);
    window.clearTimeout(this.unanswered);
    this.files.dispose();
    this.undo.forEach(undo => undo());
    this.popOut.dispose();
    this.root.remove();
  }

  private send(content: PanelAction): void {
    this.model.send(content);
  }

  private build(): void {
    const header = element('div', 'kfp-header');
    header.append(element('span', 'kfp-title', this.model.get('title')), this.progressLine, this.runLink);
    const description = element('div', 'kfp-description', this.model.get('description'));
    const body = element('div', 'kfp-body');
    body.append(this.dag, this.pane.node);
    const pipeline = element('div', 'kfp-pipeline-view');
    pipeline.append(this.failureLine, this.toolbar(), this.localNotice, this.form, this.messageBox, this.noticeBox, this.compiledBox);
    pipeline.append(body, this.legendBox, this.metricsBox);
    this.root.append(header, description, this.runInfoLine, this.tables.bar, pipeline, this.tables.node);
    this.tables.pipelineNode = pipeline;
    this.pane.onClose = () => this.select('');
    this.pane.onOpenRun = run => this.send({ action: 'select', node: run.id });
    this.pane.onArtifact = (task, output) => this.send({ action: 'download', task, output });
    this.pane.onWholeLog = task => this.send({ action: 'log', task });
    this.viewport.onChange = scale => (this.zoomLabel.textContent = `${Math.round(scale * 100)}%`);
    this.popOut.onChange = active => {
      this.buttons.popout.textContent = active ? '⤡' : '⤢';
      this.buttons.popout.title = active ? 'Back into the notebook (Escape)' : 'Fill the window (Escape to return)';
      window.requestAnimationFrame(() => this.viewport.refit());
    };
    this.dag.tabIndex = -1;
    // keys on the DAG and in the pane are ours (arrows, Enter, Escape), not the notebook's shortcuts
    this.dag.setAttribute('data-lm-suppress-shortcuts', 'true');
    this.pane.node.setAttribute('data-lm-suppress-shortcuts', 'true');
    this.dag.addEventListener('keydown', event => this.onKey(event));
  }

  private listen(): void {
    const on = (names: Parameters<typeof listen>[1], callback: () => void) =>
      this.undo.push(listen(this.model, names, callback));
    on(['svg'], () => this.drawDag());
    on(['node_states', 'run_view'], () => this.showRun());
    on(['busy', 'submit_enabled', 'submit_reason', 'run_view'], () => this.updateButtons());
    on(['progress'], () => this.renderProgress());
    on(['field_errors', 'parameters'], () => this.renderForm());
    on(['message', 'run_view'], () => this.renderMessage());
    on(['run_link'], () => this.renderRunLink());
    on(['run_info'], () => this.renderRunInfo());
    on(['metrics'], () => this.renderMetrics());
    on(['details'], () => this.pane.show(this.model.get('details')));
    on(['legend'], () => {
      this.pane.setLegend(this.model.get('legend'));
      this.renderLegend();
    });
    const custom = (content: KernelEvent) => this.onCustom(content);
    this.model.on('msg:custom', custom);
    this.undo.push(() => this.model.off('msg:custom', custom));
  }

  private renderAll(): void {
    this.pane.setLegend(this.model.get('legend'));
    this.renderRunLink();
    this.renderRunInfo();
    this.renderForm();
    this.updateButtons();
    this.renderMessage();
    this.renderMetrics();
    this.renderLegend();
    this.renderProgress();
    this.pane.show(this.model.get('details'));
  }

  private looks(): Record<string, Look> {
    return Object.fromEntries(this.model.get('legend').map(look => [look.state, look]));
  }

  private toolbar(): HTMLElement {
    const zoom: ViewAction[] = [
      ['zoom-out', '−', 'Zoom out (Ctrl/Cmd + wheel)', () => this.viewport.zoomOut()],
      ['zoom-in', '+', 'Zoom in (Ctrl/Cmd + wheel)', () => this.viewport.zoomIn()],
      ['fit', 'Fit', 'Fit the whole pipeline in view', () => this.viewport.fit()],
      ['actual', '1:1', 'Actual size', () => this.viewport.chooseScale(1)],
      ['popout', '⤢', 'Fill the window (Escape to return)', () => this.popOut.toggle()]
    ];
    const timed = (action: () => unknown) => () => {
      const started = performance.now();
      action();
      this.dag.getBoundingClientRect(); // the resized SVG laid out: what the user waits for
      this.root.dataset.zoomMs = (performance.now() - started).toFixed(2);
    };
    const { bar, buttons } = toolbar(action => this.act(action), zoom.map(([n, l, t, a]) => [n, l, t, timed(a)]), this.zoomLabel);
    this.buttons = buttons;
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
    window.clearTimeout(this.unanswered);
    this.unanswered = window.setTimeout(() => this.noAnswer(action), NO_ANSWER_MS);
  }

  /** No kernel acknowledged the action: a panel restored from a saved notebook has none behind it. */
  private noAnswer(action: ButtonAction): void {
    this.localNotice.textContent =
      'The kernel did not answer: this panel may have been restored from the saved notebook. Run its cell again.';
    if (this.pending === action) {
      this.pending = '';
      this.updateButtons();
    }
  }

  private updateButtons(): void {
    const busy: string = this.model.get('busy') || this.pending;
    const running = busy === 'run' || busy === 'finishing' || this.pending === 'retry';
    this.buttons.compile.disabled = busy !== '';
    this.buttons.run.disabled = busy !== '';
    this.buttons.run.textContent = running ? 'Running…' : 'Run locally';
    this.buttons.run.classList.toggle('kfp-running', running);
    this.buttons.run.setAttribute('aria-busy', String(running));
    this.buttons.stop.disabled = busy !== 'run';
    const submitEnabled = this.model.get('submit_enabled');
    this.buttons.submit.disabled = busy !== '' || !submitEnabled;
    this.buttons.submit.title = submitEnabled ? 'Submit a run to Kubeflow Pipelines' : this.model.get('submit_reason');
    const state = this.model.get('run_view').state;
    this.buttons.retry.hidden = !(state === 'FAILED' || state === 'CANCELED');
    this.buttons.retry.disabled = busy !== '';
  }

  private currentValues(): Record<string, string> {
    const values: Record<string, string> = {};
    this.form.querySelectorAll('input').forEach(input => (values[input.name] = input.value));
    return values;
  }

  private renderForm(): void {
    const values = { ...this.model.get('values'), ...this.currentValues() };
    this.form.replaceChildren(...formRows(this.model.get('parameters'), values, this.model.get('field_errors')));
  }

  private renderRunLink(): void {
    const link = this.model.get('run_link');
    Object.assign(this.runLink, { textContent: link ? 'open in the Kubeflow Pipelines UI' : '', href: link || '#' });
    Object.assign(this.runLink, { target: '_blank', rel: 'noopener' });
    this.runLink.style.display = link ? '' : 'none';
  }

  private renderRunInfo(): void {
    this.runInfoLine.replaceChildren(...runInfoNodes(this.model.get('run_info')));
  }

  /** 'running · 3/22 tasks · 14/20 iterations · 1 failed · 12.3 s': elapsed time ticks here, not in the kernel. */
  private renderProgress(): void {
    const view = this.model.get('run_view');
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
    const message: Message = this.model.get('message');
    this.messageBox.textContent = '';
    this.messageBox.className = `kfp-message kfp-${message.kind ?? 'none'}`;
    if (!message.text) {
      return;
    }
    if (message.kind === 'error') {
      this.tables.failed(message.text);
    }
    if (message.text !== this.model.get('run_view').failure?.text) {
      this.messageBox.appendChild(element('span', 'kfp-message-text', message.text)); // the failure line says it already
    }
    if (message.details) {
      const details = element('details', 'kfp-message-details');
      details.appendChild(element('summary', '', 'details'));
      details.appendChild(element('pre', '', message.details));
      this.messageBox.appendChild(details);
    }
  }

  /** Failures first: the failed task in the user's words, with a marker that opens it on its traceback. */
  private renderFailure(view: RunView): void {
    this.failureLine.textContent = '';
    const failure = view.failure ?? {};
    if (!failure.text) {
      return;
    }
    const marker = element('button', 'kfp-button kfp-minimal kfp-failure-marker', '✗');
    marker.title = 'Show the failed task and its traceback';
    marker.addEventListener('click', () => {
      if (failure.node) {
        this.pane.showTab('Overview');
        this.select(failure.node);
      }
    });
    this.failureLine.append(marker, element('span', 'kfp-failure-text', failure.text));
  }

  private renderNotices(view: RunView): void {
    this.noticeBox.replaceChildren(...(view.notices ?? []).map(notice => element('div', 'kfp-notice', notice)));
  }

  private renderLegend(): void {
    this.legendBox.replaceChildren(...this.model.get('legend').map(legendChip));
  }

  private onCustom(content: KernelEvent): void {
    if (content.event === 'handled') {
      window.clearTimeout(this.unanswered);
      this.localNotice.textContent = '';
      this.pending = pendingAfterAck(this.pending, content.action);
      this.updateButtons();
    } else if (content.event === 'compiled') {
      this.compiledBox.textContent = '';
      this.compiledBox.appendChild(element('span', 'kfp-compiled-path', `compiled: ${content.path}`));
      const name = String(content.path).split('/').pop() ?? 'pipeline.yaml';
      const link = element('a', 'kfp-download', 'download');
      link.href = this.files.url(new Blob([content.yaml], { type: 'application/yaml' }));
      link.download = name;
      this.compiledBox.appendChild(link);
    } else if (content.event === 'download') {
      if (content.cut) {
        this.pane.notice(`${content.name}: only its first bytes were sent (the file is larger than the panel sends)`);
      }
      this.files.save(this.root, content.name, content.mime, content.data);
    } else if (content.event === 'log') {
      this.pane.wholeLog(content.task, content.log_user, content.log_executor);
    } else if (content.event === 'runs') {
      this.tables.listed(content);
    } else if (content.event === 'compare') {
      this.tables.compared(content);
    }
  }

  /** The kernel's SVG (view/svg.py: `dot`, else Graphviz in WebAssembly) put in place and made interactive. */
  private drawDag(): void {
    const source = this.model.get('svg');
    if (!source) {
      this.dag.textContent = this.model.get('svg_error') || 'drawing the pipeline…';
      return;
    }
    const started = performance.now();
    const svg = parseSvg(source);
    if (svg === null) {
      this.dag.textContent = 'could not show the pipeline: the kernel sent no SVG';
      return;
    }
    svg.classList.add('kfp-dag-svg');
    this.dag.textContent = '';
    this.dag.appendChild(svg);
    this.svg = svg;
    this.prepareNodes(svg);
    this.viewport.show(svg);
    this.showRun();
    this.root.dataset.renderMs = (performance.now() - started).toFixed(1);
  }

  /** Once per drawing: nodes become keyboard-reachable buttons with an icon slot; loops get a progress slot. */
  private prepareNodes(svg: SVGSVGElement): void {
    prepareDag(svg);
    svg.querySelectorAll('g.node').forEach(node => node.addEventListener('click', () => this.select(node.id)));
    svg.querySelectorAll('g.cluster').forEach(cluster =>
      cluster.addEventListener('click', event => {
        if ((event.target as Element).closest('g.node') === null) {
          this.select(cluster.id);
        }
      })
    );
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
    const index = nodes.findIndex(node => node === event.target || node.contains(event.target as Node));
    const moves: Record<string, number> = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (event.key in moves && nodes.length) {
      event.preventDefault();
      nodes[(index + moves[event.key] + nodes.length) % nodes.length].focus();
    } else if ((event.key === 'Enter' || event.key === ' ') && index >= 0) {
      event.preventDefault();
      this.select(nodes[index].id);
    } else if (event.key === 'Escape' && !this.popOut.active) {
      this.select('');
    }
  }

  /** States, icons and loop progress in place: attributes and text change, the layout does not. */
  private showRun(): void {
    const view = this.model.get('run_view');
    this.renderProgress();
    this.renderFailure(view);
    this.renderNotices(view);
    if (this.svg === null) {
      return;
    }
    const started = performance.now();
    const looks = this.looks();
    const states: Record<string, string> = { ...this.model.get('node_states'), ...(view.states ?? {}) };
    paintStates(this.svg, states, looks, view.loops ?? {});
    if (this.selected && (states[this.selected] ?? '') !== (this.root.dataset.selectedState ?? '')) {
      this.send({ action: 'select', node: this.selected }); // the details follow the run
    }
    this.root.dataset.selectedState = states[this.selected] ?? '';
    this.root.dataset.paintMs = (performance.now() - started).toFixed(2);
  }

  private renderMetrics(): void {
    const table = metricsTable(this.model.get('metrics'));
    this.metricsBox.replaceChildren(...(table ? [table] : []));
  }
}

